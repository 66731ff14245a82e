"""
One call from an image to its weighted segmentation and catalog, as the
command line runs it.
"""

from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clipped_stats

from .catalog import WeightedSourceCatalog
from .deblender import PAISDeblender
from .inputs import estimate_noise, prepare_image

__all__ = ['DeblendResult', 'deblend_field', 'detection_kernel']


@dataclass
class DeblendResult:
    """
    The outcome of `deblend_field`.

    Parameters
    ----------
    data : `~numpy.ndarray`
        The background-subtracted image that was deblended.
    background : float
        The constant background subtracted (0 if none).
    noise_sigma : float
        The background noise.
    threshold : float
        The detection threshold used (data units).
    segmentation : `~astropais.WeightedSegmentationImage` or `None`
        The segmentation (`None` if no source was found).
    catalog : `~astropais.WeightedSourceCatalog` or `None`
        Its catalog.
    """

    data: np.ndarray
    background: float
    noise_sigma: float
    threshold: float
    segmentation: object = None
    catalog: object = None


def detection_kernel(fwhm):
    """
    The PSF-matched Gaussian smoothing kernel for detection (photutils'
    recipe), used by `deblend_field` and the benchmark's photutils row.

    Parameters
    ----------
    fwhm : float
        FWHM in pixels (ideally the PSF's).

    Returns
    -------
    kernel : `~numpy.ndarray`
        Normalised, odd-sized: about 3 FWHM, at least 5 pixels.

    Raises
    ------
    ValueError
        If ``fwhm`` is not a positive number.
    """
    if not (np.isfinite(fwhm) and fwhm > 0):
        raise ValueError(f'kernel_fwhm must be a positive number of pixels, '
                         f'got {fwhm!r}')
    from photutils.segmentation import make_2dgaussian_kernel
    size = max(5, 2 * int(np.ceil(1.5 * fwhm)) + 1)
    return make_2dgaussian_kernel(fwhm, size=size).array


def deblend_field(data, *, nsigma=1.5, n_pixels=5, model=None,
                  subtract_background=True, wcs=None, mask=None,
                  deblender=None, kernel_fwhm=None, precision='auto',
                  progress_bar=False):
    """
    Detect, deblend and measure the sources of an image.

    Parameters
    ----------
    data : 2-D array_like
        The image.
    nsigma : float, optional
        Detection threshold in units of the background noise.
    n_pixels : int, optional
        Minimum connected pixels of a detection.
    model : None, path or `~astropais.model.PCRNetwork`, optional
        The network (`None`: the shipped model).
    subtract_background : bool, optional
        Subtract a constant, sigma-clipped median background first.
    wcs : `~astropy.wcs.WCS`, optional
        For the catalog's sky coordinates.
    mask : 2-D array_like of bool, optional
        Pixels to ignore.
    deblender : `PAISDeblender`, optional
        A configured deblender (then ``n_pixels``, ``model`` and
        ``precision`` are ignored).
    kernel_fwhm : float, optional
        If given, sources are detected on the image smoothed with a
        Gaussian kernel of this FWHM in pixels (ideally the PSF's; photutils'
        `~photutils.segmentation.make_2dgaussian_kernel`), as photutils
        recommends; the network and the photometry use the unsmoothed image.
    progress_bar : bool, optional
        Show progress bars.

    Returns
    -------
    result : `DeblendResult`
        The image, background, noise, threshold, segmentation and catalog.
    """
    if not nsigma > 0:
        raise ValueError(f'nsigma must be positive, got {nsigma!r}')
    image = prepare_image(data, mask)
    values = image.data[~image.mask]
    background = 0.0
    if subtract_background and values.size:
        background = float(sigma_clipped_stats(values, sigma=3.0)[1])
    work = np.where(image.mask, np.nan, image.data - background)
    noise = estimate_noise(prepare_image(np.nan_to_num(work), image.mask))
    if not (np.isfinite(noise) and noise > 0):
        raise ValueError('cannot estimate the background noise of this '
                         'image (constant or fully masked)')
    threshold = nsigma * noise
    if deblender is None:
        deblender = PAISDeblender(n_pixels, model=model,
                                  precision=precision,
                                  progress_bar=progress_bar)
    convolved = None
    if kernel_fwhm is not None:
        from astropy.convolution import convolve
        kernel = detection_kernel(kernel_fwhm)
        convolved = convolve(work, kernel, mask=image.mask,
                             nan_treatment='interpolate',
                             normalize_kernel=True)
        convolved = np.nan_to_num(convolved)
    segm = deblender(np.nan_to_num(work), threshold, mask=image.mask,
                     convolved_data=convolved)
    catalog = None
    if segm is not None:
        catalog = WeightedSourceCatalog(np.nan_to_num(work), segm,
                                        mask=image.mask, wcs=wcs,
                                        progress_bar=progress_bar)
    return DeblendResult(work, background, noise, threshold, segm, catalog)
