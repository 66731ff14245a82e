"""Multi-band scenes: per-band PSF, noise, colours and truth; datasets."""

import dataclasses

import numpy as np
import pytest

from astropais.simulation import (MULTIBAND_PRESETS, Band, MultiBandParameters,
                                  MultiBandScene, get_preset,
                                  make_multiband_scene, make_scene,
                                  simulate_crop, simulate_dataset)
from astropais.simulation.dataset import crop_seed
from astropais.simulation.psf import measure_fwhm_pixels
from astropais.simulation.seds import blackbody_factors, power_law_factors


@pytest.fixture(scope='module')
def grizy():
    return make_scene('grizy', shape=(96, 96), seed=3, density=400)


@pytest.fixture(scope='module')
def crowded():
    """Many galaxies (no stars) for colour statistics."""
    return make_scene('grizy', shape=(160, 160), seed=8, density=900,
                      star_fraction=0.0, pair_fraction=0.0)


def test_scene_contract(grizy):
    assert isinstance(grizy, MultiBandScene)
    assert grizy.bands == ('g', 'r', 'i', 'z', 'y') and grizy.n_bands == 5
    assert grizy.image.shape == grizy.noise.shape == (5, 96, 96)
    assert grizy.shape == (96, 96)
    assert grizy.sources.n_bands == 5 and len(grizy.sources) == len(
        grizy.catalog) > 5
    assert np.array_equal(grizy.image, grizy.sources.total() + grizy.noise)
    assert grizy.noise_sigma.shape == grizy.psf_fwhm_pixels.shape == (5,)
    assert grizy.catalog.meta['bands'] == list(grizy.bands)
    for name in grizy.bands:
        for column in ('flux', 'mag', 'flux_in_image', 'snr'):
            assert f'{column}_{name}' in grizy.catalog.colnames


def test_per_band_truth_columns(grizy):
    cat = grizy.catalog
    fluxes = grizy.sources.fluxes()
    for k, name in enumerate(grizy.bands):
        assert np.array_equal(cat[f'flux_in_image_{name}'], fluxes[:, k])
        # Total model flux: the stamps hold nearly all of it for sources
        # well inside the image.
        inside = ((cat['x'] > 20) & (cat['x'] < 75) & (cat['y'] > 20)
                  & (cat['y'] < 75))
        assert inside.sum() >= 3
        np.testing.assert_allclose(fluxes[inside, k],
                                   cat[f'flux_{name}'][inside], rtol=0.03)
    # The reference band (i) is the one the catalogue drew.
    np.testing.assert_allclose(cat['flux_i'], cat['flux'], rtol=1e-12)
    np.testing.assert_allclose(cat['mag_i'], cat['mag'], atol=1e-9)
    assert np.array_equal(cat['flux_in_image'], cat['flux_in_image_i'])
    snr = np.column_stack([cat[f'snr_{b}'] for b in grizy.bands])
    np.testing.assert_allclose(cat['snr'], np.sqrt((snr ** 2).sum(axis=1)))


def test_psf_width_follows_wavelength(grizy):
    space = make_scene('hst_multi', shape=(32, 32), seed=0, density=0)
    measured = [measure_fwhm_pixels(p) for p in grizy.psf]
    # Seeing narrows with wavelength; diffraction widens.
    assert np.all(np.diff(grizy.psf_fwhm_pixels) < 0)
    assert np.all(np.diff(measured) < 0)
    assert np.all(np.diff(space.psf_fwhm_pixels) > 0)
    for psf in (*grizy.psf, *space.psf):
        assert psf.sum() == pytest.approx(1.0)


def test_noise_per_band():
    scene = make_scene('grizy', shape=(200, 200), seed=1, density=0)
    assert np.all(scene.image == scene.noise)
    np.testing.assert_allclose(scene.noise.std(axis=(1, 2)),
                               scene.noise_sigma, rtol=0.03)
    # The shallow y band is the noisiest; band noises are independent.
    assert np.argmax(scene.noise_sigma) == 4
    assert abs(np.corrcoef(scene.noise[0].ravel(),
                           scene.noise[1].ravel())[0, 1]) < 0.05


def _colour(catalog, blue, red):
    return np.asarray(catalog[f'mag_{blue}'] - catalog[f'mag_{red}'])


def test_star_colours_lie_on_the_blackbody_locus(grizy):
    stars = grizy.catalog[grizy.catalog['kind'] == 'star']
    assert len(stars) >= 2
    factors = blackbody_factors(stars['temperature'],
                                [b.wavelength for b in
                                 MULTIBAND_PRESETS['grizy'].bands], 754.0)
    for k, name in enumerate(grizy.bands):
        np.testing.assert_allclose(stars[f'flux_{name}'],
                                   stars['flux'] * factors[:, k], rtol=1e-6)
    # Cooler stars are redder in g - r and in r - i.
    order = np.argsort(stars['temperature'])
    assert np.all(np.diff(_colour(stars, 'g', 'r')[order]) < 0)
    assert np.all(np.diff(_colour(stars, 'r', 'i')[order]) < 0)


