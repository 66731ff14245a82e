"""
Decoder: Partial Contribution Representation -> sparse per-pixel
``(label, weight)`` attribution.

1. Centres: local maxima of the heatmap (or given centres).
2. Votes: every footprint pixel ``p`` and slot ``k`` points to
   ``p + vectors[p, k]``; the vote goes to the centre nearest to that
   point if it lies within ``vote_tolerance`` (`scipy.spatial.cKDTree`).
3. Weights: the fractions of the slots voting for the same centre add up;
   each pixel's weights are renormalised to sum to 1.  Pixels whose votes
   all fail go entirely to their nearest centre.

Memory is ``O(footprint pixels x n)``; there is no loop over pixels.
"""

import warnings

import numpy as np
from astropy.utils.exceptions import AstropyUserWarning
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .sparse import PixelAttribution

__all__ = ['decode', 'decode_bands', 'band_weights', 'find_centres']

# A refined centre may move at most this far (pixels) from its peak pixel.
_MAX_REFINE_SHIFT = 1.0


def _check_image(name, value, ndim):
    value = np.asarray(value)
    if value.ndim != ndim:
        raise ValueError(f'{name} must be {ndim}-D, got shape {value.shape}')
    if not np.issubdtype(value.dtype, np.number):
        raise ValueError(f'{name} is not numeric (dtype {value.dtype})')
    # A finite sum proves every value finite (one cheap pass); only a
    # non-finite sum (NaN/inf, or an overflow) needs the element-wise check.
    with np.errstate(invalid='ignore', over='ignore'):
        total = value.sum()     # inf - inf is NaN: no warning, just False
    if not np.isfinite(total) and not np.all(np.isfinite(value)):
        raise ValueError(f'{name} has NaN or inf values')
    return value


def _check_min_distance(min_distance):
    if (isinstance(min_distance, bool)
            or not isinstance(min_distance, (int, np.integer))
            or min_distance < 1):
        raise ValueError(f'min_distance must be an integer >= 1, got '
                         f'{min_distance!r}')
    return int(min_distance)


def _local_maxima(heatmap, threshold, min_distance):
    """
    Flat indices, in raster order, of the pixels at least ``threshold``
    that equal the maximum of their ``(2 min_distance + 1)`` square window
    (the window padded with ``-inf``).

    Only pixels above the threshold can qualify, and they are few, so their
    windows are gathered directly instead of max-filtering the whole image
    (the same set as ``heatmap == ndimage.maximum_filter(...)``).
    """
    above = heatmap >= threshold
    flat = np.flatnonzero(above)
    if flat.size > heatmap.size // 16:
        # A low threshold: filtering the image is cheaper than gathering.
        window = ndimage.maximum_filter(heatmap, size=2 * min_distance + 1,
                                        mode='constant', cval=-np.inf)
        return np.flatnonzero(above & (heatmap == window))
    if flat.size == 0:
        return flat
    r = min_distance
    padded = np.pad(heatmap, r, mode='constant', constant_values=-np.inf)
    width = padded.shape[1]
    yy, xx = np.divmod(flat, heatmap.shape[1])
    centre = (yy + r) * width + (xx + r)
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    window = padded.ravel()[centre[:, None] + (dy * width + dx).ravel()]
    return flat[heatmap.ravel()[flat] >= window.max(axis=1)]


def _plateau_representatives(flat, shape):
    """
    One pixel per 8-connected plateau of the candidate pixels ``flat``
    (sorted flat indices): the member nearest its centroid.
    """
    if flat.size < 2:
        return flat
    coords = np.column_stack(np.unravel_index(flat, shape))
    pairs = cKDTree(coords).query_pairs(1, p=np.inf, output_type='ndarray')
    if pairs.size == 0:
        return flat
    n_comp, comp = connected_components(
        coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                   shape=(flat.size, flat.size)), directed=False)
    yy, xx = coords[:, 0], coords[:, 1]
    count = np.bincount(comp, minlength=n_comp)
    cy = np.bincount(comp, weights=yy, minlength=n_comp) / count
    cx = np.bincount(comp, weights=xx, minlength=n_comp) / count
    dist2 = (yy - cy[comp]) ** 2 + (xx - cx[comp]) ** 2
    order = np.lexsort((flat, dist2, comp))     # by component, distance
    first = np.ones(order.size, dtype=bool)
    first[1:] = comp[order][1:] != comp[order][:-1]
    return np.sort(flat[order][first])


