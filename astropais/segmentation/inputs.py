"""
Input handling for `PAISDeblender`: unpack ndarray / Quantity /
NDData / CCDData, validate, mask non-finite pixels, estimate the noise.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.nddata import NDData, StdDevUncertainty
from astropy.stats import mad_std
from astropy.utils.exceptions import AstropyUserWarning

__all__ = ['PreparedImage', 'prepare_image', 'estimate_noise',
           'threshold_value']


@dataclass
class PreparedImage:
    """
    A validated image ready for detection.

    Parameters
    ----------
    data : `~numpy.ndarray`
        float64 image, masked pixels set to 0.
    mask : `~numpy.ndarray` of bool
        `True` for pixels to ignore (user mask, NDData mask, NaN/inf).
    unit : `~astropy.units.UnitBase` or `None`
        The data unit.
    error : `~numpy.ndarray` or `None`
        The 1-sigma uncertainty of every pixel, if known.
    wcs : object or `None`
        The world coordinate system, if any.
    """

    data: np.ndarray
    mask: np.ndarray
    unit: object = None
    error: np.ndarray = None
    wcs: object = None


def _as_mask(mask, shape, name):
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f'{name} has shape {mask.shape} but the data has '
                         f'shape {shape}')
    if not (mask.dtype == bool or np.issubdtype(mask.dtype, np.number)):
        raise TypeError(f'{name} must be boolean, got dtype {mask.dtype}')
    return mask.astype(bool)


def prepare_image(data, mask=None):
    """
    Validate and unpack the image given to `PAISDeblender`.

    Parameters
    ----------
    data : array_like, `~astropy.units.Quantity` or `~astropy.nddata.NDData`
        A 2-D image.  For `~astropy.nddata.NDData` (and
        `~astropy.nddata.CCDData`) the ``mask``, ``uncertainty``, ``unit``
        and ``wcs`` are used.
    mask : array_like of bool, optional
        `True` for pixels to ignore; combined with the NDData mask.

    Returns
    -------
    image : `PreparedImage`
        The validated image.

    Raises
    ------
    TypeError
        If the data are not numeric.
    ValueError
        If the data are not 2-D or a mask has the wrong shape.

    Warns
    -----
    AstropyUserWarning
        If NaN or inf pixels are masked.
    """
    unit = error = wcs = None
    masks = []
    if isinstance(data, NDData):
        unit, wcs = data.unit, data.wcs
        if data.mask is not None:
            masks.append(('the NDData mask', data.mask))
        if data.uncertainty is not None:
            try:
                error = np.asarray(data.uncertainty.represent_as(
                    StdDevUncertainty).array, dtype=float)
            except (TypeError, ValueError, AttributeError) as exc:
                raise TypeError('cannot convert the NDData uncertainty to a '
                                f'standard deviation: {exc}') from exc
        data = data.data
    if isinstance(data, u.Quantity):
        unit, data = data.unit, data.value
    data = np.asanyarray(data)
    if isinstance(data, np.ma.MaskedArray):
        masks.append(('the masked-array mask', np.ma.getmaskarray(data)))
        data = data.data
    if data.dtype == bool or not np.issubdtype(data.dtype, np.number):
        raise TypeError(f'data must be numeric, got dtype {data.dtype}')
    if np.iscomplexobj(data):
        raise TypeError('data must be real, got complex values')
    if data.ndim != 2:
        raise ValueError(f'data must be a 2-D image, got {data.ndim} '
                         f'dimension(s) (shape {data.shape})')
    if mask is not None:
        masks.append(('mask', mask))
    data = np.array(data, dtype=np.float64)
    full_mask = np.zeros(data.shape, dtype=bool)
    for name, value in masks:
        full_mask |= _as_mask(value, data.shape, name)
    if error is not None:
        if error.shape != data.shape:
            raise ValueError(f'the uncertainty has shape {error.shape} but '
                             f'the data has shape {data.shape}')
        full_mask |= ~np.isfinite(error)
    bad = ~np.isfinite(data) & ~full_mask
    if np.any(bad):
        warnings.warn(f'{np.count_nonzero(bad)} NaN or inf pixel(s) in the '
                      'data were masked', AstropyUserWarning)
        full_mask |= bad
    data[full_mask] = 0.0
    return PreparedImage(data, full_mask, unit, error, wcs)


def estimate_noise(image, footprint=None, max_samples=None):
    """
    The background noise sigma of an image.

    Parameters
    ----------
    image : `PreparedImage`
        The image.
    footprint : `~numpy.ndarray` of bool, optional
        Source pixels to leave out of the estimate.
    max_samples : int, optional
        Estimate from at most about this many background pixels, evenly
        spaced in raster order (every ``ceil(N / max_samples)``-th of the
        ``N`` usable ones); the relative standard error of the median
        absolute deviation is about ``1.2 / sqrt(samples)``, 0.9 % for
        ``2**14``.  Default: every usable pixel.

    Returns
    -------
    sigma : float
        The median of the given uncertainty over unmasked pixels or, with
        none given, the median absolute deviation of the unmasked
        background pixels scaled to a Gaussian sigma
        (`~astropy.stats.mad_std`; robust to the faint source light left
        outside the footprint, unbiased for Gaussian noise, where a 3-sigma
        clipped standard deviation reads ~1.5 % low).  NaN if there are no
        usable pixels.

    Raises
    ------
    ValueError
        If ``max_samples`` is not a positive integer or None.
    """
    if max_samples is not None and (
            isinstance(max_samples, bool)
            or not isinstance(max_samples, (int, np.integer))
            or max_samples < 1):
        raise ValueError(f'max_samples must be a positive integer or None, '
                         f'got {max_samples!r}')
    usable = ~image.mask
    if image.error is not None:
        values = image.error[usable]
        return float(np.median(values)) if values.size else np.nan
    if footprint is not None and np.any(usable & ~footprint):
        usable = usable & ~footprint
    values = image.data[usable]
    if values.size == 0:
        return np.nan
    if max_samples is not None and values.size > max_samples:
        values = values[::-(-values.size // int(max_samples))]
    return float(mad_std(values))


def threshold_value(threshold, unit, shape):
    """
    The detection threshold as a plain float or array in the data unit.

    Parameters
    ----------
    threshold : float, array_like or `~astropy.units.Quantity`
        The per-pixel threshold (a scalar or an image of ``shape``).
    unit : `~astropy.units.UnitBase` or `None`
        The data unit.
    shape : tuple of int
        The image shape.

    Returns
    -------
    threshold : float or `~numpy.ndarray`
        The threshold without units.

    Raises
    ------
    ValueError
        If the threshold has the wrong shape, is not finite, or its unit
        does not match the data's.
    """
    if isinstance(threshold, u.Quantity):
        if unit is None:
            raise ValueError('threshold has a unit but the data have none')
        try:
            threshold = threshold.to_value(unit)
        except u.UnitConversionError as exc:
            raise ValueError(f'threshold unit does not match the data: '
                             f'{exc}') from exc
    elif unit is not None and unit != u.dimensionless_unscaled:
        raise ValueError(f'the data have unit {unit}; give the threshold as '
                         'a Quantity in a compatible unit')
    threshold = np.asarray(threshold, dtype=float)
    if threshold.ndim not in (0,) and threshold.shape != shape:
        raise ValueError(f'threshold must be a scalar or an array of shape '
                         f'{shape}, got shape {threshold.shape}')
    if not np.all(np.isfinite(threshold)):
        raise ValueError('threshold must be finite')
    return float(threshold) if threshold.ndim == 0 else threshold
