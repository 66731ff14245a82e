"""The sky background and its noise; uncertainty maps as errors."""

import numpy as np
import pytest
from astropy import units as u

from astropais.segmentation import (BACKGROUND_METHODS, error_from_map,
                                    estimate_background)
from astropais.segmentation.tests.helpers import gaussian_scene

SOURCES = [(20, 20, 2.0, 4000.0), (40, 60, 3.0, 9000.0),
           (70, 30, 1.5, 3000.0), (75, 80, 2.5, 6000.0)]


def _sloped_field():
    """Sources, noise 2 and a sky rising from 100 to 120 left to right."""
    image, _ = gaussian_scene((96, 112), SOURCES, noise=2.0, seed=5)
    sky = 100.0 + 20.0 * np.arange(112)[None, :] / 111.0
    return image + sky, np.broadcast_to(sky, image.shape)


def test_constant_background_and_clipped_noise_ignore_the_sources():
    image, _ = gaussian_scene((96, 112), SOURCES, noise=2.0, seed=1)
    sky = estimate_background(image + 50.0)
    assert sky.method == 'constant'
    assert sky.background == pytest.approx(50.0, abs=0.1)
    assert sky.background_rms == pytest.approx(2.0, rel=0.05)
    # The unclipped spread of every pixel is inflated by the sources.
    assert np.std(image) > 1.5 * sky.background_rms
    none = estimate_background(image + 50.0, method='none')
    assert none.background == 0.0
    assert none.background_rms == pytest.approx(sky.background_rms)


def test_background_2d_follows_a_sloped_sky_where_a_constant_cannot():
    image, truth = _sloped_field()
    sky = estimate_background(image, method='2d', box_size=16,
                              filter_size=3)
    assert sky.background.shape == image.shape
    assert sky.description == '2d (Background2D, median, box 16, filter 3)'
    assert np.median(np.abs(sky.background - truth)) < 1.0
    # Within a box the slope adds sqrt(2.9**2 / 12) = 0.8 in quadrature.
    assert np.median(sky.background_rms) == pytest.approx(2.0, rel=0.15)
    constant = estimate_background(image)
    assert np.median(np.abs(constant.background - truth)) > 3.0


def test_masked_and_non_finite_pixels_are_left_out():
    image, _ = gaussian_scene((64, 64), [], noise=1.0, seed=2)
    image += 10.0
    image[:8] = 1e6           # a masked stripe
    image[10, :] = np.nan     # non-finite pixels
    mask = np.zeros(image.shape, bool)
    mask[:8] = True
    for method in BACKGROUND_METHODS[:2]:
        sky = estimate_background(image, mask, method=method, box_size=16)
        assert np.median(sky.background) == pytest.approx(10.0, abs=0.1)
        assert np.all(np.isfinite(sky.background_rms))


@pytest.mark.parametrize('kwargs, words', [
    ({'method': 'global'}, 'background must be one of'),
    ({'method': '2d', 'box_size': 0}, 'box size'),
    ({'method': '2d', 'filter_size': 2.5}, 'filter size'),
])
def test_bad_options_are_clear_errors(kwargs, words):
    image = np.random.default_rng(0).normal(size=(32, 32))
    with pytest.raises(ValueError, match=words):
        estimate_background(image, **kwargs)


def test_constant_or_fully_masked_images_have_no_noise():
    for method in BACKGROUND_METHODS:
        with pytest.raises(ValueError, match='noise'):
            estimate_background(np.full((32, 32), 3.0), method=method,
                                box_size=8)
        with pytest.raises(ValueError, match='noise'):
            estimate_background(np.ones((32, 32)), np.ones((32, 32), bool),
                                method=method, box_size=8)


def test_error_variance_and_weight_maps_give_the_same_error():
    error = np.random.default_rng(3).uniform(0.5, 2.0, (6, 7))
    np.testing.assert_allclose(error_from_map(error ** 2, 'variance'),
                               error, rtol=1e-14)
    np.testing.assert_allclose(error_from_map(error ** -2, 'weight'),
                               error, rtol=1e-14)
    weight = error ** -2
    weight[0, 0] = 0.0
    weight[1, 1] = np.nan
    result = error_from_map(weight, 'weight')
    assert np.isnan(result[0, 0]) and np.isnan(result[1, 1])
    assert np.count_nonzero(np.isnan(result)) == 2