def _suppress_close(flat, heights, shape, min_distance):
    """Greedy non-maximum suppression within ``min_distance`` (Chebyshev)."""
    if flat.size < 2:
        return flat
    coords = np.column_stack(np.unravel_index(flat, shape))
    pairs = cKDTree(coords).query_pairs(min_distance, p=np.inf,
                                        output_type='ndarray')
    if pairs.size == 0:
        return flat
    # Rank: higher peak first, then raster order.
    rank = np.empty(flat.size, dtype=np.int64)
    rank[np.lexsort((flat, -heights))] = np.arange(flat.size)
    # Orient every pair as (stronger, weaker).
    pairs = np.where((rank[pairs[:, 0]] < rank[pairs[:, 1]])[:, None],
                     pairs, pairs[:, ::-1])
    keep = np.ones(flat.size, dtype=bool)
    # A loop over the (few) conflicting pairs, strongest peak first: a
    # suppressed peak must not suppress others, so order matters.
    for strong, weak in pairs[np.argsort(rank[pairs[:, 0]], kind='stable')]:
        if keep[strong]:
            keep[weak] = False
    return flat[keep]


def find_centres(heatmap, *, threshold=0.5, min_distance=1, vectors=None,
                 refine=True):
    """
    Source centres as local maxima of a PCR heatmap.

    Parameters
    ----------
    heatmap : array_like, shape (H, W)
        The centre heatmap.
    threshold : float, optional
        Peaks must be at least this high.
    min_distance : int, optional
        A peak is the maximum of its ``(2 min_distance + 1)`` square
        window; of peaks closer than this (Chebyshev distance) only the
        higher one (then the first in raster order) is kept.
    vectors : array_like, shape (H, W, n, 2), optional
        The PCR vectors; used to refine the centres to sub-pixel.
    refine : bool, optional
        If `True` and ``vectors`` is given, each centre is its peak pixel
        plus the peak pixel's nearest-source vector ``vectors[p, 0]``,
        unless that vector is longer than 1 pixel (then the pixel itself).
        For an encoded truth this recovers the exact centre up to float32
        rounding.

    Returns
    -------
    centres : `~numpy.ndarray`, shape (N, 2)
        ``(y, x)`` centres, ordered by the raster order of their peak
        pixels.

    Notes
    -----
    Pixels on the image border can be peaks (the window is padded with
    ``-inf``).  A plateau (connected pixels of equal maximal value, e.g. a
    centre exactly between two pixels) gives a single peak: the plateau
    pixel nearest to the plateau's centroid.

    On an encoded (truth) heatmap every centre gives exactly one peak, at
    its nearest pixel, as long as the nearest pixels of any two centres
    are at least 3 pixels apart (Chebyshev; 2 suffice unless a centre lies
    exactly half-way between pixels).  Closer centres merge into one peak,
    and a centre whose nearest pixel is nearer to another centre is
    refined onto that centre: such pairs are below the resolution of the
    representation.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.pcr import find_centres
    >>> heat = np.zeros((5, 5)); heat[0, 4] = 1.0; heat[3, 1] = 0.8
    >>> find_centres(heat).tolist()
    [[0.0, 4.0], [3.0, 1.0]]
    """
    heatmap = _check_image('heatmap', heatmap, 2)
    if heatmap.dtype not in (np.float32, np.float64):
        # (float32 is kept: the maximum filter compares values exactly.)
        heatmap = heatmap.astype(np.float64)
    min_distance = _check_min_distance(min_distance)
    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise ValueError(f'threshold must be finite, got {threshold}')
    shift_at = None
    if refine and vectors is not None:
        def shift_at(flat):
            checked = _check_image('vectors', vectors, 4)
            if checked.shape[:2] != heatmap.shape or checked.shape[3] != 2:
                raise ValueError(f'vectors has shape {checked.shape}, '
                                 f'expected {(*heatmap.shape, "n", 2)}')
            return checked.reshape(-1, checked.shape[2], 2)[flat, 0]
    return _peak_centres(_local_maxima(heatmap, threshold, min_distance),
                         lambda flat: heatmap.ravel()[flat], heatmap.shape,
                         min_distance, shift_at)


