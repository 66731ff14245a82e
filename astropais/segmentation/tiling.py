"""
Overlapping tiles for images larger than the network's field of view.

Each tile keeps only its central part; neighbouring kept parts meet in
the middle of the tiles' overlap, so every pixel of the stitched output
comes from exactly one tile and was predicted with at least ``margin``
pixels of context on every side that is not an image edge.  A source on
a seam is therefore seen whole by the tiles on both sides, and the
stitched maps are continuous across it.

The image is zero-padded only to the pooling multiple, as a single pass
pads it, and the last tile along each axis ends at that padded edge
(its start moves back, so it overlaps its neighbour more): at the bottom
and right edges a tile sees exactly what a single pass sees, never the
network's response to extra zero rows (which differs from the layers'
own zero padding once biases act).
"""

import numpy as np

__all__ = ['padded_length', 'tile_starts', 'tile_layout', 'needed_tiles',
           'read_tile', 'iter_tiles', 'lazy_zeros', 'predict_tiled',
           'receptive_radius']


def padded_length(length, multiple=1):
    """
    The image length zero-padded to a multiple of ``multiple``.

    Examples
    --------
    >>> padded_length(70, 4)
    72
    """
    return -(-int(length) // int(multiple)) * int(multiple)


def tile_starts(length, tile_size, margin, multiple=1):
    """
    Start offsets of the tiles along one axis.

    Parameters
    ----------
    length : int
        The image length along the axis.
    tile_size : int
        The tile length (a multiple of ``multiple``); an axis shorter
        than a tile is one tile of its `padded_length`.
    margin : int
        Context kept on each side; the stride is ``tile_size - 2 margin``
        rounded down to a multiple of ``multiple``.
    multiple : int, optional
        Every start is a multiple of this (a network with ``k`` poolings
        by 2 is translation-equivariant only for shifts by ``2**k``).

    Returns
    -------
    starts : `~numpy.ndarray` of int
        Starts from 0, every one a multiple of ``multiple``; the last
        tile ends at the `padded_length` (its start is moved back if the
        stride overshoots).

    Raises
    ------
    ValueError
        If the stride is smaller than ``multiple`` or ``tile_size`` is not
        a multiple of it.

    Examples
    --------
    >>> tile_starts(100, 32, 4, multiple=4).tolist()
    [0, 24, 48, 68]
    """
    stride = (tile_size - 2 * margin) // multiple * multiple
    if tile_size < 1 or margin < 0 or multiple < 1 or stride < 1:
        raise ValueError(f'need tile_size >= 1, margin >= 0 and a stride '
                         f'tile_size - 2 margin of at least {multiple}, got '
                         f'tile_size={tile_size}, margin={margin}')
    if tile_size % multiple:
        raise ValueError(f'tile_size {tile_size} must be a multiple of '
                         f'{multiple}')
    padded = padded_length(length, multiple)
    if padded <= tile_size:
        return np.zeros(1, dtype=np.int64)
    n_more = int(np.ceil((padded - tile_size) / stride))
    starts = np.arange(n_more + 1, dtype=np.int64) * stride
    starts[-1] = padded - tile_size
    return starts


def _keep_bounds(starts, tile_size, length):
    """Boundaries where consecutive tiles hand over (overlap midpoints)."""
    starts = np.asarray(starts)
    cuts = (starts[:-1] + tile_size + starts[1:]) // 2
    return np.concatenate([[0], cuts, [length]])


def tile_layout(shape, tile_size, margin, multiple=1):
    """
    The tiles covering an image and the part each one keeps.

    Parameters
    ----------
    shape : tuple of int
        The ``(ny, nx)`` image shape.
    tile_size : int
        The tile size; along an axis shorter than a tile, the tile is that
        axis' `padded_length`.
    margin : int
        The context each tile keeps around its kept part.
    multiple : int, optional
        Align every tile start to a multiple of this.

    Returns
    -------
    tiles : list of tuple
        ``(tile_slices, keep_image_slices, keep_tile_slices)`` for each
        tile: where the tile lies in the image padded to ``multiple``,
        and the kept part in image and in tile coordinates.  The kept
        parts partition the padded image.

    Examples
    --------
    >>> [t[0] for t in tile_layout((20, 8), 16, 4)]
    [(slice(0, 16, None), slice(0, 8, None)), (slice(4, 20, None), slice(0, 8, None))]
    """
    per_axis = []
    for length in shape:
        padded = padded_length(length, multiple)
        size = min(tile_size, padded)
        starts = tile_starts(length, tile_size, margin, multiple)
        bounds = _keep_bounds(starts, size, padded)
        per_axis.append([(int(s), int(s) + size, int(lo), int(hi))
                         for s, lo, hi in zip(starts, bounds[:-1],
                                              bounds[1:])])
    tiles = []
    for sy, ey, ly, hy in per_axis[0]:
        for sx, ex, lx, hx in per_axis[1]:
            tiles.append(((slice(sy, ey), slice(sx, ex)),
                          (slice(ly, hy), slice(lx, hx)),
                          (slice(ly - sy, hy - sy), slice(lx - sx, hx - sx))))
    return tiles


def read_tile(image, slices):
    """
    A part of an image, zero-filled where it reaches past the bottom or
    right edge (the padding to the pooling multiple).

    Only the part itself is read, so a memory-mapped image is read tile
    by tile.

    Parameters
    ----------
    image : `~numpy.ndarray`
        ``(H, W)`` or ``(H, W, b)``.
    slices : tuple of two slice
        Non-negative starts; the stops may exceed the image.

    Returns
    -------
    tile : `~numpy.ndarray`
        A new array of the slices' full shape and the image's dtype, in
        native byte order (a big-endian FITS image is converted tile by
        tile).

    Examples
    --------
    >>> import numpy as np
    >>> read_tile(np.ones((3, 3)), (slice(2, 4), slice(0, 2))).tolist()
    [[1.0, 1.0], [0.0, 0.0]]
    """
    shape = tuple(part.stop - part.start for part in slices)
    tile = np.zeros(shape + image.shape[2:],
                    dtype=image.dtype.newbyteorder('='))
    inside = tuple(slice(part.start, min(part.stop, length))
                   for part, length in zip(slices, image.shape))
    tile[tuple(slice(0, part.stop - part.start) for part in inside)] = \
        image[inside]
    return tile


def iter_tiles(predict, image, tile_size, margin, *, multiple=1,
               batch_size=8, progress_bar=False, needed=None,
               needed_margin=0, transform=None, layout=None,
               full_batches=None):
    """
    Run a per-pixel predictor on overlapping tiles, one kept part at a
    time.

    The generator behind `predict_tiled`: instead of stitching, it hands
    out each tile's kept part as soon as its batch is predicted, so that
    a caller can keep only what it needs (e.g. the footprint pixels) and
    never hold whole-image outputs.

    Parameters
    ----------
    predict, image, tile_size, margin, multiple, batch_size, progress_bar, \
needed, needed_margin
        As for `predict_tiled`.  ``image`` may be ``(H, W)`` when
        ``transform`` adds the band axis.
    transform : callable, optional
        Applied to each batch of raw tiles before ``predict`` (e.g. the
        network's normalisation), so that the whole image is never
        transformed at once.  It must map 0 to 0 (the padding).
    layout : list of tuple, optional
        The tiles to run (part of a `tile_layout` of the image, e.g. one
        worker's share); by default the whole layout, less the tiles
        ``needed`` leaves out.
    full_batches : bool, optional
        Fill a short batch up to ``batch_size`` with empty tiles (their
        outputs are dropped); by default when there is more than one
        batch, so that every call to ``predict`` sees the same shape.


    Yields
    ------
    keep : tuple of two slice
        The kept part in image coordinates (clipped to the image).
    outputs : dict of `~numpy.ndarray`
        The predictor's outputs on the kept part, each of shape
        ``(keep height, keep width, ...)``.

    Raises
    ------
    ValueError
        If ``needed`` does not have the image's shape.

    Examples
    --------
    >>> import numpy as np
    >>> parts = list(iter_tiles(lambda b: {'y': 2 * b},
    ...                         np.ones((40, 40, 1)), 16, 4))
    >>> len(parts), sum(out['y'].size for _, out in parts)
    (16, 1600)
    """
    height, width = image.shape[:2]
    if layout is None:
        layout = tile_layout((height, width), tile_size, margin, multiple)
    if needed is not None:
        if needed.shape != (height, width):
            raise ValueError(f'needed has shape {needed.shape}, the image '
                             f'{(height, width)}')
        layout = needed_tiles(layout, needed, needed_margin)
    if full_batches is None:
        full_batches = len(layout) > batch_size
    batches = range(0, len(layout), batch_size)
    if progress_bar:
        from tqdm.auto import tqdm
        batches = tqdm(batches, desc='PAIS tiles')
    for first in batches:
        chunk = layout[first:first + batch_size]
        batch = np.stack([read_tile(image, tile) for tile, _, _ in chunk])
        if full_batches and len(chunk) < batch_size:
            # The last batch is filled up with empty tiles to the size of
            # the others: a graph-compiling predictor is not traced again
            # for a new shape (~0.4 s with TensorFlow on a CPU).
            batch = np.concatenate([batch, np.zeros(
                (batch_size - len(chunk),) + batch.shape[1:], batch.dtype)])
        if transform is not None:
            batch = transform(batch)
        result = predict(batch)
        del batch
        # A loop over the tiles of one batch: each hands out its part.
        for index, (_, keep_img, keep_tile) in enumerate(chunk):
            keep = tuple(slice(part.start, min(part.stop, length))
                         for part, length in zip(keep_img, (height, width)))
            if any(part.stop <= part.start for part in keep):
                continue        # a kept part wholly in the padding
            crop = tuple(slice(own.start, own.start + part.stop - part.start)
                         for own, part in zip(keep_tile, keep))
            yield keep, {key: value[index][crop]
                         for key, value in result.items()}


def predict_tiled(predict, image, tile_size, margin, *, multiple=1,
                  batch_size=8, progress_bar=False, needed=None,
                  needed_margin=0, transform=None):
    """
    Run a per-pixel predictor on overlapping tiles and stitch the outputs.

    Parameters
    ----------
    predict : callable
        ``predict(batch)`` with ``batch`` of shape ``(B, t, t, b)``
        returns a dict of arrays of shape ``(B, t, t, ...)``.
    image : `~numpy.ndarray`
        ``(H, W, b)`` input (already normalised, unless ``transform``
        normalises each batch).  It is zero-padded at the bottom/right
        to a multiple of ``multiple`` only, as a single pass pads it,
        tile by tile (no padded copy of the image).
    tile_size : int
        The square tile size.
    margin : int
        Context kept around each tile's kept part.
    multiple : int, optional
        Align every tile start to a multiple of this.
    batch_size : int, optional
        Tiles per call to ``predict``.
    progress_bar : bool, optional
        Show a `tqdm` progress bar over the batches.
    needed : `~numpy.ndarray` of bool, shape ``(H, W)``, optional
        The pixels whose outputs are wanted (e.g. a detection footprint).
        A tile whose kept part, grown by ``needed_margin`` pixels, holds
        none of them is not run, and its kept part stays 0 in the outputs
        (the stitched arrays come from `lazy_zeros`, so the memory pages
        of skipped tiles are never written and take no memory).  By
        default every tile runs.
    needed_margin : int, optional
        How far around a needed pixel the outputs must still be exact.
    transform : callable, optional
        Applied to each batch of tiles before ``predict`` (see
        `iter_tiles`).

    Returns
    -------
    outputs : dict of `~numpy.ndarray`
        The stitched outputs, each of shape ``(H, W, ...)``.

    Raises
    ------
    ValueError
        If ``needed`` is not an ``(H, W)`` mask of the image (as in
        `iter_tiles`).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.ones((40, 40, 1), dtype=np.float32)
    >>> needed = np.zeros((40, 40), dtype=bool)
    >>> needed[2, 2] = True
    >>> out = predict_tiled(lambda b: {'y': 2 * b}, image, 16, 4,
    ...                     needed=needed)
    >>> float(out['y'][2, 2, 0]), float(out['y'][30, 30, 0])
    (2.0, 0.0)
    """
    outputs = {}
    for keep, result in iter_tiles(
            predict, image, tile_size, margin, multiple=multiple,
            batch_size=batch_size, progress_bar=progress_bar, needed=needed,
            needed_margin=needed_margin, transform=transform):
        for key, value in result.items():
            if key not in outputs:
                outputs[key] = lazy_zeros(image.shape[:2] + value.shape[2:],
                                          dtype=value.dtype)
            outputs[key][keep] = value
    return outputs


# Arrays at least this large are mapped page by page (see lazy_zeros).
_LAZY_BYTES = 2 ** 22


def lazy_zeros(shape, dtype=np.float32):
    """
    A zero-filled array whose memory is taken only where it is written.

    `numpy.zeros` is lazy too, but numpy advises the kernel to back large
    arrays with 2 MiB huge pages: writing a few tiles of a row-major
    image then takes whole bands of the image.  Here large arrays (4 MiB
    and more, on systems with ``MADV_NOHUGEPAGE``) are private anonymous
    memory maps advised against huge pages, so writing a tile takes about
    the tile's own pages and reading unwritten parts takes none.

    Parameters
    ----------
    shape : tuple of int
        The array shape.
    dtype : data-type, optional
        The array type.

    Returns
    -------
    array : `~numpy.ndarray`
        Writable, C-contiguous, all zeros.

    Examples
    --------
    >>> a = lazy_zeros((2048, 2048), np.float32)
    >>> a[:16, :16] = 1.0
    >>> float(a.sum()), a.dtype.name
    (256.0, 'float32')
    """
    import mmap

    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes < _LAZY_BYTES or not hasattr(mmap, 'MADV_NOHUGEPAGE'):
        return np.zeros(shape, dtype=dtype)
    # Private: reading a page never written maps the shared zero page.
    buffer = mmap.mmap(-1, nbytes,
                       flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    buffer.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def needed_tiles(layout, needed, needed_margin=0):
    """
    The tiles of a `tile_layout` whose kept part, grown by
    ``needed_margin`` pixels, holds a needed pixel (the last tile if
    none does, so that a prediction always has its shapes).

    Parameters
    ----------
    layout : list of tuple
        As returned by `tile_layout`.
    needed : `~numpy.ndarray` of bool
        The pixels whose outputs are wanted.
    needed_margin : int, optional
        How far around a needed pixel the outputs must still be exact.

    Returns
    -------
    tiles : list of tuple
        The tiles to run, in the layout's order.

    Examples
    --------
    >>> import numpy as np
    >>> needed = np.zeros((40, 40), dtype=bool)
    >>> needed[2, 2] = True
    >>> len(tile_layout((40, 40), 16, 4)), len(needed_tiles(
    ...     tile_layout((40, 40), 16, 4), needed))
    (16, 1)
    """
    margin = int(needed_margin)
    tiles = [tile for tile in layout if _holds_needed(needed, tile[1], margin)]
    return tiles or layout[-1:]


def _holds_needed(needed, keep, margin):
    """Whether the kept part ``keep``, grown by ``margin``, holds a
    needed pixel."""
    grown = tuple(slice(max(part.start - margin, 0), part.stop + margin)
                  for part in keep)
    return bool(needed[grown].any())


def receptive_radius(predict, size, *, n_bands=1, seed=0):
    """
    Measure how far a per-pixel predictor looks: the radius of the region
    whose outputs change when one input pixel changes.

    Parameters
    ----------
    predict : callable
        As for `predict_tiled`.
    size : int
        Side of the square probe image (the impulse is at its centre).
    n_bands : int, optional
        Number of input bands.
    seed : int, optional
        Seed of the random probe background (a generic input, so that no
        activation is switched off everywhere).

    Returns
    -------
    radius : int or `None`
        The largest Chebyshev distance from the impulse of a changed
        output pixel; `None` if the change reaches the probe's edge
        (the predictor looks further than ``size // 2``).
    """
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 1.0, (1, size, size, n_bands)).astype(np.float32)
    probe = base.copy()
    centre = size // 2
    probe[0, centre, centre, :] += 10.0
    before, after = predict(base), predict(probe)
    changed = np.zeros((size, size), dtype=bool)
    for key in before:
        diff = np.abs(np.asarray(after[key][0]) - np.asarray(before[key][0]))
        changed |= diff.reshape(size, size, -1).max(axis=-1) > 0
    if not changed.any():
        return 0
    yy, xx = np.nonzero(changed)
    if yy.min() == 0 or xx.min() == 0 or yy.max() == size - 1 \
            or xx.max() == size - 1:
        return None
    return int(max(np.abs(yy - centre).max(), np.abs(xx - centre).max()))
