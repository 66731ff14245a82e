"""
Detection scores: precision, recall and F1, overall and in bins of a
property of the true sources.
"""

import numpy as np
from scipy.spatial import cKDTree

from .binning import bin_index
from .matching import SourceMatch

__all__ = ['detection_scores', 'binned_detection_scores',
           'values_at_detections']


def _check_match(match):
    if not isinstance(match, SourceMatch):
        raise TypeError(f'match must be a SourceMatch, got '
                        f'{type(match).__name__}')


def _ratio(num, den):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def detection_scores(match):
    """
    Precision, recall and F1 of a matching.

    Parameters
    ----------
    match : `SourceMatch`
        From `match_sources`.

    Returns
    -------
    scores : dict
        ``precision`` (matched / detected), ``recall`` (matched / true),
        ``f1`` (``2 TP / (n_true + n_detected)``), and the counts
        ``n_true``, ``n_detected``, ``n_matched``.  A ratio with a zero
        denominator is NaN.
    """
    _check_match(match)
    tp = match.n_matched
    return {'precision': float(_ratio(tp, match.n_detected)),
            'recall': float(_ratio(tp, match.n_true)),
            'f1': float(_ratio(2 * tp, match.n_true + match.n_detected)),
            'n_true': match.n_true, 'n_detected': match.n_detected,
            'n_matched': tp}


def values_at_detections(match, true_positions, detected_positions,
                         true_values):
    """
    Carry a property of the true sources over to the detections.

    A matched detection takes the value of its true source; an unmatched
    (spurious) one takes the value of the nearest true source.  This lets
    precision be binned by a property that only the truth has (such as the
    separation to the nearest true neighbour).

    Parameters
    ----------
    match : `SourceMatch`
        From `match_sources`.
    true_positions, detected_positions : array_like, shape (N, 2), (M, 2)
        The positions given to `match_sources`.
    true_values : array_like, shape (N,)
        The property of each true source.

    Returns
    -------
    values : `~numpy.ndarray`, shape (M,)
        NaN for every detection when there is no true source.
    """
    _check_match(match)
    true_values = np.asarray(true_values, dtype=np.float64).ravel()
    if true_values.size != match.n_true:
        raise ValueError(f'true_values has {true_values.size} entries for '
                         f'{match.n_true} true sources')
    values = np.full(match.n_detected, np.nan)
    if match.n_true == 0 or match.n_detected == 0:
        return values
    detected_positions = np.asarray(detected_positions,
                                    dtype=np.float64).reshape(-1, 2)
    _, nearest = cKDTree(np.asarray(true_positions, dtype=np.float64)
                         .reshape(-1, 2)).query(detected_positions)
    host = match.true_for_detected()
    host = np.where(host >= 0, host, nearest)
    return true_values[host]


def binned_detection_scores(match, true_values, bins, detected_values=None):
    """
    Recall (and optionally precision and F1) in bins of a source property.

    Parameters
    ----------
    match : `SourceMatch`
        From `match_sources`.
    true_values : array_like, shape (n_true,)
        The property of each true source (e.g. the separation to its
        nearest neighbour, or its S/N) that defines the bins for recall.
    bins : array_like, shape (K + 1,)
        Increasing bin edges (see `~astropais.metrics.bin_index`).
    detected_values : array_like, shape (n_detected,), optional
        The same property for each detection (e.g. from
        `values_at_detections`); needed for precision and F1 per bin.

    Returns
    -------
    scores : dict of `~numpy.ndarray`, each of shape (K,)
        ``n_true``, ``n_recovered`` and ``recall``; with
        ``detected_values`` also ``n_detected``, ``n_real``, ``precision``
        and ``f1``.  Empty bins give NaN ratios.
    """
    _check_match(match)
    true_values = np.asarray(true_values, dtype=np.float64).ravel()
    if true_values.size != match.n_true:
        raise ValueError(f'true_values has {true_values.size} entries for '
                         f'{match.n_true} true sources')
    n_bins = np.asarray(bins).size - 1
    t_bin = bin_index(true_values, bins)
    inside = t_bin >= 0
    n_true = np.bincount(t_bin[inside], minlength=n_bins)
    n_rec = np.bincount(t_bin[inside & match.true_matched], minlength=n_bins)
    out = {'n_true': n_true, 'n_recovered': n_rec,
           'recall': _ratio(n_rec, n_true)}
    if detected_values is None:
        return out
    detected_values = np.asarray(detected_values, dtype=np.float64).ravel()
    if detected_values.size != match.n_detected:
        raise ValueError(f'detected_values has {detected_values.size} entries '
                         f'for {match.n_detected} detections')
    d_bin = bin_index(detected_values, bins)
    inside = d_bin >= 0
    n_det = np.bincount(d_bin[inside], minlength=n_bins)
    n_real = np.bincount(d_bin[inside & match.detected_matched],
                         minlength=n_bins)
    precision = _ratio(n_real, n_det)
    recall = out['recall']
    both = precision + recall
    with np.errstate(divide='ignore', invalid='ignore'):
        f1 = np.where(both > 0, 2 * precision * recall / both,
                      np.where(both == 0, 0.0, np.nan))
    out.update(n_detected=n_det, n_real=n_real, precision=precision, f1=f1)
    return out