def _peak_centres(maxima, height_at, shape, min_distance, shift_at=None):
    """
    The centres of the local maxima ``maxima`` (sorted flat indices): one
    per plateau, non-maximum suppressed, refined by ``shift_at(flat)``
    (the nearest-source vectors of the peak pixels) where given.  The
    one rule behind `find_centres` and `~astropais.pcr.SparsePCR`.
    """
    flat = _plateau_representatives(maxima, shape)
    flat = _suppress_close(flat, height_at(flat), shape, min_distance)
    centres = np.column_stack(np.unravel_index(flat, shape)
                              ).astype(np.float64).reshape(-1, 2)
    if shift_at is not None and flat.size:
        shift = np.asarray(shift_at(flat)).astype(np.float64)
        ok = np.hypot(shift[:, 0], shift[:, 1]) <= _MAX_REFINE_SHIFT
        centres[ok] += shift[ok]
    return centres


def _sparse_local_maxima(pixels, values, shape, threshold, min_distance,
                         chunk=2 ** 16):
    """
    `_local_maxima` of a heatmap that is ``values`` at the sorted flat
    ``pixels`` and 0 elsewhere (``threshold > 0``, so that no pixel
    outside ``pixels`` can be a maximum).  The windows of the pixels at
    least ``threshold`` are gathered by binary search, a chunk at a time.
    """
    above = np.flatnonzero(values >= threshold)
    r = min_distance
    dy, dx = (part.ravel() for part in np.mgrid[-r:r + 1, -r:r + 1])
    keep = []
    # A loop over chunks of candidate peaks, to bound memory.
    for start in range(0, above.size, chunk):
        rows = above[start:start + chunk]
        yy, xx = np.divmod(pixels[rows], shape[1])
        ny, nx = yy[:, None] + dy, xx[:, None] + dx
        inside = (ny >= 0) & (ny < shape[0]) & (nx >= 0) & (nx < shape[1])
        near = ny * shape[1] + nx
        where = np.minimum(np.searchsorted(pixels, near), pixels.size - 1)
        window = np.where(pixels[where] == near, values[where], 0)
        window = np.where(inside, window, -np.inf)
        keep.append(rows[values[rows] >= window.max(axis=1)])
    return pixels[np.concatenate(keep)] if keep else pixels[:0]


