"""The index of a band given by name or by number (one rule for every
multi-band object)."""

import numpy as np

__all__ = ['band_index']


def band_index(band, names, n_bands):
    """
    The index of a band.

    Parameters
    ----------
    band : int or str
        An index (negative counts from the end) or a band name.
    names : sequence of str or None
        The band names (None: the bands are unnamed).
    n_bands : int
        The number of bands.

    Returns
    -------
    index : int
        In ``0..n_bands - 1``.

    Raises
    ------
    ValueError
        For an unknown name or an index out of range.

    Examples
    --------
    >>> from astropais.utils import band_index
    >>> band_index('i', ('g', 'r', 'i'), 3), band_index(-1, None, 3)
    (2, 2)
    """
    if isinstance(band, str):
        if names is None or band not in names:
            raise ValueError(f'no band {band!r}; the bands are '
                             f'{tuple(names) if names else "unnamed"}')
        return list(names).index(band)
    if (isinstance(band, (bool, np.bool_))
            or not isinstance(band, (int, np.integer))
            or not -n_bands <= band < n_bands):
        raise ValueError(f'band must be a name or an index in '
                         f'0..{n_bands - 1}, got {band!r}')
    return int(band) % n_bands
