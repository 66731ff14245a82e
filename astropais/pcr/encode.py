"""
Encoder: per-source model images and centres -> Partial Contribution
Representation (PCR).

The PCR of an image with ``N`` sources holds, for ``n`` sources per pixel
(its ``n`` nearest, or its ``n`` brightest contributors, see
``SLOT_RULES``):

* ``heatmap`` -- Gaussian bumps of width ``sigma`` at the centres,
  max-combined, exactly 1 at the pixel nearest to each centre;
* ``vectors`` -- ``(dy, dx)`` in pixels from each pixel to the centres of
  its ``n`` sources, in slot order (nearest first, ties: lower source
  index first; or brightest first);
* ``slot_mask`` -- False for padding slots (fewer than ``n`` sources);
* ``fractions`` -- the fraction of each source pixel's flux that comes
  from each of those ``n`` sources, renormalised to sum to 1;
* ``source_mask`` -- the source pixels.

Everything is vectorised: the ``n`` nearest centres of every pixel come
from one `scipy.spatial.cKDTree` query, and the fractions are gathered
from the per-source cut-outs of a `~astropais.pcr.SourceImages`, never
from a dense ``N x H x W`` cube.
"""

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .sparse import SourceImages

__all__ = ['PCR', 'SLOT_RULES', 'check_slot_rule', 'encode',
           'nearest_centres']

#: How `encode` picks the ``n`` sources of a pixel's slots.  ``'nearest'``
#: (the paper's PCR): the ``n`` nearest centres.  ``'brightest'``: the ``n``
#: sources that put the most flux (summed over bands) into the pixel,
#: brightest first; slots left over (fewer than ``n`` sources contribute)
#: take the nearest other centres, nearest first.  With ``'nearest'`` a
#: large galaxy's outskirts under small neighbours name only the neighbours,
#: so its light there can never be given back to it.
SLOT_RULES = ('nearest', 'brightest')


def check_slot_rule(slots):
    """
    Raise a `ValueError` naming the choices unless ``slots`` is one of
    `SLOT_RULES`; return it.

    Examples
    --------
    >>> check_slot_rule('brightest')
    'brightest'
    """
    if slots not in SLOT_RULES:
        raise ValueError(f'slots must be one of {SLOT_RULES}, got {slots!r}')
    return slots

# e_i^2 = |p*_i - c_i|^2 <= 0.5 for the pixel p*_i nearest to a centre c_i.
_MAX_PEAK_OFFSET2 = 0.5


