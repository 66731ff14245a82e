"""Tests of the domain-randomised simulation: PSF families, correlated
noise, bright objects, saturation and the 'mixed' distribution."""

import numpy as np
import pytest

from astropais.simulation import (SceneDistribution, get_distribution,
                                  get_preset, make_scene, resolve_parameters,
                                  simulate_crop, simulate_dataset)
from astropais.simulation.bright import saturate
from astropais.simulation.noise import (background_residual, sky_noise,
                                        source_noise)
from astropais.simulation.psf import PSF_FAMILIES, make_psf

pytest.importorskip('galsim')


@pytest.mark.parametrize('family', PSF_FAMILIES)
def test_psf_families_have_their_fwhm(family):
    params = get_preset('hst', psf=family)
    _, image, fwhm = make_psf(params)
    assert image.sum() == pytest.approx(1.0)
    # Centred on the central pixel.
    assert np.unravel_index(np.argmax(image), image.shape) == (
        image.shape[0] // 2, image.shape[1] // 2)
    # The nominal FWHM (the optical one is measured: obscuration and
    # jitter change it) within 30 per cent.
    assert fwhm == pytest.approx(params.psf_fwhm_pixels, rel=0.3)


def test_optical_psf_has_spikes():
    params = get_preset('hst_drizzled')
    from astropais.simulation.psf import analytic_psf
    image = analytic_psf(params).drawImage(nx=121, ny=121,
                                           scale=params.pixel_scale).array
    c = 60
    # Struts at 45 degrees: the diagonal holds far more light than the
    # axis at the same radius.
    r = 30
    diagonal = image[c + int(r / np.sqrt(2)), c + int(r / np.sqrt(2))]
    axis = image[c, c + r]
    assert diagonal > 5 * axis


@pytest.mark.parametrize('kernel,correlation', [('gaussian', 0.0),
                                                ('gaussian', 1.0),
                                                ('drizzle', 1.2),
                                                ('cosmos', 0.0)])
def test_sky_noise_sigma_and_correlation(kernel, correlation):
    noise = sky_noise((400, 400), 3.0, np.random.default_rng(2),
                      correlation, kernel)
    assert noise.std() == pytest.approx(3.0, rel=0.05)
    rho = np.mean(noise[:, 1:] * noise[:, :-1]) / noise.var()
    if kernel == 'gaussian' and correlation == 0:
        assert abs(rho) < 0.02
    else:
        assert rho > 0.2


def test_sky_noise_refuses_unknown_kernel():
    with pytest.raises(ValueError, match='kernel'):
        sky_noise((8, 8), 1.0, np.random.default_rng(0), 0.0, 'pink')


def test_source_noise_follows_the_model():
    model = np.full((200, 200), 100.0)
    model[:, :100] = 0.0
    noise = source_noise(model, 1.0, 10.0, np.random.default_rng(1))
    assert np.all(noise[:, :100] == 0)
    # Variance sigma * model / knee = 10.
    assert noise[:, 100:].var() == pytest.approx(10.0, rel=0.05)
    assert np.all(source_noise(model, 1.0, 0.0,
                               np.random.default_rng(1)) == 0)


def test_background_residual_is_smooth_with_zero_mean():
    bg = background_residual((64, 64), 2.0, np.random.default_rng(3))
    assert abs(bg.mean()) < 1e-12
    assert np.abs(np.diff(bg, axis=0)).max() < 0.2
    assert np.all(background_residual((4, 4), 0.0, None) == 0)


def test_saturate_clips_bleeds_along_columns_and_keeps_flux():
    y, x = np.mgrid[0:81, 0:21]
    star = 50.0 * np.exp(-0.5 * ((y - 40) ** 2 + (x - 10) ** 2) / 1.5 ** 2)
    bled, saturated = saturate(star, 5.0)
    assert bled.max() == pytest.approx(5.0)
    # The trail runs along the central column, further than the core.
    core_rows = np.flatnonzero(star[:, 10] >= 5.0)
    trail_rows = np.flatnonzero(saturated[:, 10])
    assert trail_rows.size > core_rows.size
    assert not saturated[40, 0]
    # Conserved up to the light already in the trail's pixels.
    assert bled.sum() == pytest.approx(star.sum(), rel=0.05)
    assert bled.sum() <= star.sum() + 1e-9


def test_scene_with_bright_objects():
    scene = make_scene('hst_drizzled', shape=(128, 128), seed=4,
                       large_galaxies=2.0, bright_stars=2.0,
                       saturation_snr=200.0, masked_core_probability=1.0)
    kinds = list(scene.catalog['kind'])
    assert 'large' in kinds and kinds.count('star') >= 1
    large = np.asarray(scene.catalog['kind']) == 'large'
    assert np.all(np.asarray(scene.catalog['size'])[large] >= 10)
    if scene.mask is not None:
        assert np.all(scene.image[scene.mask] == 0)
    flat = scene.image == scene.saturation
    assert scene.image.max() <= scene.saturation
    assert flat.any() or scene.mask is not None


def test_old_presets_are_unchanged_by_new_parameters():
    """Bright objects off: the 'hst' scene is what it always was."""
    a = make_scene('hst', shape=(64, 64), seed=11)
    b = make_scene('hst', shape=(64, 64), seed=11, large_galaxies=0.0,
                   bright_stars=0.0, source_noise_knee=0.0)
    assert np.array_equal(a.image, b.image)
    assert a.mask is None and a.saturation is None


def test_distribution_draws_are_reproducible_and_varied():
    dist = get_distribution('mixed')
    a = resolve_parameters('mixed', 7)
    assert a == resolve_parameters(dist, 7)
    families = {resolve_parameters('mixed', s).psf for s in range(40)}
    kernels = {resolve_parameters('mixed', s).noise_kernel
               for s in range(40)}
    assert len(families) >= 4 and len(kernels) == 3
    assert isinstance(dist, SceneDistribution)
    assert dist.to_dict()['kind'] == 'distribution'
    with pytest.raises(ValueError, match='unknown scene distribution'):
        get_distribution('nope')


def test_mixed_crop_and_dataset(tmp_path):
    scene = simulate_crop('mixed', 48, 3)
    assert scene.image.shape == (48, 48)
    assert scene.parameters.name == 'mixed'
    ds = simulate_dataset(tmp_path / 'mixed', 2, preset='mixed',
                          crop_size=32, seed=1)
    assert len(ds) == 2
    with pytest.raises(ValueError, match='overrides'):
        simulate_dataset(tmp_path / 'x', 1, preset='mixed', crop_size=32,
                         density=10.0)
