"""
Photometric scores of matched sources.
"""

import numpy as np

from .matching import SourceMatch

__all__ = ['flux_errors', 'colour_errors']


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


def colour_errors(true_fluxes, measured_fluxes, match):
    """
    Colour error ``|(a - b)_measured - (a - b)_true|`` in magnitudes of
    every true source, from its matched detection, where ``a - b =
    -2.5 log10(F_a / F_b)``.

    Parameters
    ----------
    true_fluxes : array_like, shape (n_true, 2)
        The true fluxes of each true source in bands ``a`` and ``b``.
    measured_fluxes : array_like, shape (n_detected, 2)
        The fluxes measured for each detection in the two bands.
    match : `SourceMatch`
        From `match_sources`.

    Returns
    -------
    errors : `~numpy.ndarray`, shape (n_true,)
        NaN for a true source that was not detected, or where a true or
        measured flux is not positive (no colour).

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.metrics import colour_errors, match_sources
    >>> match = match_sources([[0, 0], [9, 9]], [[0, 0.5]], 2.0)
    >>> colour_errors([[1.0, 1.0], [1.0, 2.0]], [[2.0, 1.0]], match)
    array([0.75257499,        nan])
    """
    if not isinstance(match, SourceMatch):
        raise TypeError(f'match must be a SourceMatch, got '
                        f'{type(match).__name__}')
    true_fluxes = np.asarray(true_fluxes, dtype=np.float64)
    measured_fluxes = np.asarray(measured_fluxes, dtype=np.float64)
    for name, values, n in (('true_fluxes', true_fluxes, match.n_true),
                            ('measured_fluxes', measured_fluxes,
                             match.n_detected)):
        if values.shape != (n, 2):
            raise ValueError(f'{name} must have shape ({n}, 2), got '
                             f'{values.shape}')
    errors = np.full(match.n_true, np.nan)
    t, d = match.true_index, match.detected_index
    true, measured = true_fluxes[t], measured_fluxes[d]
    good = np.all(true > 0, axis=1) & np.all(measured > 0, axis=1)
    with np.errstate(divide='ignore', invalid='ignore'):
        ratio = (measured[:, 0] * true[:, 1]) / (measured[:, 1] * true[:, 0])
        errors[t] = np.where(good, np.abs(2.5 * np.log10(ratio)), np.nan)
    return errors
