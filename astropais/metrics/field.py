"""
All scores of one method on one field with known truth, and their
summary over many fields.
"""

from dataclasses import dataclass, field

import numpy as np

from ..pcr.sparse import PixelAttribution, SourceImages
from .attribution import fraction_errors, reconstruction_errors
from .binning import binned_median
from .detection import binned_detection_scores, values_at_detections
from .matching import SourceMatch, match_sources
from .photometry import flux_errors
from .truth import blendedness, nearest_neighbour_separation, signal_to_noise

__all__ = ['FieldScores', 'score_field', 'summarise_scores']


@dataclass
class FieldScores:
    """
    Per-source scores of one method on one field (from `score_field`).

    Parameters
    ----------
    match : `SourceMatch`
        The matching of detections to true sources.
    true : dict of `~numpy.ndarray`
        One entry per true source: ``separation`` (to the nearest true
        neighbour, pixels), ``snr``, ``blendedness``, ``flux`` (true),
        ``detected`` (bool), ``flux_error`` and ``reconstruction_error``
        (NaN where not measured).
    detected : dict of `~numpy.ndarray`
        One entry per detection: ``real`` (bool, matched), and the
        ``separation`` and ``snr`` carried over from the true source it
        matches (or the nearest true source when spurious).
    fraction_error : `~numpy.ndarray`
        The per-pixel fraction error at every scored pixel (empty without
        an attribution).
    """

    match: SourceMatch
    true: dict
    detected: dict
    fraction_error: np.ndarray = field(default_factory=lambda: np.zeros(0))


def score_field(sources, true_positions, detected_positions, *, noise_sigma,
                max_separation, image=None, fluxes=None, attribution=None,
                footprint_threshold=None):
    """
    Score one method's detections, fluxes and attribution on one field.

    Parameters
    ----------
    sources : `~astropais.pcr.SourceImages`
        The noise-free images of the true sources (single band).
    true_positions : array_like, shape (N, 2)
        ``(y, x)`` positions of the true sources.
    detected_positions : array_like, shape (M, 2)
        ``(y, x)`` positions of the detections.
    noise_sigma : float
        The image noise standard deviation (for the S/N of true sources).
    max_separation : float
        Matching radius in pixels.
    image : array_like, optional
        The background-subtracted image the method ran on; needed for the
        reconstruction error.
    fluxes : array_like, shape (M,), optional
        The flux the method measured for each detection.
    attribution : `~astropais.pcr.PixelAttribution`, optional
        The method's per-pixel attribution, label ``k + 1`` being
        detection ``k`` (use `attribution_from_label_map` for a disjoint
        segmentation).
    footprint_threshold : float, optional
        The isophote that bounds true footprints for the blendedness, and
        the minimum true flux of a pixel scored for the fraction error;
        default ``noise_sigma``.

    Returns
    -------
    scores : `FieldScores`
    """
    if not isinstance(sources, SourceImages):
        raise TypeError(f'sources must be a SourceImages, got '
                        f'{type(sources).__name__}')
    if attribution is not None and not isinstance(attribution,
                                                  PixelAttribution):
        raise TypeError(f'attribution must be a PixelAttribution, got '
                        f'{type(attribution).__name__}')
    true_positions = np.asarray(true_positions, dtype=np.float64).reshape(-1, 2)
    detected_positions = np.asarray(detected_positions,
                                    dtype=np.float64).reshape(-1, 2)
    if len(true_positions) != len(sources):
        raise ValueError(f'{len(true_positions)} true positions for '
                         f'{len(sources)} source images')
    if footprint_threshold is None:
        footprint_threshold = float(noise_sigma)
    match = match_sources(true_positions, detected_positions, max_separation)
    true_flux = sources.fluxes()
    true = {'separation': nearest_neighbour_separation(true_positions),
            'snr': signal_to_noise(sources, noise_sigma),
            'blendedness': blendedness(sources, footprint_threshold),
            'flux': true_flux,
            'detected': match.true_matched,
            'flux_error': np.full(len(sources), np.nan),
            'reconstruction_error': np.full(len(sources), np.nan)}
    if fluxes is not None:
        true['flux_error'] = flux_errors(true_flux, fluxes, match)
    frac_err = np.zeros(0)
    if attribution is not None:
        if image is not None:
            true['reconstruction_error'] = reconstruction_errors(
                sources, attribution, image, match)
        _, frac_err = fraction_errors(sources, attribution, match,
                                      threshold=footprint_threshold)
    detected = {'real': match.detected_matched}
    for key in ('separation', 'snr'):
        detected[key] = values_at_detections(match, true_positions,
                                             detected_positions, true[key])
    return FieldScores(match, true, detected, frac_err)


