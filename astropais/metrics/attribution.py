"""
Scores of per-pixel attributions: per-source reconstruction error and
per-pixel fraction error against noise-free truth, and the conversion of
disjoint label maps (photutils, SEP) to `~astropais.pcr.PixelAttribution`.
"""

import numpy as np

from ..pcr.sparse import PixelAttribution, SourceImages
from .matching import SourceMatch

__all__ = ['attribution_from_label_map', 'attribution_from_source_images',
           'reconstruction_errors', 'fraction_errors']


def attribution_from_label_map(label_map, centres=None):
    """
    A disjoint segmentation as a `~astropais.pcr.PixelAttribution`.

    Every labelled pixel gets one ``(label, 1.0)`` pair, so photutils or
    SEP segmentations can be scored like weighted attributions.

    Parameters
    ----------
    label_map : array_like of int, shape (ny, nx)
        0 for background, ``1..N`` for sources.
    centres : array_like, shape (N, 2), optional
        The ``(y, x)`` centre of label ``i`` at row ``i - 1``.  By default
        the centroid of each label's pixels (NaN for a label that has no
        pixel).

    Returns
    -------
    attribution : `~astropais.pcr.PixelAttribution`
        With one slot per pixel.
    """
    return PixelAttribution.from_label_map(label_map, centres)


def attribution_from_source_images(models, footprint, centres=None, *,
                                   max_slots=8):
    """
    Fractions ``M_i = S_i / sum_j S_j`` from per-source model images, as a
    `~astropais.pcr.PixelAttribution` on a footprint.

    This is how model-fitting deblenders (scarlet, scarlet2) share the
    light of a pixel: in proportion to their models.

    Parameters
    ----------
    models : `~astropais.pcr.SourceImages`
        Single-band per-source model images (label ``i + 1`` is model
        ``i``); negative values count as 0.
    footprint : array_like of bool, shape ``models.shape``
        The pixels to attribute.  A footprint pixel where no model is
        positive goes wholly to the nearest centre.
    centres : array_like, shape (N, 2), optional
        ``(y, x)`` source centres; by default each model's flux-weighted
        centroid.
    max_slots : int, optional
        At most this many sources are kept per pixel (the largest
        contributions), then the kept fractions are renormalised.

    Returns
    -------
    attribution : `~astropais.pcr.PixelAttribution`
    """
    if not isinstance(models, SourceImages):
        raise TypeError(f'models must be a SourceImages, got '
                        f'{type(models).__name__}')
    if models.n_bands != 1:
        raise ValueError('models must be single-band')
    footprint = np.asarray(footprint, dtype=bool)
    if footprint.shape != tuple(models.shape):
        raise ValueError(f'footprint shape {footprint.shape} differs from '
                         f'{models.shape}')
    max_slots = int(max_slots)
    if max_slots < 1:
        raise ValueError(f'max_slots must be >= 1, got {max_slots}')
    pix, src, val, n_pix = _truth_entries(models)
    val = np.clip(val, 0, None)
    if centres is None:
        yy, xx = np.unravel_index(pix, models.shape)
        w = np.bincount(src, weights=val, minlength=len(models))
        with np.errstate(divide='ignore', invalid='ignore'):
            centres = np.stack([np.bincount(src, val * yy, len(models)) / w,
                                np.bincount(src, val * xx, len(models)) / w],
                               axis=1)
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    if len(centres) != len(models):
        raise ValueError(f'got {len(centres)} centres for {len(models)} '
                         f'models')
    keep = footprint.ravel()[pix] & (val > 0)
    pix, src, val = pix[keep], src[keep], val[keep]
    # Pixels of the footprint no model reaches go to the nearest centre.
    covered = np.zeros(n_pix, dtype=bool)
    covered[pix] = True
    orphans = np.flatnonzero(footprint.ravel() & ~covered)
    good = np.all(np.isfinite(centres), axis=1)
    if orphans.size and good.any():
        from scipy.spatial import cKDTree
        yx = np.stack(np.unravel_index(orphans, models.shape), axis=1)
        _, near = cKDTree(centres[good]).query(yx)
        pix = np.concatenate([pix, orphans])
        src = np.concatenate([src, np.flatnonzero(good)[near]])
        val = np.concatenate([val, np.ones(orphans.size)])
    # Rank contributions within each pixel (largest first) and keep the top
    # max_slots.
    order = np.lexsort((-val, pix))
    pix, src, val = pix[order], src[order], val[order]
    pixels, first, counts = np.unique(pix, return_index=True,
                                      return_counts=True)
    rank = np.arange(pix.size) - np.repeat(first, counts)
    n_slots = int(min(max_slots, counts.max())) if counts.size else 1
    use = rank < n_slots
    row = np.repeat(np.arange(pixels.size), counts)[use]
    labels = np.zeros((pixels.size, n_slots), dtype=np.int64)
    weights = np.zeros((pixels.size, n_slots))
    labels[row, rank[use]] = src[use] + 1
    weights[row, rank[use]] = val[use]
    weights /= weights.sum(axis=1, keepdims=True)
    return PixelAttribution(models.shape, pixels, labels, weights, centres)


