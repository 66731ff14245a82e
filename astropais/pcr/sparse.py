"""
Sparse containers shared by the PCR encoder, the decoder and everything
that produces or consumes per-source images.

Two structures never hold a dense ``N_sources x h x w`` cube:

* `SourceImages` -- one cut-out and its origin per source (simulation truth,
  scarlet2 models): memory is the sum of the cut-out sizes.
* `PixelAttribution` -- for every footprint pixel, at most ``n``
  ``(label, weight)`` pairs (the decoder's output): memory is
  ``O(footprint pixels x n)``.
* `SparsePCR` -- a network's PCR kept only where the decoder reads it
  (vectors and fractions on the footprint, the heatmap where it can
  hold a centre): memory is ``O(footprint pixels x n)``, not
  ``O(h x w x n)``.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy.utils.exceptions import AstropyUserWarning

__all__ = ['SourceImages', 'PixelAttribution', 'SparsePCR']


@dataclass
class SourceImages:
    """
    Per-source images in sparse form: a cut-out and its origin per source.

    Parameters
    ----------
    shape : tuple of int
        The ``(ny, nx)`` shape of the full image.
    cutouts : list of `~numpy.ndarray`
        One array per source, of shape ``(h_i, w_i)`` (one band) or
        ``(b, h_i, w_i)`` (``b`` bands, the same for every source).
    origins : array_like of int, shape (N, 2)
        The ``(y0, x0)`` full-image pixel of each cut-out's ``[0, 0]``
        element.  Cut-outs may extend past the image edges; the part
        outside is ignored wherever the images are placed.
    """

    shape: tuple
    cutouts: list
    origins: np.ndarray = field(default=None)

    def __post_init__(self):
        self.shape = tuple(int(s) for s in self.shape)
        if len(self.shape) != 2 or min(self.shape) < 1:
            raise ValueError(f'shape must be two positive integers, got '
                             f'{self.shape}')
        self.cutouts = [np.asarray(c) for c in self.cutouts]
        origins = np.zeros((0, 2)) if self.origins is None else self.origins
        self.origins = np.asarray(origins, dtype=np.int64).reshape(-1, 2)
        if len(self.cutouts) != len(self.origins):
            raise ValueError(f'got {len(self.cutouts)} cut-outs but '
                             f'{len(self.origins)} origins')
        ndims = {c.ndim for c in self.cutouts}
        if ndims - {2, 3}:
            raise ValueError('each cut-out must be 2-D (h, w) or 3-D '
                             '(bands, h, w)')
        if len(ndims) > 1:
            raise ValueError('cut-outs mix single-band and multi-band arrays')
        if ndims == {3} and len({c.shape[0] for c in self.cutouts}) > 1:
            raise ValueError('cut-outs have different numbers of bands')
        for i, c in enumerate(self.cutouts):
            if not np.issubdtype(c.dtype, np.number):
                raise ValueError(f'cut-out {i} is not numeric '
                                 f'(dtype {c.dtype})')
            if not np.all(np.isfinite(c)):
                raise ValueError(f'cut-out {i} has NaN or inf values')

    def __len__(self):
        return len(self.cutouts)

    @property
    def n_bands(self):
        """The number of bands (1 for 2-D cut-outs)."""
        if self.cutouts and self.cutouts[0].ndim == 3:
            return self.cutouts[0].shape[0]
        return 1

    def slices(self, index):
        """
        The overlap of one cut-out with the full image.

        Parameters
        ----------
        index : int
            The source index (0-based).

        Returns
        -------
        image_slices, cutout_slices : tuple of slice
            ``image[image_slices]`` and ``cutout[..., *cutout_slices]``
            are the overlapping parts (empty slices when they do not
            overlap).
        """
        cutout = self.cutouts[index]
        size = cutout.shape[-2:]
        image_sl, cutout_sl = [], []
        for origin, length, full in zip(self.origins[index], size, self.shape):
            origin = int(origin)
            lo, hi = max(origin, 0), min(origin + length, full)
            hi = max(hi, lo)
            image_sl.append(slice(lo, hi))
            cutout_sl.append(slice(lo - origin, hi - origin))
        return tuple(image_sl), tuple(cutout_sl)

    def total(self):
        """
        The sum of all source images on the full image grid.

        Returns
        -------
        image : `~numpy.ndarray`
            Shape ``shape`` (one band) or ``(b, *shape)``.
        """
        multiband = bool(self.cutouts) and self.cutouts[0].ndim == 3
        out_shape = (self.n_bands, *self.shape) if multiband else self.shape
        total = np.zeros(out_shape, dtype=np.float64)
        # A loop over sources: each adds its own cut-out in place.
        for i, cutout in enumerate(self.cutouts):
            image_sl, cutout_sl = self.slices(i)
            total[(Ellipsis, *image_sl)] += cutout[(Ellipsis, *cutout_sl)]
        return total

    def fluxes(self):
        """
        The flux of each source inside the image, per band.

        Returns
        -------
        fluxes : `~numpy.ndarray`
            Shape ``(N,)`` for one band, ``(N, b)`` for several.
        """
        values = []
        for i, cutout in enumerate(self.cutouts):
            _, cutout_sl = self.slices(i)
            values.append(cutout[(Ellipsis, *cutout_sl)].sum(axis=(-2, -1)))
        if not values:
            return np.zeros((0,) if self.n_bands == 1 else (0, self.n_bands))
        return np.asarray(values, dtype=np.float64)


@dataclass
class PixelAttribution:
    """
    Per-pixel partial attribution: at most ``n`` ``(label, weight)`` pairs
    for every footprint pixel.

    Parameters
    ----------
    shape : tuple of int
        The ``(ny, nx)`` image shape.
    pixels : `~numpy.ndarray` of int, shape (P,)
        Flat (C-order) indices of the footprint pixels, strictly increasing.
    labels : `~numpy.ndarray` of int, shape (P, n)
        Source labels (1 to N) attributed to each pixel; 0 marks an unused
        slot.
    weights : `~numpy.ndarray` of float, shape (P, n)
        Fraction of each pixel's flux given to each label; 0 in unused
        slots; every row sums to 1.
    centres : `~numpy.ndarray` of float, shape (N, 2)
        The ``(y, x)`` centre of source ``label`` at row ``label - 1``.
    """

    shape: tuple
    pixels: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    centres: np.ndarray

    def __post_init__(self):
        self.shape = tuple(int(s) for s in self.shape)
        self.pixels = np.asarray(self.pixels, dtype=np.int64).ravel()
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.centres = np.asarray(self.centres, dtype=np.float64).reshape(-1, 2)
        n_pix = self.pixels.size
        if self.labels.ndim != 2 or self.labels.shape[0] != n_pix:
            raise ValueError('labels must have shape (P, n) with P the number '
                             'of pixels')
        if self.weights.shape != self.labels.shape:
            raise ValueError('weights and labels must have the same shape')
        if n_pix and (np.any(np.diff(self.pixels) <= 0) or self.pixels[0] < 0
                      or self.pixels[-1] >= np.prod(self.shape)):
            raise ValueError('pixels must be strictly increasing flat indices '
                             'inside the image')
        if np.any(self.labels < 0) or np.any(self.labels > len(self.centres)):
            raise ValueError('labels must lie in 0..N (N = number of centres)')
        if not np.all(np.isfinite(self.weights)):
            raise ValueError('weights have NaN or inf values')

    @property
    def n_sources(self):
        """The number of sources."""
        return len(self.centres)

    @property
    def n_slots(self):
        """The maximum number of sources per pixel (``n``)."""
        return self.labels.shape[1]

    @property
    def is_disjoint(self):
        """
        Whether every pixel belongs wholly to one label (weights 0 or 1,
        at most one positive weight a pixel), as in a disjoint label map.
        """
        positive = (self.weights > 0) & (self.labels > 0)
        return bool(np.all(self.weights[positive] == 1)
                    and np.all(positive.sum(axis=1) <= 1))

    @property
    def footprint(self):
        """The boolean footprint (source-pixel) mask."""
        mask = np.zeros(self.shape, dtype=bool)
        mask.flat[self.pixels] = True
        return mask

    @classmethod
    def from_label_map(cls, label_map, centres=None):
        """
        A disjoint segmentation as an attribution (weight 1 a pixel).

        Parameters
        ----------
        label_map : `~numpy.ndarray` of int, shape (ny, nx)
            0 for background, ``1..N`` for sources.
        centres : array_like, shape (N, 2), optional
            The ``(y, x)`` centre of label ``i`` at row ``i - 1``.  By
            default the mean position of each label's pixels (NaN for a
            label that has no pixel).

        Returns
        -------
        attribution : `PixelAttribution`
            One slot per pixel; ``attribution.label_map()`` equals
            ``label_map``.

        Raises
        ------
        TypeError
            If ``label_map`` does not hold integers.
        ValueError
            If it is not 2-D, has negative labels, or ``centres`` has
            the wrong length.

        Examples
        --------
        >>> import numpy as np
        >>> from astropais.pcr import PixelAttribution
        >>> att = PixelAttribution.from_label_map(np.array([[1, 1, 0, 2]]))
        >>> att.centres.tolist()
        [[0.0, 0.5], [0.0, 3.0]]
        """
        label_map = np.asarray(label_map)
        if not np.issubdtype(label_map.dtype, np.integer):
            raise TypeError(f'label_map must hold integers, got '
                            f'{label_map.dtype}')
        if label_map.ndim != 2:
            raise ValueError(f'label_map must be 2-D, got '
                             f'{label_map.ndim}-D')
        if label_map.size and label_map.min() < 0:
            raise ValueError('label_map has negative labels')
        pixels = np.flatnonzero(label_map)
        labels = label_map.ravel()[pixels].astype(np.int64)
        n_labels = int(label_map.max()) if label_map.size else 0
        if centres is None:
            centres = _mean_positions(pixels, labels, label_map.shape,
                                      n_labels)
        centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
        if len(centres) != n_labels:
            raise ValueError(f'got {len(centres)} centres for labels up to '
                             f'{n_labels}')
        return cls(label_map.shape, pixels, labels[:, None],
                   np.ones((pixels.size, 1)), centres)

    def label_map(self):
        """
        The disjoint (one label a pixel) map of the attribution.

        Each pixel goes to the label with the largest weight there (ties
        to the first slot).  A source that has the largest weight nowhere
        (a faint source inside a bright one) still gets the one pixel
        where its own weight is largest, so that every attributed source
        appears in the label map.

        Returns
        -------
        labels : `~numpy.ndarray` of int, shape ``shape``
            0 for background; ``int32`` unless the labels need ``int64``.

        Warns
        -----
        AstropyUserWarning
            If some sources cannot get a pixel of their own (more
            sources than pixels).

        Examples
        --------
        >>> from astropais.pcr import PixelAttribution
        >>> att = PixelAttribution((1, 3), [0, 1, 2], [[1, 2]] * 3,
        ...                        [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]],
        ...                        [[0, 0], [0, 2]])
        >>> att.label_map().tolist()
        [[1, 1, 2]]
        """
        dtype = np.int32 if self.n_sources < 2**31 - 1 else np.int64
        segm = np.zeros(self.shape, dtype=dtype)
        if self.pixels.size == 0:
            return segm
        # Each pixel's winner and the labels with some weight, a chunk of
        # rows at a time (temporaries of one chunk, not of every pair).
        winner = np.empty(self.pixels.size, dtype=np.int64)
        supported = np.zeros(self.n_sources + 1, dtype=bool)
        for rows in _row_chunks(self.pixels.size):
            labels, weights = self.labels[rows], self.weights[rows]
            masked = np.where(labels > 0, weights, -np.inf)
            best = np.argmax(masked, axis=1)[:, None]
            won = np.take_along_axis(labels, best, axis=1)[:, 0]
            won[~(np.take_along_axis(masked, best, axis=1)[:, 0] > 0)] = 0
            winner[rows] = won
            supported[labels[weights > 0]] = True
            del masked, best, won
        segm.flat[self.pixels] = winner

        area = np.bincount(winner, minlength=self.n_sources + 1)
        missing = np.flatnonzero(supported & (area == 0))
        if missing.size == 0:
            return segm
        # Pixels a missing source may take: not already taken by another
        # missing source, and not the last pixel of the source that won it.
        # Only the pairs of missing sources are read (a chunk of rows at a
        # time), in row order.
        pairs = [np.nonzero(np.isin(self.labels[rows], missing)
                            & (self.weights[rows] > 0)) + (rows.start,)
                 for rows in _row_chunks(self.pixels.size)]
        pair_rows = np.concatenate([r + start for r, _, start in pairs])
        pair_slots = np.concatenate([c for _, c, _ in pairs])
        del pairs
        pair_labels = self.labels[pair_rows, pair_slots]
        pair_weights = self.weights[pair_rows, pair_slots]
        taken = np.zeros(self.pixels.size, dtype=bool)
        unplaced = []
        # A loop over the (rare) sources that win no pixel: each takes the
        # free pixel where its own weight is largest (the first such).
        for label in missing:
            rows = pair_rows[pair_labels == label]
            free = ~taken[rows] & ((winner[rows] == 0)
                                   | (area[winner[rows]] > 1))
            own = np.where(free, pair_weights[pair_labels == label], 0.0)
            if not np.any(own > 0):
                unplaced.append(int(label))
                continue
            row = int(rows[np.argmax(own)])
            taken[row] = True
            area[winner[row]] -= 1
            area[label] += 1
            winner[row] = label
            segm.flat[self.pixels[row]] = label
        if unplaced:
            warnings.warn(f'{len(unplaced)} source(s) {unplaced} have '
                          'fractions but no pixel of their own in the '
                          'disjoint label map (more sources than pixels); '
                          'photutils tools and the catalog will not list '
                          'them', AstropyUserWarning)
        return segm

    def relabel(self, relabel_map, keep_centre=None):
        """
        The attribution after a label mapping (old label -> new label).

        Labels that map to the same new label add their weights; label
        0 removes a source (its weights are dropped, the others are not
        renormalised) and a pixel left with no label leaves the
        footprint.

        Parameters
        ----------
        relabel_map : `~numpy.ndarray` of int
            ``relabel_map[old] = new`` for every old label ``0..N``
            (``relabel_map[0]`` must be 0).
        keep_centre : int, optional
            An old label whose centre the new label keeps (the label that
            absorbed others); by default a merged label's centre is the
            mean of the old centres.

        Returns
        -------
        attribution : `PixelAttribution`
            Each pixel's pairs ordered by decreasing weight.

        Examples
        --------
        >>> import numpy as np
        >>> from astropais.pcr import PixelAttribution
        >>> att = PixelAttribution((1, 2), [0, 1], [[1, 2], [2, 1]],
        ...                        [[0.7, 0.3], [0.6, 0.4]],
        ...                        [[0, 0], [0, 1]])
        >>> merged = att.relabel(np.array([0, 1, 1]))
        >>> merged.weights[:, 0].tolist()
        [1.0, 1.0]
        """
        relabel_map = np.asarray(relabel_map, dtype=np.int64)
        n_pix, n_slots = self.labels.shape
        n_new = int(relabel_map.max()) if relabel_map.size else 0
        # A chunk of rows at a time (every pair's sort and temporaries were
        # the peak of the 8192 x 8192 in-memory call, docs/scaling.rst):
        # the rows that keep a pair first, then their packed pairs.
        kept = np.zeros(n_pix, dtype=bool)
        for rows in _row_chunks(n_pix):
            kept[rows] = np.any((relabel_map[self.labels[rows]] > 0)
                                & (self.weights[rows] > 0), axis=1)
        kept_rows = np.flatnonzero(kept)
        del kept
        labels = np.zeros((kept_rows.size, n_slots), dtype=np.int64)
        weights = np.zeros((kept_rows.size, n_slots), dtype=np.float64)
        done = 0
        for rows in _row_chunks(n_pix):
            _, part_labels, part_weights = _relabel_rows(
                self.labels[rows], self.weights[rows], relabel_map, n_new)
            filled = slice(done, done + len(part_labels))
            labels[filled], weights[filled] = part_labels, part_weights
            done = filled.stop

        # Centres: the mean centre of the old labels merged into a new one,
        # or the centre of ``keep_centre`` (the label that absorbed others).
        old = np.arange(1, self.n_sources + 1)
        target = relabel_map[old] if old.size else old
        valid = (target > 0) & np.all(np.isfinite(self.centres), axis=1)
        centres = np.full((n_new, 2), np.nan)
        if np.any(valid):
            count = np.bincount(target[valid], minlength=n_new + 1)[1:]
            for axis in range(2):
                total = np.bincount(target[valid],
                                    weights=self.centres[valid, axis],
                                    minlength=n_new + 1)[1:]
                with np.errstate(invalid='ignore', divide='ignore'):
                    centres[:, axis] = np.where(count > 0, total / count,
                                                np.nan)
        if (keep_centre is not None and 1 <= keep_centre <= old.size
                and relabel_map[keep_centre] > 0):
            centres[relabel_map[keep_centre] - 1] = \
                self.centres[keep_centre - 1]
        return PixelAttribution(self.shape, self.pixels[kept_rows], labels,
                                weights, centres)

    def follow_label_map(self, old_map, new_map):
        """
        The attribution after a disjoint edit of its label map.

        ``old_map`` is the label map this attribution had (its
        `label_map`), ``new_map`` the edited one.  Every pixel whose label
        changed gets weight 1 for its new label (0: it leaves the
        footprint); a label that no longer appears anywhere in the map is
        removed (its weights are dropped everywhere); every other pixel
        keeps its fractions.  The result's `label_map` equals ``new_map``.

        Parameters
        ----------
        old_map, new_map : `~numpy.ndarray` of int, shape ``shape``
            The label maps before and after the edit.

        Returns
        -------
        attribution : `PixelAttribution`
            New labels get the mean position of their pixels as centre.

        Raises
        ------
        ValueError
            If the maps have the wrong shape or ``new_map`` has negative
            labels.

        Examples
        --------
        >>> import numpy as np
        >>> from astropais.pcr import PixelAttribution
        >>> att = PixelAttribution((1, 3), [0, 1, 2], [[1, 2]] * 3,
        ...                        [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]],
        ...                        [[0, 0], [0, 2]])
        >>> old = att.label_map()
        >>> new = old.copy()
        >>> new[0, 2] = 0                    # label 2 leaves the map
        >>> edited = att.follow_label_map(old, new)
        >>> edited.labels.tolist(), edited.weights.tolist()
        ([[1, 0], [1, 0]], [[0.9, 0.0], [0.8, 0.0]])
        """
        old_map, new_map = np.asarray(old_map), np.asarray(new_map)
        if old_map.shape != self.shape or new_map.shape != self.shape:
            raise ValueError(f'label maps of shape {old_map.shape} and '
                             f'{new_map.shape} for an attribution of shape '
                             f'{self.shape}')
        if new_map.size and new_map.min() < 0:
            raise ValueError('The segmentation image cannot contain '
                             'negative integers.')
        changed = np.flatnonzero(old_map != new_map)
        if changed.size == 0:
            return self
        gone = np.setdiff1d(np.unique(old_map.ravel()[changed]),
                            np.unique(new_map))
        # The numbering stays (no compaction): every other label keeps
        # its number and centre.
        kept = self.without_labels(gone)
        return kept._assign(changed, new_map.ravel()[changed])

    def sliced(self, key):
        """
        The attribution of a rectangular part of the image.

        Parameters
        ----------
        key : tuple of two slice
            The part, as for ``image[key]`` (steps allowed).

        Returns
        -------
        attribution : `PixelAttribution`
            On the part's grid; labels keep their numbers, centres are
            in the part's pixel coordinates.

        Examples
        --------
        >>> import numpy as np
        >>> from astropais.pcr import PixelAttribution
        >>> att = PixelAttribution.from_label_map(np.array([[0, 1, 1, 2]]))
        >>> part = att.sliced((slice(0, 1), slice(1, 3)))
        >>> part.label_map().tolist(), part.centres.tolist()
        ([[1, 1]], [[0.0, 0.5], [0.0, 2.0]])
        """
        grid = np.arange(int(np.prod(self.shape))).reshape(self.shape)[key]
        if grid.ndim != 2:
            raise ValueError(f'{key!r} is not a 2-D part of the image')
        to_part = np.full(int(np.prod(self.shape)), -1, dtype=np.int64)
        to_part[grid.ravel()] = np.arange(grid.size)
        part = to_part[self.pixels]
        rows = np.flatnonzero(part >= 0)
        order = np.argsort(part[rows], kind='stable')
        rows = rows[order]
        centres = self.centres.copy()
        for axis, slc in enumerate(key):
            start, _, step = slc.indices(self.shape[axis])
            centres[:, axis] = (centres[:, axis] - start) / step
        return PixelAttribution(grid.shape, part[rows], self.labels[rows],
                                self.weights[rows], centres)

    def without_labels(self, labels):
        """
        The attribution without some labels' weights.

        The other labels keep their numbers, centres and weights (not
        renormalised); a pixel left with no label leaves the footprint.

        Parameters
        ----------
        labels : array_like of int
            The labels to drop (0 and labels above `n_sources` are
            ignored).

        Returns
        -------
        attribution : `PixelAttribution`

        Examples
        --------
        >>> import numpy as np
        >>> from astropais.pcr import PixelAttribution
        >>> att = PixelAttribution.from_label_map(np.array([[1, 2, 2]]))
        >>> att.without_labels([2]).pixels.tolist()
        [0]
        """
        drop = np.zeros(self.n_sources + 1, dtype=bool)
        labels = np.asarray(labels, dtype=np.int64).ravel()
        drop[labels[(labels > 0) & (labels <= self.n_sources)]] = True
        gone = drop[self.labels] & (self.labels > 0)
        if not np.any(gone):
            return self
        labels = np.where(gone, 0, self.labels)
        weights = np.where(gone, 0.0, self.weights)
        rows, slots = np.nonzero((labels > 0) & (weights > 0))
        kept_rows, labels, weights = _pack_pairs(
            rows, labels[rows, slots], weights[rows, slots], self.n_slots)
        return PixelAttribution(self.shape, self.pixels[kept_rows], labels,
                                weights, self.centres)

    def _assign(self, pixels, labels):
        """
        Replace the attribution of the flat ``pixels`` by one label each
        with weight 1 (0: background).
        """
        pixels = np.asarray(pixels, dtype=np.int64)
        labels = np.asarray(labels, dtype=np.int64)
        keep = ~np.isin(self.pixels, pixels)
        add = labels > 0
        n_sources = max(self.n_sources, int(labels.max(initial=0)))
        centres = np.full((n_sources, 2), np.nan)
        centres[:self.n_sources] = self.centres
        fresh = np.arange(self.n_sources + 1, n_sources + 1)
        if fresh.size:
            mean = _mean_positions(pixels[add], labels[add], self.shape,
                                   n_sources)
            centres[fresh - 1] = mean[fresh - 1]
        n_slots = self.n_slots if self.n_slots else 1
        new_labels = np.zeros((int(add.sum()), n_slots), dtype=np.int64)
        new_labels[:, 0] = labels[add]
        new_weights = np.zeros(new_labels.shape)
        new_weights[:, 0] = 1.0
        all_pixels = np.concatenate([self.pixels[keep], pixels[add]])
        order = np.argsort(all_pixels, kind='stable')
        return PixelAttribution(
            self.shape, all_pixels[order],
            np.concatenate([self.labels[keep], new_labels])[order],
            np.concatenate([self.weights[keep], new_weights])[order],
            centres)

    def _checked_image(self, image):
        """The image as an array of the attribution's shape (no copy)."""
        image = np.asarray(image)
        if image.shape != self.shape:
            raise ValueError(f'image shape {image.shape} differs from the '
                             f'attribution shape {self.shape}')
        return image

    def _values_at_pixels(self, image):
        """The image at the attribution's pixels, in float64 (only those
        pixels are read and converted)."""
        return self._checked_image(image).ravel()[self.pixels].astype(
            np.float64)

    def fluxes(self, image):
        """
        Per-source fluxes ``sum_p M_i(p) I(p)``.

        Parameters
        ----------
        image : array_like, shape ``shape``
            The background-subtracted image.

        Returns
        -------
        fluxes : `~numpy.ndarray`, shape (N,)
            Flux of label ``i`` at index ``i - 1``.
        """
        contrib = self.weights * self._values_at_pixels(image)[:, None]
        return np.bincount(self.labels.ravel(), weights=contrib.ravel(),
                           minlength=self.n_sources + 1)[1:]

    def fraction_image(self, label):
        """
        The fraction map of one source, as a cut-out.

        Parameters
        ----------
        label : int
            The source label (1 to N).

        Returns
        -------
        fractions : `~numpy.ndarray`
            The source's fractions in its bounding box (0 elsewhere).
        slices : tuple of slice
            The bounding box in the full image.
        """
        if not 1 <= label <= self.n_sources:
            raise ValueError(f'label {label} is not in 1..{self.n_sources}')
        rows, slots = np.nonzero((self.labels == label) & (self.weights > 0))
        if rows.size == 0:
            return np.zeros((0, 0)), (slice(0, 0), slice(0, 0))
        yy, xx = np.unravel_index(self.pixels[rows], self.shape)
        box = (slice(int(yy.min()), int(yy.max()) + 1),
               slice(int(xx.min()), int(xx.max()) + 1))
        cutout = np.zeros((box[0].stop - box[0].start,
                           box[1].stop - box[1].start))
        np.add.at(cutout, (yy - box[0].start, xx - box[1].start),
                  self.weights[rows, slots])
        return cutout, box

    def deblended_image(self, label, image):
        """
        The deblended image ``M_i * I`` of one source, as a cut-out.

        Parameters
        ----------
        label : int
            The source label (1 to N).
        image : array_like, shape ``shape``
            The background-subtracted image.

        Returns
        -------
        cutout : `~numpy.ndarray`
            ``M_i * I`` in the source's bounding box.
        slices : tuple of slice
            The bounding box in the full image.
        """
        image = self._checked_image(image)
        fractions, box = self.fraction_image(label)
        return fractions * image[box].astype(np.float64), box

    def to_source_images(self, image=None):
        """
        Every source's fraction map, or deblended image ``M_i * I``, as
        cut-outs over the source's bounding box.

        Parameters
        ----------
        image : array_like, shape ``shape``, optional
            The background-subtracted image.  If given, the cut-outs are
            ``M_i * I``; otherwise they are the fractions ``M_i``.

        Returns
        -------
        sources : `SourceImages`
            Cut-out ``i - 1`` belongs to label ``i``; a label without
            pixels has an empty ``(0, 0)`` cut-out.  With ``image`` given,
            ``sources.total()`` equals the image on the footprint and
            ``sources.fluxes()`` equals `fluxes`.
        """
        values = self.weights
        if image is not None:
            values = values * self._values_at_pixels(image)[:, None]
        used = (self.labels > 0) & (self.weights > 0)
        label = self.labels[used]
        order = np.argsort(label, kind='stable')
        label = label[order]
        value = values[used][order]
        yy, xx = np.unravel_index(np.broadcast_to(
            self.pixels[:, None], self.labels.shape)[used][order], self.shape)
        bounds = np.searchsorted(label, np.arange(1, self.n_sources + 2))
        cutouts, origins = [], []
        # A loop over sources: each gets its own cut-out array, filled from
        # its contiguous run of the label-sorted entries.
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if lo == hi:
                cutouts.append(np.zeros((0, 0)))
                origins.append((0, 0))
                continue
            y, x = yy[lo:hi], xx[lo:hi]
            y0, x0 = y.min(), x.min()
            cutout = np.zeros((y.max() - y0 + 1, x.max() - x0 + 1))
            np.add.at(cutout, (y - y0, x - x0), value[lo:hi])
            cutouts.append(cutout)
            origins.append((y0, x0))
        return SourceImages(self.shape, cutouts, origins)


