"""The point-spread function of a scene: a GalSim profile and its image."""

import numpy as np

__all__ = ['make_psf', 'measure_fwhm_pixels']


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
    import galsim

    image = galsim.Image(np.asarray(psf_image, dtype=np.float64), scale=1.0)
    peak = np.unravel_index(np.argmax(image.array), image.array.shape)
    centre = galsim.PositionD(image.bounds.xmin + peak[1],
                              image.bounds.ymin + peak[0])
    return float(image.calculateFWHM(center=centre))


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
    import galsim

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
        fwhm_arcsec = params.psf_fwhm
        if params.psf == 'gaussian':
            profile = galsim.Gaussian(fwhm=fwhm_arcsec)
        else:
            profile = galsim.Moffat(beta=params.psf_beta, fwhm=fwhm_arcsec)
        fwhm = fwhm_arcsec / scale
    half = int(np.ceil(4 * fwhm)) + 2
    size = 2 * half + 1
    if params.is_image_psf:
        image = np.asarray(params.psf, dtype=np.float64)
        image = image / image.sum()
    else:
        image = profile.drawImage(nx=size, ny=size, scale=scale).array
        image = image / image.sum()
    return profile, image, float(fwhm)