@dataclass
class PCR:
    """
    The Partial Contribution Representation of one image.

    Parameters
    ----------
    heatmap : `~numpy.ndarray`, shape (H, W), float32
        Centre heatmap in [0, 1]: the maximum over sources of a Gaussian of
        width ``sigma`` centred on the (sub-pixel) source centre and scaled
        to be exactly 1 at the pixel nearest to that centre.
    vectors : `~numpy.ndarray`, shape (H, W, n, 2), float32
        ``(dy, dx)`` in pixels from each pixel to its ``n`` nearest source
        centres, nearest first.  Padding slots repeat the last real vector
        (all zeros when there is no source).
    slot_mask : `~numpy.ndarray`, shape (H, W, n), bool
        False in padding slots (when the image has fewer than ``n``
        sources).
    fractions : `~numpy.ndarray`, shape (H, W, b, n), float32
        Per band, the fraction of the pixel's flux from each of the ``n``
        sources of ``vectors``; rows sum to 1 on source pixels, zeros
        outside them and in padding slots.
    source_mask : `~numpy.ndarray`, shape (H, W), bool
        The source pixels.
    n : int
        The number of nearest sources encoded per pixel.
    sigma : float
        The Gaussian width of the heatmap, in pixels.
    """

    heatmap: np.ndarray
    vectors: np.ndarray
    slot_mask: np.ndarray
    fractions: np.ndarray
    source_mask: np.ndarray
    n: int
    sigma: float

    def __post_init__(self):
        self.heatmap = np.asarray(self.heatmap, dtype=np.float32)
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        self.slot_mask = np.asarray(self.slot_mask, dtype=bool)
        self.fractions = np.asarray(self.fractions, dtype=np.float32)
        self.source_mask = np.asarray(self.source_mask, dtype=bool)
        self.n = int(self.n)
        self.sigma = float(self.sigma)
        shape = self.heatmap.shape
        if len(shape) != 2:
            raise ValueError(f'heatmap must be 2-D, got shape {shape}')
        expected = {'vectors': (*shape, self.n, 2),
                    'slot_mask': (*shape, self.n),
                    'source_mask': shape}
        for name, want in expected.items():
            got = getattr(self, name).shape
            if got != want:
                raise ValueError(f'{name} has shape {got}, expected {want}')
        if (self.fractions.ndim != 4 or self.fractions.shape[:2] != shape
                or self.fractions.shape[3] != self.n):
            raise ValueError(f'fractions has shape {self.fractions.shape}, '
                             f'expected {(*shape, "b", self.n)}')

    @property
    def shape(self):
        """The ``(H, W)`` image shape."""
        return self.heatmap.shape

    @property
    def n_bands(self):
        """The number of bands ``b`` of ``fractions``."""
        return self.fractions.shape[2]

    def decode(self, footprint=None, *, band=0, **kwargs):
        """
        Decode this PCR (see `~astropais.pcr.decode`).

        Parameters
        ----------
        footprint : array_like of bool, shape (H, W), optional
            The pixels to attribute; default ``source_mask``.
        band : int, optional
            The band of ``fractions`` to decode.
        **kwargs
            Passed to `~astropais.pcr.decode` (``centres``,
            ``peak_threshold``, ``min_distance``, ``vote_tolerance``,
            ``refine``).

        Returns
        -------
        attribution : `~astropais.pcr.PixelAttribution`
            The per-pixel ``(label, weight)`` pairs and the centres.
        """
        from .decode import decode
        if footprint is None:
            footprint = self.source_mask
        return decode(self.heatmap, self.vectors, self.fractions[:, :, band],
                      footprint, **kwargs)


def _check_n(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f'n must be an integer, got {n!r}')
    if n < 1:
        raise ValueError(f'n must be at least 1, got {n}')
    return int(n)


def _check_centres(centres):
    centres = np.asarray(centres, dtype=np.float64)
    if centres.size == 0:
        return centres.reshape(0, 2)
    if centres.ndim != 2 or centres.shape[1] != 2:
        raise ValueError(f'centres must have shape (N, 2), got '
                         f'{centres.shape}')
    if not np.all(np.isfinite(centres)):
        raise ValueError('centres have NaN or inf values')
    return centres


