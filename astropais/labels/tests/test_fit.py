"""scarlet2 fits: failure handling (fast, no compilation) and accuracy on a
small blended scene with known truth (slow)."""

import numpy as np
import pytest
from astropy.utils.exceptions import AstropyUserWarning

from astropais.labels import (fit_scene, fit_tiled, label_accuracy,
                              make_labels, prepare_inputs)
from astropais.labels.tests.helpers import blended_pair, gaussian_psf


def test_uninitialisable_sources_are_dropped_and_reported():
    rng = np.random.default_rng(1)
    image = rng.normal(0, 1, (30, 30))
    image[5:12, 5:12] = -5.0          # no positive flux here
    mask = np.zeros(image.shape, bool)
    mask[20:26, 20:26] = True         # masked here
    inputs = prepare_inputs(image, gaussian_psf(), [[8.0, 8.0], [22.0, 23.0]],
                            noise_sigma=1.0, mask=mask)
    with pytest.warns(AstropyUserWarning, match='dropped 2 of 2'):
        fit = fit_scene(inputs)
    assert len(fit.sources) == 0 and fit.index.size == 0
    assert list(fit.dropped['index']) == [0, 1]
    assert 'positive flux' in fit.dropped['reason'][0]
    assert 'masked' in fit.dropped['reason'][1]
    assert np.allclose(fit.dropped['x'], [8.0, 22.0])


def test_diverging_fit_drops_every_source(monkeypatch):
    import scarlet2

    image, psf, positions, _, sigma = blended_pair(shape=(24, 24))
    inputs = prepare_inputs(image, psf, positions, noise_sigma=sigma)

    def exploding_fit(self, observations, callback=None, **kwargs):
        # Stand-in for an optimiser that blows up: report a NaN loss.
        callback(self, None, np.float32(1e3))
        callback(self, None, np.float32(np.nan))
        return self

    def no_moments(*args, **kwargs):
        # Forces the fallback initialisation (and keeps the test fast).
        raise ValueError('Gaussian morphology not possible')

    monkeypatch.setattr(scarlet2.Scene, 'fit', exploding_fit)
    monkeypatch.setattr(scarlet2.init, 'from_gaussian_moments', no_moments)
    with pytest.warns(AstropyUserWarning, match='diverged'):
        fit = fit_scene(inputs, morphology='free')
    assert len(fit.sources) == 0 and fit.initialisation.size == 0
    assert set(fit.dropped['reason']) == {'fit diverged: non-finite loss'}
    assert list(fit.dropped['index']) == [0, 1]


def test_unknown_morphology_raises():
    inputs = prepare_inputs(np.ones((20, 20)), gaussian_psf(), [[5, 5]],
                            noise_sigma=1.0)
    with pytest.raises(ValueError, match='morphology'):
        fit_scene(inputs, morphology='wavelet')


@pytest.mark.slow
@pytest.mark.parametrize('morphology', ['sersic', 'free'])
def test_blended_pair_fractions_match_truth(morphology):
    image, psf, positions, truth, sigma = blended_pair()
    inputs = prepare_inputs(image, psf, positions, noise_sigma=sigma)
    result = make_labels(inputs, morphology=morphology, max_iter=150)
    fit = result.fit
    assert len(fit.dropped) == 0 and list(fit.index) == [0, 1]
    assert set(fit.initialisation) <= {'moments', 'compact'}
    assert fit.initialisation.shape == (2,)
    scores = label_accuracy(fit, truth, sigma)
    assert scores['n_blended_pixels'] > 20
    # Loose bounds (measured: see benchmarks/labels_speed.py).
    assert scores['median_fraction_error_blended'] < 0.15
    assert scores['median_flux_error'] < 0.2
    assert np.all(fit.sources.total() >= 0)
    pcr = result.pcr
    assert pcr.fractions.shape == (*image.shape, 1, 3)
    on = result.source_mask
    assert np.allclose(pcr.fractions[on].sum(axis=-1), 1, atol=1e-5)
    # The heatmap peaks at the fitted centres.
    for y, x in np.round(fit.centres).astype(int):
        assert pcr.heatmap[y, x] > 0.5


@pytest.mark.slow
def test_tiled_fit_keeps_each_source_once():
    image, psf, positions, truth, sigma = blended_pair(shape=(40, 40))
    inputs = prepare_inputs(image, psf, positions, noise_sigma=sigma)
    fit = fit_tiled(inputs, tile_shape=(20, 40), margin=10,
                    morphology='free', max_iter=60)
    assert sorted(fit.index) == [0, 1]
    assert fit.sources.shape == (40, 40)
    # Free-form models share the blend's light loosely (see the benchmark)
    # but conserve it.
    assert fit.fluxes.sum() == pytest.approx(truth.fluxes().sum(), rel=0.1)
    assert np.allclose(fit.fluxes, truth.fluxes(), rtol=0.4)


@pytest.mark.slow
def test_two_band_fit_gives_band_cutouts_and_fractions():
    image, psf, positions, truth, sigma = blended_pair(shape=(32, 32))
    # Band 2: the first source is twice as bright, the second half.
    total = np.stack([truth.cutouts[0] + truth.cutouts[1],
                      2 * truth.cutouts[0] + 0.5 * truth.cutouts[1]])
    cube = total + np.random.default_rng(3).normal(0, sigma, total.shape)
    inputs = prepare_inputs(cube, np.stack([psf, psf]), positions,
                            noise_sigma=[sigma, sigma])
    result = make_labels(inputs, morphology='free', max_iter=60)
    fit = result.fit
    assert list(fit.index) == [0, 1]
    assert fit.sources.n_bands == 2
    assert all(c.ndim == 3 and c.shape[0] == 2 for c in fit.sources.cutouts)
    # Colours are recovered: band 2 / band 1 flux ratio ~2 and ~0.5.
    ratio = fit.fluxes[:, 1] / fit.fluxes[:, 0]
    assert ratio[0] > 1.3 and ratio[1] < 0.8
    assert result.pcr.fractions.shape == (32, 32, 2, 3)
