"""deblend_field, and properties of PAISDeblender on random images."""

import warnings

import numpy as np
import pytest
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS
from hypothesis import HealthCheck, given, settings, strategies as st
from photutils.segmentation import detect_sources
from photutils.utils.exceptions import NoDetectionsWarning

from astropais.segmentation import (PAISDeblender, WeightedSourceCatalog,
                                    deblend_field)
from astropais.segmentation.tests.helpers import gaussian_scene


@pytest.fixture(scope='module')
def deblender(tiny_model):
    return PAISDeblender(n_pixels=5, model=tiny_model)


def test_deblend_field_subtracts_background_and_measures(deblender):
    image, _ = gaussian_scene((48, 64), [(24, 30, 2.0, 600.0)], noise=1.0)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    wcs.wcs.crval = [10.0, 20.0]
    wcs.wcs.cdelt = [-1e-4, 1e-4]
    result = deblend_field(image + 7.0, n_sigma=3.0, deblender=deblender,
                           wcs=wcs)
    assert result.background == pytest.approx(7.0, abs=0.2)
    assert result.noise_sigma == pytest.approx(1.0, rel=0.1)
    assert result.threshold == pytest.approx(3.0 * result.noise_sigma)
    assert result.segmentation is not None
    assert result.catalog.sky_centroid is not None
    np.testing.assert_allclose(
        result.catalog.segment_flux.sum(),
        result.data[result.segmentation.footprint].sum())


def test_deblend_field_errors_and_empty(deblender):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match='n_sigma'):
        deblend_field(rng.normal(size=(20, 20)), n_sigma=0,
                      deblender=deblender)
    with pytest.raises(ValueError, match='noise'):
        deblend_field(np.zeros((20, 20)), deblender=deblender)
    with pytest.warns(NoDetectionsWarning, match='No sources'):
        result = deblend_field(rng.normal(size=(20, 20)), n_sigma=50.0,
                               deblender=deblender)
    assert result.segmentation is None and result.catalog is None


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31), n_sources=st.integers(0, 4),
       threshold=st.floats(1.5, 6.0))
