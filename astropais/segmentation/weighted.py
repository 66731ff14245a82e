"""
`WeightedSegmentationImage`: a photutils `~photutils.segmentation.SegmentationImage`
that also carries the partial (fractional) attribution of every pixel.
"""

import warnings

import numpy as np
from astropy.utils import lazyproperty
from astropy.utils.exceptions import AstropyUserWarning
from photutils.segmentation import SegmentationImage

from astropais.pcr.sparse import PixelAttribution

__all__ = ['WeightedSegmentationImage', 'disjoint_label_map']


def disjoint_label_map(attribution):
    """
    The disjoint (one label a pixel) map of a partial attribution.

    Each pixel goes to the label with the largest weight there (ties to
    the first slot).  A source that has the largest weight nowhere (a
    faint source inside a bright one) still gets the one pixel where its
    own weight is largest, so that every attributed source appears in the
    label map and in every photutils tool that reads it.

    Parameters
    ----------
    attribution : `~astropais.pcr.PixelAttribution`
        The partial attribution.

    Returns
    -------
    labels : `~numpy.ndarray` of int
        The label map, 0 for background; ``int32`` unless the labels need
        ``int64``.
    """
    dtype = np.int32 if attribution.n_sources < 2**31 - 1 else np.int64
    segm = np.zeros(attribution.shape, dtype=dtype)
    weights = np.where(attribution.labels > 0, attribution.weights, -np.inf)
    if attribution.pixels.size == 0:
        return segm
    rows = np.arange(attribution.pixels.size)
    best = np.argmax(weights, axis=1)
    winner = attribution.labels[rows, best]
    winner[~(weights[rows, best] > 0)] = 0
    segm.flat[attribution.pixels] = winner

    supported = attribution.labels[attribution.weights > 0]
    missing = np.setdiff1d(np.unique(supported), np.unique(winner))
    if missing.size == 0:
        return segm
    # Pixels a missing source may take: not already taken by another
    # missing source, and not the last pixel of the source that won it.
    area = np.bincount(winner, minlength=attribution.n_sources + 1)
    taken = np.zeros(attribution.pixels.size, dtype=bool)
    unplaced = []
    # A loop over the (rare) sources that win no pixel: each takes the
    # free pixel where its own weight is largest.
    for label in missing:
        free = ~taken & ((winner == 0) | (area[winner] > 1))
        own = np.where((attribution.labels == label) & free[:, None],
                       attribution.weights, 0.0).max(axis=1)
        if not np.any(own > 0):
            unplaced.append(int(label))
            continue
        row = int(np.argmax(own))
        taken[row] = True
        area[winner[row]] -= 1
        area[label] += 1
        winner[row] = label
        segm.flat[attribution.pixels[row]] = label
    if unplaced:
        warnings.warn(f'{len(unplaced)} source(s) {unplaced} have fractions '
                      'but no pixel of their own in the disjoint label map '
                      '(more sources than pixels); photutils tools and the '
                      'catalog will not list them', AstropyUserWarning)
    return segm