def _assign_votes(targets, points, tolerance, max_per_cell=16,
                  chunk=2 ** 18):
    """
    Index of the point nearest to each target if within ``tolerance``,
    else ``len(points)``.

    Every integer cell (``floor(t + 0.5)``) lists the points within
    ``tolerance + sqrt(0.5)`` of the cell centre: every point within
    ``tolerance`` of a target in that cell is on the list, so the nearest
    listed point is exact.  Most cells list at most one point (a direct
    table); cells with several use a small second table; votes in the rare
    cells with more than ``max_per_cell`` points use a KD-tree.  Equal
    distances go to the lower index.
    """
    n_points = len(points)
    reach = tolerance + np.sqrt(0.5)
    span = int(np.ceil(reach))
    lo = np.floor(points.min(axis=0) - reach).astype(np.int64)
    hi = np.ceil(points.max(axis=0) + reach).astype(np.int64)
    grid = hi - lo + 1
    if (n_points * (2 * span + 1) ** 2 > 2 ** 24
            or float(grid[0]) * float(grid[1]) > 2 ** 26):
        # A huge tolerance or centres spread far apart: the table would be
        # too large, query the KD-tree directly.
        _, idx = cKDTree(points).query(targets, k=1,
                                       distance_upper_bound=tolerance,
                                       workers=-1)
        return idx
    offsets = np.indices((2 * span + 1,) * 2).reshape(2, -1).T - span
    owner, cell_id = [], []
    # A loop over chunks of points (the cells near each), to bound memory.
    for first in range(0, n_points, 2 ** 12):
        part = points[first:first + 2 ** 12]
        cells = np.floor(part + 0.5).astype(np.int64)[:, None] + offsets
        near = ((cells - part[:, None]) ** 2).sum(axis=-1) \
            <= reach ** 2 + 1e-9
        owner.append(np.broadcast_to(
            np.arange(first, first + len(part))[:, None], near.shape)[near])
        cell_id.append(((cells[..., 0] - lo[0]) * grid[1]
                        + (cells[..., 1] - lo[1]))[near])
    owner, cell_id = np.concatenate(owner), np.concatenate(cell_id)
    del cells, near
    order = np.lexsort((owner, cell_id))
    owner, cell_id = owner[order], cell_id[order]
    # The table lists only the cells near a point (sorted ids, looked up
    # by binary search): its memory follows the points, not the image.
    table, first, inverse, count = np.unique(
        cell_id, return_index=True, return_inverse=True, return_counts=True)
    rank = np.arange(cell_id.size) - first[inverse]
    single = owner[first]
    multi_cells = np.flatnonzero(count >= 2)
    width = int(min(count.max(initial=1), max_per_cell))
    multi = np.full((multi_cells.size, max(width, 1)), n_points,
                    dtype=np.int64)
    keep = (count[inverse] >= 2) & (rank < width)
    multi[np.searchsorted(multi_cells, inverse[keep]), rank[keep]] = \
        owner[keep]
    del cell_id, owner, inverse, rank, keep
    py = np.append(points[:, 0], np.inf)
    px = np.append(points[:, 1], np.inf)
    tol2 = tolerance ** 2

    result = np.full(len(targets), n_points, dtype=np.int64)
    fallback = []
    # A loop over chunks of votes, to bound memory.
    for start in range(0, len(targets), chunk):
        t = targets[start:start + chunk]
        cell = np.floor(t + 0.5).astype(np.int64) - lo
        rows = np.flatnonzero(np.all((cell >= 0) & (cell < grid), axis=1))
        cid = cell[rows, 0] * grid[1] + cell[rows, 1]
        cid_at = np.minimum(np.searchsorted(table, cid), table.size - 1)
        listed = table[cid_at] == cid
        rows, cid = rows[listed], cid_at[listed]
        cnt = count[cid]
        one = cnt == 1
        r1, c1 = rows[one], single[cid[one]]
        d2 = (py[c1] - t[r1, 0]) ** 2 + (px[c1] - t[r1, 1]) ** 2
        hit = d2 <= tol2
        result[start + r1[hit]] = c1[hit]
        several = (cnt >= 2) & (cnt <= max_per_cell)
        if np.any(several):
            rm = rows[several]
            cand = multi[np.searchsorted(multi_cells, cid[several])]
            d2 = (py[cand] - t[rm, 0, None]) ** 2
            d2 += (px[cand] - t[rm, 1, None]) ** 2
            j = np.argmin(d2, axis=1)
            best = d2[np.arange(rm.size), j]
            hit = best <= tol2
            result[start + rm[hit]] = cand[hit, j[hit]]
        fallback.append(start + rows[cnt > max_per_cell])
    fallback = np.concatenate(fallback) if fallback else np.zeros(0, int)
    if fallback.size:
        _, idx = cKDTree(points).query(targets[fallback], k=1,
                                       distance_upper_bound=tolerance)
        result[fallback] = idx
    return result


def _out_of_order(labels, weights):
    """Rows where some slot should come after the next one."""
    bad = np.zeros(labels.shape[0], dtype=bool)
    for j in range(labels.shape[1] - 1):
        a, b = weights[:, j], weights[:, j + 1]
        bad |= (a < b) | ((a == b) & (labels[:, j] > labels[:, j + 1])
                          & (labels[:, j + 1] > 0))
    return np.flatnonzero(bad)


def _sort_slots(labels, weights):
    """
    Sort each row: largest weight first, ties by lower label (in place).

    Only the rows out of order are sorted, by an odd-even transposition
    sort on the transposed (slot-major) subset: ``n`` vectorised passes
    sort rows of length ``n``.  Empty slots (weight 0, label 0) end up
    last because every used slot has a positive weight.
    """
    n = labels.shape[1]
    rows = _out_of_order(labels, weights)
    if rows.size == 0:
        return
    lab = np.ascontiguousarray(labels[rows].T)
    wei = np.ascontiguousarray(weights[rows].T)
    for step in range(n):
        for j in range(step % 2, n - 1, 2):
            swap = (wei[j] < wei[j + 1]) | (
                (wei[j] == wei[j + 1]) & (lab[j] > lab[j + 1])
                & (lab[j + 1] > 0))
            wei[j], wei[j + 1] = (np.where(swap, wei[j + 1], wei[j]),
                                  np.where(swap, wei[j], wei[j + 1]))
            lab[j], lab[j + 1] = (np.where(swap, lab[j + 1], lab[j]),
                                  np.where(swap, lab[j], lab[j + 1]))
    labels[rows] = lab.T
    weights[rows] = wei.T


