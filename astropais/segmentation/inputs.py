"""
Input handling for `PAISDeblender`: unpack ndarray / Quantity /
NDData / CCDData, validate, mask non-finite pixels, estimate the noise.
"""

import ctypes
import mmap
import sys
import warnings
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.nddata import NDData, StdDevUncertainty
from astropy.stats import mad_std
from astropy.utils.exceptions import AstropyUserWarning

__all__ = ['PreparedImage', 'prepare_image', 'is_multiband',
           'prepare_bands', 'snr_image', 'estimate_noise', 'threshold_value', 'in_data_unit',
           'unpack_nddata', 'check_real', 'check_positive_int',
           'release_pages', 'scan_rows', 'trim_heap']


@dataclass
class PreparedImage:
    """
    A validated image ready for detection.

    Parameters
    ----------
    data : `~numpy.ndarray`
        Floating-point image (float32 stays float32, see
        `prepare_image`), masked pixels set to 0.  It is the caller's
        array itself when nothing had to change: read it, never write
        it.
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
    return mask.astype(bool, copy=False)


# Pixels scanned at a time by the whole-image checks.
_SCAN_CHUNK = 2 ** 20

# Linux's madvise(MADV_PAGEOUT) (Python 3.12 names it; 5.4+ kernels).
_MADV_PAGEOUT = getattr(mmap, 'MADV_PAGEOUT',
                        21 if sys.platform.startswith('linux') else None)


def release_pages(array):
    """
    Let go of the resident pages of a memory-mapped array.

    The pages of the file mapping under ``array`` (an
    `~astropy.io.fits` image opened with ``memmap=True``, a
    `numpy.memmap`) leave the process's resident memory
    (``madvise(MADV_PAGEOUT)``); their content is kept, and read again
    from the file (or the page cache) when next used.  For other arrays,
    or where the system does not offer it, nothing happens.

    Parameters
    ----------
    array : `~numpy.ndarray`
        The array.

    Returns
    -------
    released : bool
        Whether the pages were handed back.

    Examples
    --------
    >>> import numpy as np
    >>> release_pages(np.zeros(3))
    False
    """
    base = array
    # A walk down the (short) chain of views to the mapping.
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, '_mmap', None) or getattr(base, 'base', None)
    if base is None or _MADV_PAGEOUT is None:
        return False
    try:
        base.madvise(_MADV_PAGEOUT)
    except (OSError, ValueError, AttributeError):
        return False
    return True


def trim_heap():
    """
    Hand the C heap's free memory back to the system.

    Memory freed by NumPy and TensorFlow (a network pass's tile batches,
    its threads' working memory) stays in the process's heaps until the
    allocator returns it; glibc's ``malloc_trim`` returns the free pages
    of every heap.  Elsewhere nothing happens.

    Returns
    -------
    trimmed : bool
        Whether ``malloc_trim`` was called.

    Examples
    --------
    >>> trim_heap() in (True, False)
    True
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim(0)
    return True


def scan_rows(array, chunk=None):
    """
    Blocks of whole rows of an image, for reading it a block at a time.

    After each block the pages of a memory-mapped image are let go
    (`release_pages`), so that reading a whole FITS file this way holds
    about one block of it in memory.

    Parameters
    ----------
    array : `~numpy.ndarray`
        The 2-D (or ``(H, W, ...)``) image.
    chunk : int, optional
        About how many pixels a block holds (default ``2**20``).

    Yields
    ------
    rows : slice
        The rows of one block.

    Examples
    --------
    >>> import numpy as np
    >>> [rows.start for rows in scan_rows(np.zeros((5, 4)), chunk=8)]
    [0, 2, 4]
    """
    chunk = _SCAN_CHUNK if chunk is None else chunk
    rows = max(1, chunk // max(1, int(np.prod(array.shape[1:]))))
    mapped = release_pages(array)
    # A loop over blocks of rows (not over pixels).
    for start in range(0, array.shape[0], rows):
        yield slice(start, start + rows)
        if mapped:
            release_pages(array)


def _mask_non_finite(values, mask, message):
    """
    Add the non-finite, not yet masked pixels of ``values`` to ``mask``
    (in place), a block of rows at a time (no whole-image temporaries; a
    broadcast constant is checked once), with a warning counting them.
    """
    if values.ndim == 2 and values.strides == (0, 0):
        # One value broadcast over the image (a constant noise).
        bad_value = not np.isfinite(values[0, 0]) if values.size else False
        count = int(np.count_nonzero(~mask)) if bad_value else 0
        if bad_value:
            mask[...] = True
    else:
        count = 0
        for rows in scan_rows(values):
            bad = ~np.isfinite(values[rows])
            bad &= ~mask[rows]
            found = int(np.count_nonzero(bad))
            if found:
                # (written only where needed: the pages of an untouched
                # all-False mask stay unallocated)
                mask[rows] |= bad
                count += found
    if count:
        warnings.warn(f'{count} {message}', AstropyUserWarning)


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
        The validated image.  Its data keep the input's floating-point
        type (float32 stays float32; integers become float32 up to 16
        bits, float64 beyond) and are not copied when no pixel is masked
        and the data are floating-point, in either byte order: a
        memory-mapped (big-endian) FITS image is only read, a block of
        rows at a time, never duplicated or converted whole (every
        reader converts what it reads).  With masked pixels the data are
        copied once, in that type and native byte order, and set to 0
        there.

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
    masks = []
    data, nd_mask, error, wcs = unpack_nddata(data)
    if nd_mask is not None:
        masks.append(('the NDData mask', nd_mask))
    unit = None
    if isinstance(data, u.Quantity):
        unit, data = data.unit, data.value
    if isinstance(error, u.Quantity):
        error = error.to_value(unit)
    data = np.asanyarray(data)
    if isinstance(data, np.ma.MaskedArray):
        masks.append(('the masked-array mask', np.ma.getmaskarray(data)))
        data = data.data
    check_real(data, 'data')
    if data.ndim != 2:
        raise ValueError(f'data must be a 2-D image, got {data.ndim} '
                         f'dimension(s) (shape {data.shape})')
    if mask is not None:
        masks.append(('mask', mask))
    # The input's floating-point type in native byte order (a big-endian
    # FITS image is not converted whole: every reader converts what it
    # reads).
    dtype = np.result_type(data.dtype, np.float32)
    full_mask = np.zeros(data.shape, dtype=bool)
    for name, value in masks:
        value = _as_mask(value, data.shape, name)
        if value.any():
            # (an all-False mask is not copied in: the pages of
            # full_mask stay unallocated)
            full_mask |= value
    if error is not None:
        if error.shape != data.shape:
            raise ValueError(f'the uncertainty has shape {error.shape} but '
                             f'the data has shape {data.shape}')
        _mask_non_finite(error, full_mask, 'pixel(s) with a NaN or inf '
                         'uncertainty were masked')
    _mask_non_finite(data, full_mask, 'NaN or inf pixel(s) in the data '
                     'were masked')
    if np.any(full_mask):
        data = np.array(data, dtype=dtype)
        data[full_mask] = 0.0
    elif data.dtype.kind != 'f':
        data = np.asarray(data, dtype=dtype)
    return PreparedImage(data, full_mask, unit, error, wcs)


def is_multiband(data):
    """
    Whether ``data`` is a stack of bands.

    Parameters
    ----------
    data : object
        The data given to `~astropais.segmentation.PAISDeblender`.

    Returns
    -------
    multiband : bool
        For a list or tuple of 2-D images (a list of rows is one image),
        or a 3-D array, `~astropy.units.Quantity` or
        `~astropy.nddata.NDData`.

    Examples
    --------
    >>> import numpy as np
    >>> is_multiband(np.zeros((5, 8, 8))), is_multiband([[1, 2], [3, 4]])
    (True, False)
    """
    if isinstance(data, (list, tuple)):
        return bool(data) and (isinstance(data[0], NDData)
                               or np.ndim(data[0]) == 2)
    if isinstance(data, NDData):
        return np.ndim(data.data) == 3
    return np.ndim(data) == 3


def prepare_bands(data, mask=None, *, bands=None, model_bands=None,
                  n_bands=None):
    """
    Validate and unpack the bands of a multi-band image.

    Parameters
    ----------
    data : array_like or `~astropy.units.Quantity`, shape (b, ny, nx), or list
        The background-subtracted images, or a list of one 2-D array,
        `~astropy.units.Quantity` or `~astropy.nddata.NDData` per band
        (of one shape; each band may have its own unit, mask and
        uncertainty).
    mask : array_like of bool, shape (ny, nx) or (b, ny, nx), optional
        `True` for pixels to ignore: in every band, or per band.
    bands : sequence of str, optional
        The names of the given bands, in order.
    model_bands : sequence of str, optional
        The bands the model expects, in its order (its sidecar's
        ``bands``): the given bands are put in this order by name.
    n_bands : int, optional
        The number of bands expected.

    Returns
    -------
    images : list of `PreparedImage`
        One per band, in the model's order (each prepared by
        `prepare_image`: its own masked pixels set to 0).
    names : tuple of str or None
        The band names, in that order.

    Raises
    ------
    TypeError
        If a band is not numeric, or ``data`` is one 3-D
        `~astropy.nddata.NDData`.
    ValueError
        If the bands differ in shape, their number or names do not match
        the model's, or a mask has the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> images, names = prepare_bands(
    ...     [np.ones((2, 3)), np.zeros((2, 3))], bands=['i', 'g'],
    ...     model_bands=['g', 'i'])
    >>> names, [float(im.data.sum()) for im in images]
    (('g', 'i'), [0.0, 6.0])
    """
    if isinstance(data, NDData):
        raise TypeError('give a list of one 2-D NDData per band, not one '
                        '3-D NDData')
    if isinstance(data, (list, tuple)):
        items = list(data)
    else:
        if np.ndim(data) != 3:
            raise ValueError(f'multi-band data must be a (bands, ny, nx) '
                             f'array or a list of 2-D images, got shape '
                             f'{np.shape(data)}')
        items = [data[k] for k in range(np.shape(data)[0])]
    if n_bands is not None and len(items) != n_bands:
        raise ValueError(f'the data have {len(items)} band(s); the model '
                         f'takes {n_bands}')
    names = _band_order(bands, model_bands, len(items))
    order = (range(len(items)) if bands is None or model_bands is None
             else [list(bands).index(name) for name in model_bands])
    masks = [None] * len(items)
    if mask is not None:
        if np.ndim(mask) == 3:
            if len(mask) != len(items):
                raise ValueError(f'mask has {len(mask)} bands, the data '
                                 f'{len(items)}')
            masks = list(mask)
        else:
            masks = [mask] * len(items)
    images = [prepare_image(items[k], masks[k]) for k in order]
    shapes = {im.data.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f'the bands differ in shape: {sorted(shapes)}')
    return images, names


def _band_order(bands, model_bands, n_bands):
    """The band names in the model's order (checked), or None."""
    def checked(names, what):
        names = tuple(names)
        if (len(names) != n_bands or len(set(names)) != n_bands
                or not all(isinstance(n, str) and n for n in names)):
            raise ValueError(f'{what} must be {n_bands} unique band names, '
                             f'got {names!r}')
        return names

    if bands is not None:
        bands = checked(bands, 'bands')
    if model_bands is not None:
        model_bands = checked(model_bands, "the model's bands")
        if bands is not None and set(bands) != set(model_bands):
            raise ValueError(f'the data bands {bands} are not the model '
                             f'bands {model_bands}')
        return model_bands
    return bands


def snr_image(images, noise_sigma):
    """
    The S/N-weighted sum of the bands, a detection image in noise units.

    ``sum_k I_k / sigma_k**2 / sqrt(sum_k 1 / sigma_k**2)``: white noise
    of sigma ``sigma_k`` in band ``k`` gives unit noise, so a threshold
    on it is a number of sigmas; the optimal sum for a source of flat
    spectrum.

    Parameters
    ----------
    images : list of `PreparedImage`
        The bands (masked pixels 0).
    noise_sigma : array_like, shape (b,)
        The background noise of each band (positive).

    Returns
    -------
    detection : `PreparedImage`
        In the bands' floating-point type, without unit, masked (and 0)
        where any band is masked.

    Examples
    --------
    >>> import numpy as np
    >>> images, _ = prepare_bands(np.ones((2, 2, 2)))
    >>> round(float(snr_image(images, [1.0, 1.0]).data[0, 0]), 4)
    1.4142
    """
    sigma = np.asarray(noise_sigma, dtype=np.float64)
    inverse = 1.0 / sigma ** 2
    dtype = np.result_type(*(im.data.dtype for im in images))
    total = np.zeros(images[0].data.shape, dtype=dtype)
    mask = np.zeros(images[0].data.shape, dtype=bool)
    # A loop over the bands (few): one scaled sum each.
    for image, weight in zip(images, inverse):
        total += image.data * dtype.type(weight / np.sqrt(inverse.sum()))
        mask |= image.mask
    total[mask] = 0.0
    return PreparedImage(total, mask)


def check_positive_int(value, name, allow_none=False):
    """
    A positive integer option, checked.

    Parameters
    ----------
    value : object
        The value given.
    name : str
        The option's name, for the message.
    allow_none : bool, optional
        Accept `None` (returned as is).

    Returns
    -------
    value : int or None

    Raises
    ------
    ValueError
        If ``value`` is not a positive integer (booleans and non-integral
        floats are refused).

    Examples
    --------
    >>> check_positive_int(5.0, 'n_pixels')
    5
    >>> check_positive_int(0, 'n_pixels')
    Traceback (most recent call last):
    ...
    ValueError: n_pixels must be a positive integer, got 0
    """
    if value is None and allow_none:
        return None
    try:
        ok = (not isinstance(value, (bool, np.bool_)) and value >= 1
              and int(value) == value)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        extra = ' or None' if allow_none else ''
        raise ValueError(f'{name} must be a positive integer{extra}, got '
                         f'{value!r}')
    return int(value)


def check_real(array, name):
    """
    Refuse arrays that are not real numbers.

    Parameters
    ----------
    array : `~numpy.ndarray`
        The array.
    name : str
        Its name, for the message.

    Raises
    ------
    TypeError
        If ``array`` is boolean, complex or not numeric.

    Examples
    --------
    >>> import numpy as np
    >>> check_real(np.ones(2), 'data')
    >>> check_real(np.ones(2, complex), 'data')
    Traceback (most recent call last):
    ...
    TypeError: data must be real numeric values, got dtype complex128
    """
    dtype = np.asanyarray(array).dtype
    if (np.issubdtype(dtype, np.bool_) or not np.issubdtype(dtype, np.number)
            or np.issubdtype(dtype, np.complexfloating)):
        raise TypeError(f'{name} must be real numeric values, got dtype '
                        f'{dtype}')


def unpack_nddata(data):
    """
    The parts of an `~astropy.nddata.NDData` (or `~astropy.nddata.CCDData`).

    Parameters
    ----------
    data : `~astropy.nddata.NDData`, `~astropy.units.Quantity` or array_like
        The image.

    Returns
    -------
    data : `~numpy.ndarray` or `~astropy.units.Quantity`
        The values, a `~astropy.units.Quantity` if the NDData has a unit
        (other inputs are returned as they are).
    mask : `~numpy.ndarray` or `None`
        The NDData mask.
    error : `~numpy.ndarray`, `~astropy.units.Quantity` or `None`
        The uncertainty as a standard deviation, in the data unit.
    wcs : object or `None`
        The NDData wcs.

    Raises
    ------
    TypeError
        If the uncertainty cannot be converted to a standard deviation.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import NDData, StdDevUncertainty
    >>> nd = NDData(np.ones((2, 2)), unit='adu',
    ...             uncertainty=StdDevUncertainty(np.full((2, 2), 0.5)))
    >>> values, mask, error, wcs = unpack_nddata(nd)
    >>> values.unit, error[0, 0]
    (Unit("adu"), <Quantity 0.5 adu>)
    >>> nd = NDData(np.ones((2, 2)), unit='Jy', uncertainty=StdDevUncertainty(
    ...     np.full((2, 2), 500.0), unit='mJy'))
    >>> unpack_nddata(nd)[2][0, 0]
    <Quantity 0.5 Jy>
    """
    if not isinstance(data, NDData):
        return data, None, None, None
    values = np.asanyarray(data.data)
    error = error_unit = None
    if data.uncertainty is not None:
        try:
            # (a standard deviation as it is: represent_as would copy it)
            std = (data.uncertainty
                   if type(data.uncertainty) is StdDevUncertainty
                   else data.uncertainty.represent_as(StdDevUncertainty))
            error, error_unit = np.asarray(std.array, dtype=float), std.unit
        except (TypeError, ValueError, AttributeError) as exc:
            raise TypeError('cannot convert the NDData uncertainty to a '
                            f'standard deviation: {exc}') from exc
    if data.unit is not None:
        values = u.Quantity(values, data.unit, copy=False)
        if error is not None:
            # An uncertainty in its own unit (mJy for data in Jy) is
            # converted, not relabelled.
            error = u.Quantity(error, error_unit or data.unit).to(data.unit)
    mask = None if data.mask is None else np.asarray(data.mask)
    return values, mask, error, data.wcs


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
    max_samples = check_positive_int(max_samples, 'max_samples',
                                     allow_none=True)
    if image.error is not None:
        usable = ~image.mask
        if image.error.strides == (0, 0):
            # One error broadcast over the image: its median is itself.
            return (float(image.error[0, 0]) if np.any(usable)
                    else np.nan)
        values = image.error[usable]
        return float(np.median(values)) if values.size else np.nan

    # The usable pixels are found a block of rows at a time (no
    # whole-image masks: three of them took 3 bytes a pixel).
    def usable(rows, outside):
        kept = ~image.mask[rows]
        if outside:
            kept &= ~footprint[rows]
        return kept

    blocks = list(scan_rows(image.data))
    outside = footprint is not None and any(
        np.any(usable(rows, True)) for rows in blocks)
    n_usable = sum(int(np.count_nonzero(usable(rows, outside)))
                   for rows in blocks)
    if n_usable == 0:
        return np.nan
    step = 1
    if max_samples is not None and n_usable > max_samples:
        step = -(-n_usable // int(max_samples))
    # Every step-th usable pixel in raster order, gathered block by block.
    parts, seen = [], 0
    # A loop over blocks of rows (not over pixels).
    for rows in blocks:
        index = np.flatnonzero(usable(rows, outside))
        parts.append(image.data[rows].ravel()[index[(-seen) % step::step]])
        seen += index.size
    # In float64 whatever the image's type (float32 values are exact).
    return float(mad_std(np.concatenate(parts).astype(np.float64)))


def in_data_unit(value, unit, name):
    """
    A value given with the data (a threshold, an error map) as a plain
    number or array in the data unit.

    Parameters
    ----------
    value : float, array_like or `~astropy.units.Quantity`
        The value.
    unit : `~astropy.units.UnitBase` or `None`
        The data unit.
    name : str
        The value's name, for the messages.

    Returns
    -------
    value : float or array_like
        A `~astropy.units.Quantity` converted to ``unit`` and stripped;
        anything else as it is.

    Raises
    ------
    ValueError
        If the value has a unit and the data none, its unit does not
        convert to the data's, or the data have a unit and the value none.

    Examples
    --------
    >>> import astropy.units as u
    >>> float(in_data_unit(500 * u.mJy, u.Jy, 'error'))
    0.5
    >>> in_data_unit(2.0, u.Jy, 'error')
    Traceback (most recent call last):
    ...
    ValueError: the data have unit Jy; give error as a Quantity in a compatible unit
    """
    if isinstance(value, u.Quantity):
        if unit is None:
            raise ValueError(f'{name} has a unit but the data have none')
        try:
            return value.to_value(unit)
        except u.UnitConversionError as exc:
            raise ValueError(f'{name} unit does not match the data: '
                             f'{exc}') from exc
    if unit is not None and unit != u.dimensionless_unscaled:
        raise ValueError(f'the data have unit {unit}; give {name} as a '
                         'Quantity in a compatible unit')
    return value


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
    threshold = np.asarray(in_data_unit(threshold, unit, 'threshold'),
                           dtype=float)
    if threshold.ndim not in (0,) and threshold.shape != shape:
        raise ValueError(f'threshold must be a scalar or an array of shape '
                         f'{shape}, got shape {threshold.shape}')
    if not np.all(np.isfinite(threshold)):
        raise ValueError('threshold must be finite')
    return float(threshold) if threshold.ndim == 0 else threshold