def _check_inputs(sources, attribution, match):
    if not isinstance(sources, SourceImages):
        raise TypeError(f'sources must be a SourceImages, got '
                        f'{type(sources).__name__}')
    if not isinstance(attribution, PixelAttribution):
        raise TypeError(f'attribution must be a PixelAttribution, got '
                        f'{type(attribution).__name__}')
    if not isinstance(match, SourceMatch):
        raise TypeError(f'match must be a SourceMatch, got '
                        f'{type(match).__name__}')
    if sources.n_bands != 1:
        raise ValueError('attribution scores need single-band sources')
    if tuple(sources.shape) != tuple(attribution.shape):
        raise ValueError(f'sources shape {sources.shape} differs from the '
                         f'attribution shape {attribution.shape}')
    if len(sources) != match.n_true:
        raise ValueError(f'match has {match.n_true} true sources, sources '
                         f'has {len(sources)}')
    if attribution.n_sources != match.n_detected:
        raise ValueError(f'match has {match.n_detected} detections but the '
                         f'attribution has {attribution.n_sources} labels; '
                         f'detection k must be label k + 1')


def _truth_entries(sources):
    """Flat pixel index, source index and value of every in-image truth pixel."""
    n_pix = int(np.prod(sources.shape))
    pix, src, val = [], [], []
    # A loop over sources: each has its own cut-out shape and origin.
    for i, cutout in enumerate(sources.cutouts):
        img_sl, cut_sl = sources.slices(i)
        part = cutout[cut_sl]
        if part.size == 0:
            continue
        yy, xx = np.mgrid[img_sl]
        pix.append(np.ravel_multi_index((yy.ravel(), xx.ravel()),
                                        sources.shape))
        src.append(np.full(part.size, i, dtype=np.int64))
        val.append(part.ravel().astype(np.float64))
    if not pix:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
                n_pix)
    return np.concatenate(pix), np.concatenate(src), np.concatenate(val), n_pix


def _predicted_entries(attribution, match):
    """Flat pixel index, owner id and weight of every used slot.

    The owner id is the matched true-source index, or ``n_true + label - 1``
    for a label matched to no true source.
    """
    rows, slots = np.nonzero(attribution.labels > 0)
    labels = attribution.labels[rows, slots]
    host = match.true_for_detected()[labels - 1]
    owner = np.where(host >= 0, host, match.n_true + labels - 1)
    return attribution.pixels[rows], owner, attribution.weights[rows, slots]


