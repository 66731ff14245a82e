"""
Deblending on Dask: the network's tiles run as Dask tasks, on Dask's
local scheduler or on any ``dask.distributed`` cluster.

`detect_footprints` is photutils' detection a block of rows at a time:
each block labelled by SciPy as photutils labels, the segments joined
across block borders and numbered as photutils numbers them (a Dask
array is computed block by block).  It replaced
``dask_image.ndmeasure.label``, which copied the image into the graph
and ran for more than 6 minutes on a 16384 x 16384 field at 1.5 sigma
(the blocks: about 10 s).

`DaskDeblender` is a `PAISDeblender` that detects with it and whose
network pass (the bulk of the time on a crowded field: 58 of 81 s at
8192 x 8192 with 31 600 sources) is split into one task per batch of
tiles; each task gets its window of
the image (of a memory-mapped float32 image, only that window is read),
runs the network there and returns only what the decoder reads (a
`~astropais.pcr.SparsePCR` part, float32, ``O(footprint)``).  The tiles
and batches are those of `PAISDeblender`, and decoding and everything
after run as there, on the client, so the result is the
in-memory one, bit for bit (tested on a two-worker ``LocalCluster``).

Not yet here: the image must still fit in the client's memory (a Dask
array is computed whole when the image is prepared, and the detection
map is one int32 map);
a streamed catalog and a chunked segmentation are the next steps.
Decoding on the workers (the network's parts kept there as futures, one
decoding task a batch of tiles) was tried and measured slower than
decoding on the client (5 s against 0.3 s a call at 2048 x 2048,
docs/scaling.rst), and removed.

Workers load the network themselves (the shipped model, or a ``.keras``
file with its sidecar, checksum verified), once per worker process, and
a worker process runs TensorFlow on its ``threads_per_worker`` threads
(`_worker_threads`), so that two one-thread workers on two cores run the
network 1.7 times as fast as one (docs/scaling.rst).
"""

import os
import warnings

import numpy as np

from .deblender import PAISDeblender
from .inputs import scan_rows
from .tiling import needed_tiles, tile_layout

__all__ = ['DaskDeblender', 'detect_footprints']

# Networks loaded in this (worker) process, by (model path, precision).
_NETWORKS = {}


def _network(source, precision):
    """The network of ``source`` (None: the shipped model) in this
    process, loaded once."""
    key = (source, precision)
    if key not in _NETWORKS:
        _worker_threads()
        from astropais.model import load_model
        _NETWORKS[key] = load_model(source).cast(precision)
    return _NETWORKS[key]


def _worker_threads():
    """
    In a ``dask.distributed`` worker process of its own (under a nanny),
    TensorFlow runs on the worker's threads (``threads_per_worker``)
    instead of every core of the machine: otherwise each worker's
    network used both cores of a 2-core machine, and two workers ran no
    faster than one.  Nothing happens elsewhere (Dask's local threads, a
    worker in the client's process, another backend) or once TensorFlow
    has started in the process.

    Returns
    -------
    threads : int or None
        The threads set, or None.
    """
    try:
        from distributed import get_worker
        worker = get_worker()
    except (ImportError, ValueError):
        return None
    if getattr(worker, 'nanny', None) is None:
        return None
    import keras
    if keras.backend.backend() != 'tensorflow':
        return None
    import tensorflow as tf
    threads = int(worker.state.nthreads)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        # TensorFlow has started in this process: its threads stay.
        return None
    return threads


def _rows_of(array, rows, scheduler):
    """Rows ``rows`` of a NumPy (or memory-mapped) or Dask 2-D array, or a
    scalar, as NumPy."""
    if np.ndim(array) == 0:
        return array
    part = array[rows]
    if hasattr(part, 'dask'):
        return (scheduler.compute(part, sync=True)
                if hasattr(scheduler, 'compute')
                else part.compute(scheduler=scheduler))
    return np.asarray(part)


