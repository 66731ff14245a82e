"""Tests of the scene generator."""

import numpy as np
import pytest
from scipy import stats

from astropais.pcr import SourceImages
from astropais.simulation import PRESETS, SceneParameters, get_preset, make_scene


@pytest.fixture(scope='module', params=['hst', 'lsst'])
def scene(request):
    return make_scene(request.param, shape=(96, 112), seed=7, density=
                      4 * PRESETS[request.param].density)


def test_scene_contract(scene):
    assert scene.image.shape == (96, 112)
    assert scene.image.dtype == np.float64
    assert isinstance(scene.sources, SourceImages)
    assert len(scene.sources) == len(scene.catalog) > 5
    assert set(scene.catalog.colnames) >= {'id', 'x', 'y', 'flux', 'size',
                                           'kind'}
    assert np.array_equal(scene.catalog['id'], np.arange(1, len(scene.catalog) + 1))
    assert scene.noise_sigma > 0
    assert np.isclose(scene.psf.sum(), 1.0)
    assert scene.psf.shape[0] % 2 == 1 and scene.psf.shape[0] == scene.psf.shape[1]
    centre = scene.psf.shape[0] // 2
    assert np.argmax(scene.psf) == centre * scene.psf.shape[1] + centre
    assert np.isclose(scene.psf_fwhm_pixels,
                      PRESETS[scene.preset].psf_fwhm / scene.pixel_scale)


def test_truth_plus_noise_is_image(scene):
    assert np.array_equal(scene.sources.total() + scene.noise, scene.image)
    # and the noise has the advertised level
    assert np.std(scene.noise) == pytest.approx(scene.noise_sigma, rel=0.05)


def test_catalog_flux_matches_truth_images(scene):
    stamp_flux = np.array([c.sum() for c in scene.sources.cutouts])
    np.testing.assert_allclose(stamp_flux, scene.catalog['flux'], rtol=0.01)
    np.testing.assert_allclose(scene.catalog['flux_in_image'],
                               scene.sources.fluxes())
    assert all(np.all(c >= 0) for c in scene.sources.cutouts)


def test_catalog_position_is_true_centroid(scene):
    # First moment of each noise-free stamp, in 0-based full-image pixels.
    for i, cutout in enumerate(scene.sources.cutouts):
        y0, x0 = scene.sources.origins[i]
        yy, xx = np.indices(cutout.shape)
        flux = cutout.sum()
        assert (xx * cutout).sum() / flux + x0 == pytest.approx(
            scene.catalog['x'][i], abs=0.02)
        assert (yy * cutout).sum() / flux + y0 == pytest.approx(
            scene.catalog['y'][i], abs=0.02)


def test_snr_column(scene):
    power = np.array([np.sum(c[scene.sources.slices(i)[1]] ** 2)
                      for i, c in enumerate(scene.sources.cutouts)])
    np.testing.assert_allclose(scene.catalog['snr'],
                               np.sqrt(power) / scene.noise_sigma)
    assert np.any(scene.catalog['snr'] > 5) and np.any(scene.catalog['snr'] < 5)


def test_kinds_and_sizes(scene):
    kinds = set(scene.catalog['kind'])
    assert kinds <= {'star', 'sersic', 'bulge_disk', 'knots', 'edge_on'}
    star = scene.catalog['kind'] == 'star'
    assert np.all(scene.catalog['size'][star] == 0)
    assert np.all(scene.catalog['size'][~star] > 0)


def test_every_morphology_is_drawn():
    scene = make_scene('hst', shape=(128, 128), seed=3, density=3000,
                       star_fraction=0.2)
    assert set(scene.catalog['kind']) == {'star', 'sersic', 'bulge_disk',
                                          'knots', 'edge_on'}


def test_same_seed_same_bytes_different_seed_differs():
    a = make_scene('hst', shape=(64, 64), seed=11, density=3000)
    b = make_scene('hst', shape=(64, 64), seed=11, density=3000)
    c = make_scene('hst', shape=(64, 64), seed=12, density=3000)
    assert a.image.tobytes() == b.image.tobytes()
    assert all(x.tobytes() == y.tobytes()
               for x, y in zip(a.sources.cutouts, b.sources.cutouts))
    assert np.array_equal(a.catalog['x'], b.catalog['x'])
    assert a.image.tobytes() != c.image.tobytes()


@pytest.mark.parametrize('distribution, limits',
                         [('uniform', (0.4, 2.5)), ('loguniform', (0.3, 3.0))])