@dataclass
class SparsePCR:
    """
    A PCR kept only where the decoder reads it.

    The vectors and fractions are kept at the footprint pixels (the pixels
    to attribute); the heatmap and the nearest-source vector (for
    sub-pixel centres) only where the heatmap reaches ``peak_floor`` near
    the footprint (the only pixels that can be, or compete with, a centre
    at least that high).  `find_centres` and `decode` give what
    `~astropais.pcr.find_centres` and `~astropais.pcr.decode` give on the
    dense maps (tested), from ``O(footprint)`` memory.

    Parameters
    ----------
    shape : tuple of int
        The ``(ny, nx)`` image shape.
    pixels : `~numpy.ndarray` of int, shape (P,)
        Flat indices of the footprint pixels, strictly increasing.
    vectors : `~numpy.ndarray`, shape (P, n, 2)
        Their ``(dy, dx)`` vectors in pixels (float32 is kept).
    fractions : `~numpy.ndarray`, shape (P, n) or (P, b, n)
        Their fractions per slot (non-negative): one band, or ``b``
        bands (see `decode_bands`).
    peak_floor : float
        The lowest centre height `find_centres` may be asked for
        (positive).
    peak_pixels : `~numpy.ndarray` of int, shape (Q,)
        Flat indices of the pixels whose heatmap is kept, strictly
        increasing.
    peak_heights : `~numpy.ndarray`, shape (Q,)
        Their heatmap values, all at least ``peak_floor``.
    peak_vectors : `~numpy.ndarray`, shape (Q, 2)
        Their nearest-source vectors.

    Raises
    ------
    ValueError
        If the shapes disagree, the indices are not increasing flat
        indices inside the image, a value is NaN or inf, a fraction is
        negative, ``peak_floor`` is not positive or a kept height is below
        it.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.pcr import SourceImages, SparsePCR, encode
    >>> src = SourceImages((5, 8), [np.ones((3, 5)), np.ones((3, 5))],
    ...                    [(1, 0), (1, 3)])
    >>> pcr = encode(src, [(2, 2), (2, 5)], n=2)
    >>> sparse = SparsePCR.from_dense(pcr.heatmap, pcr.vectors,
    ...                               pcr.fractions, pcr.source_mask)
    >>> att = sparse.decode(sparse.find_centres())
    >>> att.centres.tolist()
    [[2.0, 2.0], [2.0, 5.0]]
    """

    shape: tuple
    pixels: np.ndarray
    vectors: np.ndarray
    fractions: np.ndarray
    peak_floor: float
    peak_pixels: np.ndarray
    peak_heights: np.ndarray
    peak_vectors: np.ndarray

    def __post_init__(self):
        self.shape = tuple(int(s) for s in self.shape)
        size = int(np.prod(self.shape))
        for name in ('pixels', 'peak_pixels'):
            index = np.asarray(getattr(self, name), dtype=np.int64).ravel()
            if index.size and (np.any(np.diff(index) <= 0) or index[0] < 0
                               or index[-1] >= size):
                raise ValueError(f'{name} must be strictly increasing flat '
                                 'indices inside the image')
            setattr(self, name, index)
        self.peak_floor = float(self.peak_floor)
        if not self.peak_floor > 0:
            raise ValueError(f'peak_floor must be positive, got '
                             f'{self.peak_floor}')
        self.vectors = np.asarray(self.vectors)
        self.fractions = np.asarray(self.fractions)
        self.peak_heights = np.asarray(self.peak_heights).ravel()
        self.peak_vectors = np.asarray(self.peak_vectors).reshape(-1, 2)
        n_pix = self.pixels.size
        if self.vectors.ndim != 3 or self.vectors.shape[::2] != (n_pix, 2):
            raise ValueError(f'vectors has shape {self.vectors.shape}, '
                             f'expected {(n_pix, "n", 2)}')
        if (self.fractions.ndim not in (2, 3)
                or self.fractions.shape[::self.fractions.ndim - 1]
                != self.vectors.shape[:2]):
            raise ValueError(f'fractions has shape {self.fractions.shape}, '
                             f'expected {self.vectors.shape[:2]} or '
                             f'{(n_pix, "b", self.vectors.shape[1])}')
        if not (self.peak_heights.size == len(self.peak_vectors)
                == self.peak_pixels.size):
            raise ValueError('peak_pixels, peak_heights and peak_vectors '
                             'differ in length')
        for name in ('vectors', 'fractions', 'peak_heights', 'peak_vectors'):
            value = getattr(self, name)
            if not np.issubdtype(value.dtype, np.floating):
                value = value.astype(np.float64)
                setattr(self, name, value)
            if not np.isfinite(value.sum()) and not np.all(
                    np.isfinite(value)):
                raise ValueError(f'{name} has NaN or inf values')
        if np.any(self.fractions < 0):
            raise ValueError('fractions has negative values')
        if np.any(self.peak_heights < self.peak_floor):
            raise ValueError('peak_heights holds values below peak_floor')

    @property
    def n_slots(self):
        """The number of slots ``n``."""
        return self.vectors.shape[1]

    @property
    def n_bands(self):
        """The number of bands of the fractions."""
        return 1 if self.fractions.ndim == 2 else self.fractions.shape[1]

    @property
    def nbytes(self):
        """The memory held by the arrays, in bytes."""
        return sum(getattr(self, name).nbytes for name in (
            'pixels', 'vectors', 'fractions', 'peak_pixels', 'peak_heights',
            'peak_vectors'))

    @classmethod
    def from_dense(cls, heatmap, vectors, fractions, footprint,
                   near=None, *, peak_floor=0.5, origin=(0, 0), shape=None):
        """
        Keep the parts of dense PCR maps that the decoder reads.

        Parameters
        ----------
        heatmap : array_like, shape (h, w)
            The centre heatmap.
        vectors : array_like, shape (h, w, n, 2)
            The vectors.
        fractions : array_like, shape (h, w, n) or (h, w, b, n)
            The fractions (one band is kept as ``(P, n)``, several as
            ``(P, b, n)``).
        footprint : array_like of bool, shape (h, w)
            The pixels to attribute.
        near : array_like of bool, shape (h, w), optional
            Where a centre may be searched for (e.g. the footprint grown
            by the reach of the centre search); default everywhere.
        peak_floor : float, optional
            Keep the heatmap where it is at least this high (positive).
        origin : tuple of int, optional
            Where ``[0, 0]`` of the maps lies in the image (for a tile of
            a larger image).
        shape : tuple of int, optional
            The image shape; default the maps' shape.

        Returns
        -------
        pcr : `SparsePCR`
            A part to `merge` when ``origin`` and ``shape`` place it in a
            larger image.

        Raises
        ------
        ValueError
            If the maps differ in shape.
        """
        heatmap = np.asarray(heatmap)
        local = heatmap.shape
        shape = local if shape is None else tuple(shape)
        vectors = np.asarray(vectors)
        fractions = np.asarray(fractions)
        if fractions.ndim == 4 and fractions.shape[2] == 1:
            fractions = fractions[:, :, 0]
        footprint = np.asarray(footprint, dtype=bool)
        peak = heatmap >= peak_floor
        if near is not None:
            if np.shape(near) != local:
                raise ValueError('near must have the shape of the heatmap')
            peak &= np.asarray(near, dtype=bool)
        if not (vectors.shape[:2] == fractions.shape[:2] == footprint.shape
                == local):
            raise ValueError('heatmap, vectors, fractions and footprint '
                             'must share their (h, w) shape')

        def flat(index):
            yy, xx = np.divmod(index, local[1])
            return (yy + origin[0]) * shape[1] + xx + origin[1]

        own = np.flatnonzero(footprint)
        peaks = np.flatnonzero(peak)
        n = vectors.shape[2]
        vectors = vectors.reshape(-1, n, 2)
        return cls(shape, flat(own), vectors[own],
                   fractions.reshape(-1, *fractions.shape[2:])[own],
                   peak_floor, flat(peaks),
                   heatmap.ravel()[peaks], vectors[peaks, 0])

    @classmethod
    def merge(cls, parts, shape=None, n_slots=None, peak_floor=0.5,
              n_bands=1):
        """
        One `SparsePCR` from parts of disjoint pixels (e.g. the kept parts
        of tiles).

        Parameters
        ----------
        parts : list of `SparsePCR`
            The parts, all of the same shape and ``peak_floor``.
        shape, n_slots, peak_floor, n_bands : optional
            For an empty list: the result's shape, slots, floor and bands.

        Returns
        -------
        pcr : `SparsePCR`

        Raises
        ------
        ValueError
            If the parts differ in shape or floor, or share pixels.
        """
        parts = list(parts)
        if not parts:
            n = int(n_slots or 1)
            empty = np.zeros(0, dtype=np.int64)
            bands = () if n_bands == 1 else (int(n_bands),)
            return cls(shape, empty, np.zeros((0, n, 2), np.float32),
                       np.zeros((0, *bands, n), np.float32), peak_floor,
                       empty,
                       np.zeros(0, np.float32), np.zeros((0, 2), np.float32))
        if len({(p.shape, p.peak_floor) for p in parts}) > 1:
            raise ValueError('the parts differ in shape or peak_floor')

        def join(name, order=None):
            joined = np.concatenate([getattr(p, name) for p in parts])
            return joined if order is None else joined[order]

        order = np.argsort(join('pixels'), kind='stable')
        peak_order = np.argsort(join('peak_pixels'), kind='stable')
        return cls(parts[0].shape, join('pixels', order),
                   join('vectors', order), join('fractions', order),
                   parts[0].peak_floor, join('peak_pixels', peak_order),
                   join('peak_heights', peak_order),
                   join('peak_vectors', peak_order))

    def find_centres(self, threshold=0.5, min_distance=1, refine=True):
        """
        Source centres as local maxima of the heatmap.

        The same centres as `~astropais.pcr.find_centres` on the dense
        heatmap and vectors, among those the kept pixels can give (a
        pixel below the threshold never decides whether another is a
        peak).

        Parameters
        ----------
        threshold : float, optional
            Peaks must be at least this high, and at least
            ``peak_floor``.
        min_distance : int, optional
            See `~astropais.pcr.find_centres`.
        refine : bool, optional
            Refine each centre with its peak pixel's nearest-source
            vector.

        Returns
        -------
        centres : `~numpy.ndarray`, shape (N, 2)

        Raises
        ------
        ValueError
            If ``threshold`` is not finite or is below ``peak_floor``, or
            ``min_distance`` is not an integer >= 1.
        """
        from .decode import (_check_min_distance, _peak_centres,
                             _sparse_local_maxima)

        min_distance = _check_min_distance(min_distance)
        threshold = float(threshold)
        if not np.isfinite(threshold):
            raise ValueError(f'threshold must be finite, got {threshold}')
        if threshold < self.peak_floor:
            raise ValueError(f'threshold {threshold} is below the '
                             f'peak_floor {self.peak_floor} down to which '
                             'the heatmap was kept')
        maxima = _sparse_local_maxima(self.peak_pixels, self.peak_heights,
                                      self.shape, threshold, min_distance)

        def at(flat):
            return np.searchsorted(self.peak_pixels, flat)

        return _peak_centres(
            maxima, lambda flat: self.peak_heights[at(flat)], self.shape,
            min_distance,
            (lambda flat: self.peak_vectors[at(flat)]) if refine else None)

    def decode(self, centres, *, vote_tolerance=2.0, assignment='vote'):
        """
        Attribute the footprint pixels among given centres.

        The same attribution as `~astropais.pcr.decode` on the dense maps
        with ``centres`` given.  With several bands, the detection
        attribution of `decode_bands` (the band-averaged fractions).

        Parameters
        ----------
        centres : array_like, shape (N, 2)
            The ``(y, x)`` centres; label ``i`` is ``centres[i - 1]``.
        vote_tolerance : float, optional
            See `~astropais.pcr.decode`.
        assignment : {'vote', 'rank'}, optional
            See `~astropais.pcr.decode`.

        Returns
        -------
        attribution : `PixelAttribution`

        Raises
        ------
        ValueError
            If ``centres`` are not finite ``(N, 2)`` or an option is out
            of range.

        Warns
        -----
        AstropyUserWarning
            With no centre: the footprint pixels stay unattributed.
        """
        from .decode import _attribute, _check_vote_options

        vote_tolerance = _check_vote_options(vote_tolerance, assignment)
        fractions = self.fractions
        if fractions.ndim == 3:
            fractions = fractions.mean(axis=1)
        return _attribute(self.shape, self.pixels, self.vectors, fractions,
                          centres, vote_tolerance, assignment)

    def decode_bands(self, centres, *, vote_tolerance=2.0,
                     assignment='vote', detection=None):
        """
        Attribute the footprint pixels among given centres, in every band.

        The slots vote once for the centres, where their fraction
        averaged over the bands is positive; the detection attribution
        (what `decode` gives) weighs the votes with the band-averaged
        fractions, and band ``k`` with its own fractions, on the
        detection's labels (see `~astropais.pcr.decode.band_weights`).

        Parameters
        ----------
        centres, vote_tolerance, assignment
            As for `decode`.
        detection : `PixelAttribution`, optional
            A detection attribution of these pixels and centres to weigh
            the bands on instead (e.g. `decode`'s, edited: a label it
            lacks at a pixel gets no weight there in any band).

        Returns
        -------
        detection : `PixelAttribution`
            The detection attribution (``detection`` when given).
        bands : list of `PixelAttribution`
            One per band, with the detection's pixels, labels and slot
            order.

        Raises
        ------
        ValueError
            If ``centres`` are not finite ``(N, 2)``, an option is out of
            range, or ``detection`` has other pixels or centres.

        Examples
        --------
        >>> import numpy as np
        >>> from astropais.pcr import SourceImages, SparsePCR, encode
        >>> blue = np.stack([np.full((3, 5), 3.0), np.ones((3, 5))])
        >>> red = np.stack([np.ones((3, 5)), np.full((3, 5), 3.0)])
        >>> src = SourceImages((5, 8), [blue, red], [(1, 0), (1, 3)])
        >>> pcr = encode(src, [(2, 2), (2, 5)], n=2)
        >>> sparse = SparsePCR.from_dense(pcr.heatmap, pcr.vectors,
        ...                               pcr.fractions, pcr.source_mask)
        >>> _, (g, i) = sparse.decode_bands(sparse.find_centres())
        >>> total = src.total()
        >>> g.fluxes(total[0]).tolist(), i.fluxes(total[1]).tolist()
        ([45.0, 15.0], [15.0, 45.0])
        """
        from .decode import (_attribute, _check_vote_options, _vote,
                             band_weights)

        vote_tolerance = _check_vote_options(vote_tolerance, assignment)
        fractions = self.fractions
        if fractions.ndim == 2:
            fractions = fractions[:, None]
        if detection is None:
            return _attribute(self.shape, self.pixels, self.vectors,
                              fractions, centres, vote_tolerance, assignment)
        if not (np.array_equal(detection.pixels, self.pixels)
                and np.array_equal(detection.centres,
                                   np.asarray(centres, dtype=np.float64)
                                   .reshape(-1, 2))):
            raise ValueError('detection must attribute these pixels among '
                             'these centres')
        if self.pixels.size == 0 or len(detection.centres) == 0:
            return detection, [detection] * fractions.shape[1]
        votes = _vote(self.shape, self.pixels, self.vectors,
                      fractions.mean(axis=1), detection.centres,
                      vote_tolerance, assignment)
        return detection, band_weights(detection, votes.labels, fractions)


