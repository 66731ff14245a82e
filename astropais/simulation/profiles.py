"""
GalSim profiles of the simulated sources and the size of their stamps.

Galaxies: Sérsic (index quantised to 0.25 so GalSim's Sérsic tables are
cached), bulge (de Vaucouleurs) + exponential disk, star-forming clumps
(`galsim.RandomKnots` on a smooth exponential), and edge-on disks
(`galsim.InclinedExponential`).  Stars are the PSF.  Every profile is
shifted so that its flux-weighted centroid is at the origin, so the
catalogue position is the true centroid.
"""

import numpy as np
from ._galsim import require_galsim

__all__ = ['source_profile', 'draw_morphology', 'galaxy_profile',
           'stamp_radius', 'COMPONENTS']

#: Sérsic and de Vaucouleurs profiles are truncated at this many
#: half-light radii (GalSim keeps the requested half-light radius and flux).
TRUNCATION = 5.0
#: Untruncated exponentials: stamps reach this many half-light radii
#: (over 99.7 per cent of the flux of a round disk).
EXTENT = 5.0


def source_profile(kind, flux, size, g1, g2, shape_rng, galsim_seed,
                   pixel_scale):
    """
    The intrinsic (pre-PSF) GalSim profile of one galaxy.

    `draw_morphology` then `galaxy_profile`.

    Parameters
    ----------
    kind : str
        ``'sersic'``, ``'bulge_disk'``, ``'knots'`` or ``'edge_on'``.
    flux : float
        Total flux.
    size : float
        Half-light radius in pixels.
    g1, g2 : float
        Reduced-shear ellipticity.
    shape_rng : `numpy.random.Generator`
        Draws the morphology's own parameters (Sérsic index, bulge
        fraction, clump fraction, inclination).
    galsim_seed : int
        Seed of the `galsim.BaseDeviate` that places the clumps.
    pixel_scale : float
        Arcsec per pixel.

    Returns
    -------
    profile : `galsim.GSObject`
        The profile in arcsec, centroid at the origin.
    extent : float
        Radius (pixels) beyond which the intrinsic profile is negligible.
    """
    return galaxy_profile(kind, flux, size, g1, g2,
                          draw_morphology(kind, shape_rng), galsim_seed,
                          pixel_scale)


def draw_morphology(kind, shape_rng):
    """
    The random parameters of one galaxy's morphology.

    Parameters
    ----------
    kind : str
        ``'sersic'``, ``'bulge_disk'``, ``'knots'`` or ``'edge_on'``.
    shape_rng : `numpy.random.Generator`
        The generator (one or two draws, in a fixed order per kind).

    Returns
    -------
    morphology : dict
        ``sersic_n`` (Sérsic index, quantised to 0.25); ``bulge_fraction``
        and ``bulge_hlr_ratio``; ``knot_fraction`` and ``n_knots``; or
        ``inclination`` (radians) and ``scale_h_over_r``.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.simulation.profiles import draw_morphology
    >>> sorted(draw_morphology('knots', np.random.default_rng(0)))
    ['knot_fraction', 'n_knots']
    """
    if kind == 'sersic':
        return {'sersic_n': np.round(shape_rng.uniform(0.5, 4.0) * 4) / 4}
    if kind == 'bulge_disk':
        fraction = shape_rng.uniform(0.1, 0.6)
        return {'bulge_fraction': fraction,
                'bulge_hlr_ratio': shape_rng.uniform(0.3, 0.6)}
    if kind == 'knots':
        fraction = shape_rng.uniform(0.3, 0.7)
        return {'knot_fraction': fraction,
                'n_knots': int(shape_rng.integers(10, 60))}
    if kind == 'edge_on':
        inclination = np.deg2rad(shape_rng.uniform(80.0, 90.0))
        return {'inclination': inclination,
                'scale_h_over_r': shape_rng.uniform(0.08, 0.15)}
    raise ValueError(f'unknown galaxy kind {kind!r}')


#: The light components of each galaxy kind (`galaxy_profile`'s
#: ``weights`` keys).
COMPONENTS = {'sersic': ('sersic',), 'bulge_disk': ('bulge', 'disk'),
              'knots': ('disk', 'knots'), 'edge_on': ('disk',)}


