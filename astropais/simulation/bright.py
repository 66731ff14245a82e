"""
Bright objects of a scene: large galaxies with substructure, and bright
stars with saturated cores, bleed trails and masked cores.

These are the objects a network with a small field of view cuts into
pieces (a large galaxy into wedges, a star's diffraction spikes into
companions), so the training presets add them on top of the ordinary
source population (`SceneParameters.large_galaxies`,
`SceneParameters.bright_stars`).  numpy and GalSim only.
"""

import numpy as np

from ._galsim import require_galsim
from .catalog import sample_loguniform

__all__ = ['draw_bright_catalog', 'large_galaxy_profile',
           'bright_star_radius', 'saturate']

#: Kind names of the bright objects in a scene catalogue.
LARGE_KIND = 'large'
#: Largest stamp half-size of a bright star, in pixels.
MAX_STAR_RADIUS = 160


def draw_bright_catalog(params, shape, sigma, psf_peak, rng):
    """
    Draw the large galaxies and bright stars of one scene.

    Parameters
    ----------
    params : `~astropais.simulation.SceneParameters`
        The scene parameters (``large_*``, ``bright_*``).
    shape : tuple of int
        The image shape.
    sigma : float
        The sky noise per pixel (sets the fluxes).
    psf_peak : float
        The largest pixel of the unit-flux pixelated PSF.
    rng : `numpy.random.Generator`
        The random generator.

    Returns
    -------
    columns : dict of `~numpy.ndarray`
        As `~astropais.simulation.catalog.draw_catalog` gives them, for the
        large galaxies (kind ``'large'``) followed by the bright stars
        (kind ``'star'``); magnitudes are NaN (the fluxes are set in noise
        units).
    """
    ny, nx = shape
    n_large = int(rng.poisson(params.large_galaxies))
    n_star = int(rng.poisson(params.bright_stars))
    hlr = sample_loguniform(rng, params.large_size_range, n_large)
    sb = sample_loguniform(rng, params.large_surface_snr, n_large)
    g = rng.uniform(0.0, 0.6, n_large)
    beta = rng.uniform(0, np.pi, n_large)
    # Mean surface brightness sb * sigma within the half-light ellipse of
    # area pi * hlr**2 (sheared ellipses keep their area) holds half the flux.
    flux_large = 2 * np.pi * hlr ** 2 * sb * sigma
    # Centres inside the image or up to one half-light radius outside it.
    xl = rng.uniform(-0.5, nx - 0.5, n_large) + rng.uniform(-1, 1, n_large) \
        * np.minimum(hlr, nx / 2) * (rng.random(n_large) < 0.3)
    yl = rng.uniform(-0.5, ny - 0.5, n_large) + rng.uniform(-1, 1, n_large) \
        * np.minimum(hlr, ny / 2) * (rng.random(n_large) < 0.3)
    peak = sample_loguniform(rng, params.bright_star_peak_snr, n_star)
    flux_star = peak * sigma / psf_peak
    xs = rng.uniform(-0.5, nx - 0.5, n_star)
    ys = rng.uniform(-0.5, ny - 0.5, n_star)
    n = n_large + n_star
    return dict(
        x=np.concatenate([xl, xs]), y=np.concatenate([yl, ys]),
        mag=np.full(n, np.nan), flux=np.concatenate([flux_large, flux_star]),
        kind=np.array([LARGE_KIND] * n_large + ['star'] * n_star,
                      dtype='<U10'),
        size=np.concatenate([hlr, np.zeros(n_star)]),
        g1=np.concatenate([g * np.cos(2 * beta), np.zeros(n_star)]),
        g2=np.concatenate([g * np.sin(2 * beta), np.zeros(n_star)]),
        group=np.zeros(n, dtype=np.int64), separation=np.zeros(n))