def nearest_centres(points, centres, n):
    """
    The ``n`` nearest centres of each point, nearest first, ties broken by
    the lower centre index.

    Parameters
    ----------
    points : array_like, shape (M, 2)
        Query positions ``(y, x)``.
    centres : array_like, shape (N, 2)
        Centre positions ``(y, x)``, ``N >= 1``.
    n : int
        Number of neighbours; at most ``N`` are returned.

    Returns
    -------
    index : `~numpy.ndarray` of int, shape (M, min(n, N))
        Indices into ``centres``.
    dist2 : `~numpy.ndarray` of float, shape (M, min(n, N))
        Squared Euclidean distances.
    next_dist2 : `~numpy.ndarray` of float, shape (M,)
        Squared distance of the first centre *not* returned (``inf`` when
        all ``N`` are returned).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    centres = _check_centres(centres)
    n_centres = len(centres)
    if n_centres == 0:
        raise ValueError('nearest_centres needs at least one centre')
    n = _check_n(n)
    tree = cKDTree(centres)
    n_keep = min(n, n_centres)
    index = np.empty((len(points), n_keep), dtype=np.int64)
    dist2 = np.empty((len(points), n_keep))
    next_dist2 = np.full(len(points), np.inf)
    # One more neighbour than kept, to see ties at the cut; rows where the
    # last queried neighbour still ties with the last kept one are queried
    # again with more neighbours (a loop over rounds, not over pixels).
    todo = np.arange(len(points))
    k = min(n_keep + 1, n_centres)
    while todo.size:
        _, idx = tree.query(points[todo], k=k, workers=-1)
        idx = idx.reshape(len(todo), k)
        delta = centres[idx] - points[todo, None, :]
        d2 = delta[..., 0] ** 2 + delta[..., 1] ** 2
        order = np.lexsort((idx, d2), axis=-1)
        idx = np.take_along_axis(idx, order, axis=1)
        d2 = np.take_along_axis(d2, order, axis=1)
        if k > n_keep:
            unresolved = d2[:, k - 1] <= d2[:, n_keep - 1]
            if k < n_centres and np.any(unresolved):
                done = ~unresolved
            else:
                done = np.ones(len(todo), dtype=bool)
            next_dist2[todo[done]] = d2[done, n_keep]
        else:
            done = np.ones(len(todo), dtype=bool)
        index[todo[done]] = idx[done, :n_keep]
        dist2[todo[done]] = d2[done, :n_keep]
        todo = todo[~done]
        k = min(2 * k, n_centres)
    return index, dist2, next_dist2


def _grid_nearest(shape, centres, n, e2, block=16, chunk=2 ** 18):
    """
    `nearest_centres` for every pixel of a grid, by blocks.

    For a ``block x block`` tile with centre ``q`` and half-diagonal ``h``,
    every pixel's ``m`` nearest centres lie within ``d_m(q) + 2 h`` of
    ``q`` (triangle inequality), so one ball query per tile gives an exact
    candidate list; the ``m`` nearest of each pixel are then picked from it
    by repeated ``argmin`` (first occurrence: the lower index wins ties, as
    candidates are sorted by index).  ``m`` is ``min(n, N)``, or 2 when
    ``n = 1`` (see below).

    Returns ``index`` (min(n, N), H, W), slot-major, ordered as
    `nearest_centres` orders its rows, and for
    the heatmap the "power distance" ``d_1^2 - e2[index_1]`` of the
    nearest centre (H*W,) and a flag (H*W,) for pixels where another
    centre could have a smaller power distance.  Such a centre ``c`` needs
    ``d_c^2 - e2_c < d_1^2``, so ``d_c^2 < d_1^2 + max(e2)`` and, as
    ``d_c >= d_2``, ``d_2^2 < d_1^2 + max(e2)``: the flag is that test (a
    superset of the pixels concerned, thin strips along the bisectors,
    solved exactly by `_heatmap`).  Hence ``m = 2`` for ``n = 1``.
    """
    ny, nx = shape
    n_centres = len(centres)
    n_keep = min(n, n_centres)
    m = max(n_keep, min(2, n_centres))
    ty, tx = -(-ny // block), -(-nx // block)
    offsets = np.arange(block, dtype=np.float64)
    corner = np.indices((ty, tx)).reshape(2, -1).T.astype(np.float64) * block
    middle = corner + (block - 1) / 2.0
    tree = cKDTree(centres)
    d_tile, _ = tree.query(middle, k=m)
    d_tile = np.asarray(d_tile).reshape(len(middle), m)[:, m - 1]
    radius = (d_tile + 2 * (block - 1) / np.sqrt(2.0)) * (1 + 1e-9) + 1e-9
    members = tree.query_ball_point(middle, radius, return_sorted=True)
    counts = np.fromiter(map(len, members), dtype=np.int64,
                         count=len(members))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    flat_members = np.concatenate(list(members)).astype(np.int64)
    # Sentinel centre N at infinity pads the candidate lists.
    cy = np.append(centres[:, 0], np.inf)
    cx = np.append(centres[:, 1], np.inf)
    max_e2 = float(np.max(e2))

    n_pix = block * block
    tiles = np.argsort(counts, kind='stable')
    # Results go straight into image-layout arrays (padded to whole
    # tiles), written through (tile row, y, tile column, x) views.
    index_type = np.int32 if n_centres < 2 ** 31 - 1 else np.int64
    out_index = np.empty((n_keep, ty * block, tx * block), dtype=index_type)
    out_power = np.empty((ty * block, tx * block))
    out_unsure = np.zeros((ty * block, tx * block), dtype=bool)
    tiled_index = out_index.reshape(n_keep, ty, block, tx, block)
    tiled_power = out_power.reshape(ty, block, tx, block)
    tiled_unsure = out_unsure.reshape(ty, block, tx, block)
    pos = 0
    # A loop over small chunks of tiles of similar candidate counts
    # (bounded, cache-sized memory); everything inside is vectorised.
    while pos < tiles.size:
        width = int(counts[tiles[pos]])
        size = max(1, chunk // (n_pix * max(width, 1)))
        group = tiles[pos:pos + size]
        tile_y, tile_x = np.divmod(group, tx)
        width = int(counts[group].max())
        cand = np.full((group.size, width), n_centres, dtype=index_type)
        col = np.arange(width)
        fill = col[None, :] < counts[group][:, None]
        cand[fill] = flat_members[(starts[group][:, None] + col)[fill]]
        # Squared distances are separable: (g, B, 1, K) + (g, 1, B, K).
        rows = corner[group, 0][:, None] + offsets[None, :]   # (g, B)
        cols = corner[group, 1][:, None] + offsets[None, :]
        dy2 = cy[cand][:, None, :] - rows[:, :, None]         # (g, B, K)
        dy2 *= dy2
        dx2 = cx[cand][:, None, :] - cols[:, :, None]
        dx2 *= dx2
        d2 = (dy2[:, :, None, :] + dx2[:, None, :, :]).reshape(-1, width)
        base = np.arange(d2.shape[0]) * width
        tile_of = np.repeat(np.arange(group.size) * width, n_pix)
        flat_d2 = d2.ravel()
        flat_cand = cand.ravel()
        index = np.empty((n_keep, d2.shape[0]), dtype=index_type)
        for k in range(m):
            j = np.argmin(d2, axis=-1)
            take = base + j
            dist2 = flat_d2[take]
            if k < n_keep:
                index[k] = flat_cand[tile_of + j]
            if k < m - 1:
                flat_d2[take] = np.inf
            if k == 0:
                power = dist2 - e2[index[0]]
                nearest = dist2
            elif k == 1:
                tiled_unsure[tile_y, :, tile_x] = (
                    dist2 < nearest + max_e2).reshape(-1, block, block)
        for k in range(n_keep):
            tiled_index[k, tile_y, :, tile_x] = index[k].reshape(
                -1, block, block)
        tiled_power[tile_y, :, tile_x] = power.reshape(-1, block, block)
        pos += group.size

    return (out_index[:, :ny, :nx], out_power[:ny, :nx].ravel(),
            out_unsure[:ny, :nx].ravel())


def _peak_offsets(centres):
    """Squared distance from each centre to its nearest pixel (<= 0.5)."""
    offset = np.floor(centres + 0.5) - centres
    return offset[:, 0] ** 2 + offset[:, 1] ** 2


def _heatmap(centres, power, unsure, sigma, shape):
    """Max-combined Gaussians, 1 at the pixel nearest to each centre.

    ``log h_i(p) = -(|p - c_i|^2 - e_i^2) / (2 sigma^2)``: the maximum over
    sources is set by the minimum "power distance" ``d^2 - e^2``, known
    from the kept neighbours except at ``unsure`` pixels, which are solved
    exactly by lifting centres to 3-D, ``(y, x, sqrt(0.5 - e^2))``.
    """
    peak = np.floor(centres + 0.5)
    e2 = _peak_offsets(centres)
    unsure = np.flatnonzero(unsure)
    if unsure.size:
        lifted = np.column_stack([centres,
                                  np.sqrt(np.maximum(_MAX_PEAK_OFFSET2 - e2,
                                                     0.0))])
        yy, xx = np.divmod(unsure, shape[1])
        query = np.column_stack([yy, xx, np.zeros(unsure.size)])
        d, _ = cKDTree(lifted).query(query, k=1)
        power[unsure] = np.minimum(power[unsure],
                                   d ** 2 - _MAX_PEAK_OFFSET2)
    heat = np.exp(-np.maximum(power, 0.0) / (2.0 * sigma ** 2))
    heat = heat.reshape(shape)
    # The nearest pixel of every centre inside the image is exactly 1.
    inside = np.all((peak >= 0) & (peak < np.asarray(shape)), axis=1)
    py, px = peak[inside].astype(np.int64).T
    heat[py, px] = 1.0
    return heat


def _fill_vectors(vectors, centres, index, rows=32):
    """``vectors[..., :k, :] = centres[index] - (y, x)``, by row blocks.

    ``index`` is slot-major, ``(k, H, W)``.  Blocks of ``rows`` image rows
    keep the float64 intermediate in cache.
    """
    k, ny, nx = index.shape
    cols = np.arange(nx, dtype=np.float64)[:, None]
    for y0 in range(0, ny, rows):
        y1 = min(y0 + rows, ny)
        block = centres.take(index[:, y0:y1].transpose(1, 2, 0),
                             axis=0)                    # (r, W, k, 2)
        block[..., 0] -= np.arange(y0, y1, dtype=np.float64)[:, None, None]
        block[..., 1] -= cols
        vectors[y0:y1, :, :k] = block


def _gather_fractions(sources, index, shape, n, positive=None):
    """
    Per-band source flux of each pixel's n nearest sources.

    Returns an array of shape ``(n, b, H, W)``: slot-major, so that each
    masked copy below runs over whole cut-out rows (with the slot axis
    last, every inner loop would be ``n`` elements long).  If given,
    ``positive`` (H, W) bool is set True wherever any source (any band) is
    > 0, in the same pass over the cut-outs.
    """
    n_bands = sources.n_bands
    flux = np.zeros((n, n_bands, *shape))
    # A loop over sources: each one fills only the slots that name it,
    # inside its own cut-out window (total work = sum of cut-out areas).
    for i, cutout in enumerate(sources.cutouts):
        image_sl, cutout_sl = sources.slices(i)
        values = cutout[(Ellipsis, *cutout_sl)]
        values = values.reshape(n_bands, *values.shape[-2:])  # (b, h, w)
        hit = index[(slice(None), *image_sl)] == i             # (n, h, w)
        # Each (pixel, slot) names exactly one source: a masked copy.
        np.copyto(flux[(slice(None), slice(None), *image_sl)], values,
                  where=hit[:, None])
        if positive is not None:
            window = positive[image_sl]
            window |= (values[0] > 0 if n_bands == 1
                       else (values > 0).any(axis=0))
    return flux


def _brightest_slots(sources, nearest, n):
    """
    Slot-major ``(k, H, W)`` indices of each pixel's brightest sources.

    The ``n`` sources with the largest flux at the pixel (summed over
    bands; ties: lower index first), brightest first, then the pixel's
    ``nearest`` (slot-major, nearest first) centres that are not among
    them, up to ``k = len(nearest)`` slots.
    """
    k, ny, nx = nearest.shape
    best_flux = np.zeros((k, ny, nx))
    best = np.full((k, ny, nx), -1, dtype=np.int64)
    # A loop over sources (total work = sum of cut-out areas): each one
    # competes for the slots of its own window.
    for i, cutout in enumerate(sources.cutouts):
        image_sl, cutout_sl = sources.slices(i)
        values = cutout[(Ellipsis, *cutout_sl)]
        if values.size == 0:
            continue
        values = values.reshape(sources.n_bands,
                                *values.shape[-2:]).sum(axis=0)
        window = (slice(None), *image_sl)
        flux = np.concatenate([best_flux[window], values[None]])
        label = np.concatenate([best[window],
                                np.full((1, *values.shape), i)])
        label[-1][values <= 0] = -1
        order = np.argsort(-flux, axis=0, kind='stable')[:k]
        best_flux[window] = np.take_along_axis(flux, order, axis=0)
        best[window] = np.take_along_axis(label, order, axis=0)
    # Candidates: the contributors by rank, then the nearest centres not
    # already named; the first k of them fill the slots.
    repeat = (nearest[:, None] == best[None]).any(axis=1)
    candidates = np.concatenate([best, np.where(repeat, -1, nearest)])
    keep = np.argsort(candidates < 0, axis=0, kind='stable')[:k]
    return np.take_along_axis(candidates, keep, axis=0)


def encode(sources, centres, *, n=3, sigma=2.0, source_mask=None,
           slots='nearest'):
    """
    Encode per-source model images as a Partial Contribution
    Representation.

    Parameters
    ----------
    sources : `~astropais.pcr.SourceImages`
        The noise-free per-source images (non-negative), one cut-out per
        source.
    centres : array_like, shape (N, 2)
        The ``(y, x)`` centre of each source, in pixels (sub-pixel allowed;
        pixel ``(j, k)`` is centred on ``(j, k)``).  Centres may lie
        outside the image.
    n : int, optional
        The number of sources encoded per pixel (>= 1).
    sigma : float, optional
        Width of the heatmap Gaussians, in pixels.
    source_mask : array_like of bool, shape (H, W), optional
        The source pixels.  Default: pixels where the summed source images
        (over all bands) are > 0.
    slots : {'nearest', 'brightest'}, optional
        Which ``n`` sources a pixel's slots name (see `SLOT_RULES`):
        the nearest centres (the paper's PCR, default) or the brightest
        contributors at the pixel.  The decoder reads either: it follows
        the vectors, whatever their order.

    Returns
    -------
    pcr : `~astropais.pcr.PCR`
        The encoding.

    Raises
    ------
    ValueError
        If ``n < 1``, ``sigma <= 0``, the number of centres differs from
        the number of sources, any model value is negative,
        ``source_mask`` has the wrong shape or ``slots`` is unknown.

    Notes
    -----
    * Nearest means Euclidean distance from the pixel centre to the source
      centre; equal distances are ordered by source index.
    * Fractions of the sources beyond the ``n`` kept ones are dropped and
      the kept ones renormalised.  Where the kept sources carry no flux at
      a source pixel (in a band), the first slot's source gets fraction 1.
    * The heatmap of source ``i`` is
      ``exp(-(|p - c_i|^2 - |p*_i - c_i|^2) / (2 sigma^2))`` with ``p*_i``
      the pixel nearest to ``c_i`` (``floor(c + 0.5)``): a Gaussian centred
      on the sub-pixel centre, scaled to exactly 1 at ``p*_i``.  Within
      each source's region it decreases strictly away from ``p*_i``, so
      its only local maximum is ``p*_i``; ``p*_i + vectors[p*_i, 0]``
      gives back the exact centre (up to float32 rounding) unless another
      centre is nearer to ``p*_i`` (centres less than ~1.5 px apart).
    * Coincident centres are allowed: they get identical vectors (lower
      index first), separate fractions and a single heatmap peak.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.pcr import SourceImages, encode
    >>> src = SourceImages((5, 8), [np.ones((3, 5)), np.ones((3, 5))],
    ...                    [(1, 0), (1, 3)])
    >>> pcr = encode(src, [(2, 2), (2, 5)], n=2)
    >>> pcr.fractions[2, 3, 0].tolist()
    [0.5, 0.5]
    >>> float(pcr.heatmap[2, 5])
    1.0

    A bright source ``A`` spread over the whole row, and two small ones at
    the right end: at the last pixel the two nearest centres are the small
    ones, and ``A``'s light there is lost; ``slots='brightest'`` names
    ``A`` first:

    >>> src = SourceImages((1, 7), [np.full((1, 7), 10.0), np.ones((1, 1)),
    ...                             np.ones((1, 1))], [(0, 0), (0, 5), (0, 6)])
    >>> centres = [(0, 0), (0, 5), (0, 6)]
    >>> encode(src, centres, n=2).fractions[0, 6, 0].tolist()
    [1.0, 0.0]
    >>> pcr = encode(src, centres, n=2, slots='brightest')
    >>> pcr.vectors[0, 6, :, 1].tolist()
    [-6.0, 0.0]
    >>> [round(float(f), 3) for f in pcr.fractions[0, 6, 0]]
    [0.909, 0.091]
    """
    if not isinstance(sources, SourceImages):
        raise TypeError('sources must be an astropais.pcr.SourceImages')
    n = _check_n(n)
    check_slot_rule(slots)
    sigma = float(sigma)
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f'sigma must be a positive number, got {sigma}')
    centres = _check_centres(centres)
    if len(centres) != len(sources):
        raise ValueError(f'got {len(centres)} centres for {len(sources)} '
                         f'sources')
    for i, cutout in enumerate(sources.cutouts):
        if cutout.size and cutout.min() < 0:
            raise ValueError(f'source {i} has negative model fluxes '
                             f'(min {cutout.min():g}); model images must be '
                             f'non-negative (clip them first)')
    shape = sources.shape
    n_bands = sources.n_bands
    given_mask = source_mask is not None
    if not given_mask:
        # Filled by _gather_fractions (or stays empty without sources).
        source_mask = np.zeros(shape, dtype=bool)
    else:
        source_mask = np.asarray(source_mask)
        if source_mask.shape != shape:
            raise ValueError(f'source_mask has shape {source_mask.shape}, '
                             f'expected {shape}')
        source_mask = source_mask.astype(bool)

    n_src = len(centres)
    heatmap = np.zeros(shape, dtype=np.float32)
    vectors = np.zeros((*shape, n, 2), dtype=np.float32)
    slot_mask = np.zeros((*shape, n), dtype=bool)
    fractions = np.zeros((*shape, n_bands, n), dtype=np.float32)
    if n_src == 0:
        return PCR(heatmap, vectors, slot_mask, fractions, source_mask, n,
                   sigma)

    index, power, unsure = _grid_nearest(shape, centres, n,
                                         _peak_offsets(centres))
    n_real = len(index)
    heatmap[...] = _heatmap(centres, power, unsure, sigma, shape)
    del power, unsure
    if slots == 'brightest':
        index = _brightest_slots(sources, index, n)

    _fill_vectors(vectors, centres, index)
    # Padding slots repeat the farthest real vector (masked out anyway).
    vectors[:, :, n_real:] = vectors[:, :, n_real - 1:n_real]
    slot_mask[:, :, :n_real] = True

    flux = _gather_fractions(sources, index, shape, n_real,
                             positive=None if given_mask else source_mask)
    del index
    norm = flux.sum(axis=0)
    no_flux = norm <= 0
    norm[no_flux] = 1.0
    # Divide straight into the (strided) float32 view of the output.
    np.divide(flux, norm, out=fractions[..., :n_real].transpose(3, 2, 0, 1),
              casting='same_kind')
    del flux, norm
    # Source pixels whose kept sources carry no flux (in a band): all of
    # it to the nearest source.
    no_flux = no_flux.transpose(1, 2, 0)                   # (H, W, b)
    fractions[..., 0][no_flux & source_mask[:, :, None]] = 1.0
    if given_mask:
        # (With the default mask there is no flux outside it.)
        fractions[~source_mask] = 0.0
    return PCR(heatmap, vectors, slot_mask, fractions, source_mask, n, sigma)
