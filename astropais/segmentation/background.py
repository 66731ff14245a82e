"""
The sky background and its noise, the one rule for `deblend_field` and
the command line: a constant sigma-clipped median, photutils'
`~photutils.background.Background2D`, or none, with the noise measured
the same way (sigma-clipped).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ['BACKGROUND_METHODS', 'DEFAULT_N_SIGMA', 'SIGMA_CLIP',
           'SkyBackground', 'estimate_background']

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


def _clipped_stats(values):
    from astropy.stats import sigma_clipped_stats
    if values.size == 0:
        return np.nan, np.nan
    _, median, std = sigma_clipped_stats(values, **SIGMA_CLIP)
    return float(median), float(std)


def estimate_background(data, mask=None, *, method='constant', box_size=64,
                        filter_size=3):
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

    Returns
    -------
    sky : `SkyBackground`
        For ``'constant'`` and ``'none'`` the noise is the sigma-clipped
        standard deviation (`SIGMA_CLIP`) of the unmasked pixels; for
        ``'2d'`` it is photutils' per-pixel ``background_rms``.

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
    data = np.asarray(data, dtype=float)
    usable = np.isfinite(data)
    if mask is not None:
        usable &= ~np.asarray(mask, dtype=bool)
    if method == '2d':
        sky = _background_2d(data, ~usable, box_size, filter_size)
    else:
        # The clipped standard deviation does not depend on the constant
        # subtracted, so 'none' and 'constant' measure the same noise.
        median, std = _clipped_stats(data[usable])
        sky = (SkyBackground(median, std, method, 'constant (sigma-clipped '
                             'median)') if method == 'constant'
               else SkyBackground(0.0, std, method, 'none'))
    rms = np.asarray(sky.background_rms, dtype=float)
    values = rms if rms.ndim == 0 else rms[usable]
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
