"""
The sky background and its noise for the command line: a constant
sigma-clipped median, photutils' `~photutils.background.Background2D`, or
none, with the noise measured the same way (sigma-clipped).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ['BACKGROUND_METHODS', 'SIGMA_CLIP', 'SkyModel', 'estimate_sky']

#: ``constant``: one sigma-clipped median; ``2d``: photutils'
#: `~photutils.background.Background2D` (a mesh of sigma-clipped box
#: estimates, median-filtered and interpolated); ``none``: the image is
#: already background-subtracted (the noise is still measured).
BACKGROUND_METHODS = ('constant', '2d', 'none')

#: The sigma clipping of every background and noise estimate here.
SIGMA_CLIP = {'sigma': 3.0, 'maxiters': 10}


@dataclass
class SkyModel:
    """
    The background of an image and its noise.

    Parameters
    ----------
    background : float or `~numpy.ndarray`
        The background (a constant or a per-pixel map).
    noise : float or `~numpy.ndarray`
        The background noise, 1 sigma (a constant or a per-pixel map).
    method : str
        One of `BACKGROUND_METHODS`.
    description : str
        The method and its parameters, for the provenance.
    """

    background: object
    noise: object
    method: str
    description: str


def _clipped_stats(values):
    from astropy.stats import sigma_clipped_stats
    if values.size == 0:
        return np.nan, np.nan
    _, median, std = sigma_clipped_stats(values, **SIGMA_CLIP)
    return float(median), float(std)


def estimate_sky(data, mask=None, *, method='constant', box_size=64,
                 filter_size=3):
    """
    Estimate the background and its noise.

    Parameters
    ----------
    data : 2-D `~numpy.ndarray`
        The image.
    mask : 2-D `~numpy.ndarray` of bool, optional
        Pixels to leave out (non-finite pixels are always left out).
    method : {'constant', '2d', 'none'}, optional
        See `BACKGROUND_METHODS`.
    box_size : int, optional
        Box side in pixels for ``'2d'``.
    filter_size : int, optional
        Median-filter size in boxes for ``'2d'`` (odd).

    Returns
    -------
    sky : `SkyModel`
        For ``'constant'`` and ``'none'`` the noise is the sigma-clipped
        standard deviation of the (background-subtracted) unmasked pixels;
        for ``'2d'`` it is photutils' per-pixel ``background_rms``.

    Raises
    ------
    ValueError
        For an unknown method, a box or filter size that is not a positive
        integer, or an image whose noise cannot be measured (constant or
        fully masked).

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.cli.background import estimate_sky
    >>> image = np.random.default_rng(0).normal(100.0, 5.0, (64, 64))
    >>> sky = estimate_sky(image)
    >>> round(sky.background), round(sky.noise)
    (100, 5)
    """
    if method not in BACKGROUND_METHODS:
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
        sky = (SkyModel(median, std, method, 'constant (sigma-clipped '
                        'median)') if method == 'constant'
               else SkyModel(0.0, std, method, 'none'))
    noise = np.asarray(sky.noise, dtype=float)
    values = noise if noise.ndim == 0 else noise[usable]
    if (values.size == 0 or not np.all(np.isfinite(values))
            or not np.all(values > 0)):
        raise ValueError('cannot estimate the background noise of this '
                         'image (constant or fully masked)')
    return sky


def _background_2d(data, mask, box_size, filter_size):
    from photutils.background import Background2D, MedianBackground
    from astropy.stats import SigmaClip

    for name, value in (('box size', box_size),
                        ('filter size', filter_size)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f'background {name} must be a positive '
                             f'integer, got {value!r}')
    if not np.any(~mask):
        raise ValueError('cannot estimate the background noise of this '
                         'image (constant or fully masked)')
    bkg = Background2D(np.where(mask, 0.0, data), int(box_size),
                       filter_size=int(filter_size), mask=mask,
                       sigma_clip=SigmaClip(**SIGMA_CLIP),
                       bkg_estimator=MedianBackground())
    return SkyModel(np.asarray(bkg.background, dtype=float),
                    np.asarray(bkg.background_rms, dtype=float), '2d',
                    f'2d (Background2D, median, box {int(box_size)}, '
                    f'filter {int(filter_size)})')