def galaxy_profile(kind, flux, size, g1, g2, morphology, galsim_seed,
                   pixel_scale, weights=None, centroid=None):
    """
    The intrinsic (pre-PSF) GalSim profile of one galaxy of a given
    morphology.

    Parameters
    ----------
    kind : str
        ``'sersic'``, ``'bulge_disk'``, ``'knots'`` or ``'edge_on'``.
    flux : float
        Total flux (with unit weights).
    size : float
        Half-light radius in pixels.
    g1, g2 : float
        Reduced-shear ellipticity.
    morphology : dict
        The parameters of `draw_morphology`.
    galsim_seed : int
        Seed of the `galsim.BaseDeviate` that places the clumps.
    pixel_scale : float
        Arcsec per pixel.
    weights : dict, optional
        A factor on the flux of each light component (keys
        ``COMPONENTS[kind]``), e.g. a band's SED; default 1 for each.
    centroid : `galsim.PositionD`, optional
        The point moved to the origin; default the profile's own
        flux-weighted centroid.  (Give every band the centroid of the
        unweighted profile so that all bands share one centre.)

    Returns
    -------
    profile : `galsim.GSObject`
        The profile in arcsec, ``centroid`` at the origin.
    extent : float
        Radius (pixels) beyond which the intrinsic profile is negligible.
    """
    galsim = require_galsim()

    def weight(component):
        return 1.0 if weights is None else float(weights[component])

    hlr = size * pixel_scale
    stretch = np.sqrt((1 + np.hypot(g1, g2)) / (1 - np.hypot(g1, g2)))
    if kind == 'sersic':
        prof = galsim.Sersic(morphology['sersic_n'], half_light_radius=hlr,
                             flux=flux * weight('sersic'),
                             trunc=TRUNCATION * hlr)
        prof = prof.shear(g1=g1, g2=g2)
        extent = TRUNCATION * size * stretch
    elif kind == 'bulge_disk':
        bulge_fraction = morphology['bulge_fraction']
        bulge_hlr = hlr * morphology['bulge_hlr_ratio']
        bulge = galsim.DeVaucouleurs(
            half_light_radius=bulge_hlr, trunc=TRUNCATION * bulge_hlr,
            flux=flux * bulge_fraction * weight('bulge'))
        disk = galsim.Exponential(
            half_light_radius=hlr,
            flux=flux * (1 - bulge_fraction) * weight('disk'))
        prof = galsim.Add(bulge.shear(g1=0.5 * g1, g2=0.5 * g2),
                          disk.shear(g1=g1, g2=g2))
        extent = EXTENT * size * stretch
    elif kind == 'knots':
        knot_fraction = morphology['knot_fraction']
        smooth = galsim.Exponential(
            half_light_radius=hlr,
            flux=flux * (1 - knot_fraction) * weight('disk'))
        knots = galsim.RandomKnots(
            morphology['n_knots'], half_light_radius=hlr,
            flux=flux * knot_fraction * weight('knots'),
            rng=galsim.BaseDeviate(int(galsim_seed)))
        far = np.max(np.hypot(*knots.points.T)) / pixel_scale
        prof = galsim.Add(smooth, knots).shear(g1=g1, g2=g2)
        extent = max(EXTENT * size, far) * stretch
    elif kind == 'edge_on':
        prof = galsim.InclinedExponential(
            morphology['inclination'] * galsim.radians,
            half_light_radius=hlr,
            scale_h_over_r=morphology['scale_h_over_r'],
            flux=flux * weight('disk'))
        angle = np.arctan2(g2, g1) / 2
        prof = prof.rotate(angle * galsim.radians)
        extent = EXTENT * size
    else:
        raise ValueError(f'unknown galaxy kind {kind!r}')
    if centroid is None:
        centroid = prof.centroid
    if centroid.x != 0 or centroid.y != 0:
        prof = prof.shift(-centroid.x, -centroid.y)
        extent += np.hypot(centroid.x, centroid.y) / pixel_scale
    return prof, float(extent)


def stamp_radius(extent, psf_fwhm_pixels, psf_extent_fwhm=6.0):
    """
    Half-size of the square stamp of a source, in pixels.

    Parameters
    ----------
    extent : float
        Radius (pixels) of the intrinsic profile (0 for a star).
    psf_fwhm_pixels : float
        PSF FWHM in pixels.
    psf_extent_fwhm : float, optional
        How many PSF FWHM the PSF wings add.

    Returns
    -------
    radius : int
        The stamp spans ``2 * radius + 1`` pixels around the centre.
    """
    return int(np.ceil(extent + psf_extent_fwhm * psf_fwhm_pixels)) + 1