def _merge_duplicate_labels(labels, weights):
    """Within each row, add the weights of repeated labels to the first."""
    n = labels.shape[1]
    for k in range(1, n):          # n is small: O(n^2) vectorised passes
        for j in range(k):
            same = (labels[:, k] == labels[:, j]) & (labels[:, k] > 0)
            weights[same, j] += weights[same, k]
            weights[same, k] = 0.0
            labels[same, k] = 0


def decode(heatmap, vectors, fractions, footprint, *, centres=None,
           peak_threshold=0.5, min_distance=1, vote_tolerance=2.0,
           refine=True, assignment='vote'):
    """
    Decode a (single-band) PCR into per-pixel source attributions.

    Parameters
    ----------
    heatmap : array_like, shape (H, W)
        The centre heatmap.
    vectors : array_like, shape (H, W, n, 2)
        ``(dy, dx)`` in pixels from each pixel to its ``n`` nearest
        centres.
    fractions : array_like, shape (H, W, n) or (H, W, 1, n)
        The fraction of each pixel's flux per slot (non-negative).
    footprint : array_like of bool, shape (H, W)
        The source pixels to attribute.
    centres : array_like, shape (N, 2), optional
        Known ``(y, x)`` centres; if given, peak finding is skipped and
        label ``i`` is ``centres[i - 1]``.
    peak_threshold : float, optional
        Minimum heatmap value of a peak (see `find_centres`).
    min_distance : int, optional
        Minimum peak separation in pixels (see `find_centres`).
    vote_tolerance : float, optional
        A vote counts only if it lands within this distance (pixels) of a
        centre.
    refine : bool, optional
        Refine the found peaks to sub-pixel with the vectors (see
        `find_centres`).
    assignment : {'vote', 'rank'}, optional
        What happens to a slot whose vote misses every centre: ``'vote'``
        drops its fraction; ``'rank'`` gives it to the pixel's ``k``-th
        nearest centre for slot ``k`` (the order the PCR defines its slots
        in), so imprecise vectors do not discard predicted fractions.
        Votes that hit a centre are used in both modes, so an exact PCR
        decodes identically.

    Returns
    -------
    attribution : `~astropais.pcr.PixelAttribution`
        For every footprint pixel at most ``n`` ``(label, weight)`` pairs,
        largest weight first, rows summing to 1; and the centres.

    Raises
    ------
    ValueError
        If shapes disagree, any input has NaN or inf values, fractions are
        negative or have several bands, or a parameter is out of range.

    Notes
    -----
    * Slots voting for the same centre add their fractions, so each pixel
      has at most ``n`` labels.
    * Coincident centres (given twice) cannot be told apart: all their
      votes go to the lowest label, the others get nothing.
    * Pixels whose votes all fail (or whose voting fractions are all 0)
      go entirely to the centre nearest to where their first slot points
      (a vote that missed by more than the tolerance still gives the
      direction of its source; with a zero vector, the pixel's nearest
      centre).
    * With no centre at all, footprint pixels cannot be attributed: an
      `~astropy.utils.exceptions.AstropyUserWarning` is emitted and the
      result has no pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.pcr import SourceImages, encode, decode
    >>> src = SourceImages((5, 8), [np.ones((3, 5)), np.ones((3, 5))],
    ...                    [(1, 0), (1, 3)])
    >>> pcr = encode(src, [(2, 2), (2, 5)], n=2)
    >>> att = decode(pcr.heatmap, pcr.vectors, pcr.fractions,
    ...              pcr.source_mask)
    >>> att.centres.tolist()
    [[2.0, 2.0], [2.0, 5.0]]
    >>> att.fluxes(src.total()).tolist()
    [15.0, 15.0]
    """
    return _decode_dense(heatmap, vectors, fractions, footprint, centres,
                         peak_threshold, min_distance, vote_tolerance,
                         refine, assignment, bands=False)


