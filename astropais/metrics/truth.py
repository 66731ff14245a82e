"""
Properties of the true sources that the scores are binned by:
separation to the nearest neighbour, signal-to-noise ratio and
blendedness.  All are computed from noise-free truth.
"""

import numpy as np
from scipy.spatial import cKDTree

from ..pcr.sparse import SourceImages

__all__ = ['nearest_neighbour_separation', 'signal_to_noise', 'blendedness',
           'footprint_fluxes']


def nearest_neighbour_separation(positions):
    """
    Distance from each source to its nearest other source.

    Parameters
    ----------
    positions : array_like, shape (N, 2)
        ``(y, x)`` pixel positions.

    Returns
    -------
    separation : `~numpy.ndarray`, shape (N,)
        In pixels; ``inf`` when there is no other source.
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    if len(positions) < 2:
        return np.full(len(positions), np.inf)
    dist, _ = cKDTree(positions).query(positions, k=2)
    return dist[:, 1]


def _check_sources(sources):
    if not isinstance(sources, SourceImages):
        raise TypeError(f'sources must be a SourceImages, got '
                        f'{type(sources).__name__}')


def _band_sum(array):
    """Sum the leading band axis of a (b, h, w) array; leave 2-D alone."""
    return array.sum(axis=0) if array.ndim == 3 else array


def signal_to_noise(sources, noise_sigma):
    """
    Matched-filter signal-to-noise ratio of each true source.

    For white noise of standard deviation ``sigma`` the best achievable
    S/N of a source with noise-free image ``S`` is
    ``sqrt(sum_p S(p)**2) / sigma``; with several bands the per-band
    values add in quadrature.  Only the part of each source inside the
    image counts.

    Parameters
    ----------
    sources : `~astropais.pcr.SourceImages`
        The noise-free source images.
    noise_sigma : float or array_like of shape (b,)
        The noise standard deviation (per band).

    Returns
    -------
    snr : `~numpy.ndarray`, shape (N,)
    """
    _check_sources(sources)
    sigma = np.atleast_1d(np.asarray(noise_sigma, dtype=np.float64))
    if sigma.size not in (1, sources.n_bands) or np.any(~(sigma > 0)):
        raise ValueError(f'noise_sigma must be positive, one value or one per '
                         f'band ({sources.n_bands}), got {noise_sigma!r}')
    sigma = np.broadcast_to(sigma, (sources.n_bands,))
    snr = np.zeros(len(sources))
    # A loop over sources: each has its own cut-out shape.
    for i, cutout in enumerate(sources.cutouts):
        _, cut_sl = sources.slices(i)
        part = cutout[(Ellipsis, *cut_sl)].reshape(sources.n_bands, -1)
        snr[i] = np.sqrt(np.sum((part ** 2).sum(axis=1) / sigma ** 2))
    return snr


def blendedness(sources, footprint_threshold=0.0):
    """
    Blendedness of each true source: the fraction of the light in its
    footprint that comes from other sources.

    The footprint of source ``i`` is the set of image pixels where its own
    noise-free image (summed over bands) exceeds ``footprint_threshold``.
    Then ``blendedness_i = 1 - sum_fp S_i / sum_fp S_total``, with
    ``S_total`` the sum of all noise-free source images.  0 means
    isolated; values near 1 mean the source is a small part of the light
    where it lies.  A source with an empty footprint gets NaN.

    Parameters
    ----------
    sources : `~astropais.pcr.SourceImages`
        The noise-free source images.
    footprint_threshold : float, optional
        The isophote (in image units) that bounds each source's footprint,
        e.g. the noise standard deviation, so that the footprint is where
        the source could be seen.  The default 0 takes every pixel where
        the source is positive, which depends on the cut-out size of
        extended profiles.

    Returns
    -------
    blendedness : `~numpy.ndarray`, shape (N,)
    """
    _check_sources(sources)
    footprint_threshold = float(footprint_threshold)
    if not np.isfinite(footprint_threshold) or footprint_threshold < 0:
        raise ValueError(f'footprint_threshold must be a finite number >= 0, '
                         f'got {footprint_threshold}')
    total = _band_sum(sources.total())
    result = np.full(len(sources), np.nan)
    # A loop over sources: each has its own cut-out shape.
    for i, cutout in enumerate(sources.cutouts):
        img_sl, cut_sl = sources.slices(i)
        own = _band_sum(cutout[(Ellipsis, *cut_sl)])
        inside = own > footprint_threshold
        if not inside.any():
            continue
        all_light = total[img_sl][inside].sum()
        if all_light > 0:
            result[i] = 1.0 - own[inside].sum() / all_light
    return result


def footprint_fluxes(sources, footprint):
    """
    The true flux of each source inside a detection footprint.

    A footprint-limited method (photutils, SEP, astropais) can at best
    recover ``sum_{p in footprint} S_i(p)``: comparing its fluxes with this
    isolates the error of splitting the light between sources from the
    light the footprint misses.

    Parameters
    ----------
    sources : `~astropais.pcr.SourceImages`
        The noise-free source images.
    footprint : array_like of bool, shape ``sources.shape``
        The detection footprint.

    Returns
    -------
    fluxes : `~numpy.ndarray`, shape (N,)
        Summed over bands.
    """
    _check_sources(sources)
    footprint = np.asarray(footprint)
    if footprint.shape != sources.shape:
        raise ValueError(f'footprint has shape {footprint.shape}, the sources '
                         f'{sources.shape}')
    footprint = footprint.astype(bool)
    result = np.zeros(len(sources))
    # A loop over sources: each has its own cut-out shape.
    for i, cutout in enumerate(sources.cutouts):
        img_sl, cut_sl = sources.slices(i)
        own = _band_sum(cutout[(Ellipsis, *cut_sl)])
        result[i] = own[footprint[img_sl]].sum()
    return result