def test_bulges_redder_than_disks_knots_bluer(crowded):
    cat = crowded.catalog
    bulge_disk = cat['kind'] == 'bulge_disk'
    knots = cat['kind'] == 'knots'
    assert bulge_disk.sum() >= 10 and knots.sum() >= 10
    assert np.all(cat['beta_bulge'][bulge_disk] > cat['beta_disk'][bulge_disk])
    assert np.all(cat['beta_knots'][knots] < cat['beta_disk'][knots])
    assert np.all(np.isnan(cat['beta_bulge'][~bulge_disk]))
    # Measured on the truth images: galaxies with a bulge are redder in
    # g - i than clumpy star-forming ones.
    flux = crowded.sources.fluxes()
    g_i = -2.5 * np.log10(flux[:, 0] / flux[:, 2])
    assert np.median(g_i[bulge_disk]) > np.median(g_i[knots]) + 0.2
    # A bulge-disk galaxy's colour lies between its bulge's and disk's.
    lam = [b.wavelength for b in MULTIBAND_PRESETS['grizy'].bands]
    for row in cat[bulge_disk]:
        disk, bulge = power_law_factors(
            [row['beta_disk'], row['beta_bulge']], lam, 754.0)[:, 0]
        ratio = row['flux_g'] / row['flux_i']
        assert bulge < ratio < disk


def test_same_seed_same_bytes():
    a = make_scene('hst_multi', shape=(48, 48), seed=4)
    b = make_scene('hst_multi', shape=(48, 48), seed=4)
    c = make_scene('hst_multi', shape=(48, 48), seed=5)
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)


def test_band_and_crop(grizy):
    band = grizy.band('z')
    assert band.image.shape == (96, 96)
    assert np.array_equal(band.image, grizy.image[3])
    assert np.array_equal(band.sources.total(), grizy.sources.total()[3])
    assert band.noise_sigma == grizy.noise_sigma[3]
    assert np.array_equal(band.catalog['snr'], grizy.catalog['snr_z'])
    assert np.array_equal(grizy.band(3).image, band.image)
    with pytest.raises(ValueError, match='no band'):
        grizy.band('u')
    crop = grizy.crop(10, 20, (40, 50))
    assert isinstance(crop, MultiBandScene) and crop.image.shape == (5, 40, 50)
    assert np.array_equal(crop.image, crop.sources.total() + crop.noise)
    fluxes = crop.sources.fluxes()
    assert np.all((fluxes > 0).any(axis=1))
    for k, name in enumerate(crop.bands):
        assert np.array_equal(crop.catalog[f'flux_in_image_{name}'],
                              fluxes[:, k])


def test_parameters():
    params = get_preset('grizy', density=10.0, disk_beta=(0.5, 0.1))
    assert isinstance(params, MultiBandParameters)
    assert params.base.density == 10.0 and params.disk_beta == (0.5, 0.1)
    assert params.band_parameters('g').psf_fwhm == params.bands[0].psf_fwhm
    assert params.psf_fwhm_pixels == pytest.approx(0.738 / 0.2)
    record = params.to_dict()
    assert record['bands'][0]['name'] == 'g'
    assert record['base']['density'] == 10.0


@pytest.mark.parametrize('change, match', [
    (dict(reference_band='u'), 'reference_band'),
    (dict(bands=()), 'non-empty'),
    (dict(knots_bluer=(2.0, 1.0)), 'knots_bluer'),
    (dict(star_temperature=(0.0, 10.0)), 'star_temperature'),
])
def test_bad_parameters(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(MULTIBAND_PRESETS['grizy'], **change)


def test_bad_bands_and_bases():
    grizy = MULTIBAND_PRESETS['grizy']
    with pytest.raises(ValueError, match='unique'):
        dataclasses.replace(grizy, bands=grizy.bands[:2] + grizy.bands[:1])
    with pytest.raises(ValueError, match='bright stars'):
        grizy.replace(bright_stars=0.5)
    with pytest.raises(ValueError, match='band name'):
        Band('g-band', 477.0, 0.7, 27.0)
    with pytest.raises(ValueError, match='psf_fwhm'):
        Band('g', 477.0, -1.0, 27.0)
    with pytest.raises(ValueError, match='single-band'):
        make_multiband_scene('hst')
    with pytest.raises(ValueError, match='unknown scene parameter'):
        get_preset('grizy', colour=1)


def test_multiband_dataset(tmp_path):
    ds = simulate_dataset(tmp_path / 'd', 3, preset='grizy', crop_size=24,
                          seed=2, shard_size=2)
    assert ds.manifest['bands'] == ['g', 'r', 'i', 'z', 'y']
    sample = ds[1]
    assert sample.image.shape == (24, 24, 5)
    assert sample.fractions.shape == (24, 24, 5, 3)
    scene = simulate_crop('grizy', 24, crop_seed(2, 1))
    np.testing.assert_array_equal(sample.image,
                                  np.moveaxis(scene.image, 0, -1)
                                  .astype(np.float32))
    np.testing.assert_allclose(sample.noise_sigma, scene.noise_sigma,
                               rtol=1e-6)
    # On source pixels each band's fractions sum to 1.
    assert sample.source_mask.sum() > 20
    sums = sample.fractions.sum(axis=-1)[sample.source_mask]
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)