def reconstruction_errors(sources, attribution, image, match):
    """
    Per-source reconstruction error ``sum|S_pred - S_true| / sum S_true``.

    ``S_pred = M_i * I`` is the deblended image of the detection matched to
    true source ``i`` (its attribution weights times the image) and
    ``S_true`` the noise-free image of the true source; the sums run over
    every pixel where either is non-zero.

    Parameters
    ----------
    sources : `~astropais.pcr.SourceImages`
        The noise-free single-band source images.
    attribution : `~astropais.pcr.PixelAttribution`
        The method's attribution; its label ``k + 1`` is detection ``k``
        of ``match``.
    image : array_like, shape ``sources.shape``
        The (noisy, background-subtracted) image that was deblended.
    match : `SourceMatch`
        From `match_sources` with the attribution's centres as detections.

    Returns
    -------
    errors : `~numpy.ndarray`, shape (n_true,)
        NaN for a missed true source or one with no positive flux.
    """
    _check_inputs(sources, attribution, match)
    image = np.asarray(image, dtype=np.float64)
    if image.shape != tuple(sources.shape):
        raise ValueError(f'image shape {image.shape} differs from '
                         f'{sources.shape}')
    t_pix, t_src, t_val, n_pix = _truth_entries(sources)
    p_pix, p_own, p_w = _predicted_entries(attribution, match)
    keep_t = match.true_matched[t_src]
    keep_p = p_own < match.n_true
    t_pix, t_src, t_val = t_pix[keep_t], t_src[keep_t], t_val[keep_t]
    p_pix, p_own, p_val = (p_pix[keep_p], p_own[keep_p],
                           p_w[keep_p] * image.ravel()[p_pix[keep_p]])
    # Merge truth and prediction on (source, pixel): a pixel may appear in
    # both, or in one only.
    keys = np.concatenate([t_src * n_pix + t_pix, p_own * n_pix + p_pix])
    signed = np.concatenate([-t_val, p_val])
    unique, inverse = np.unique(keys, return_inverse=True)
    diff = np.abs(np.bincount(inverse, weights=signed, minlength=unique.size))
    abs_sum = np.bincount(unique // n_pix, weights=diff,
                          minlength=match.n_true)
    true_sum = np.bincount(t_src, weights=t_val, minlength=match.n_true)
    errors = np.full(match.n_true, np.nan)
    good = match.true_matched & (true_sum > 0)
    errors[good] = abs_sum[good] / true_sum[good]
    return errors


def fraction_errors(sources, attribution, match, threshold=0.0):
    """
    Per-pixel error of the predicted fractions against the true fractions.

    The true fraction of source ``i`` at pixel ``p`` is
    ``S_i(p) / sum_j S_j(p)``.  At each pixel of the attribution's
    footprint where the true total exceeds ``threshold`` (so true fractions
    exist), the error is the total-variation distance
    ``0.5 * sum_i |M_i(p) - F_i(p)|`` in [0, 1], where a predicted label is
    compared with its matched true source; weight given to an unmatched
    label and fractions of unmatched true sources count fully.

    Parameters
    ----------
    sources : `~astropais.pcr.SourceImages`
        The noise-free single-band source images.
    attribution : `~astropais.pcr.PixelAttribution`
        The method's attribution; label ``k + 1`` is detection ``k``.
    match : `SourceMatch`
        From `match_sources` with the attribution's centres as detections.
    threshold : float, optional
        Minimum true total flux of a pixel for it to be scored.

    Returns
    -------
    pixels : `~numpy.ndarray` of int
        Flat indices of the scored pixels.
    errors : `~numpy.ndarray`
        The error at each scored pixel.
    """
    _check_inputs(sources, attribution, match)
    t_pix, t_src, t_val, n_pix = _truth_entries(sources)
    total = np.bincount(t_pix, weights=t_val, minlength=n_pix)
    has_truth = total > float(threshold)
    scored = attribution.pixels[has_truth[attribution.pixels]]
    in_scored = np.zeros(n_pix, dtype=bool)
    in_scored[scored] = True
    keep_t = in_scored[t_pix]
    t_pix, t_src = t_pix[keep_t], t_src[keep_t]
    t_frac = t_val[keep_t] / total[t_pix]
    p_pix, p_own, p_w = _predicted_entries(attribution, match)
    keep_p = in_scored[p_pix]
    p_pix, p_own, p_w = p_pix[keep_p], p_own[keep_p], p_w[keep_p]
    keys = np.concatenate([t_src * n_pix + t_pix, p_own * n_pix + p_pix])
    signed = np.concatenate([-t_frac, p_w])
    unique, inverse = np.unique(keys, return_inverse=True)
    diff = np.abs(np.bincount(inverse, weights=signed, minlength=unique.size))
    per_pixel = 0.5 * np.bincount(unique % n_pix, weights=diff,
                                  minlength=n_pix)
    return scored, per_pixel[scored]