def test_pair_separation_distribution_is_honoured(distribution, limits):
    seps = []
    for seed in range(3):
        scene = make_scene('lsst', shape=(160, 160), seed=seed, density=600,
                           pair_fraction=1.0, max_group_size=2,
                           pair_separation=limits,
                           pair_separation_distribution=distribution)
        cat = scene.catalog
        fwhm = scene.psf_fwhm_pixels
        for g in np.unique(cat['group'][cat['group'] > 0]):
            members = cat[cat['group'] == g]
            assert len(members) == 2
            dist = np.hypot(members['x'][1] - members['x'][0],
                            members['y'][1] - members['y'][0])
            assert dist == pytest.approx(members['separation'][1])
            seps.append(dist / fwhm)
    seps = np.array(seps)
    assert len(seps) > 100
    assert seps.min() >= limits[0] and seps.max() <= limits[1]
    # some pairs closer than one PSF FWHM
    assert np.mean(seps < 1.0) > 0.05
    lo, hi = limits
    if distribution == 'uniform':
        cdf = stats.uniform(loc=lo, scale=hi - lo).cdf
    else:
        cdf = stats.loguniform(lo, hi).cdf
    assert stats.kstest(seps, cdf).pvalue > 1e-3
    # the other distribution is rejected
    other = (stats.loguniform(lo, hi).cdf if distribution == 'uniform'
             else stats.uniform(loc=lo, scale=hi - lo).cdf)
    assert stats.kstest(seps, other).pvalue < 1e-3


def test_pair_fraction_zero_gives_no_groups():
    scene = make_scene('lsst', shape=(96, 96), seed=1, pair_fraction=0.0)
    assert np.all(scene.catalog['group'] == 0)


def test_gaussian_and_image_psf():
    gauss = make_scene('hst', shape=(64, 64), seed=2, psf='gaussian',
                       psf_fwhm=0.24, density=2000)
    assert gauss.psf_fwhm_pixels == pytest.approx(4.0)
    image = make_scene('hst', shape=(64, 64), seed=2, psf=gauss.psf,
                       density=2000)
    assert image.psf_fwhm_pixels == pytest.approx(4.0, rel=0.1)
    stamp_flux = np.array([c.sum() for c in image.sources.cutouts])
    np.testing.assert_allclose(stamp_flux, image.catalog['flux'], rtol=0.01)


def test_noise_free_and_correlated_noise():
    clean = make_scene('hst', shape=(64, 64), seed=4, noise_sigma=0.0)
    assert np.array_equal(clean.image, clean.sources.total())
    corr = make_scene('hst', shape=(256, 256), seed=4, noise_sigma=1.0,
                      density=0.0, noise_correlation=1.5)
    white = make_scene('hst', shape=(256, 256), seed=4, noise_sigma=1.0,
                       density=0.0)
    assert len(corr.catalog) == 0
    assert np.std(corr.image) == pytest.approx(1.0, rel=0.1)

    def lag1(a):
        return np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1]
    assert lag1(corr.image) > 0.5
    assert abs(lag1(white.image)) < 0.05


def test_depth_sets_noise():
    shallow = make_scene('lsst', shape=(32, 32), seed=0, depth=24.0)
    deep = make_scene('lsst', shape=(32, 32), seed=0, depth=26.5)
    assert shallow.noise_sigma / deep.noise_sigma == pytest.approx(
        10 ** (0.4 * 2.5))


def test_preset_overrides():
    params = get_preset('lsst', star_fraction=0.5)
    assert params.star_fraction == 0.5 and params.pixel_scale == 0.2
    scene = make_scene(params, shape=(32, 32), seed=0)
    assert scene.preset == 'lsst'
    assert isinstance(params.to_dict()['mag_range'], list)


@pytest.mark.parametrize('kwargs, match', [
    (dict(preset='euclid'), 'unknown preset'),
    (dict(shape=(-4, 32)), 'shape'),
    (dict(shape=(32,)), 'shape'),
    (dict(pixel_scale=0.0), 'pixel_scale'),
    (dict(pixel_scale=-0.1), 'pixel_scale'),
    (dict(size_median=-0.2), 'size_median'),
    (dict(size_range=(-0.1, 1.0)), 'size_range'),
    (dict(density=1e9), 'density'),
    (dict(density=-1.0), 'density'),
    (dict(psf='airy'), 'psf'),
    (dict(psf_fwhm=0.0), 'psf_fwhm'),
    (dict(noise_sigma=-1.0), 'noise_sigma'),
    (dict(star_fraction=1.5), 'star_fraction'),
    (dict(pair_separation=(2.0, 1.0)), 'pair_separation'),
    (dict(pair_separation=(0.5, 40.0), pair_fraction=1.0, shape=(16, 16)),
     'pair_separation'),
    (dict(max_group_size=1), 'max_group_size'),
    (dict(morphology_weights={'spiral': 1.0}), 'morphology_weights'),
    (dict(not_a_parameter=3), 'not_a_parameter'),
    (dict(seed=-1), 'seed'),
])
def test_bad_input_raises(kwargs, match):
    kwargs = {'preset': 'hst', 'shape': (32, 32), **kwargs}
    with pytest.raises(ValueError, match=match):
        make_scene(**kwargs)


def test_parameters_validate_on_construction():
    with pytest.raises(ValueError, match='pixel_scale'):
        SceneParameters(pixel_scale=0)


def test_missing_galsim_names_the_extra(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, 'galsim', None)   # import fails
    with pytest.raises(ImportError, match=r'astropais\[simulation\]'):
        make_scene('hst', shape=(16, 16), seed=1)
