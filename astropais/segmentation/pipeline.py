"""
One call from an image to its weighted segmentation and catalog, as the
command line runs it.
"""

from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.nddata import NDData, StdDevUncertainty
from astropy.stats import sigma_clipped_stats
from astropy.utils.decorators import deprecated_renamed_argument

from .catalog import WeightedSourceCatalog
from .deblender import PAISDeblender
from .inputs import PreparedImage, estimate_noise, prepare_image

__all__ = ['DeblendResult', 'deblend_field', 'detection_kernel']


@dataclass
class DeblendResult:
    """
    The outcome of `deblend_field`.

    Parameters
    ----------
    data : `~numpy.ndarray` or `~astropy.units.Quantity`
        The background-subtracted image that was deblended (NaN where
        masked), in the input's unit if it had one.
    background : float or `~astropy.units.Quantity`
        The constant background subtracted (0 if none).
    noise_sigma : float or `~astropy.units.Quantity`
        The background noise (the median uncertainty if one was given).
    threshold : float, `~numpy.ndarray` or `~astropy.units.Quantity`
        The detection threshold used: ``n_sigma`` times the noise, or
        times the per-pixel uncertainty if one was given.
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


@deprecated_renamed_argument('nsigma', 'n_sigma', '0.1')
def deblend_field(data, *, n_sigma=1.5, n_pixels=5, model=None,
                  subtract_background=True, wcs=None, mask=None,
                  deblender=None, kernel_fwhm=None, precision='auto',
                  progress_bar=True):
    """
    Detect, deblend and measure the sources of an image.

    Parameters
    ----------
    data : 2-D array_like, `~astropy.units.Quantity` or `~astropy.nddata.NDData`
        The image.  The unit of a `~astropy.units.Quantity` or
        `~astropy.nddata.NDData` (`~astropy.nddata.CCDData`) is kept in
        the result and the catalog; an NDData's mask, uncertainty (the
        per-pixel noise of the threshold and the catalog errors) and wcs
        are used.
    n_sigma : float, optional
        Detection threshold in units of the background noise (photutils
        3's name; ``nsigma`` is deprecated).
    n_pixels : int, optional
        Minimum connected pixels of a detection.
    model : None, path or `~astropais.model.PCRNetwork`, optional
        The network (`None`: the shipped model).
    subtract_background : bool, optional
        Subtract a constant, sigma-clipped median background first.
    wcs : `~astropy.wcs.WCS`, optional
        For the catalog's sky coordinates (default: the NDData's).
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
        Show progress bars (the default, as photutils' ``SourceFinder``).

    Returns
    -------
    result : `DeblendResult`
        The image, background, noise, threshold, segmentation and catalog.

    Raises
    ------
    ValueError
        If ``n_sigma`` is not positive or the noise cannot be measured.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation import deblend_field
    >>> deblend_field(np.ones((8, 8)), n_sigma=0)
    Traceback (most recent call last):
    ...
    ValueError: n_sigma must be positive, got 0
    """
    if not n_sigma > 0:
        raise ValueError(f'n_sigma must be positive, got {n_sigma!r}')
    image = prepare_image(data, mask)
    unit = image.unit
    values = image.data[~image.mask]
    background = 0.0
    if subtract_background and values.size:
        background = float(sigma_clipped_stats(values, sigma=3.0)[1])
    work = np.where(image.mask, 0.0, image.data - background)
    noise = estimate_noise(PreparedImage(work, image.mask, unit,
                                         image.error))
    if not (np.isfinite(noise) and noise > 0):
        raise ValueError('cannot estimate the background noise of this '
                         'image (constant or fully masked)')
    threshold = n_sigma * (noise if image.error is None else
                           np.where(image.mask, noise, image.error))
    if deblender is None:
        deblender = PAISDeblender(n_pixels, model=model,
                                  precision=precision,
                                  progress_bar=progress_bar)
    convolved = None
    if kernel_fwhm is not None:
        from astropy.convolution import convolve
        kernel = detection_kernel(kernel_fwhm)
        convolved = convolve(np.where(image.mask, np.nan, work), kernel,
                             mask=image.mask, nan_treatment='interpolate',
                             normalize_kernel=True)
        convolved = np.nan_to_num(convolved)

    def with_unit(value):
        return value if unit is None else u.Quantity(value, unit)

    uncertainty = (None if image.error is None
                   else StdDevUncertainty(image.error))
    nd = NDData(work, uncertainty=uncertainty, unit=unit)
    segm = deblender(nd, with_unit(threshold), mask=image.mask,
                     convolved_data=(None if convolved is None
                                     else with_unit(convolved)))
    catalog = None
    wcs = image.wcs if wcs is None else wcs
    if segm is not None:
        error = None if image.error is None else with_unit(image.error)
        catalog = WeightedSourceCatalog(with_unit(work), segm,
                                        mask=image.mask, error=error,
                                        wcs=wcs, progress_bar=progress_bar)
    return DeblendResult(with_unit(np.where(image.mask, np.nan, work)),
                         with_unit(background), with_unit(noise),
                         with_unit(threshold), segm, catalog)
