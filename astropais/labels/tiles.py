"""
Crops of a large image, fitted with a margin of context around each, and
the assembly of per-tile fits into one full-image result.
"""

from dataclasses import dataclass

import numpy as np

from ..pcr.sparse import SourceImages
from .fit import SceneFit, _empty_report, fit_scene

__all__ = ['Window', 'crop_windows', 'fit_tiled', 'clear_jax_caches']


@dataclass(frozen=True)
class Window:
    """
    A crop of the image and the larger tile fitted around it.

    Attributes
    ----------
    crop : tuple of slice
        The ``(y, x)`` crop (the part whose labels are kept).
    tile : tuple of slice
        The crop grown by the margin, clipped to the image (the part that
        is fitted).
    """

    crop: tuple
    tile: tuple

    @property
    def crop_origin(self):
        """The ``(y0, x0)`` of the crop in the image."""
        return np.array([self.crop[0].start, self.crop[1].start])

    @property
    def tile_origin(self):
        """The ``(y0, x0)`` of the tile in the image."""
        return np.array([self.tile[0].start, self.tile[1].start])

    def in_crop(self, yx, grow=0.0):
        """
        Whether positions lie in the crop (grown by ``grow`` pixels).

        Parameters
        ----------
        yx : array_like, shape (N, 2)
            ``(y, x)`` image positions.
        grow : float, optional
            Pixels to add on every side.

        Returns
        -------
        inside : `~numpy.ndarray` of bool, shape (N,)
            A position belongs to the crop when its nearest pixel does.
        """
        return _inside(yx, self.crop, grow)

    def in_tile(self, yx):
        """
        Whether positions lie in the tile.

        Parameters
        ----------
        yx : array_like, shape (N, 2)
            ``(y, x)`` image positions.

        Returns
        -------
        inside : `~numpy.ndarray` of bool, shape (N,)
        """
        return _inside(yx, self.tile, 0.0)


def _inside(yx, box, grow):
    yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
    lo = np.array([box[0].start, box[1].start]) - 0.5 - grow
    hi = np.array([box[0].stop, box[1].stop]) - 0.5 + grow
    return np.all((yx >= lo) & (yx < hi), axis=1)


def _starts(length, size, stride):
    if size >= length:
        return [0]
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


def crop_windows(shape, crop_shape, margin, stride=None):
    """
    Crops covering an image, each with its fitting tile.

    Crops have the same shape everywhere (the last row and column are
    aligned with the image edge, overlapping their neighbours); with the
    default stride they tile the image.

    Parameters
    ----------
    shape : tuple of int
        The ``(H, W)`` image shape.
    crop_shape : tuple of int
        The ``(h, w)`` crop shape (at most the image shape).
    margin : int
        Context pixels fitted on every side of a crop (>= 0).
    stride : tuple of int, optional
        Steps between crops (default ``crop_shape``).

    Returns
    -------
    windows : list of `Window`
        In row-major order.

    Raises
    ------
    ValueError
        If the crop is larger than the image or the sizes are invalid.
    """
    shape = tuple(int(s) for s in shape)
    crop_shape = tuple(int(s) for s in np.broadcast_to(crop_shape, (2,)))
    stride = crop_shape if stride is None else tuple(
        int(s) for s in np.broadcast_to(stride, (2,)))
    if min(crop_shape) < 1 or min(stride) < 1:
        raise ValueError(f'crop_shape and stride must be positive, got '
                         f'{crop_shape} and {stride}')
    if crop_shape[0] > shape[0] or crop_shape[1] > shape[1]:
        raise ValueError(f'crop_shape {crop_shape} is larger than the image '
                         f'{shape}')
    if int(margin) < 0:
        raise ValueError(f'margin must be >= 0, got {margin}')
    margin = int(margin)
    windows = []
    for y0 in _starts(shape[0], crop_shape[0], stride[0]):
        for x0 in _starts(shape[1], crop_shape[1], stride[1]):
            crop = (slice(y0, y0 + crop_shape[0]),
                    slice(x0, x0 + crop_shape[1]))
            tile = (slice(max(y0 - margin, 0),
                          min(y0 + crop_shape[0] + margin, shape[0])),
                    slice(max(x0 - margin, 0),
                          min(x0 + crop_shape[1] + margin, shape[1])))
            windows.append(Window(crop, tile))
    return windows