def _remap_attribution(attribution, relabel_map, keep_centre=None):
    """
    Apply a label mapping (old label -> new label, 0 = removed) to a
    partial attribution, merging the weights of labels that map to the
    same new label and dropping pixels left with no label.
    """
    n_pix, n_slots = attribution.labels.shape
    new = relabel_map[attribution.labels]
    keep = (new > 0) & (attribution.weights > 0)
    rows = np.broadcast_to(np.arange(n_pix)[:, None], new.shape)[keep]
    labs = new[keep].astype(np.int64)
    wts = attribution.weights[keep]

    # Merge duplicate (pixel, label) pairs.
    n_new = int(relabel_map.max()) if relabel_map.size else 0
    keys = rows * (n_new + 1) + labs
    ukeys, inverse = np.unique(keys, return_inverse=True)
    merged = np.bincount(inverse, weights=wts, minlength=ukeys.size)
    urows, ulabs = np.divmod(ukeys, n_new + 1)

    # Order each pixel's pairs by decreasing weight; rank = slot index.
    order = np.lexsort((-merged, urows))
    urows, ulabs, merged = urows[order], ulabs[order], merged[order]
    kept_rows, starts = np.unique(urows, return_index=True)
    counts = np.diff(np.append(starts, urows.size))
    slot = np.arange(urows.size) - np.repeat(starts, counts)
    row_index = np.repeat(np.arange(kept_rows.size), counts)
    labels = np.zeros((kept_rows.size, n_slots), dtype=np.int64)
    weights = np.zeros((kept_rows.size, n_slots), dtype=np.float64)
    labels[row_index, slot] = ulabs
    weights[row_index, slot] = merged

    # Centres: the mean centre of the old labels merged into a new one,
    # or the centre of ``keep_centre`` (the label that absorbed others).
    old = np.arange(1, len(attribution.centres) + 1)
    target = relabel_map[old] if old.size else old
    valid = (target > 0) & np.all(np.isfinite(attribution.centres), axis=1)
    centres = np.full((n_new, 2), np.nan)
    if np.any(valid):
        count = np.bincount(target[valid], minlength=n_new + 1)[1:]
        for axis in range(2):
            total = np.bincount(target[valid],
                                weights=attribution.centres[valid, axis],
                                minlength=n_new + 1)[1:]
            with np.errstate(invalid='ignore', divide='ignore'):
                centres[:, axis] = np.where(count > 0, total / count, np.nan)
    if (keep_centre is not None and 1 <= keep_centre <= len(old)
            and relabel_map[keep_centre] > 0):
        centres[relabel_map[keep_centre] - 1] = \
            attribution.centres[keep_centre - 1]

    return PixelAttribution(attribution.shape,
                            attribution.pixels[kept_rows], labels, weights,
                            centres)