def test_uncertainty_map_units_and_bad_values():
    variance = np.full((3, 3), 4.0) * u.Jy ** 2
    assert error_from_map(variance, 'variance').unit == u.Jy
    weight = np.full((3, 3), 4.0) / u.Jy ** 2
    np.testing.assert_allclose(error_from_map(weight, 'weight').to_value(
        u.mJy), 500.0)
    with pytest.raises(ValueError, match='the variance map has negative'):
        error_from_map(-np.ones(3), 'variance')
    with pytest.raises(ValueError, match='infinite'):
        error_from_map([1.0, np.inf], 'weight')
    with pytest.raises(ValueError, match='kind must be one of'):
        error_from_map(np.ones(3), 'rms')


def _crowded_field(shape=(420, 500), seed=7):
    """Noise 2 on a sky of 30 with 300 sources, a masked stripe and NaNs."""
    rng = np.random.default_rng(seed)
    sources = [(rng.uniform(0, shape[0]), rng.uniform(0, shape[1]),
                rng.uniform(1.5, 3.0), rng.uniform(500, 5000))
               for _ in range(300)]
    image, _ = gaussian_scene(shape, sources, noise=2.0, seed=seed)
    image += 30.0
    image[5, 7:40] = np.nan
    mask = np.zeros(shape, bool)
    mask[100:120] = True
    image[100:120] = 1e5
    return image, mask


def test_constant_background_is_astropys_clipped_stats_of_every_pixel():
    from astropy.stats import sigma_clipped_stats

    image, mask = _crowded_field()
    usable = np.isfinite(image) & ~mask
    _, median, std = sigma_clipped_stats(image[usable], sigma=3.0,
                                         maxiters=10)
    for data in (image, image.astype('>f8')):
        sky = estimate_background(data, mask)
        assert sky.background == median and sky.background_rms == std
    # float32 data: the same statistics of the same (float32) values
    image32 = image.astype(np.float32)
    _, median, std = sigma_clipped_stats(
        image32[usable].astype(np.float64), sigma=3.0, maxiters=10)
    sky = estimate_background(image32.astype('>f4'), mask)
    assert sky.background == median and sky.background_rms == std


def test_sampled_background_agrees_with_every_pixel_within_its_errors():
    from astropais.segmentation.background import sample_grid

    image, mask = _crowded_field()
    full = estimate_background(image, mask)
    n_samples = 2 ** 13
    values = sample_grid(image, mask, max_samples=n_samples)
    # every 6th row and column of the 420 x 500 image, less the masked
    assert values.size < n_samples
    np.testing.assert_array_equal(
        values, image[::6, ::6][np.isfinite(image[::6, ::6])
                                & ~mask[::6, ::6]])
    sampled = estimate_background(image, mask, max_samples=n_samples)
    # three standard errors (docstring) of ~5800 samples of sigma 2
    sigma = full.background_rms
    assert abs(sampled.background - full.background) < (
        3 * 1.25 * sigma / np.sqrt(values.size))
    assert abs(sampled.background_rms - sigma) < (
        3 * 0.71 * sigma / np.sqrt(values.size))
    assert sampled.background != full.background


@pytest.mark.parametrize('chunk', [1, 7, 2 ** 20])
@pytest.mark.parametrize('shape, max_samples, step', [
    ((6, 6), 9, 2), ((6, 6), 36, 1), ((7, 5), 4, 4), ((1000, 3), 100, 10)])
def test_sample_grid_takes_at_most_max_samples(shape, max_samples, step,
                                               chunk, monkeypatch):
    # The same grid whatever the blocks of rows it is read in.
    from astropais.segmentation import inputs
    from astropais.segmentation.background import sample_grid

    monkeypatch.setattr(inputs, '_SCAN_CHUNK', chunk)

    image = np.arange(np.prod(shape), dtype=float).reshape(shape)
    values = sample_grid(image, max_samples=max_samples)
    assert values.size <= max_samples
    np.testing.assert_array_equal(values, image[::step, ::step].ravel())
    with pytest.raises(ValueError, match='max_samples'):
        sample_grid(image, max_samples=0)
