"""
One call from an image to its weighted segmentation and catalog: the
pipeline of `deblend_field` and of the ``astropais deblend`` and
``astropais demo`` commands (background, noise, threshold, detection,
deblending, photometry).
"""

import importlib.util
import os
import warnings
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.nddata import NDData, StdDevUncertainty
from astropy.utils.decorators import deprecated_renamed_argument
from astropy.utils.exceptions import (AstropyDeprecationWarning,
                                      AstropyUserWarning)

from .background import DEFAULT_N_SIGMA, estimate_background
from .catalog import WeightedSourceCatalog
from .deblender import PAISDeblender
from .inputs import in_data_unit, prepare_image, scan_rows, trim_heap
from .uncertainty import UNCERTAINTY_KINDS, error_from_map

__all__ = ['DeblendResult', 'MOSAIC_PIXELS', 'deblend_field',
           'detection_kernel', 'make_deblender']

#: Images with more pixels than this are deblended on Dask
#: (`~astropais.segmentation.mosaic.DaskDeblender`) unless told otherwise.
MOSAIC_PIXELS = 8192 * 8192


@dataclass
class DeblendResult:
    """
    The outcome of `deblend_field`.

    Parameters
    ----------
    data : `~numpy.ndarray` or `~astropy.units.Quantity`
        The background-subtracted image that was deblended (NaN where
        masked), in the input's unit if it had one.
    background : float, `~numpy.ndarray` or `~astropy.units.Quantity`
        The background subtracted: a constant (0 for ``'none'``) or
        `~photutils.background.Background2D`'s map.
    noise_sigma : float, `~numpy.ndarray` or `~astropy.units.Quantity`
        The background noise (1 sigma): a constant or ``Background2D``'s
        ``background_rms`` map; the median error if an uncertainty was
        given.
    threshold : float, `~numpy.ndarray` or `~astropy.units.Quantity`
        The detection threshold used: ``n_sigma`` times the noise, or
        times the per-pixel error if an uncertainty was given.
    segmentation : `~astropais.WeightedSegmentationImage` or `None`
        The segmentation (`None` if no source was found).
    catalog : `~astropais.WeightedSourceCatalog` or `None`
        Its catalog.
    sky : `~astropais.segmentation.SkyBackground`
        The background estimate as measured (without units): its method
        and description (for provenance), background and
        ``background_rms``.
    """

    data: np.ndarray
    background: object
    noise_sigma: object
    threshold: object
    segmentation: object = None
    catalog: object = None
    sky: object = None


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
def deblend_field(data, *, n_sigma=DEFAULT_N_SIGMA, n_pixels=5, model=None,
                  background='constant', box_size=64, filter_size=3,
                  error=None, variance=None, weight=None, wcs=None,
                  mask=None, deblender=None, kernel_fwhm=None,
                  precision='auto', progress_bar=True,
                  subtract_background=None, dask=None):
    """
    Subtract the background, then detect, deblend and measure the sources
    of an image.

    Parameters
    ----------
    data : 2-D array_like, `~astropy.units.Quantity` or `~astropy.nddata.NDData`
        The image.  The unit of a `~astropy.units.Quantity` or
        `~astropy.nddata.NDData` (`~astropy.nddata.CCDData`) is kept in
        the result and the catalog; an NDData's mask, uncertainty (any
        astropy uncertainty that converts to a standard deviation: it
        serves as ``error``) and wcs are used.
    n_sigma : float, optional
        Detection threshold in units of the background noise, or of the
        per-pixel error if an uncertainty is given (photutils 3's name;
        ``nsigma`` is deprecated).
    n_pixels : int, optional
        Minimum connected pixels of a detection.
    model : None, path or `~astropais.model.PCRNetwork`, optional
        The network (`None`: the shipped model).
    background : {'constant', '2d', 'none'}, optional
        The background subtracted before detection and its noise (see
        `~astropais.segmentation.estimate_background`): one sigma-clipped
        median, photutils' `~photutils.background.Background2D`, or none
        (the image is already background-subtracted).
    box_size, filter_size : int, optional
        ``Background2D``'s box size (pixels) and median filter size
        (boxes), for ``background='2d'``.
    error, variance, weight : 2-D array_like or `~astropy.units.Quantity`, optional
        At most one uncertainty map (not with an NDData uncertainty): the
        1-sigma total error of every pixel (background and source Poisson
        noise, as photutils expects), its variance, or its inverse
        variance (weight 0: no data; see
        `~astropais.segmentation.error_from_map`).  It sets the per-pixel
        threshold, the network's noise level and the catalog's ``error``
        (``segment_flux_err``, ``kron_flux_err``, ...; NaN without one).
        With a unit, the data need a compatible one.  Pixels whose error
        is not finite are masked with an
        `~astropy.utils.exceptions.AstropyUserWarning`.
    wcs : `~astropy.wcs.WCS`, optional
        For the catalog's sky coordinates (default: the NDData's).
    mask : 2-D array_like of bool, optional
        Pixels to ignore.  Non-finite pixels are masked (with a warning).
    deblender : `PAISDeblender`, optional
        A configured deblender (then ``n_pixels``, ``model`` and
        ``precision`` are ignored).
    kernel_fwhm : float, optional
        If given, sources are detected on the image smoothed with a
        Gaussian kernel of this FWHM in pixels (ideally the PSF's;
        `detection_kernel`), as photutils recommends; the network and the
        photometry use the unsmoothed image.
    precision : {'auto', 'float32', 'bfloat16'}, optional
        The network's arithmetic (see `PAISDeblender`).
    progress_bar : bool, optional
        Show progress bars (the default, as photutils' ``SourceFinder``).
    subtract_background : bool, optional
        Deprecated: ``True`` is ``background='constant'``, ``False``
        ``background='none'``.
    dask : None, bool or `distributed.Client`, optional
        Whether to deblend on Dask
        (`~astropais.segmentation.mosaic.DaskDeblender`): `None` (the
        default) does for images of more than `MOSAIC_PIXELS` pixels,
        `True` always (Dask's default scheduler), a client on its cluster,
        `False` never.  Ignored with ``deblender``; see `make_deblender`.

    Returns
    -------
    result : `DeblendResult`
        The image, background, noise, threshold, segmentation and catalog.

    Raises
    ------
    ValueError
        If ``n_sigma`` is not positive, the background method or its
        sizes are not valid, more than one uncertainty is given, its unit
        or shape does not match the data, or the noise cannot be measured.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation import deblend_field
    >>> deblend_field(np.ones((8, 8)), n_sigma=0)
    Traceback (most recent call last):
    ...
    ValueError: n_sigma must be positive, got 0
    >>> deblend_field(np.ones((8, 8)), background='global')
    Traceback (most recent call last):
    ...
    ValueError: background must be one of ('constant', '2d', 'none'), got 'global'
    """
    if not n_sigma > 0:
        raise ValueError(f'n_sigma must be positive, got {n_sigma!r}')
    if subtract_background is not None:
        warnings.warn("subtract_background is deprecated; use "
                      "background='constant' or 'none'",
                      AstropyDeprecationWarning)
        background = 'constant' if subtract_background else 'none'
    image = prepare_image(data, mask)
    unit = image.unit
    given = _error_map(unit, error=error, variance=variance, weight=weight)
    if given is not None:
        if image.error is not None:
            raise ValueError('the data already carry an uncertainty; give '
                             'error, variance or weight only without one')
        # The error map, validated and masked by the one input rule.
        image = prepare_image(NDData(image.data, mask=image.mask,
                                     wcs=image.wcs,
                                     uncertainty=StdDevUncertainty(given)))
        image.unit = unit
    sky = estimate_background(image.data, image.mask, method=background,
                              box_size=box_size, filter_size=filter_size)
    masked = bool(np.any(image.mask))
    work = _subtract(image.data, sky.background, image.mask)
    if image.error is None:
        noise_sigma = sky.background_rms
        noise_map = _fill_masked(noise_sigma, image.mask)
        threshold = n_sigma * (noise_map if np.ndim(noise_sigma)
                               else noise_sigma)
    else:
        noise_map = _fill_masked(image.error, image.mask)
        noise_sigma = float(np.median(image.error[~image.mask]))
        threshold = n_sigma * noise_map
    if deblender is None:
        deblender = make_deblender(image.data.shape, n_pixels, model=model,
                                   precision=precision,
                                   progress_bar=progress_bar, dask=dask)
    convolved = None
    if kernel_fwhm is not None:
        from astropy.convolution import convolve
        kernel = detection_kernel(kernel_fwhm)
        convolved = convolve(np.where(image.mask, np.nan, work), kernel,
                             mask=image.mask, nan_treatment='interpolate',
                             normalize_kernel=True)
        convolved = np.nan_to_num(convolved)

    def with_unit(value):
        # (a view, not a copy, as the unitless arrays are shared too)
        return value if unit is None else u.Quantity(value, unit,
                                                     copy=None)

    # The noise that sets the threshold also scales the network's input.
    # (a constant noise stays one broadcast number: not copied)
    nd = NDData(work, uncertainty=StdDevUncertainty(noise_map, copy=False),
                unit=unit)
    segm = deblender(nd, with_unit(threshold), mask=image.mask,
                     convolved_data=(None if convolved is None
                                     else with_unit(convolved)))
    # The deblender's freed working memory handed back before the catalog.
    trim_heap()
    catalog = None
    wcs = image.wcs if wcs is None else wcs
    if segm is not None:
        catalog_error = (None if image.error is None else
                         with_unit(np.where(image.mask, 0.0, image.error)))
        catalog = WeightedSourceCatalog(with_unit(work), segm,
                                        mask=image.mask, error=catalog_error,
                                        wcs=wcs, progress_bar=progress_bar)
    return DeblendResult(with_unit(np.where(image.mask, np.nan, work)
                                   if masked else work),
                         with_unit(sky.background), with_unit(noise_sigma),
                         with_unit(threshold), segm, catalog, sky)