def decode_bands(heatmap, vectors, fractions, footprint, *, centres=None,
                 peak_threshold=0.5, min_distance=1, vote_tolerance=2.0,
                 refine=True, assignment='vote'):
    """
    Decode a multi-band PCR: one set of centres and labels, fractions per
    band.

    The slots vote once (where their fraction averaged over the bands is
    positive, as in `decode`); the detection attribution weighs the votes
    with the band-averaged fractions, and each band with its own on the
    detection's labels (see `band_weights`).

    Parameters
    ----------
    heatmap, vectors, footprint, centres, peak_threshold, min_distance, \
vote_tolerance, refine, assignment
        As for `decode`.
    fractions : array_like, shape (H, W, b, n)
        Per band, the fraction of each pixel's flux per slot.

    Returns
    -------
    detection : `~astropais.pcr.PixelAttribution`
        `decode` of the band-averaged fractions.
    bands : list of `~astropais.pcr.PixelAttribution`
        One per band, with the detection's pixels, labels and slot order.

    Raises
    ------
    ValueError
        As `decode`.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.pcr import SourceImages, encode, decode_bands
    >>> blue = np.stack([np.full((3, 5), 3.0), np.ones((3, 5))])
    >>> red = np.stack([np.ones((3, 5)), np.full((3, 5), 3.0)])
    >>> src = SourceImages((5, 8), [blue, red], [(1, 0), (1, 3)])
    >>> pcr = encode(src, [(2, 2), (2, 5)], n=2)
    >>> _, (g, i) = decode_bands(pcr.heatmap, pcr.vectors, pcr.fractions,
    ...                          pcr.source_mask)
    >>> g.fluxes(src.total()[0]).tolist()
    [45.0, 15.0]
    """
    return _decode_dense(heatmap, vectors, fractions, footprint, centres,
                         peak_threshold, min_distance, vote_tolerance,
                         refine, assignment, bands=True)


def _decode_dense(heatmap, vectors, fractions, footprint, centres,
                  peak_threshold, min_distance, vote_tolerance, refine,
                  assignment, bands):
    """
    `decode` (``bands=False``, fractions ``(H, W, n)``) and `decode_bands`
    (``(H, W, b, n)``): the checks of the dense maps, the centres (found
    on the heatmap unless given), then `_attribute` of the footprint
    pixels.
    """
    heatmap = _check_image('heatmap', heatmap, 2)
    shape = heatmap.shape
    vectors = _check_image('vectors', vectors, 4)
    if vectors.shape[:2] != shape or vectors.shape[3] != 2:
        raise ValueError(f'vectors has shape {vectors.shape}, expected '
                         f'{(*shape, "n", 2)}')
    n = vectors.shape[2]
    fractions = np.asarray(fractions)
    if bands:
        fractions = _check_image('fractions', fractions, 4)
        expected = (*shape, fractions.shape[2], n)
    else:
        if fractions.ndim == 4:
            if fractions.shape[2] != 1:
                raise ValueError(f'decode takes one band; fractions has '
                                 f'{fractions.shape[2]} bands (select one, '
                                 'e.g. fractions[:, :, band], or use '
                                 'decode_bands)')
            fractions = fractions[:, :, 0]
        fractions = _check_image('fractions', fractions, 3)
        expected = (*shape, n)
    if fractions.shape != expected:
        raise ValueError(f'fractions has shape {fractions.shape}, expected '
                         f'{expected} to match the vectors')
    if np.any(fractions < 0):
        raise ValueError('fractions has negative values')
    footprint = np.asarray(footprint)
    if footprint.shape != shape:
        raise ValueError(f'footprint has shape {footprint.shape}, expected '
                         f'{shape}')
    footprint = footprint.astype(bool)
    vote_tolerance = _check_vote_options(vote_tolerance, assignment)
    if centres is None:
        centres = find_centres(heatmap, threshold=peak_threshold,
                               min_distance=min_distance, vectors=vectors,
                               refine=refine)
    pixels = np.flatnonzero(footprint)
    return _attribute(shape, pixels, vectors.reshape(-1, n, 2)[pixels],
                      fractions.reshape(-1, *fractions.shape[2:])[pixels],
                      centres, vote_tolerance, assignment)


def _check_vote_options(vote_tolerance, assignment):
    """Validate `decode`'s vote options; return the tolerance as float."""
    if assignment not in ('vote', 'rank'):
        raise ValueError(f"assignment must be 'vote' or 'rank', got "
                         f'{assignment!r}')
    vote_tolerance = float(vote_tolerance)
    if not vote_tolerance > 0 or not np.isfinite(vote_tolerance):
        raise ValueError(f'vote_tolerance must be a positive number, got '
                         f'{vote_tolerance}')
    return vote_tolerance