def clear_jax_caches():
    """
    Free JAX's compilation caches.

    Every scarlet2 fit compiles its own optimiser step and leaks memory
    maps (about a thousand per fit); long loops must call this every few
    fits or the process dies at the system's memory-map limit.
    """
    import sys
    if 'jax' in sys.modules:
        sys.modules['jax'].clear_caches()


def fit_tiled(inputs, *, tile_shape=(128, 128), margin=16, progress_bar=False,
              clear_every=10, **fit_kwargs):
    """
    Fit a large image tile by tile and assemble one full-image result.

    Each tile's interior (a cell of a grid of ``tile_shape``) is fitted
    together with a ``margin`` of context; a source is kept from the tile
    whose interior holds its position, so every source comes from exactly
    one fit.  Its cut-out may extend into the margin, not beyond.

    Parameters
    ----------
    inputs : `~astropais.labels.LabelInputs`
        The validated image, weights, PSF and positions.
    tile_shape : tuple of int, optional
        Interior size of a tile (clipped to the image).
    margin : int, optional
        Context pixels fitted around each interior.
    progress_bar : bool, optional
        Show a tqdm progress bar over tiles.
    clear_every : int, optional
        Clear JAX's caches after this many fits.
    **fit_kwargs
        Passed to `~astropais.labels.fit_scene` (e.g. ``morphology``,
        ``max_iter``).

    Returns
    -------
    fit : `~astropais.labels.SceneFit`
        Models of the kept sources on the full image grid; ``index``
        refers to the rows of ``inputs.positions``; ``dropped`` lists
        every source dropped in the tile that owns it; ``losses`` holds the
        final loss of each tile.
    """
    from tqdm.auto import tqdm

    tile_shape = tuple(min(int(t), s) for t, s in
                       zip(np.broadcast_to(tile_shape, (2,)), inputs.shape))
    windows = crop_windows(inputs.shape, tile_shape, margin)
    positions = inputs.positions
    owner = np.full(len(positions), -1)
    # A loop over tiles (few): assign each source to the first interior
    # that holds it (crops overlap only at the image's last row/column).
    for k, window in enumerate(windows):
        free = owner < 0
        owner[free & window.in_crop(positions)] = k
    cutouts, origins, centres, index, losses = [], [], [], [], []
    kinds = []
    dropped = _empty_report()
    morphology = fit_kwargs.get('morphology', 'sersic')
    n_fits = 0
    # A loop over tiles: each is one scarlet2 fit.
    for k, window in enumerate(tqdm(windows, disable=not progress_bar,
                                    desc='scarlet2 tiles')):
        mine = np.flatnonzero(owner == k)
        if mine.size == 0:
            continue
        context = np.flatnonzero(window.in_tile(positions))
        tile_inputs = inputs.crop(window.tile, positions[context])
        fit = fit_scene(tile_inputs, candidates=None, **fit_kwargs)
        n_fits += 1
        if clear_every and n_fits % int(clear_every) == 0:
            clear_jax_caches()
        if fit.losses.size:
            losses.append(fit.losses[-1])
        global_index = context[fit.index]
        keep = np.isin(global_index, mine)
        shift = window.tile_origin
        for j in np.flatnonzero(keep):
            cutouts.append(fit.sources.cutouts[j])
            origins.append(fit.sources.origins[j] + shift)
            centres.append(fit.centres[j] + shift)
            index.append(global_index[j])
            kinds.append(fit.initialisation[j])
        for row in fit.dropped:
            i = context[row['index']]
            if i in mine:
                dropped.add_row((i, positions[i, 1], positions[i, 0],
                                 row['reason']))
    order = np.argsort(index, kind='stable')
    sources = SourceImages(inputs.shape, [cutouts[i] for i in order],
                           np.reshape(origins, (-1, 2))[order])
    dropped.sort('index')
    return SceneFit(sources, np.asarray(index, dtype=np.int64)[order],
                    np.reshape(centres, (-1, 2))[order], dropped,
                    np.asarray(losses), np.nan, morphology,
                    np.array(kinds, dtype='U8').reshape(-1)[order])
