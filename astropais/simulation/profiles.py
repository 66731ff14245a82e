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

__all__ = ['source_profile', 'stamp_radius']

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
    import galsim

    hlr = size * pixel_scale
    stretch = np.sqrt((1 + np.hypot(g1, g2)) / (1 - np.hypot(g1, g2)))
    if kind == 'sersic':
        n = np.round(shape_rng.uniform(0.5, 4.0) * 4) / 4
        prof = galsim.Sersic(n, half_light_radius=hlr, flux=flux,
                             trunc=TRUNCATION * hlr)
        prof = prof.shear(g1=g1, g2=g2)
        extent = TRUNCATION * size * stretch
    elif kind == 'bulge_disk':
        bulge_fraction = shape_rng.uniform(0.1, 0.6)
        bulge_hlr = hlr * shape_rng.uniform(0.3, 0.6)
        bulge = galsim.DeVaucouleurs(half_light_radius=bulge_hlr,
                                     trunc=TRUNCATION * bulge_hlr,
                                     flux=flux * bulge_fraction)
        disk = galsim.Exponential(half_light_radius=hlr,
                                  flux=flux * (1 - bulge_fraction))
        prof = galsim.Add(bulge.shear(g1=0.5 * g1, g2=0.5 * g2),
                          disk.shear(g1=g1, g2=g2))
        extent = EXTENT * size * stretch
    elif kind == 'knots':
        knot_fraction = shape_rng.uniform(0.3, 0.7)
        n_knots = int(shape_rng.integers(10, 60))
        smooth = galsim.Exponential(half_light_radius=hlr,
                                    flux=flux * (1 - knot_fraction))
        knots = galsim.RandomKnots(n_knots, half_light_radius=hlr,
                                   flux=flux * knot_fraction,
                                   rng=galsim.BaseDeviate(int(galsim_seed)))
        far = np.max(np.hypot(*knots.points.T)) / pixel_scale
        prof = galsim.Add(smooth, knots).shear(g1=g1, g2=g2)
        extent = max(EXTENT * size, far) * stretch
    elif kind == 'edge_on':
        inclination = np.deg2rad(shape_rng.uniform(80.0, 90.0))
        prof = galsim.InclinedExponential(
            inclination * galsim.radians, half_light_radius=hlr,
            scale_h_over_r=shape_rng.uniform(0.08, 0.15), flux=flux)
        angle = np.arctan2(g2, g1) / 2
        prof = prof.rotate(angle * galsim.radians)
        extent = EXTENT * size
    else:
        raise ValueError(f'unknown galaxy kind {kind!r}')
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
