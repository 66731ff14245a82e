"""The fixed noise-scaled asinh normalisation."""

import sys
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astropais.model.normalisation import (DEFAULT_NORMALISATION,
                                           normalise_image,
                                           validate_normalisation)


def test_values_match_the_documented_formula():
    image = np.array([[0.0, 1.0], [-3.0, 1e6]])
    out = normalise_image(image, 2.0, {'softening': 1.5})
    np.testing.assert_allclose(out, np.arcsinh(image / 3.0), rtol=1e-6)
    assert out.dtype == np.float32


def test_per_band_and_per_image_sigma_broadcast():
    rng = np.random.default_rng(1)
    batch = rng.normal(size=(2, 4, 5, 3))
    sigma = np.array([[1.0, 2.0, 4.0], [0.5, 1.0, 8.0]])
    out = normalise_image(batch, sigma)
    for i in range(2):
        np.testing.assert_allclose(out[i], normalise_image(batch[i], sigma[i]),
                                   rtol=1e-6)
        for band in range(3):
            np.testing.assert_allclose(
                out[i, ..., band], np.arcsinh(batch[i, ..., band] / sigma[i, band]),
                rtol=1e-5)


def test_non_finite_pixels_become_sky():
    image = np.ones((3, 3))
    image[1, 1] = np.nan
    image[0, 0] = np.inf
    out = normalise_image(image, 1.0)
    assert out[1, 1] == 0 and out[0, 0] == 0
    assert np.all(np.isfinite(out))
    assert out[2, 2] == pytest.approx(np.arcsinh(1.0))


@pytest.mark.parametrize('sigma, match', [
    (0.0, 'noise_sigma'), (-1.0, 'noise_sigma'), ([1.0, 2.0], 'bands'),
])
def test_bad_sigma_raises(sigma, match):
    with pytest.raises(ValueError, match=match):
        normalise_image(np.ones((4, 4, 3)), sigma)


def test_bad_params_raise():
    with pytest.raises(ValueError, match='kind'):
        validate_normalisation({'kind': 'log'})
    with pytest.raises(ValueError, match='softening'):
        validate_normalisation({'softening': 0})
    with pytest.raises(ValueError, match='unknown'):
        validate_normalisation({'scale': 2})
    with pytest.raises(TypeError):
        validate_normalisation('asinh')
    with pytest.raises(ValueError, match='image must be'):
        normalise_image(np.ones(5), 1.0)
    assert validate_normalisation(None) == DEFAULT_NORMALISATION


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e8, 1e8), min_size=2, max_size=20),
       st.floats(1e-3, 1e3))
def test_odd_and_monotonic(values, sigma):
    x = np.sort(np.array(values))[None, :]
    out = normalise_image(x, sigma)
    assert np.all(np.diff(out[0]) >= 0)
    np.testing.assert_allclose(normalise_image(-x, sigma), -out, atol=1e-6)


def test_module_is_pure_numpy():
    code = ('import sys, astropais.model, astropais.model.normalisation; '
            "print([m for m in ('keras', 'tensorflow', 'jax') "
            'if m in sys.modules])')
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == '[]'