def _concat(scores, part, key):
    return np.concatenate([getattr(s, part)[key] for s in scores]) \
        if scores else np.zeros(0)


def _pool_matches(matches):
    """One `SourceMatch` for many fields, indices offset field by field."""
    t_off = np.cumsum([0] + [m.n_true for m in matches])
    d_off = np.cumsum([0] + [m.n_detected for m in matches])
    parts = [(m.true_index + t, m.detected_index + d, m.separation)
             for m, t, d in zip(matches, t_off, d_off)]
    if not parts:
        parts = [(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))]
    radius = max((m.max_separation for m in matches), default=1.0)
    return SourceMatch(*(np.concatenate(p) for p in zip(*parts)),
                       int(t_off[-1]), int(d_off[-1]), radius)


def summarise_scores(scores, *, separation_bins, snr_bins, blendedness_bins):
    """
    Pool the scores of one method over many fields.

    Parameters
    ----------
    scores : list of `FieldScores`
        One entry per field.
    separation_bins, snr_bins, blendedness_bins : array_like
        Bin edges for recall/precision against separation, recall against
        S/N, and flux error against blendedness.

    Returns
    -------
    summary : dict
        Scalars ``n_true``, ``n_detected``, ``n_matched``, ``precision``,
        ``recall``, ``f1``, ``flux_error_median``, ``flux_error_mean``,
        ``reconstruction_error_median``, ``fraction_error_mean`` (NaN where
        not measured), and binned arrays ``recall_by_separation``,
        ``precision_by_separation``, ``recall_by_snr``,
        ``flux_error_by_blendedness`` with their counts
        (``n_by_separation``, ``n_by_snr``, ``n_by_blendedness``) and the
        one-sigma interval of each median
        (``flux_error_by_blendedness_low``/``_high``, see
        `~astropais.metrics.binning.binned_median`).
    """
    scores = list(scores)
    if not all(isinstance(s, FieldScores) for s in scores):
        raise TypeError('scores must be a list of FieldScores')
    pooled = _pool_matches([s.match for s in scores])
    n_true, n_det, n_matched = (pooled.n_true, pooled.n_detected,
                                pooled.n_matched)
    by_sep = binned_detection_scores(pooled, _concat(scores, 'true',
                                                     'separation'),
                                     separation_bins,
                                     _concat(scores, 'detected', 'separation'))
    by_snr = binned_detection_scores(pooled, _concat(scores, 'true', 'snr'),
                                     snr_bins)
    flux_err = _concat(scores, 'true', 'flux_error')
    recon = _concat(scores, 'true', 'reconstruction_error')
    frac = np.concatenate([s.fraction_error for s in scores]) \
        if scores else np.zeros(0)
    fe_by_b, n_by_b, fe_low, fe_high = binned_median(
        flux_err, _concat(scores, 'true', 'blendedness'), blendedness_bins,
        interval=True)

    def _nanstat(func, values):
        values = values[np.isfinite(values)]
        return float(func(values)) if values.size else float('nan')

    with np.errstate(divide='ignore', invalid='ignore'):
        return {
            'n_true': n_true, 'n_detected': n_det, 'n_matched': n_matched,
            'precision': n_matched / n_det if n_det else float('nan'),
            'recall': n_matched / n_true if n_true else float('nan'),
            'f1': (2 * n_matched / (n_true + n_det) if n_true + n_det
                   else float('nan')),
            'flux_error_median': _nanstat(np.median, flux_err),
            'flux_error_mean': _nanstat(np.mean, flux_err),
            'reconstruction_error_median': _nanstat(np.median, recon),
            'fraction_error_mean': _nanstat(np.mean, frac),
            'recall_by_separation': by_sep['recall'],
            'precision_by_separation': by_sep['precision'],
            'n_by_separation': by_sep['n_true'],
            'recall_by_snr': by_snr['recall'],
            'n_by_snr': by_snr['n_true'],
            'flux_error_by_blendedness': fe_by_b,
            'flux_error_by_blendedness_low': fe_low,
            'flux_error_by_blendedness_high': fe_high,
            'n_by_blendedness': n_by_b,
        }