def _mean_positions(pixels, labels, shape, n_labels):
    """The mean ``(y, x)`` of each label's flat ``pixels`` (NaN if none)."""
    yy, xx = np.unravel_index(pixels, shape)
    count = np.bincount(labels, minlength=n_labels + 1)[1:n_labels + 1]
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.column_stack([
            np.bincount(labels, weights=c, minlength=n_labels + 1)[
                1:n_labels + 1] / count for c in (yy, xx)]).reshape(-1, 2)


# Rows of an attribution edited at a time (`PixelAttribution.relabel`,
# `PixelAttribution.label_map`): the temporaries of one chunk of pairs.
_CHUNK_ROWS = 2 ** 16


def _row_chunks(n_rows):
    """Slices of ``_CHUNK_ROWS`` rows covering ``0..n_rows``."""
    return (slice(start, min(start + _CHUNK_ROWS, n_rows))
            for start in range(0, n_rows, _CHUNK_ROWS))


def _relabel_rows(labels, weights, relabel_map, n_new):
    """
    Rows of ``(label, weight)`` pairs after ``relabel_map``: the pairs of
    labels mapped to one new label added, those mapped to 0 dropped, the
    rest packed largest weight first (ties by new label).  Returns the
    rows kept (of these rows) and their ``(R, n_slots)`` labels and
    weights.
    """
    new = relabel_map[labels]
    keep = (new > 0) & (weights > 0)
    rows = np.broadcast_to(np.arange(len(labels))[:, None], new.shape)[keep]
    labs = new[keep]
    wts = weights[keep]
    del new, keep
    # Merge duplicate (pixel, label) pairs.
    keys = rows * (n_new + 1) + labs
    ukeys, inverse = np.unique(keys, return_inverse=True)
    merged = np.bincount(inverse, weights=wts, minlength=ukeys.size)
    urows, ulabs = np.divmod(ukeys, n_new + 1)
    return _pack_pairs(urows, ulabs, merged, labels.shape[1])


def _pack_pairs(rows, labels, weights, n_slots):
    """
    ``(row, label, weight)`` entries packed into per-row slots, largest
    weight first: the rows kept and their ``(R, n_slots)`` labels and
    weights.
    """
    order = np.lexsort((-weights, rows))
    rows, labels, weights = rows[order], labels[order], weights[order]
    kept_rows, starts = np.unique(rows, return_index=True)
    counts = np.diff(np.append(starts, rows.size))
    slot = np.arange(rows.size) - np.repeat(starts, counts)
    row_index = np.repeat(np.arange(kept_rows.size), counts)
    out_labels = np.zeros((kept_rows.size, n_slots), dtype=np.int64)
    out_weights = np.zeros((kept_rows.size, n_slots), dtype=np.float64)
    out_labels[row_index, slot] = labels
    out_weights[row_index, slot] = weights
    return kept_rows, out_labels, out_weights