def test_footprint_and_flux_conservation_on_random_fields(deblender, seed,
                                                          n_sources,
                                                          threshold):
    rng = np.random.default_rng(seed)
    sources = [(rng.uniform(5, 35), rng.uniform(5, 45), rng.uniform(1, 3),
                rng.uniform(50, 2000)) for _ in range(n_sources)]
    image, _ = gaussian_scene((40, 50), sources, noise=1.0, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', AstropyUserWarning)
        warnings.simplefilter('ignore', NoDetectionsWarning)
        segm = deblender(image, threshold)
        detection = detect_sources(image, threshold, n_pixels=5,
                                   connectivity=8)
    if detection is None:
        assert segm is None
        return
    np.testing.assert_array_equal(segm.footprint, detection.data > 0)
    cat = WeightedSourceCatalog(image, segm)
    np.testing.assert_allclose(cat.segment_flux.sum(),
                               image[segm.footprint].sum(), rtol=1e-9)


def test_deblend_field_kernel_fwhm_detects_on_smoothed_image(tiny_model):
    from astropy.convolution import convolve
    from photutils.segmentation import detect_sources, make_2dgaussian_kernel
    from astropais.segmentation.tests.helpers import gaussian_scene
    image, _ = gaussian_scene((60, 60), [(30, 30, 2.0, 300.0)], noise=1.0,
                              seed=4)
    result = deblend_field(image, n_sigma=1.5, n_pixels=5, model=tiny_model,
                           background='none', kernel_fwhm=3.0)
    kernel = make_2dgaussian_kernel(3.0, size=2 * 5 + 1)
    expected = detect_sources(convolve(image, kernel), result.threshold, 5,
                              connectivity=8)
    np.testing.assert_array_equal(result.segmentation.footprint,
                                  expected.data > 0)
    with pytest.raises(ValueError, match='kernel_fwhm'):
        deblend_field(image, model=tiny_model, kernel_fwhm=-1.0)


def test_detection_kernel_size_and_normalisation():
    from astropais.segmentation import detection_kernel
    for fwhm, size in ((1.0, 5), (3.0, 11), (4.2, 15)):
        kernel = detection_kernel(fwhm)
        assert kernel.shape == (size, size)
        np.testing.assert_allclose(kernel.sum(), 1.0)
        assert np.unravel_index(np.argmax(kernel), kernel.shape) == (
            size // 2, size // 2)
    for bad in (0.0, -2.0, np.nan):
        with pytest.raises(ValueError, match='kernel_fwhm'):
            detection_kernel(bad)


def test_nsigma_is_deprecated_for_n_sigma(deblender):
    from astropy.utils.exceptions import AstropyDeprecationWarning
    image, _ = gaussian_scene((48, 64), [(24, 30, 2.0, 600.0)], noise=1.0)
    with pytest.warns(AstropyDeprecationWarning, match='n_sigma'):
        old = deblend_field(image, nsigma=3.0, deblender=deblender)
    new = deblend_field(image, n_sigma=3.0, deblender=deblender)
    assert old.threshold == new.threshold


def _wcs():
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    wcs.wcs.crval = [10.0, 20.0]
    wcs.wcs.cdelt = [-1e-4, 1e-4]
    return wcs


def test_deblend_field_keeps_units_wcs_and_uncertainty(deblender):
    import astropy.units as u
    from astropy.nddata import CCDData, NDData, StdDevUncertainty
    image, _ = gaussian_scene((48, 64), [(24, 30, 2.0, 600.0),
                                         (10, 50, 1.5, 300.0)], noise=1.0)
    error = np.full(image.shape, 1.0)
    plain = deblend_field(image, n_sigma=3.0, deblender=deblender,
                          wcs=_wcs())
    for data in (NDData(image, unit='electron', wcs=_wcs(),
                        uncertainty=StdDevUncertainty(error)),
                 CCDData(image, unit='electron', wcs=_wcs(),
                         uncertainty=StdDevUncertainty(error))):
        result = deblend_field(data, n_sigma=3.0, deblender=deblender)
        cat = result.catalog
        assert cat.segment_flux.unit == u.electron
        assert result.data.unit == u.electron
        assert result.threshold.unit == u.electron
        assert np.all(np.isfinite(cat.segment_flux_err.value))
        ra = cat.sky_centroid.ra.deg
        np.testing.assert_allclose(ra, plain.catalog.sky_centroid.ra.deg,
                                   rtol=0, atol=1e-5)   # 0.1 px
        np.testing.assert_allclose(result.threshold.value, 3.0 * error)
    quantity = deblend_field(image * u.Jy, n_sigma=3.0, deblender=deblender)
    assert quantity.catalog.kron_flux.unit == u.Jy
    np.testing.assert_allclose(quantity.catalog.segment_flux.value,
                               plain.catalog.segment_flux)


def test_nan_uncertainty_warns_and_masks(deblender):
    from astropy.nddata import NDData, StdDevUncertainty
    image, _ = gaussian_scene((48, 64), [(24, 30, 2.0, 600.0)], noise=1.0)
    error = np.full(image.shape, 1.0)
    error[3, 4] = np.nan
    with pytest.warns(AstropyUserWarning, match='NaN or inf uncertainty'):
        result = deblend_field(NDData(image, uncertainty=StdDevUncertainty(
            error)), n_sigma=3.0, deblender=deblender)
    assert np.isnan(result.data[3, 4])


def test_subtract_background_is_deprecated_for_background(deblender):
    from astropy.utils.exceptions import AstropyDeprecationWarning
    image, _ = gaussian_scene((48, 64), [(24, 30, 2.0, 600.0)], noise=1.0)
    with pytest.warns(AstropyDeprecationWarning, match='background='):
        old = deblend_field(image + 7.0, n_sigma=3.0, deblender=deblender,
                            subtract_background=False)
    assert old.sky.method == 'none' and old.background == 0.0
    new = deblend_field(image + 7.0, n_sigma=3.0, deblender=deblender,
                        background='none')
    np.testing.assert_array_equal(old.data, new.data)


def test_deblend_field_background_2d_follows_a_sloped_sky(deblender):
    image, _ = gaussian_scene((64, 96), [(30, 30, 2.0, 800.0),
                                         (34, 70, 2.5, 900.0)], noise=1.0,
                              seed=2)
    sky = 20.0 + 10.0 * np.arange(96)[None, :] / 95.0
    result = deblend_field(image + sky, n_sigma=3.0, deblender=deblender,
                           background='2d', box_size=16, filter_size=3)
    assert result.sky.method == '2d'
    assert result.background.shape == image.shape
    assert np.median(np.abs(result.background - sky)) < 0.5
    assert result.threshold.shape == image.shape
    np.testing.assert_allclose(result.threshold, 3.0 * result.noise_sigma)
    np.testing.assert_allclose(
        result.catalog.segment_flux.sum(),
        result.data[result.segmentation.footprint].sum())
    with pytest.raises(ValueError, match='box size'):
        deblend_field(image, deblender=deblender, background='2d',
                      box_size=0)


def test_deblend_field_error_maps_give_photutils_errors(deblender):
    from photutils.segmentation import SegmentationImage, SourceCatalog
    image, _ = gaussian_scene((48, 64), [(20, 20, 2.0, 900.0),
                                         (22, 26, 2.0, 500.0),
                                         (30, 50, 2.5, 900.0)], noise=1.0,
                              seed=3)
    error = np.linspace(0.9, 1.1, image.size).reshape(image.shape)
    results = [deblend_field(image + 5.0, n_sigma=3.0, deblender=deblender,
                             progress_bar=False, **maps)
               for maps in ({'error': error}, {'variance': error ** 2},
                            {'weight': error ** -2})]
    result = results[0]
    np.testing.assert_allclose(result.threshold, 3.0 * error)
    assert result.noise_sigma == pytest.approx(np.median(error))
    flux_err = result.catalog.segment_flux_err
    assert np.all(np.isfinite(flux_err))
    for other in results[1:]:
        np.testing.assert_allclose(other.catalog.segment_flux_err, flux_err,
                                   rtol=1e-12)
    # photutils on the same (disjoint) segmentation, where no pixel is
    # shared between sources.
    segm = result.segmentation
    reference = SourceCatalog(result.data, SegmentationImage(segm.data),
                              error=error)
    attr = segm.attribution
    shared = np.unique(attr.labels[(attr.weights < 1) & (attr.labels > 0)])
    alone = np.setdiff1d(segm.labels, shared)
    assert alone.size > 0
    rows = np.searchsorted(result.catalog.labels, alone)
    np.testing.assert_allclose(flux_err[rows], reference.segment_flux_err[
        np.searchsorted(reference.labels, alone)], rtol=1e-10)
    without = deblend_field(image + 5.0, n_sigma=3.0, deblender=deblender)
    assert np.all(np.isnan(without.catalog.segment_flux_err))


def test_deblend_field_uncertainty_units_and_conflicts(deblender):
    import astropy.units as u
    from astropy.nddata import NDData, StdDevUncertainty
    image, _ = gaussian_scene((48, 64), [(24, 30, 2.0, 600.0)], noise=1.0)
    error = np.full(image.shape, 1.0)
    jansky = deblend_field(image * u.Jy, n_sigma=3.0, deblender=deblender,
                           variance=(error * 1e3) ** 2 * u.mJy ** 2)
    assert jansky.catalog.segment_flux_err.unit == u.Jy
    np.testing.assert_allclose(jansky.threshold.to_value(u.Jy), 3.0)
    # An NDData uncertainty in its own unit is converted to the data's.
    milli = deblend_field(NDData(image, unit='Jy', uncertainty=(
        StdDevUncertainty(error * 1e3, unit='mJy'))), n_sigma=3.0,
        deblender=deblender)
    np.testing.assert_allclose(milli.threshold.to_value(u.Jy), 3.0)
    np.testing.assert_allclose(milli.catalog.segment_flux_err,
                               jansky.catalog.segment_flux_err)
    for kwargs, words in (
            ({'error': error, 'weight': error}, 'at most one'),
            ({'data': image * u.Jy, 'error': error}, 'compatible unit'),
            ({'error': error * u.Jy}, 'data have none'),
            ({'data': image * u.Jy, 'error': error * u.s}, 'does not match'),
            ({'data': NDData(image, uncertainty=StdDevUncertainty(error)),
              'error': error}, 'already carry'),
            ({'error': error[:5]}, 'shape')):
        data = kwargs.pop('data', image)
        with pytest.raises(ValueError, match=words):
            deblend_field(data, deblender=deblender, **kwargs)


def test_make_deblender_needs_dask_only(tiny_model_path, monkeypatch):
    # Dask alone chooses the Dask path (dask-image is no longer used);
    # without Dask a large image stays in memory with a warning, and
    # asking for Dask names the extra.
    import importlib.util

    from astropais.segmentation.pipeline import MOSAIC_PIXELS, make_deblender

    find_spec = importlib.util.find_spec
    side = int(np.sqrt(MOSAIC_PIXELS)) + 1
    hidden = {'dask_image'}
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *args:
                        None if name in hidden else find_spec(name, *args))
    if find_spec('dask') is not None:
        deblender = make_deblender((side, side), model=tiny_model_path,
                                   progress_bar=False)
        assert type(deblender).__name__ == 'DaskDeblender'
    hidden.add('dask')
    with pytest.warns(AstropyUserWarning, match='mosaic extra'):
        deblender = make_deblender((side, side), model=tiny_model_path,
                                   progress_bar=False)
    assert type(deblender) is PAISDeblender
    with pytest.raises(ImportError, match='mosaic extra'):
        make_deblender((8, 8), model=tiny_model_path, dask=True)