def _border_pairs(above, below, connectivity):
    """The ``(label, label)`` pairs of touching labelled pixels across the
    border between two rows (``above`` the last row of one block,
    ``below`` the first of the next)."""
    shifts = (-1, 0, 1) if connectivity == 8 else (0,)
    width = above.size
    pairs = []
    # A loop over the (three) diagonal and vertical neighbours.
    for shift in shifts:
        a = above[max(0, -shift):width - max(0, shift)]
        b = below[max(0, shift):width - max(0, -shift)]
        both = (a > 0) & (b > 0)
        pairs.append(np.column_stack([a[both], b[both]]))
    return np.unique(np.concatenate(pairs), axis=0)


def _merge_roots(n_labels, pairs, dtype):
    """``root[label]`` (of ``dtype``): the smallest label of the segment
    each block label belongs to, segments joined through ``pairs``
    (labels not in a pair are their own root)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    root = np.arange(n_labels + 1, dtype=dtype)
    if len(pairs) == 0:
        return root
    nodes, index = np.unique(pairs, return_inverse=True)
    index = index.reshape(pairs.shape)
    graph = coo_matrix((np.ones(len(index), dtype=np.int8),
                        (index[:, 0], index[:, 1])),
                       shape=(nodes.size, nodes.size))
    _, component = connected_components(graph, directed=False)
    smallest = np.full(component.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(smallest, component, nodes)
    root[nodes] = smallest[component]
    return root


def detect_footprints(data, threshold, n_pixels, *, connectivity=8,
                      mask=None, chunks=2048, scheduler=None):
    """
    photutils' `~photutils.segmentation.detect_sources`, a block of rows
    at a time.

    Each block of rows is read (a memory-mapped image only there; a Dask
    array computed there) and labelled with SciPy's
    `~scipy.ndimage.label`, as photutils labels; the segments that touch
    across block borders are joined (connected components of the border
    pairs) and numbered as photutils numbers them (by the raster order
    of their first pixel, after dropping those smaller than
    ``n_pixels``), so the result equals photutils' (tested).  Memory:
    the int32 map and one block.

    Parameters
    ----------
    data : array_like or `dask.array.Array`
        The 2-D image (NaN never exceeds the threshold).
    threshold : float or array_like
        The per-pixel threshold (NumPy or Dask).
    n_pixels : int
        The minimum number of connected pixels of a segment.
    connectivity : {8, 4}, optional
        The pixel connectivity.
    mask : array_like of bool, optional
        `True` for pixels that never belong to a segment.
    chunks : int or tuple, optional
        The rows of a block (of a tuple, its first number).
    scheduler : optional
        A Dask scheduler or ``distributed`` client, for Dask arrays
        (default: Dask's).

    Returns
    -------
    segm : `~photutils.segmentation.SegmentationImage` or None
        None, with photutils'
        `~photutils.utils.exceptions.NoDetectionsWarning`, when no segment
        is found.

    Raises
    ------
    ValueError
        If ``connectivity`` is not 4 or 8.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation.mosaic import detect_footprints
    >>> image = np.zeros((6, 9)); image[1:3, 1:3] = image[3:5, 5:8] = 5.0
    >>> detect_footprints(image, 1.0, 4, chunks=4).data[[1, 3], [1, 6]]
    array([1, 2], dtype=int32)
    """
    from photutils.segmentation import SegmentationImage
    from photutils.utils.exceptions import NoDetectionsWarning
    from scipy import ndimage

    if connectivity not in (4, 8):
        raise ValueError(f'connectivity must be 4 or 8, got '
                         f'{connectivity!r}')
    shape = tuple(data.shape)
    step = int(np.ravel(chunks)[0])
    structure = (np.ones((3, 3), dtype=int) if connectivity == 8 else
                 None)
    segments = np.empty(shape, dtype=np.int32 if np.prod(shape) < 2 ** 31
                        else np.int64)
    n_labels, pairs, sizes = 0, [], [np.zeros(1, dtype=segments.dtype)]
    # A loop over blocks of rows: each is labelled in place, its labels
    # offset past the previous blocks'.
    for start in range(0, shape[0], step):
        rows = slice(start, min(start + step, shape[0]))
        above = (_rows_of(data, rows, scheduler)
                 > _rows_of(threshold, rows, scheduler))
        if mask is not None:
            above &= ~_rows_of(mask, rows, scheduler).astype(bool)
        block = segments[rows]
        found = ndimage.label(above, structure, output=block)
        del above
        # (counted a few rows at a time: bincount converts its input to
        # intp, 8 bytes a pixel of the whole block)
        count = np.zeros(found + 1, dtype=np.int64)
        for part in range(0, block.shape[0], 256):
            count += np.bincount(block[part:part + 256].ravel(),
                                 minlength=found + 1)
        sizes.append(count[1:].astype(segments.dtype))
        del count
        np.add(block, n_labels, out=block, where=block > 0)
        if start:
            pairs.append(_border_pairs(segments[start - 1], block[0],
                                       connectivity))
        n_labels += found
    # (bookkeeping in the map's int32: ~10 million block labels at
    # 16384 x 16384 and 1.5 sigma)
    root = _merge_roots(n_labels, np.concatenate(pairs) if pairs else
                        np.zeros((0, 2), dtype=np.int64), segments.dtype)
    # Pixels of every segment, on its root (its first pixel's label):
    # only the labels joined to another root move their count.
    total = np.concatenate(sizes)
    del sizes
    is_root = root == np.arange(n_labels + 1, dtype=root.dtype)
    moved = np.flatnonzero(~is_root)
    np.add.at(total, root[moved], total[moved])
    kept = np.flatnonzero(is_root & (total >= n_pixels))
    del is_root, moved
    kept = kept[kept > 0]
    if kept.size == 0:
        warnings.warn('No sources were found.', NoDetectionsWarning)
        return None
    # photutils' numbers: the roots in order (the raster order of their
    # first pixels), every block label through its root.
    number = np.zeros(n_labels + 1, dtype=segments.dtype)
    number[kept] = np.arange(1, kept.size + 1)
    number = number[root]
    del root, total
    for rows in scan_rows(segments):
        segments[rows] = number[segments[rows]]
    # Its labels are 1..kept.size: given, not found again by photutils'
    # np.unique over the whole map (a sorted copy of every segment pixel).
    segm = SegmentationImage(np.zeros((1, 1), dtype=segments.dtype))
    segm._data = segments
    segm._reset_lazyproperties()
    segm.__dict__['labels'] = np.arange(1, kept.size + 1,
                                        dtype=segments.dtype)
    return segm


def _run_batch(deblender, window, footprint, noise_sigma, tile_size,
               layout, origin, shape, full_batch):
    """One task: the SparsePCR parts of one batch of tiles (``layout`` in
    the window's coordinates)."""
    deblender.model = _network(deblender._source, deblender._precision)
    predict, _ = deblender._tiling(window, None)
    return list(deblender._sparse_parts(
        predict, np.asarray(window), noise_sigma, np.asarray(footprint),
        tile_size, layout=layout, origin=origin, shape=shape,
        full_batches=full_batch))


class DaskDeblender(PAISDeblender):
    """
    A `PAISDeblender` whose network tiles run as Dask tasks.

    Parameters
    ----------
    n_pixels : int
        As for `PAISDeblender`.
    model : None, str or path-like, optional
        The shipped model (None) or the path of a ``.keras`` model with
        its sidecar: every worker loads it itself (a loaded
        `~astropais.model.PCRNetwork` cannot be sent to workers).
    client : `distributed.Client` or None, optional
        The cluster to run on; None uses Dask's default scheduler (the
        local threads, or the ``distributed`` client that is current).
    chunks : int or tuple, optional
        The chunks of the detection (`detect_footprints`).
    **kwargs
        Every other `PAISDeblender` option (``batch_size`` is the number
        of tiles a task runs).

    Raises
    ------
    TypeError
        If ``model`` is a loaded network.

    Examples
    --------
    >>> from astropais.segmentation.mosaic import DaskDeblender
    >>> deblender = DaskDeblender(5, progress_bar=False)  # doctest: +SKIP
    >>> segm = deblender(image, 3.0)                       # doctest: +SKIP
    """

    def __init__(self, n_pixels, *, model=None, client=None, chunks=2048,
                 **kwargs):
        if model is not None and not isinstance(model, (str, os.PathLike)):
            raise TypeError('DaskDeblender needs the model as None (the '
                            'shipped model) or a path, which every worker '
                            f'loads; got {type(model).__name__}')
        super().__init__(n_pixels, model=model, **kwargs)
        self._source = None if model is None else os.fspath(model)
        self._precision = self.model.precision
        self.client = client
        self.chunks = chunks

    # The detection map (4 bytes a pixel) is made again after the network
    # pass rather than held through it above PAISDeblender's size
    # (_DETECT_AGAIN_PIXELS, 2**25 pixels: every image the CLI sends
    # here); below it, made again three times, it was some 0.2 s a time of
    # the client's serial part at 4096 x 4096 (docs/scaling.rst).

    def _detect(self, data, threshold, mask):
        """The detection segmentation chunk by chunk (`detect_footprints`:
        photutils' segments and numbers)."""
        return detect_footprints(data, threshold, self.n_pixels,
                                 connectivity=self.connectivity, mask=mask,
                                 chunks=self.chunks,
                                 scheduler=self.client)

    def __getstate__(self):
        # Sent to workers without the network (each loads its own) or the
        # client.
        state = dict(self.__dict__)
        for key in ('model', '_probe_model', 'client'):
            state.pop(key, None)
        return state

    def predict_sparse_pcr(self, data, noise_sigma, footprint):
        """
        `PAISDeblender.predict_sparse_pcr` with one Dask task per batch of
        tiles (the same tiles and batches, so the same result).

        Parameters
        ----------
        data : `~numpy.ndarray` or `dask.array.Array`
            The 2-D background-subtracted image (no NaN; masked pixels 0).
        noise_sigma : float
            The background noise for the normalisation.
        footprint : `~numpy.ndarray` of bool
            The pixels to attribute.

        Returns
        -------
        pcr : `~astropais.pcr.SparsePCR`
        """
        import dask
        from astropais.pcr import SparsePCR

        _, tile_size = self._tiling(data, footprint)
        multiple = self.model.size_multiple
        margin = self._needed_margin
        shape = tuple(data.shape)
        layout = tile_layout(shape, tile_size, self.overlap, multiple)
        layout = needed_tiles(layout, footprint, margin)
        full = len(layout) > self.batch_size
        tasks = []
        run = dask.delayed(_run_batch, pure=False)
        # A loop over batches of tiles: one task each.
        for first in range(0, len(layout), self.batch_size):
            batch = layout[first:first + self.batch_size]
            # The window holds the batch's tiles and the reach of the
            # centre search around their kept parts (or the image edge).
            lo = [max(min(t[0][axis].start for t in batch) - margin, 0)
                  for axis in range(2)]
            hi = [min(max(t[0][axis].stop for t in batch) + margin, n)
                  for axis, n in enumerate(shape)]
            box = tuple(slice(a, b) for a, b in zip(lo, hi))

            def shift(tile):
                # The tile and its kept part move into the window; the
                # kept part in tile coordinates stays.
                moved = tuple(tuple(slice(part.start - lo[axis],
                                          part.stop - lo[axis])
                                    for axis, part in enumerate(group))
                              for group in tile[:2])
                return moved + (tile[2],)

            tasks.append(run(self, data[box], footprint[box], noise_sigma,
                             tile_size, [shift(t) for t in batch],
                             tuple(lo), shape, full))
        if self.client is not None:
            parts = self.client.compute(tasks, sync=True)
        else:
            parts = dask.compute(*tasks)
        return SparsePCR.merge([part for group in parts for part in group],
                               shape=shape, peak_floor=self.peak_threshold)