def make_deblender(shape, n_pixels=5, *, model=None, precision='auto',
                   progress_bar=True, dask=None):
    """
    The deblender of `deblend_field` for an image of ``shape``: in memory,
    or on Dask above `MOSAIC_PIXELS` pixels.

    Parameters
    ----------
    shape : tuple of int
        The image shape.
    n_pixels : int, optional
        Minimum connected pixels of a detection.
    model : None, path or `~astropais.model.PCRNetwork`, optional
        The network (`None`: the shipped model).  A loaded network keeps
        the image in memory when ``dask`` is `None` (Dask's workers load
        the model from its file).
    precision : {'auto', 'float32', 'bfloat16'}, optional
        The network's arithmetic.
    progress_bar : bool, optional
        Show progress bars.
    dask : None, bool or `distributed.Client`, optional
        `None`: Dask for more than `MOSAIC_PIXELS` pixels when Dask (the
        ``mosaic`` extra) is installed (otherwise in memory, with a
        warning); `True`: Dask's default scheduler; a client: its
        cluster; `False`: in memory.

    Returns
    -------
    deblender : `PAISDeblender` or `~astropais.segmentation.mosaic.DaskDeblender`

    Raises
    ------
    ImportError
        If Dask is asked for and the ``mosaic`` extra is missing.
    TypeError
        If Dask is asked for with a loaded network as ``model``.

    Examples
    --------
    >>> from astropais.segmentation.pipeline import make_deblender
    >>> type(make_deblender((64, 64), progress_bar=False)).__name__
    'PAISDeblender'
    """
    if dask is None:
        dask = (int(np.prod(shape)) > MOSAIC_PIXELS
                and (model is None or isinstance(model, (str, os.PathLike))))
        if dask and importlib.util.find_spec('dask') is None:
            warnings.warn(f'an image of {shape[0]} x {shape[1]} pixels is '
                          'deblended in memory: install the mosaic extra '
                          '(pip install astropais[mosaic]) to deblend it on '
                          'Dask', AstropyUserWarning)
            dask = False
    if dask is False:
        return PAISDeblender(n_pixels, model=model, precision=precision,
                             progress_bar=progress_bar)
    if importlib.util.find_spec('dask') is None:
        raise ImportError('deblending on Dask needs Dask: install the '
                          'mosaic extra (pip install astropais[mosaic])')
    from .mosaic import DaskDeblender
    return DaskDeblender(n_pixels, model=model, precision=precision,
                         progress_bar=progress_bar,
                         client=None if dask is True else dask)


