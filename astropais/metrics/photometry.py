"""
Photometric scores of matched sources.
"""

import numpy as np

from .matching import SourceMatch

__all__ = ['flux_errors']


def flux_errors(true_fluxes, measured_fluxes, match):
    """
    Relative flux error ``|F_measured - F_true| / F_true`` of every true
    source, from its matched detection.

    Parameters
    ----------
    true_fluxes : array_like, shape (n_true,)
        The true (noise-free) flux of each true source.
    measured_fluxes : array_like, shape (n_detected,)
        The flux each method measured for each detection.
    match : `SourceMatch`
        From `match_sources`.

    Returns
    -------
    errors : `~numpy.ndarray`, shape (n_true,)
        NaN for a true source that was not detected or whose true flux is
        not positive.
    """
    if not isinstance(match, SourceMatch):
        raise TypeError(f'match must be a SourceMatch, got '
                        f'{type(match).__name__}')
    true_fluxes = np.asarray(true_fluxes, dtype=np.float64).ravel()
    measured_fluxes = np.asarray(measured_fluxes, dtype=np.float64).ravel()
    if true_fluxes.size != match.n_true:
        raise ValueError(f'true_fluxes has {true_fluxes.size} entries for '
                         f'{match.n_true} true sources')
    if measured_fluxes.size != match.n_detected:
        raise ValueError(f'measured_fluxes has {measured_fluxes.size} entries '
                         f'for {match.n_detected} detections')
    errors = np.full(match.n_true, np.nan)
    t, d = match.true_index, match.detected_index
    true = true_fluxes[t]
    with np.errstate(divide='ignore', invalid='ignore'):
        errors[t] = np.where(true > 0, np.abs(measured_fluxes[d] - true)
                             / np.where(true > 0, true, 1), np.nan)
    return errors