class WeightedSegmentationImage(SegmentationImage):
    """
    A segmentation image that carries each pixel's partial attribution.

    ``data`` is the disjoint label map (the largest-weight source of each
    pixel; see `disjoint_label_map`), so every photutils tool that takes a
    `~photutils.segmentation.SegmentationImage` works unchanged.  The
    fractions ``M_i(p)`` of every source at every footprint pixel are in
    `attribution` (sparse, at most ``n`` sources a pixel); the
    per-source fraction and deblended cut-outs come from them.

    Parameters
    ----------
    attribution : `~astropais.pcr.PixelAttribution`
        The partial attribution (for example the output of
        `astropais.pcr.decode`).

    Notes
    -----
    Relabelling (`reassign_labels`, `relabel_consecutive`, and through
    them `remove_labels`, `keep_labels`, `remove_border_labels`,
    `remove_masked_labels`, ...) changes the attribution and the label
    map together.  Merged labels add their weights.  A removed source's
    weights are dropped without renormalising the others, so the
    remaining sources keep their fluxes; a pixel shared with a removed
    source then goes to the remaining source with the largest weight,
    and a pixel left with no source becomes background.

    ``data`` cannot be assigned directly (the fractions could not follow);
    build a new instance from a `~astropais.pcr.PixelAttribution`
    instead.  Slicing (``segm[slices]``) returns a plain
    `~photutils.segmentation.SegmentationImage` of the label map.
    """

    def __init__(self, attribution):
        if not isinstance(attribution, PixelAttribution):
            raise TypeError('attribution must be a '
                            'astropais.pcr.PixelAttribution, got '
                            f'{type(attribution).__name__}')
        if len(attribution.shape) != 2:
            raise ValueError('attribution must describe a 2-D image')
        self._attribution = attribution
        super().__init__(disjoint_label_map(attribution))

    @classmethod
    def from_segmentation(cls, segmentation_image):
        """
        Make a weighted segmentation from a disjoint one (weight 1 a pixel).

        Parameters
        ----------
        segmentation_image : `~photutils.segmentation.SegmentationImage` or `~numpy.ndarray`
            The disjoint segmentation (labels > 0, 0 for background).

        Returns
        -------
        segm : `WeightedSegmentationImage`
            Its label map equals the input; the centre of each label is
            the mean position of its pixels (NaN for absent labels).
        """
        data = np.asarray(getattr(segmentation_image, 'data',
                                  segmentation_image))
        if data.ndim != 2 or not np.issubdtype(data.dtype, np.integer):
            raise ValueError('the segmentation must be a 2-D integer array')
        if np.any(data < 0):
            raise ValueError('the segmentation cannot have negative labels')
        pixels = np.flatnonzero(data)
        labels = data.ravel()[pixels].astype(np.int64)
        n_sources = int(data.max()) if data.size else 0
        yy, xx = np.unravel_index(pixels, data.shape)
        count = np.bincount(labels, minlength=n_sources + 1)[1:]
        with np.errstate(invalid='ignore', divide='ignore'):
            centres = np.column_stack([
                np.bincount(labels, weights=c, minlength=n_sources + 1)[1:]
                / count for c in (yy, xx)])
        attribution = PixelAttribution(data.shape, pixels, labels[:, None],
                                       np.ones((pixels.size, 1)),
                                       centres.reshape(-1, 2))
        return cls(attribution)

    @property
    def data(self):
        """The disjoint label map (largest-weight source of each pixel)."""
        return self._data

    @data.setter
    def data(self, value):
        if '_data' in self.__dict__:
            raise AttributeError(
                'the data of a WeightedSegmentationImage cannot be assigned '
                '(its fractions could not follow); use reassign_labels, '
                'remove_labels, keep_labels or relabel_consecutive, or make '
                'a new WeightedSegmentationImage from a PixelAttribution')
        SegmentationImage.data.fset(self, value)

    def __array__(self, dtype=None, copy=None):
        """The label map as an array (for matplotlib and numpy)."""
        if copy:
            return np.array(self._data, dtype=dtype)
        return np.asarray(self._data, dtype=dtype)

    @property
    def attribution(self):
        """The sparse partial attribution (`~astropais.pcr.PixelAttribution`)."""
        return self._attribution

    @property
    def centres(self):
        """
        The ``(y, x)`` centre of every label, shape ``(max_label, 2)``.

        Row ``label - 1`` belongs to ``label``; rows of absent labels are
        NaN.
        """
        return self._attribution.centres

    @lazyproperty
    def _support(self):
        """
        The (pixel row, label) entries with positive weight, sorted by
        label: rows, labels, weights, y, x, and each label's start index.
        """
        attr = self._attribution
        rows, slots = np.nonzero((attr.weights > 0) & (attr.labels > 0))
        labels = attr.labels[rows, slots]
        order = np.argsort(labels, kind='stable')
        rows, slots, labels = rows[order], slots[order], labels[order]
        yy, xx = np.unravel_index(attr.pixels[rows], attr.shape)
        return {'labels': labels, 'weights': attr.weights[rows, slots],
                'y': yy, 'x': xx}

    @lazyproperty
    def fraction_slices(self):
        """
        The bounding box of every source's fractions (the pixels where its
        weight is positive), in the order of `labels`.

        It contains the source's segment in ``data`` and may be larger:
        a source has fractions in pixels that belong to a neighbour in the
        disjoint map.
        """
        sup = self._support
        n_max = max(int(self.max_label), 0) + 1
        lo_y = np.full(n_max, np.iinfo(np.int64).max)
        lo_x = lo_y.copy()
        hi_y = np.full(n_max, -1)
        hi_x = hi_y.copy()
        np.minimum.at(lo_y, sup['labels'], sup['y'])
        np.minimum.at(lo_x, sup['labels'], sup['x'])
        np.maximum.at(hi_y, sup['labels'], sup['y'])
        np.maximum.at(hi_x, sup['labels'], sup['x'])
        return [(slice(int(lo_y[i]), int(hi_y[i]) + 1),
                 slice(int(lo_x[i]), int(hi_x[i]) + 1))
                for i in self.labels]

    @lazyproperty
    def fraction_cutouts(self):
        """
        The fraction map ``M_i`` of every source in its `fraction_slices`
        box (0 where it has no weight), in the order of `labels`.
        """
        sup = self._support
        starts = np.searchsorted(sup['labels'], self.labels, side='left')
        stops = np.searchsorted(sup['labels'], self.labels, side='right')
        cutouts = []
        # A loop over sources: each fills its own small cut-out.
        for start, stop, slc in zip(starts, stops, self.fraction_slices):
            cutout = np.zeros((slc[0].stop - slc[0].start,
                               slc[1].stop - slc[1].start))
            cutout[sup['y'][start:stop] - slc[0].start,
                   sup['x'][start:stop] - slc[1].start] = \
                sup['weights'][start:stop]
            cutouts.append(cutout)
        return cutouts

    @lazyproperty
    def total_fraction(self):
        """
        The summed fraction ``sum_i M_i`` of every pixel (1 on the
        footprint, 0 on the background; less than 1 where a source was
        removed).
        """
        attr = self._attribution
        total = np.zeros(attr.shape)
        total.flat[attr.pixels] = np.where(attr.labels > 0, attr.weights,
                                           0.0).sum(axis=1)
        return total

    @lazyproperty
    def footprint(self):
        """The boolean footprint: pixels with any attributed fraction."""
        return self.total_fraction > 0

    def fraction_image(self, label):
        """
        The fraction map of one source, as a cut-out.

        Parameters
        ----------
        label : int
            The source label.

        Returns
        -------
        fractions : `~numpy.ndarray`
            ``M_label`` in the source's bounding box (0 where it has no
            weight).
        slices : tuple of slice
            The bounding box in the full image.
        """
        self.check_label(label)
        index = self.get_index(label)
        return self.fraction_cutouts[index].copy(), self.fraction_slices[index]

    def deblended_image(self, label, data):
        """
        The deblended image ``M_i * data`` of one source, as a cut-out.

        Parameters
        ----------
        label : int
            The source label.
        data : array_like or `~astropy.units.Quantity`
            The background-subtracted image, of the segmentation's shape.

        Returns
        -------
        cutout : `~numpy.ndarray` or `~astropy.units.Quantity`
            ``M_label * data`` in the source's bounding box.
        slices : tuple of slice
            The bounding box in the full image.
        """
        if np.shape(data) != self.shape:
            raise ValueError(f'data shape {np.shape(data)} differs from the '
                             f'segmentation shape {self.shape}')
        fractions, slc = self.fraction_image(label)
        return fractions * data[slc], slc

    def _apply_relabel_map(self, relabel_map, keep_centre=None):
        """Apply ``relabel_map`` to the attribution and the label map."""
        top = max(int(self.max_label), self._attribution.n_sources)
        if relabel_map.size < top + 1:
            full = np.arange(top + 1, dtype=relabel_map.dtype)
            full[:relabel_map.size] = relabel_map
            relabel_map = full
        dtype = self._data.dtype
        attribution = _remap_attribution(self._attribution,
                                         relabel_map.astype(np.int64),
                                         keep_centre=keep_centre)
        self._reset_lazyproperties()
        self._attribution = attribution
        self._data = disjoint_label_map(attribution).astype(dtype)
        self._update_deblend_label_map(relabel_map)

    def reassign_labels(self, labels, new_label, relabel=False):
        """
        Reassign one or more labels to ``new_label``, fractions included.

        The weights of labels that end up with the same number add up;
        ``new_label=0`` removes the labels (their weights are dropped).

        Parameters
        ----------
        labels : int or array_like of int
            The label(s) to reassign.
        new_label : int
            The new label number (0 removes).
        relabel : bool, optional
            If `True`, relabel consecutively from 1 afterwards.
        """
        self.check_labels(labels)
        labels = np.atleast_1d(labels)
        if labels.size == 0:
            return
        if new_label < 0:
            raise ValueError('new_label must be >= 0')
        top = max(int(self.max_label), self._attribution.n_sources,
                  int(new_label))
        relabel_map = np.arange(top + 1, dtype=np.int64)
        relabel_map[labels] = new_label
        if relabel:
            present = np.unique(relabel_map[np.append(self.labels, 0)])
            present = present[present > 0]
            compact = np.zeros(top + 1, dtype=np.int64)
            compact[present] = np.arange(1, present.size + 1)
            relabel_map = compact[relabel_map]
        in_image = new_label in set(self.labels.tolist())
        self._apply_relabel_map(
            relabel_map, keep_centre=int(new_label) if in_image else None)

    def relabel_consecutive(self, start_label=1):
        """
        Renumber the labels consecutively from ``start_label``.

        Parameters
        ----------
        start_label : int, optional
            The first label (> 0).
        """
        if self.n_labels == 0:
            warnings.warn('Cannot relabel a segmentation image with no '
                          'non-zero labels', AstropyUserWarning)
            return
        if start_label <= 0:
            raise ValueError('start_label must be > 0')
        labels = self.labels
        if (labels[0] == start_label
                and labels[-1] - labels[0] + 1 == self.n_labels
                and self._attribution.n_sources == labels[-1]):
            return
        top = max(int(self.max_label), self._attribution.n_sources)
        relabel_map = np.zeros(top + 1, dtype=np.int64)
        relabel_map[labels] = np.arange(self.n_labels) + start_label
        self._apply_relabel_map(relabel_map)
