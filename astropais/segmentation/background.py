"""
The sky background and its noise, the one rule for `deblend_field` and
the command line: a constant sigma-clipped median, photutils'
`~photutils.background.Background2D`, or none, with the noise measured
the same way (sigma-clipped).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ['BACKGROUND_METHODS', 'DEFAULT_N_SIGMA', 'MAX_SAMPLES',
           'SIGMA_CLIP', 'SkyBackground', 'estimate_background',
           'sample_grid']

#: ``'constant'``: one sigma-clipped median; ``'2d'``: photutils'
#: `~photutils.background.Background2D` (a mesh of sigma-clipped box
#: medians, median-filtered and interpolated); ``'none'``: the image is
#: already background-subtracted (the noise is still measured).
BACKGROUND_METHODS = ('constant', '2d', 'none')

#: The default detection threshold in units of the background noise (or
#: of the per-pixel error): `~astropais.segmentation.deblend_field`'s
#: ``n_sigma`` and the command line's ``--threshold``.
DEFAULT_N_SIGMA = 1.5

#: The sigma clipping of every background and noise estimate
#: (`~astropy.stats.sigma_clipped_stats` and
#: `~astropy.stats.SigmaClip` keywords).
SIGMA_CLIP = {'sigma': 3.0, 'maxiters': 10}

#: The most pixels a constant background and its noise are measured on
#: (`sample_grid`): every pixel of an image of up to 2048 x 2048, a
#: regular grid of them beyond.
MAX_SAMPLES = 2 ** 22


@dataclass
class SkyBackground:
    """
    The background of an image and its noise.

    Parameters
    ----------
    background : float or `~numpy.ndarray`
        The background (a constant or a per-pixel map).
    background_rms : float or `~numpy.ndarray`
        The background noise, 1 sigma (a constant or a per-pixel map;
        photutils' name).
    method : str
        One of `BACKGROUND_METHODS`.
    description : str
        The method and its parameters, for the provenance.
    """

    background: object
    background_rms: object
    method: str
    description: str


def sample_grid(data, mask=None, max_samples=MAX_SAMPLES):
    """
    The usable pixels of an image on a regular grid, in float64.

    The grid takes every ``step``-th row and every ``step``-th column,
    starting at pixel (0, 0), with the smallest ``step`` whose grid has
    at most ``max_samples`` points (about ``sqrt(N / max_samples)`` for
    an image of ``N`` pixels; 1, every pixel, when ``N <= max_samples``);
    masked and non-finite pixels are dropped.  The rows
    are read a block at a time, so neither the image nor a whole-image
    mask is copied or converted (a memory-mapped image is read only on the
    sampled rows, in any byte order, and its pages are let go as it is
    read; `~astropais.segmentation.inputs.scan_rows`): memory
    ``O(max_samples)``.

    Parameters
    ----------
    data : 2-D `~numpy.ndarray`
        The image (a memory map included).
    mask : 2-D `~numpy.ndarray` of bool, optional
        `True` for pixels to leave out.
    max_samples : int, optional
        The most grid points (`MAX_SAMPLES` by default).

    Returns
    -------
    values : 1-D `~numpy.ndarray` of float64
        The usable grid pixels, in raster order (``data[~mask]`` for
        ``step == 1``).

    Raises
    ------
    ValueError
        If ``max_samples`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation.background import sample_grid
    >>> image = np.arange(36.0).reshape(6, 6)
    >>> sample_grid(image, max_samples=9).tolist()
    [0.0, 2.0, 4.0, 12.0, 14.0, 16.0, 24.0, 26.0, 28.0]
    """
    from . import inputs

    max_samples = inputs.check_positive_int(max_samples, 'max_samples')
    ny, nx = data.shape
    def grid(step):
        return -(-ny // step) * -(-nx // step)

    # From the square root, the smallest step whose grid fits.
    step = max(1, int(np.ceil(np.sqrt(ny * nx / max_samples))))
    while grid(step) > max_samples:
        step += 1
    while step > 1 and grid(step - 1) <= max_samples:
        step -= 1
    parts = []
    # About as many grid points a block as scan_rows reads pixels.
    for rows in inputs.scan_rows(data, chunk=inputs._SCAN_CHUNK * step ** 2):
        first = -(-rows.start // step) * step
        block = np.asarray(data[first:rows.stop:step, ::step],
                           dtype=np.float64)
        usable = np.isfinite(block)
        if mask is not None:
            usable &= ~np.asarray(mask[first:rows.stop:step, ::step],
                                  dtype=bool)
        parts.append(block[usable])
    return np.concatenate(parts) if parts else np.zeros(0)


def _clipped_stats(values):
    from astropy.stats import sigma_clipped_stats
    if values.size == 0:
        return np.nan, np.nan
    _, median, std = sigma_clipped_stats(values, **SIGMA_CLIP)
    return float(median), float(std)


def estimate_background(data, mask=None, *, method='constant', box_size=64,
                        filter_size=3, max_samples=MAX_SAMPLES):
    """
    Estimate the background of an image and its noise.

    Parameters
    ----------
    data : 2-D `~numpy.ndarray`
        The image, without units.
    mask : 2-D `~numpy.ndarray` of bool, optional
        Pixels to leave out (non-finite pixels are always left out).
    method : {'constant', '2d', 'none'}, optional
        See `BACKGROUND_METHODS`.
    box_size : int, optional
        Box side in pixels for ``'2d'`` (photutils' ``box_size``).
    filter_size : int, optional
        Median-filter size in boxes for ``'2d'`` (photutils'
        ``filter_size``).
    max_samples : int, optional
        For ``'constant'`` and ``'none'``: the most pixels measured (see
        `sample_grid`).  Every unmasked pixel of an image of up to
        `MAX_SAMPLES` pixels (2048 x 2048, the default); beyond, those
        of a regular grid of at most that many.

    Returns
    -------
    sky : `SkyBackground`
        For ``'constant'`` and ``'none'`` the background is the
        sigma-clipped median and the noise the sigma-clipped standard
        deviation (astropy's `~astropy.stats.sigma_clipped_stats`,
        `SIGMA_CLIP`) of the unmasked, finite pixels of `sample_grid`
        (float64; no whole-image copy).  On a grid of ``n`` pixels of
        Gaussian noise of sigma ``s`` their standard errors are about
        ``1.25 s / sqrt(n)`` and ``0.7 s / sqrt(n)``: 0.0006 ``s`` and
        0.0004 ``s`` for ``n = 2**22``.  For ``'2d'`` the noise is
        photutils' per-pixel ``background_rms``.

    Raises
    ------
    ValueError
        For an unknown method, a box or filter size that is not a positive
        integer, or an image whose noise cannot be measured (constant or
        fully masked).

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation.background import estimate_background
    >>> image = np.random.default_rng(0).normal(100.0, 5.0, (64, 64))
    >>> sky = estimate_background(image)
    >>> round(sky.background), round(sky.background_rms), sky.method
    (100, 5, 'constant')
    >>> sky = estimate_background(image, method='2d', box_size=16)
    >>> sky.background.shape, sky.description
    ((64, 64), '2d (Background2D, median, box 16, filter 3)')
    """
    if not isinstance(method, str) or method not in BACKGROUND_METHODS:
        raise ValueError(f'background must be one of {BACKGROUND_METHODS}, '
                         f'got {method!r}')
    data = np.asanyarray(data)
    if method == '2d':
        # (Background2D on float64, as before: its maps are whole-image
        # float64 arrays anyway)
        data = np.asarray(data, dtype=float)
        usable = np.isfinite(data)
        if mask is not None:
            usable &= ~np.asarray(mask, dtype=bool)
        sky = _background_2d(data, ~usable, box_size, filter_size)
        values = sky.background_rms[usable]
    else:
        # The clipped standard deviation does not depend on the constant
        # subtracted, so 'none' and 'constant' measure the same noise.
        median, std = _clipped_stats(sample_grid(data, mask, max_samples))
        sky = (SkyBackground(median, std, method, 'constant (sigma-clipped '
                             'median)') if method == 'constant'
               else SkyBackground(0.0, std, method, 'none'))
        values = np.asarray(std)
    if (values.size == 0 or not np.all(np.isfinite(values))
            or not np.all(values > 0)):
        raise ValueError('cannot estimate the background noise of this '
                         'image (constant or fully masked)')
    return sky


def _background_2d(data, mask, box_size, filter_size):
    from astropy.stats import SigmaClip
    from photutils.background import Background2D, MedianBackground

    from .inputs import check_positive_int

    box_size = check_positive_int(box_size, 'background box size')
    filter_size = check_positive_int(filter_size, 'background filter size')
    if not np.any(~mask):
        raise ValueError('cannot estimate the background noise of this '
                         'image (constant or fully masked)')
    bkg = Background2D(np.where(mask, 0.0, data), box_size,
                       filter_size=filter_size, mask=mask,
                       sigma_clip=SigmaClip(**SIGMA_CLIP),
                       bkg_estimator=MedianBackground())
    return SkyBackground(np.asarray(bkg.background, dtype=float),
                         np.asarray(bkg.background_rms, dtype=float), '2d',
                         f'2d (Background2D, median, box {box_size}, '
                         f'filter {filter_size})')
