"""
Deblending on Dask: the network's tiles run as Dask tasks, on Dask's
local scheduler or on any ``dask.distributed`` cluster.

`detect_footprints` is photutils' detection chunk by chunk: exact
segments across chunk borders (``dask_image.ndmeasure.label``), numbered
as photutils numbers them.

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
map is gathered, a row of chunks at a time, into one int32 map);
decoding per footprint on the workers, a streamed catalog and a chunked
segmentation are the next steps.

Workers load the network themselves (the shipped model, or a ``.keras``
file with its sidecar, checksum verified), once per worker process.
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
        from astropais.model import load_model
        _NETWORKS[key] = load_model(source).cast(precision)
    return _NETWORKS[key]


def _label_runs(labels, rows, width):
    """The labels of one block of rows of a label map, each with the
    flat index of its first (raster-order) pixel and its pixel count
    (``O(labels in the block)``)."""
    flat = np.flatnonzero(labels[rows])
    found, at, counts = np.unique(labels[rows].ravel()[flat],
                                  return_index=True, return_counts=True)
    return found, flat[at] + rows.start * width, counts


def detect_footprints(data, threshold, n_pixels, *, connectivity=8,
                      mask=None, chunks=2048, scheduler=None):
    """
    photutils' `~photutils.segmentation.detect_sources`, chunk by chunk
    with Dask.

    The segments are exact across chunk borders
    (`dask_image.ndmeasure.label`) and numbered as photutils numbers
    them (by the raster order of their first pixel, after dropping those
    smaller than ``n_pixels``), so the result equals photutils' (tested).

    Parameters
    ----------
    data : array_like or `dask.array.Array`
        The 2-D image (NaN never exceeds the threshold).
    threshold : float or array_like
        The per-pixel threshold.
    n_pixels : int
        The minimum number of connected pixels of a segment.
    connectivity : {8, 4}, optional
        The pixel connectivity.
    mask : array_like of bool, optional
        `True` for pixels that never belong to a segment.
    chunks : int or tuple, optional
        The Dask chunks for a NumPy input.
    scheduler : optional
        A Dask scheduler or ``distributed`` client (default: Dask's).

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
    import dask.array as da
    from dask_image import ndmeasure
    from photutils.segmentation import SegmentationImage
    from photutils.utils.exceptions import NoDetectionsWarning

    if connectivity not in (4, 8):
        raise ValueError(f'connectivity must be 4 or 8, got '
                         f'{connectivity!r}')
    data = data if isinstance(data, da.Array) else da.from_array(
        np.asarray(data), chunks=chunks)
    if np.ndim(threshold):
        threshold = da.from_array(np.asarray(threshold), chunks=data.chunks)
    above = data > threshold
    if mask is not None:
        above &= ~da.from_array(np.asarray(mask, dtype=bool),
                                chunks=data.chunks)
    structure = (np.ones((3, 3), dtype=int) if connectivity == 8 else
                 np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]))
    labels, n_labels = ndmeasure.label(above, structure)
    labels = (scheduler.persist(labels) if hasattr(scheduler, 'persist')
              else labels.persist(scheduler=scheduler))
    # The global labels gathered a row of chunks at a time into one int32
    # map (no list of chunks concatenated: one whole-image map at a time
    # beside the persisted chunks, which are then let go), and numbered
    # in place as photutils numbers them.
    segments = _gather(labels, scheduler)
    del labels
    found, first, counts = (np.concatenate(parts) for parts in zip(*(
        _label_runs(segments, rows, segments.shape[1])
        for rows in scan_rows(segments))))
    n_labels = int(found.max()) if found.size else 0
    # Pixels and first pixel of every segment, summed over the blocks.
    total = np.zeros(n_labels + 1, dtype=np.int64)
    np.add.at(total, found, counts)
    start = np.full(n_labels + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(start, found, first)
    kept = np.flatnonzero(total[1:] >= n_pixels) + 1
    if kept.size == 0:
        warnings.warn('No sources were found.', NoDetectionsWarning)
        return None
    # photutils' numbers: by the first pixel of each kept segment.
    kept = kept[np.argsort(start[kept], kind='stable')]
    relabel = np.zeros(n_labels + 1, dtype=segments.dtype)
    relabel[kept] = np.arange(1, kept.size + 1)
    for rows in scan_rows(segments):
        segments[rows] = relabel[segments[rows]]
    return SegmentationImage(segments)


def _gather(array, scheduler):
    """A 2-D Dask label array as one NumPy array (int32, as photutils'
    maps, unless the image has 2**31 pixels or more), filled a row of
    chunks at a time."""
    import dask

    out = np.empty(array.shape, dtype=np.int32 if array.size < 2 ** 31
                   else np.int64)
    blocks = array.to_delayed()
    edges = [np.cumsum((0,) + chunks) for chunks in array.chunks]
    # A loop over rows of chunks (few): each is computed and copied in.
    for i, row in enumerate(blocks):
        parts = dask.compute(*row, scheduler=scheduler)
        for j, part in enumerate(parts):
            out[edges[0][i]:edges[0][i + 1],
                edges[1][j]:edges[1][j + 1]] = part
    return out


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

