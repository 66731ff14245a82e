"""The point-spread function of a scene: a GalSim profile and its image."""

import numpy as np
from ._galsim import require_galsim

__all__ = ['make_psf', 'measure_fwhm_pixels', 'analytic_psf', 'PSF_FAMILIES',
           'compact_psf']

#: The analytic PSF families a `~astropais.simulation.SceneParameters` can name.
PSF_FAMILIES = ('gaussian', 'moffat', 'kolmogorov', 'optical',
                'double_gaussian')

#: FWHM of an unobstructed Airy disc in units of lambda / D.
_AIRY_FWHM = 1.029


def measure_fwhm_pixels(psf_image):
    """
    The FWHM of a sampled PSF, in pixels.

    Parameters
    ----------
    psf_image : `~numpy.ndarray`
        The 2-D PSF image.

    Returns
    -------
    fwhm : float
        The full width at half maximum (GalSim's
        ``Image.calculateFWHM`` about the brightest pixel).
    """
    galsim = require_galsim()

    image = galsim.Image(np.asarray(psf_image, dtype=np.float64), scale=1.0)
    peak = np.unravel_index(np.argmax(image.array), image.array.shape)
    centre = galsim.PositionD(image.bounds.xmin + peak[1],
                              image.bounds.ymin + peak[0])
    return float(image.calculateFWHM(center=centre))


def analytic_psf(params):
    """
    The GalSim profile of an analytic PSF family, of FWHM ``psf_fwhm``.

    Parameters
    ----------
    params : `~astropais.simulation.SceneParameters`
        The scene parameters; ``psf`` names one of `PSF_FAMILIES`.

    Returns
    -------
    profile : `galsim.GSObject`
        The unit-flux profile in arcsec.  ``'gaussian'``, ``'moffat'``
        (index ``psf_beta``) and ``'kolmogorov'`` (atmospheric seeing) have
        the FWHM ``psf_fwhm`` exactly.  ``'double_gaussian'`` is a core of
        FWHM ``psf_fwhm`` plus a halo ``psf_halo_scale`` times wider that
        holds ``psf_halo_fraction`` of the flux.  ``'optical'`` is a
        diffraction-limited telescope (`galsim.OpticalPSF` with central
        obscuration ``psf_obscuration`` and ``psf_struts`` spider struts at
        ``psf_strut_angle`` degrees, which make the diffraction spikes of
        bright stars) of Airy FWHM ``psf_fwhm`` at the centre of a filter
        +-15 per cent wide (three wavelengths), convolved with a Gaussian
        of ``psf_jitter`` times that FWHM (telescope jitter and detector
        charge diffusion).

    Examples
    --------
    >>> from astropais.simulation import get_preset
    >>> from astropais.simulation.psf import analytic_psf
    >>> psf = analytic_psf(get_preset('hst', psf='kolmogorov'))
    >>> round(psf.calculateFWHM(), 3)
    0.18
    """
    galsim = require_galsim()

    fwhm = params.psf_fwhm
    family = params.psf
    if family == 'gaussian':
        return galsim.Gaussian(fwhm=fwhm)
    if family == 'moffat':
        return galsim.Moffat(beta=params.psf_beta, fwhm=fwhm)
    if family == 'kolmogorov':
        return galsim.Kolmogorov(fwhm=fwhm)
    if family == 'double_gaussian':
        halo = params.psf_halo_fraction
        return galsim.Add(
            galsim.Gaussian(fwhm=fwhm, flux=1.0 - halo),
            galsim.Gaussian(fwhm=fwhm * params.psf_halo_scale, flux=halo))
    if family == 'optical':
        # Broad band: three wavelengths across a +-15 per cent filter wash
        # out the Airy rings as a real filter does.
        optics = galsim.Add([galsim.OpticalPSF(
            lam_over_diam=fwhm / _AIRY_FWHM * factor,
            obscuration=params.psf_obscuration,
            nstruts=params.psf_struts,
            strut_angle=params.psf_strut_angle * galsim.degrees,
            strut_thick=0.05, pad_factor=2, oversampling=2, flux=1 / 3)
            for factor in (0.85, 1.0, 1.15)])
        if params.psf_jitter > 0:
            optics = galsim.Convolve(
                optics, galsim.Gaussian(fwhm=params.psf_jitter * fwhm))
        return optics
    raise ValueError(f'unknown psf family {family!r}; choose one of '
                     f'{PSF_FAMILIES}')


def compact_psf(profile, params, fwhm_pixels):
    """
    A PSF profile that is cheap to convolve with many sources.

    The optical PSF is a sum of three phase-screen profiles whose Fourier
    transform GalSim recomputes for every source; this returns, for that
    family only, an interpolated image of it sampled at half a pixel over
    +-6 FWHM (the core and inner spikes, which is what the light of a
    galaxy is smeared by); other families are returned unchanged.  Bright
    stars are still drawn with the full profile.

    Parameters
    ----------
    profile : `galsim.GSObject`
        The PSF profile.
    params : `~astropais.simulation.SceneParameters`
        The scene parameters.
    fwhm_pixels : float
        The PSF FWHM in pixels.

    Returns
    -------
    profile : `galsim.GSObject`
        The unit-flux profile for convolutions.
    """
    galsim = require_galsim()

    if params.is_image_psf or params.psf != 'optical':
        return profile
    half = int(np.ceil(12 * fwhm_pixels))
    scale = params.pixel_scale / 2
    image = profile.drawImage(nx=2 * half + 1, ny=2 * half + 1, scale=scale,
                              method='no_pixel')
    return galsim.InterpolatedImage(image, flux=1.0)


def make_psf(params):
    """
    The PSF of a scene.

    Parameters
    ----------
    params : `~astropais.simulation.SceneParameters`
        The scene parameters.

    Returns
    -------
    profile : `galsim.GSObject`
        The PSF profile (unit flux), in arcsec.
    image : `~numpy.ndarray`
        The pixelated PSF on an odd square grid centred on the central
        pixel, normalised to unit sum.
    fwhm_pixels : float
        The FWHM in pixels.
    """
    galsim = require_galsim()

    scale = params.pixel_scale
    if params.is_image_psf:
        array = np.asarray(params.psf, dtype=np.float64)
        array = array / array.sum()
        # The image already contains the pixel response: draw it later with
        # method='no_pixel' semantics through an interpolated profile.
        profile = galsim.InterpolatedImage(galsim.Image(array, scale=scale),
                                           flux=1.0)
        fwhm = measure_fwhm_pixels(array)
    else:
        profile = analytic_psf(params)
        fwhm = params.psf_fwhm / scale
        if params.psf in ('optical', 'double_gaussian'):
            # Their FWHM is not psf_fwhm exactly (jitter, obscuration, halo).
            fwhm = measure_fwhm_pixels(profile.drawImage(
                nx=2 * int(np.ceil(4 * fwhm)) + 5,
                ny=2 * int(np.ceil(4 * fwhm)) + 5, scale=scale).array)
    half = int(np.ceil(4 * fwhm)) + 2
    size = 2 * half + 1
    if params.is_image_psf:
        image = np.asarray(params.psf, dtype=np.float64)
        image = image / image.sum()
    else:
        image = profile.drawImage(nx=size, ny=size, scale=scale).array
        image = image / image.sum()
    return profile, image, float(fwhm)
