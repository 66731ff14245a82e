"""
Uncertainty maps as 1-sigma errors: the one rule for `deblend_field`'s
``error``, ``variance`` and ``weight`` and the command line's
``--error``, ``--variance`` and ``--weight``.
"""

import numpy as np

__all__ = ['UNCERTAINTY_KINDS', 'error_from_map']

#: How each kind of uncertainty map becomes a 1-sigma error: an error map
#: is used as is, a variance map is square-rooted, a weight map is read as
#: inverse variance (weight 0 marks a pixel without data).
UNCERTAINTY_KINDS = ('error', 'variance', 'weight')


def error_from_map(values, kind, name=None):
    """
    The 1-sigma error of an error, variance or weight map.

    Parameters
    ----------
    values : array_like or `~astropy.units.Quantity`
        The map.  A variance in ``unit**2`` or a weight in ``unit**-2``
        gives an error in ``unit``.
    kind : {'error', 'variance', 'weight'}
        What the map holds (see `UNCERTAINTY_KINDS`).
    name : str, optional
        The map's name in messages (default: ``'the <kind> map'``).

    Returns
    -------
    error : `~numpy.ndarray` or `~astropy.units.Quantity`
        The error of every pixel (float64), NaN where the map has no data
        (non-finite values, weight 0).

    Raises
    ------
    ValueError
        For an unknown kind, negative values or (for a weight map)
        infinite ones.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation.uncertainty import error_from_map
    >>> error_from_map([4.0, 0.25], 'variance')
    array([2. , 0.5])
    >>> error_from_map([4.0, 0.0, np.nan], 'weight')
    array([0.5, nan, nan])
    >>> error_from_map([-1.0], 'error')
    Traceback (most recent call last):
    ...
    ValueError: the error map has negative values
    """
    if kind not in UNCERTAINTY_KINDS:
        raise ValueError(f'kind must be one of {UNCERTAINTY_KINDS}, got '
                         f'{kind!r}')
    name = f'the {kind} map' if name is None else name
    values = np.asanyarray(values, dtype=float)
    finite = np.isfinite(values)
    if np.any(values[finite] < 0):
        raise ValueError(f'{name} has negative values')
    with np.errstate(divide='ignore', invalid='ignore'):
        if kind == 'error':
            error = values.copy()
        elif kind == 'variance':
            error = np.sqrt(values)
        else:
            if np.any(np.isinf(values)):
                raise ValueError(f'{name} has infinite values (zero '
                                 'variance)')
            error = 1.0 / np.sqrt(values)
            error[values == 0] = np.nan
    error[~finite] = np.nan
    return error