def _attribute(shape, pixels, vectors, fractions, centres, vote_tolerance,
               assignment):
    """
    `_decode_pixels` after checking ``centres`` (finite, ``(N, 2)``), with
    the empty cases: no pixel, or no centre (a warning: the pixels stay
    unattributed).  The one entry behind `decode` and
    `~astropais.pcr.SparsePCR.decode`.  With per-band ``fractions``
    ``(P, b, n)``: `_decode_bands`' detection attribution and list of band
    attributions.
    """
    centres = np.asarray(centres, dtype=np.float64)
    if centres.size == 0:
        centres = centres.reshape(0, 2)
    if centres.ndim != 2 or centres.shape[1] != 2:
        raise ValueError(f'centres must have shape (N, 2), got '
                         f'{centres.shape}')
    if not np.all(np.isfinite(centres)):
        raise ValueError('centres have NaN or inf values')
    if pixels.size == 0 or len(centres) == 0:
        if pixels.size:
            warnings.warn(f'no source centres: {pixels.size} footprint '
                          'pixels are left unattributed', AstropyUserWarning)
        n = vectors.shape[1]
        empty = PixelAttribution(shape, pixels[:0],
                                 np.zeros((0, n), np.int64),
                                 np.zeros((0, n)), centres)
        if fractions.ndim == 3:
            return empty, [empty] * fractions.shape[1]
        return empty
    if fractions.ndim == 3:
        return _decode_bands(shape, pixels, vectors, fractions, centres,
                             vote_tolerance, assignment)
    return _decode_pixels(shape, pixels, vectors, fractions, centres,
                          vote_tolerance, assignment)


def _decode_pixels(shape, pixels, vectors, fractions, centres,
                   vote_tolerance, assignment):
    """
    The attribution of the flat ``pixels`` (sorted, at least one) from
    their own ``vectors`` ``(P, n, 2)`` and ``fractions`` ``(P, n)``
    among ``centres`` (at least one): steps 2 and 3 of `decode`, the one
    rule behind `decode` and `~astropais.pcr.SparsePCR.decode`.
    """
    votes = _vote(shape, pixels, vectors, fractions, centres,
                  vote_tolerance, assignment)
    return _weigh(votes, fractions)


def _vote(shape, pixels, vectors, voting, centres, vote_tolerance,
          assignment):
    """
    Step 2 of `decode`: the label each slot votes for.

    Only slots with a positive ``voting`` fraction ``(P, n)`` vote.
    Returns a `_Votes` record: the slot labels ``(P, n)`` (0: no vote, or
    a missed one under ``'vote'``) and what `_weigh` needs to give failed
    pixels a label.
    """
    n = vectors.shape[1]
    # Coincident centres: the tree holds each position once, labelled by
    # its lowest index.
    unique, first = np.unique(centres, axis=0, return_index=True)
    unique_label = np.append(first + 1, 0)      # index len(unique) = miss

    py, px = np.unravel_index(pixels, shape)
    # Only slots with a positive fraction vote.
    vote_pixel, vote_slot = np.nonzero(voting > 0)
    vote = vectors[vote_pixel, vote_slot]
    targets = np.empty((vote_pixel.size, 2))
    np.add(vote[:, 0], py[vote_pixel], out=targets[:, 0])
    np.add(vote[:, 1], px[vote_pixel], out=targets[:, 1])
    del vote
    hit = _assign_votes(targets, unique, vote_tolerance)
    del targets
    if assignment == 'rank':
        missed = np.flatnonzero(hit == len(unique))
        if missed.size:
            # The k-th nearest centre of each missed vote's pixel (index
            # len(unique), i.e. no label, where fewer than k centres exist).
            k = min(n, len(unique))
            origin = np.column_stack([py[vote_pixel[missed]],
                                      px[vote_pixel[missed]]])
            _, ranked = cKDTree(unique).query(origin, k=k)
            ranked = np.asarray(ranked).reshape(len(missed), k)
            slot = vote_slot[missed]
            fallback = np.full(missed.size, len(unique))
            ok = slot < k
            fallback[ok] = ranked[ok, slot[ok]]
            hit[missed] = fallback
    labels = np.zeros(voting.shape, dtype=np.int64)
    labels[vote_pixel, vote_slot] = unique_label[hit]
    return _Votes(shape, pixels, vectors, centres, labels, unique,
                  unique_label, py, px)


class _Votes:
    """The slot labels of `_vote` and the context `_weigh` reads."""

    def __init__(self, shape, pixels, vectors, centres, labels, unique,
                 unique_label, py, px):
        self.shape, self.pixels, self.vectors = shape, pixels, vectors
        self.centres, self.labels = centres, labels
        self.unique, self.unique_label = unique, unique_label
        self.py, self.px = py, px


