"""
Binned summaries shared by the detection and photometry scores.
"""

import numpy as np

__all__ = ['bin_index', 'binned_median']


def bin_index(values, bins):
    """
    The bin of each value.

    Parameters
    ----------
    values : array_like, shape (N,)
        The values to bin.
    bins : array_like, shape (K + 1,)
        Increasing bin edges; bin ``k`` is ``bins[k] <= v < bins[k + 1]``.
        The last edge may be ``inf``; the last bin then holds ``inf``
        values too (e.g. the separation of a source with no neighbour).

    Returns
    -------
    index : `~numpy.ndarray` of int, shape (N,)
        0 to K-1, or -1 for values outside every bin (or NaN).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    bins = np.asarray(bins, dtype=np.float64).ravel()
    if bins.size < 2 or np.any(np.diff(bins) <= 0) or np.isnan(bins).any():
        raise ValueError(f'bins must be at least two strictly increasing '
                         f'edges, got {bins}')
    index = np.searchsorted(bins, values, side='right') - 1
    if bins[-1] == np.inf:
        index[values == np.inf] = bins.size - 2
    index[(index >= bins.size - 1) | np.isnan(values)] = -1
    return index


def binned_median(values, by, bins, *, interval=False):
    """
    The median of ``values`` in bins of ``by``, ignoring NaN values.

    Parameters
    ----------
    values : array_like, shape (N,)
        The quantity to summarise (NaN entries are left out).
    by : array_like, shape (N,)
        The quantity that defines the bins.
    bins : array_like, shape (K + 1,)
        Bin edges, as in `bin_index`.
    interval : bool, optional
        Also return a distribution-free one-sigma (about 68 %) confidence
        interval of each median: the order statistics of ranks
        ``n/2 - sqrt(n)/2`` and ``n/2 + 1 + sqrt(n)/2`` (the binomial(n, 1/2)
        count of values below
        the true median, in its normal approximation), clipped to the bin's
        values.

    Returns
    -------
    median : `~numpy.ndarray`, shape (K,)
        NaN for an empty bin.
    count : `~numpy.ndarray` of int, shape (K,)
        The number of finite values in each bin.
    low, high : `~numpy.ndarray`, shape (K,)
        With ``interval=True``: the interval's ends (NaN for an empty bin).

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.metrics.binning import binned_median
    >>> values = np.arange(100.0)
    >>> median, count, low, high = binned_median(values, values, [0, 100],
    ...                                          interval=True)
    >>> float(median[0]), int(count[0]), float(low[0]), float(high[0])
    (49.5, 100, 44.0, 55.0)
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    by = np.asarray(by, dtype=np.float64).ravel()
    if values.shape != by.shape:
        raise ValueError(f'values and by differ in length ({values.size} '
                         f'and {by.size})')
    index = bin_index(by, bins)
    n_bins = np.asarray(bins).size - 1
    good = (index >= 0) & np.isfinite(values)
    index, values = index[good], values[good]
    count = np.bincount(index, minlength=n_bins)
    median = np.full(n_bins, np.nan)
    # Sort by bin then value: each bin's median is read off its run.
    order = np.lexsort((values, index))
    values = values[order]
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    filled = count > 0
    lo = starts[filled] + (count[filled] - 1) // 2
    hi = starts[filled] + count[filled] // 2
    median[filled] = 0.5 * (values[lo] + values[hi])
    if not interval:
        return median, count
    n = count[filled]
    half_width = np.sqrt(n) / 2
    # 1-based ranks n/2 - sqrt(n)/2 and n/2 + 1 + sqrt(n)/2 (symmetric
    # about the median's two middle ranks), made 0-based.
    rank_lo = np.clip(np.floor(n / 2 - half_width), 1, n).astype(int) - 1
    rank_hi = np.clip(np.ceil(n / 2 + 1 + half_width), 1, n).astype(int) - 1
    low, high = np.full(n_bins, np.nan), np.full(n_bins, np.nan)
    low[filled] = values[starts[filled] + rank_lo]
    high[filled] = values[starts[filled] + rank_hi]
    return median, count, low, high