def _error_map(unit, **maps):
    """
    The one uncertainty map of ``maps`` (error, variance or weight) as a
    plain 1-sigma error in the data unit, or `None`.
    """
    given = [(kind, maps[kind]) for kind in UNCERTAINTY_KINDS
             if maps.get(kind) is not None]
    if not given:
        return None
    if len(given) > 1:
        raise ValueError('give at most one of error, variance and weight, '
                         f'got {", ".join(kind for kind, _ in given)}')
    kind, values = given[0]
    return in_data_unit(error_from_map(values, kind), unit,
                        f'the {kind} map')


def _subtract(data, background, mask):
    """
    ``data - background``, 0 where masked, in native byte order, made a
    block of rows at a time (`~astropais.segmentation.inputs.scan_rows`:
    a memory-mapped image is read, converted and let go block by block).
    """
    if np.ndim(background) == 0:
        # A Python float: subtracted in the data's type (``data - float``).
        background = float(background)
    work = np.empty(data.shape, dtype=np.result_type(
        data.dtype, background).newbyteorder('='))
    for rows in scan_rows(data):
        np.subtract(data[rows], background if np.ndim(background) == 0
                    else background[rows], out=work[rows])
        work[rows][mask[rows]] = 0.0
    return work


def _fill_masked(noise, mask):
    """
    A per-pixel noise map, masked pixels given the median of the others
    (finite, and never detected).
    """
    noise = np.broadcast_to(np.asarray(noise, dtype=float), mask.shape)
    if not np.any(mask):
        # A constant noise stays one number (a read-only view).
        return noise if noise.strides == (0, 0) else np.array(noise)
    return np.where(mask, np.median(noise[~mask]), noise)