def _weigh(votes, fractions):
    """
    Step 3 of `decode`: the attribution of the voted slot labels with the
    weights ``fractions`` ``(P, n)`` (unlabelled slots dropped, repeated
    labels merged, rows normalised, failed pixels to one centre, slots
    sorted).
    """
    weights = fractions.astype(np.float64)
    labels = votes.labels.copy()
    py, px, unique = votes.py, votes.px, votes.unique
    weights[labels == 0] = 0.0
    _merge_duplicate_labels(labels, weights)

    total = weights.sum(axis=1)
    failed = np.flatnonzero(total <= 0)
    if failed.size:
        # The centre nearest to where the pixel's first slot points (the
        # pixel itself where that slot is zero): a vote that missed by more
        # than the tolerance still says in which direction its source lies.
        first = votes.vectors[failed, 0]
        origin = np.column_stack([py[failed] + first[:, 0],
                                  px[failed] + first[:, 1]])
        _, nearest = cKDTree(unique).query(origin, k=1)
        labels[failed] = 0
        weights[failed] = 0.0
        labels[failed, 0] = votes.unique_label[nearest]
        weights[failed, 0] = 1.0
        total[failed] = 1.0
    weights /= total[:, None]
    _sort_slots(labels, weights)
    return PixelAttribution(votes.shape, votes.pixels, labels, weights,
                            votes.centres)


def _decode_bands(shape, pixels, vectors, fractions, centres,
                  vote_tolerance, assignment):
    """
    Multi-band steps 2 and 3: the slots vote once, where their fraction
    averaged over the bands is positive; the detection attribution
    weighs those votes with the band-averaged fractions, and every band
    with its own (see `band_weights`).

    ``fractions`` is ``(P, b, n)``.  Returns the detection attribution and
    the ``b`` band attributions (the same pixels, labels and slot order).
    """
    mean = fractions.mean(axis=1)
    votes = _vote(shape, pixels, vectors, mean, centres, vote_tolerance,
                  assignment)
    detection = _weigh(votes, mean)
    return detection, band_weights(detection, votes.labels, fractions)


def band_weights(detection, slot_labels, fractions):
    """
    Per-band attributions on the labels and slot order of a detection
    attribution.

    Band ``k``'s weight of a pixel's label is the sum of its fractions
    ``fractions[:, k]`` over the slots that voted for that label, the row
    normalised to 1.  A pixel with no such weight in band ``k`` (its votes
    all failed, or the band's fractions there are 0) keeps the detection's
    weights, so that every band attributes all of every footprint pixel.

    Parameters
    ----------
    detection : `~astropais.pcr.PixelAttribution`
        The attribution whose labels (and slot order) every band shares;
        its pixels are those of ``slot_labels``.  Its labels may be a
        subset of the voted ones (e.g. confined to detection segments):
        a label it lacks gets no weight.
    slot_labels : `~numpy.ndarray` of int, shape (P, n)
        The label each slot voted for (0: none).
    fractions : `~numpy.ndarray`, shape (P, b, n)
        The per-band fractions of the slots.

    Returns
    -------
    attributions : list of `~astropais.pcr.PixelAttribution`
        One per band.
    """
    slot_labels = np.asarray(slot_labels)
    fractions = np.asarray(fractions)
    if (fractions.ndim != 3 or slot_labels.shape != fractions.shape[::2]
            or len(slot_labels) != detection.pixels.size):
        raise ValueError(f'fractions {fractions.shape} and slot labels '
                         f'{slot_labels.shape} do not match the '
                         f'{detection.pixels.size} pixels')
    labels = detection.labels
    # (P, m, n): which voted slot feeds which of the detection's slots.
    feeds = ((slot_labels[:, None, :] == labels[:, :, None])
             & (labels[:, :, None] > 0))
    result = []
    # A loop over the bands (few): one (P, m, n) product each.
    for k in range(fractions.shape[1]):
        weights = np.einsum('pmn,pn->pm', feeds,
                            fractions[:, k].astype(np.float64))
        total = weights.sum(axis=1)
        empty = ~(total > 0)
        total[empty] = 1.0
        weights /= total[:, None]
        weights[empty] = detection.weights[empty]
        result.append(PixelAttribution(detection.shape, detection.pixels,
                                       labels, weights, detection.centres))
    return result