def large_galaxy_profile(flux, size, g1, g2, rng, galsim_seed, pixel_scale):
    """
    The intrinsic profile of a large galaxy with substructure.

    Two families, drawn at random: a smooth early type (a Sérsic profile of
    index 1.5-5, 35 per cent) and a disk galaxy (exponential disk, de
    Vaucouleurs bulge, and with some probability star-forming knots, a bar
    and two logarithmic spiral arms of Gaussian clumps).

    Parameters
    ----------
    flux : float
        Total flux.
    size : float
        Half-light radius of the whole galaxy in pixels.
    g1, g2 : float
        Reduced-shear ellipticity of the disk (the bulge has half of it).
    rng : `numpy.random.Generator`
        Draws the morphology.
    galsim_seed : int
        Seed of the knots.
    pixel_scale : float
        Arcsec per pixel.

    Returns
    -------
    profile : `galsim.GSObject`
        The profile in arcsec, centroid at the origin.
    extent : float
        Radius (pixels) holding the profile.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.simulation.bright import large_galaxy_profile
    >>> prof, extent = large_galaxy_profile(
    ...     1e4, 40.0, 0.2, 0.0, np.random.default_rng(1), 7, 0.1)
    >>> round(prof.flux)
    10000
    """
    galsim = require_galsim()

    hlr = size * pixel_scale
    if rng.random() < 0.35:
        n = np.round(rng.uniform(1.5, 5.0) * 4) / 4
        prof = galsim.Sersic(n, half_light_radius=hlr, flux=flux,
                             trunc=5 * hlr).shear(g1=g1, g2=g2)
    else:
        bulge = rng.uniform(0.05, 0.4)
        knots = rng.uniform(0.03, 0.15) if rng.random() < 0.6 else 0.0
        bar = rng.uniform(0.03, 0.15) if rng.random() < 0.4 else 0.0
        arms = rng.uniform(0.1, 0.3) if rng.random() < 0.5 else 0.0
        disk = 1.0 - bulge - knots - bar - arms
        parts = [galsim.Exponential(half_light_radius=hlr, flux=flux * disk),
                 galsim.DeVaucouleurs(
                     half_light_radius=hlr * rng.uniform(0.1, 0.3),
                     trunc=1.5 * hlr, flux=flux * bulge)]
        if knots:
            # Resolved clumps (HII regions), not point sources.
            parts.append(galsim.Convolve(galsim.RandomKnots(
                int(rng.integers(20, 80)), half_light_radius=hlr,
                flux=flux * knots, rng=galsim.BaseDeviate(int(galsim_seed))),
                galsim.Gaussian(sigma=hlr * rng.uniform(0.02, 0.06))))
        if bar:
            parts.append(galsim.Sersic(
                0.5, half_light_radius=hlr * rng.uniform(0.3, 0.6),
                flux=flux * bar).shear(g=0.7, beta=rng.uniform(0, np.pi)
                                       * galsim.radians))
        if arms:
            parts.append(_spiral_arms(hlr, flux * arms, rng))
        prof = galsim.Add(parts).shear(g1=g1, g2=g2)
    centroid = prof.centroid
    prof = prof.shift(-centroid.x, -centroid.y)
    stretch = np.sqrt((1 + np.hypot(g1, g2)) / (1 - np.hypot(g1, g2)))
    return prof, float(5.0 * size * stretch)


def _spiral_arms(hlr, flux, rng):
    """Two logarithmic spiral arms of Gaussian clumps (arcsec)."""
    galsim = require_galsim()

    n_clumps = int(rng.integers(20, 50))
    pitch = np.tan(np.deg2rad(rng.uniform(10, 30)))
    t = rng.uniform(0, 2.5 * np.pi, n_clumps)
    phase = rng.uniform(0, 2 * np.pi) + np.pi * (np.arange(n_clumps) % 2)
    radius = 0.3 * hlr * np.exp(pitch * t)
    keep = radius < 3 * hlr
    radius, angle = radius[keep], (t + phase)[keep]
    if radius.size == 0:
        return galsim.Gaussian(sigma=0.2 * hlr, flux=flux)
    clumps = [galsim.Gaussian(sigma=hlr * s, flux=flux / radius.size)
              .shift(r * np.cos(a), r * np.sin(a))
              for r, a, s in zip(radius, angle,
                                 rng.uniform(0.04, 0.12, radius.size))]
    return galsim.Add(clumps)


def bright_star_radius(peak_snr, fwhm_pixels):
    """
    Stamp half-size of a bright star: where its wings fall to ~0.3 sigma.

    Parameters
    ----------
    peak_snr : float
        The star's peak pixel in sky noise sigmas.
    fwhm_pixels : float
        PSF FWHM in pixels.

    Returns
    -------
    radius : int
        At most `MAX_STAR_RADIUS`; wings are taken to fall as ``r ** -3``.
    """
    radius = fwhm_pixels * (max(peak_snr, 1.0) / 0.3) ** (1 / 3)
    return int(min(MAX_STAR_RADIUS, np.ceil(radius) + 1))


def saturate(cutout, level):
    """
    Clip a star's image at the full-well level and bleed the excess.

    The charge above ``level`` in each column moves along the column,
    filling the pixels next to the saturated run, half upwards and half
    downwards, as charge bleeds in a CCD.  Flux is conserved inside the
    stamp up to the light already in the trail's pixels (a trail pixel
    never exceeds ``level``) and charge that would leave the stamp.

    Parameters
    ----------
    cutout : `~numpy.ndarray`
        The noise-free star stamp (rows along y).
    level : float
        The saturation level.

    Returns
    -------
    bled : `~numpy.ndarray`
        The stamp with saturated pixels at ``level`` and the bleed trail.
    saturated : `~numpy.ndarray` of bool
        Pixels at the saturation level (core and trail).

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.simulation.bright import saturate
    >>> star = np.zeros((9, 3)); star[4, 1] = 5.0
    >>> bled, saturated = saturate(star, 1.0)
    >>> bled[:, 1].tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    """
    excess = np.clip(cutout - level, 0, None).sum(axis=0)
    bled = np.minimum(cutout, level)
    ny = cutout.shape[0]
    rows = np.arange(ny)[:, None]
    over = cutout >= level
    has = over.any(axis=0)
    top = np.where(has, np.argmax(over, axis=0), 0)
    bottom = np.where(has, ny - 1 - np.argmax(over[::-1], axis=0), -1)
    half = excess / (2 * level)
    # Fill above the run (rows below ``top``) and below it (rows after
    # ``bottom``): distance d from the run edge gets min(1, half - d + 1).
    d_up = top[None, :] - rows
    d_down = rows - bottom[None, :]
    fill = np.zeros_like(bled)
    for d in (d_up, d_down):
        share = np.clip(half[None, :] - d + 1, 0, 1) * (d >= 1)
        fill += share * level
    bled = np.where(has[None, :], np.maximum(bled, np.minimum(
        level, bled + fill)), bled)
    return bled, bled >= level * (1 - 1e-12)
