"""Properties of the catalogue samplers."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from astropais.simulation.catalog import sample_magnitudes, sample_separations


@settings(max_examples=40, deadline=None)
@given(lo=st.floats(10, 30), width=st.floats(0, 5), slope=st.floats(-1, 1),
       seed=st.integers(0, 1000))
def test_magnitudes_stay_in_range(lo, width, slope, seed):
    mags = sample_magnitudes(np.random.default_rng(seed), 200,
                             (lo, lo + width), slope)
    assert np.all(mags >= lo - 1e-9) and np.all(mags <= lo + width + 1e-9)


def test_magnitude_counts_follow_the_slope():
    mags = sample_magnitudes(np.random.default_rng(0), 200_000, (20, 28), 0.3)
    counts, _ = np.histogram(mags, bins=8, range=(20, 28))
    slopes = np.diff(np.log10(counts))
    np.testing.assert_allclose(slopes, 0.3, atol=0.03)


@settings(max_examples=40, deadline=None)
@given(lo=st.floats(0.01, 5), width=st.floats(0, 5),
       distribution=st.sampled_from(['uniform', 'loguniform']),
       seed=st.integers(0, 1000))
def test_separations_stay_in_range(lo, width, distribution, seed):
    seps = sample_separations(np.random.default_rng(seed), 100,
                              (lo, lo + width), distribution)
    assert np.all(seps >= lo * (1 - 1e-12))
    assert np.all(seps <= (lo + width) * (1 + 1e-12))
