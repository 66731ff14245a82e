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

from .bands import MultiBandAttribution

__all__ = ['WeightedSegmentationImage', 'disjoint_label_map', 'deblend_sources']


def disjoint_label_map(attribution):
    """
    The disjoint (one label a pixel) map of a partial attribution.

    The rule is `~astropais.pcr.PixelAttribution.label_map`'s: each pixel
    goes to its largest-weight label, and a source that wins no pixel
    still gets the one where its own weight is largest.

    Parameters
    ----------
    attribution : `~astropais.pcr.PixelAttribution`
        The partial attribution.

    Returns
    -------
    labels : `~numpy.ndarray` of int
        The label map, 0 for background.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.pcr import PixelAttribution
    >>> att = PixelAttribution.from_label_map(np.array([[1, 0, 2]]))
    >>> disjoint_label_map(att).tolist()
    [[1, 0, 2]]
    """
    return attribution.label_map()


class _Snapshot:
    """
    The labelled pixels of a label map as last seen (flat indices and
    labels): ``O(footprint)`` memory instead of a whole-image copy, and
    an exact test of whether the map was edited since.
    """

    def __init__(self, labels):
        self.shape = labels.shape
        self.dtype = labels.dtype
        self.pixels = np.flatnonzero(labels)
        self.values = labels.ravel()[self.pixels] if labels.flags.contiguous \
            else labels.flat[self.pixels]

    def matches(self, labels):
        """Whether ``labels`` (of any shape) equals the map seen."""
        return (labels.shape == self.shape
                and np.count_nonzero(labels) == self.pixels.size
                and np.array_equal(labels.flat[self.pixels], self.values))

    def array(self):
        """The label map seen, as a new array."""
        labels = np.zeros(self.shape, dtype=self.dtype)
        labels.flat[self.pixels] = self.values
        return labels


class _fraction_property(lazyproperty):
    """
    A lazy property computed from the fractions: it first brings the
    fractions up to date with any in-place edit of ``data``.
    """

    def __get__(self, obj, owner=None):
        if obj is not None:
            obj._sync()
        return super().__get__(obj, owner)


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
    data : `~astropais.pcr.PixelAttribution`, `MultiBandAttribution` or `~numpy.ndarray` of int
        The partial attribution (for example the output of
        `astropais.pcr.decode`), per-band attributions (``data`` is then
        the label map of their detection attribution, `attribution` that
        attribution, and `band` gives each band's segmentation), or a
        disjoint label map as photutils'
        `~photutils.segmentation.SegmentationImage` takes it (every
        labelled pixel then belongs wholly to its label; the array is
        used as ``data`` without a copy and keeps its dtype).

    Raises
    ------
    TypeError
        If ``data`` is neither, or the label map does not hold integers.
    ValueError
        If the label map has negative labels.

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

    ``data`` may be edited in place or assigned, as in photutils; the
    fractions follow the edit the next time they are used (see
    `~astropais.pcr.PixelAttribution.follow_label_map`): a pixel whose
    label changed belongs wholly to its new label (0: background), a
    label that no longer appears in ``data`` loses its fractions
    everywhere, and every other pixel keeps its fractions.  Assigning a
    label map of another shape replaces the fractions by the disjoint
    ones (with a warning if partial fractions are lost).

    Slicing (``segm[slices]``) returns a `WeightedSegmentationImage` whose
    ``data`` is a view of this one's (as in photutils) and whose
    fractions are this one's inside the part, less those of labels that
    have no pixel in the part.

    A label map that is not 2-D is accepted as photutils accepts it, but
    the fractions need a 2-D image.

    With several bands, every edit above applies to each band's fractions
    too (they share the label map); assigning a label map of another
    shape gives every band the disjoint fractions.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation import WeightedSegmentationImage
    >>> segm = WeightedSegmentationImage(np.array([[1, 1, 0, 2]]))
    >>> segm.labels.tolist(), segm.total_fraction.tolist()
    ([1, 2], [[1.0, 1.0, 0.0, 1.0]])
    >>> segm.data[segm.data == 2] = 0      # the fractions follow
    >>> segm.total_fraction.tolist()
    [[1.0, 1.0, 0.0, 0.0]]
    """

    def __init__(self, data):
        multi = None
        if isinstance(data, MultiBandAttribution):
            multi, data = data, data.detection
        if isinstance(data, PixelAttribution):
            if len(data.shape) != 2:
                raise ValueError('attribution must describe a 2-D image')
            attribution, label_map = data, data.label_map()
        elif isinstance(data, np.ndarray):
            attribution, label_map = None, data
        else:
            raise TypeError('Input data must be a numpy array (an integer '
                            'label map), an astropais.pcr.PixelAttribution '
                            'or a MultiBandAttribution, got '
                            f'{type(data).__name__}')
        self._attribution = self._multi = None
        super().__init__(label_map)
        self._set_attribution(attribution, multi)

    def _set_attribution(self, attribution=None, multi=None):
        """
        Attach the attribution of ``data`` (disjoint if not given; a
        multi-band segmentation then gets it in every band).
        """
        if attribution is None and self._data.ndim == 2:
            attribution = PixelAttribution.from_label_map(self._data)
            if self._multi is not None:
                multi = MultiBandAttribution.repeated(
                    attribution, self._multi.n_bands, self._multi.bands)
        self._attribution, self._multi = attribution, multi
        self._seen = None if attribution is None else _Snapshot(self._data)

    def _edited(self, operation, *args, **kwargs):
        """
        The attribution and the per-band ones (or None) after one edit of
        `~astropais.pcr.PixelAttribution` (`MultiBandAttribution` applies
        it to every band).
        """
        source = self._attribution if self._multi is None else self._multi
        return _split(getattr(source, operation)(*args, **kwargs))

    def _sync(self):
        """Bring the fractions up to date with in-place edits of ``data``."""
        if self._attribution is None:
            raise ValueError('fractions need a 2-D segmentation image; this '
                             f'one is {self._data.ndim}-D')
        if self._seen.matches(self._data):
            return
        if not np.issubdtype(self._data.dtype, np.integer):
            raise TypeError('data must have integer type')
        if self._seen.shape == self._data.shape:
            attribution, multi = self._edited('follow_label_map',
                                              self._seen.array(), self._data)
            self._reset_lazyproperties()
            self._attribution, self._multi = attribution, multi
            self._seen = _Snapshot(self._data)
        else:
            self._reset_lazyproperties()
            self._set_attribution()

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
            Its label map equals the input (copied, dtype kept) and it
            keeps the input's deblended labels; the centre of each label
            is the mean position of its pixels (NaN for absent labels).

        Raises
        ------
        TypeError
            If the segmentation does not hold integers.
        ValueError
            If it is not 2-D or has negative labels.

        Examples
        --------
        >>> import numpy as np
        >>> from photutils.segmentation import SegmentationImage
        >>> from astropais.segmentation import WeightedSegmentationImage
        >>> segm = WeightedSegmentationImage.from_segmentation(
        ...     SegmentationImage(np.array([[1, 0, 2]])))
        >>> segm.centres.tolist()
        [[0.0, 0.0], [0.0, 2.0]]
        """
        data = np.array(getattr(segmentation_image, 'data',
                                segmentation_image))
        if data.ndim != 2:
            raise ValueError(f'the segmentation must be 2-D, got '
                             f'{data.ndim}-D')
        segm = cls(data)
        deblend_map = getattr(segmentation_image, '_deblend_label_map', {})
        segm._deblend_label_map = {key: np.array(value) for key, value
                                   in deblend_map.items()}
        return segm

    @property
    def data(self):
        """
        The disjoint label map (largest-weight source of each pixel).

        It may be edited in place or assigned; the fractions follow (see
        the class notes).
        """
        return self._data

    @data.setter
    def data(self, value):
        initialised = '_data' in self.__dict__
        if initialised and self._attribution is not None:
            self._sync()
        old = self._attribution
        SegmentationImage.data.fset(self, value)
        if not initialised:
            return
        if (old is not None and value.ndim == 2
                and tuple(value.shape) == old.shape):
            self._attribution, self._multi = self._edited(
                'follow_label_map', self._seen.array(), value)
            self._seen = _Snapshot(value)
            return
        if old is not None and np.any((old.weights > 0)
                                      & (old.weights < 1)):
            warnings.warn('the new data have another shape: the partial '
                          'fractions were replaced by the disjoint ones of '
                          'the new label map', AstropyUserWarning)
        self._set_attribution()

    def __array__(self, dtype=None, copy=None):
        """The label map as an array (for matplotlib and numpy)."""
        if copy:
            return np.array(self._data, dtype=dtype)
        return np.asarray(self._data, dtype=dtype)

    def __getitem__(self, key):
        """
        A part of the segmentation, fractions included.

        Its ``data`` is a view of this segmentation's (edits flow both
        ways, as in photutils); its fractions are this segmentation's
        inside the part, less those of the labels that have no pixel
        there.
        """
        plain = super().__getitem__(key)    # photutils' checks and errors
        if self._attribution is None:
            return plain
        part = plain.data
        self._sync()
        sliced = (self._attribution if self._multi is None
                  else self._multi).sliced(key)
        absent = np.ones(sliced.n_sources + 1, dtype=bool)
        absent[np.unique(part)] = False
        return self._from_parts(
            part, *_split(sliced.without_labels(np.flatnonzero(absent))))

    @classmethod
    def _from_parts(cls, label_map, attribution, multi=None):
        """
        A segmentation of ``label_map`` (kept as it is) carrying
        ``attribution`` (and the per-band ``multi``), which the caller
        guarantees to match it.
        """
        new = cls.__new__(cls)
        new._attribution = new._multi = None
        SegmentationImage.__init__(new, label_map)
        new._attribution, new._multi = attribution, multi
        new._seen = _Snapshot(label_map)
        return new

    @property
    def attribution(self):
        """The sparse partial attribution (`~astropais.pcr.PixelAttribution`)."""
        self._sync()
        return self._attribution

    @property
    def n_bands(self):
        """The number of bands whose fractions this segmentation carries
        (1 for a single-band one)."""
        return 1 if self._multi is None else self._multi.n_bands

    @property
    def bands(self):
        """The band names (a tuple), or None (single band or unnamed
        bands)."""
        return None if self._multi is None else self._multi.bands

    @property
    def band_attributions(self):
        """
        The per-band attributions
        (`~astropais.segmentation.bands.MultiBandAttribution`), or None for
        a single-band segmentation.
        """
        self._sync()
        return self._multi

    def band(self, band):
        """
        The segmentation of one band: the same label map with that band's
        fractions.

        ``WeightedSourceCatalog(data[k], segm.band(k))`` measures band
        ``k``.

        Parameters
        ----------
        band : int or str
            The band's index or name.

        Returns
        -------
        segm : `WeightedSegmentationImage`
            A new single-band segmentation (a copy of the label map: edit
            this multi-band one to edit every band); a single-band
            segmentation returns itself for band 0.  A source without
            fractions in the band is measured as NaN there by
            `~astropais.segmentation.WeightedSourceCatalog`.

        Raises
        ------
        ValueError
            For an unknown band.

        Examples
        --------
        >>> from astropais.segmentation import WeightedSegmentationImage
        >>> from astropais.segmentation.bands import MultiBandAttribution
        >>> multi = MultiBandAttribution.from_weights(
        ...     (1, 2), [0, 1], [[1, 2], [2, 1]],
        ...     [[[0.75, 0.25], [0.5, 0.5]], [[0.25, 0.75], [1.0, 0.0]]],
        ...     [[0, 0], [0, 1]], bands=['g', 'i'])
        >>> segm = WeightedSegmentationImage(multi)
        >>> segm.n_bands, segm.bands, segm.data.tolist()
        (2, ('g', 'i'), [[1, 2]])
        >>> segm.band('i').fraction_image(2)[0].tolist()
        [[0.75, 1.0]]
        """
        if self._multi is None:
            if isinstance(band, str) or band not in (0, -1):
                raise ValueError(f'a single-band segmentation has band 0 '
                                 f'only, got {band!r}')
            return self
        attribution = self.band_attributions.band(band)
        new = self._from_parts(self._data.copy(), attribution)
        new._deblend_label_map = {key: np.array(value) for key, value
                                  in self._deblend_label_map.items()}
        return new

    @property
    def centres(self):
        """
        The ``(y, x)`` centre of every label, shape ``(max_label, 2)``.

        Row ``label - 1`` belongs to ``label``; rows of absent labels are
        NaN.
        """
        return self.attribution.centres

    @_fraction_property
    def _sources(self):
        """Every source's fraction cut-out and origin (label ``i`` at
        index ``i - 1``), from `~astropais.pcr.PixelAttribution`."""
        return self._attribution.to_source_images()

    @_fraction_property
    def fraction_slices(self):
        """
        The bounding box of every source's fractions (the pixels where its
        weight is positive), in the order of `labels`.

        It contains the source's segment in ``data`` and may be larger:
        a source has fractions in pixels that belong to a neighbour in the
        disjoint map.
        """
        sources = self._sources
        return [sources.slices(label - 1)[0] for label in self.labels]

    @_fraction_property
    def fraction_cutouts(self):
        """
        The fraction map ``M_i`` of every source in its `fraction_slices`
        box (0 where it has no weight), in the order of `labels`.
        """
        # One look-up of the lazy property (each look-up compares the
        # label map with the last one seen).
        cutouts = self._sources.cutouts
        return [cutouts[label - 1] for label in self.labels]

    @_fraction_property
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

    @_fraction_property
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
        sources = self._sources        # brings the fractions up to date
        self.check_label(label)
        return (sources.cutouts[label - 1].copy(),
                sources.slices(label - 1)[0])

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
        top = max(int(self.max_label), self.attribution.n_sources)
        if relabel_map.size < top + 1:
            full = np.arange(top + 1, dtype=relabel_map.dtype)
            full[:relabel_map.size] = relabel_map
            relabel_map = full
        dtype = self._data.dtype
        # The old map is let go before the attribution is relabelled and
        # the new map made (one whole-image map at a time, and none beside
        # the relabelling's pairs: the in-memory peak at 8192 x 8192 was
        # here), and the new one is not copied when its type is kept.
        old, self._data = self._data, None
        try:
            attribution, multi = self._edited('relabel', relabel_map,
                                              keep_centre=keep_centre)
        except BaseException:
            self._data = old
            raise
        del old
        self._reset_lazyproperties()
        self._attribution, self._multi = attribution, multi
        self._data = attribution.label_map().astype(dtype, copy=False)
        self._seen = _Snapshot(self._data)
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
        if self._attribution is None:
            return super().reassign_labels(labels, new_label,
                                           relabel=relabel)
        n_sources = self.attribution.n_sources
        self.check_labels(labels)
        labels = np.atleast_1d(labels)
        if labels.size == 0:
            return
        if new_label < 0:
            raise ValueError('new_label must be >= 0')
        top = max(int(self.max_label), n_sources, int(new_label))
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
        if self._attribution is None:
            return super().relabel_consecutive(start_label=start_label)
        n_sources = self.attribution.n_sources
        if self.n_labels == 0:
            warnings.warn('Cannot relabel a segmentation image with no '
                          'non-zero labels', AstropyUserWarning)
            return
        if start_label <= 0:
            raise ValueError('start_label must be > 0')
        labels = self.labels
        if (labels[0] == start_label
                and labels[-1] - labels[0] + 1 == self.n_labels
                and n_sources == labels[-1]):
            return
        top = max(int(self.max_label), n_sources)
        relabel_map = np.zeros(top + 1, dtype=np.int64)
        relabel_map[labels] = np.arange(self.n_labels) + start_label
        self._apply_relabel_map(relabel_map)


def _split(attribution):
    """``(detection attribution, per-band attributions or None)``."""
    if isinstance(attribution, MultiBandAttribution):
        return attribution.detection, attribution
    return attribution, None


def deblend_sources(data, segmentation_image, n_pixels, **kwargs):
    """
    photutils' `~photutils.segmentation.deblend_sources`, keeping the
    weighted type.

    photutils' function splits the disjoint label map and returns a plain
    `~photutils.segmentation.SegmentationImage` (it cannot know the
    fractions).  Given a `WeightedSegmentationImage`, this returns a
    `WeightedSegmentationImage` of the split map (each pixel wholly its new
    label's), with photutils' deblending record; if the input had
    partial fractions, it warns that they are dropped.

    Parameters
    ----------
    data : array_like
        The image, as for `photutils.segmentation.deblend_sources`.
    segmentation_image : `~photutils.segmentation.SegmentationImage`
        The segmentation to deblend.
    n_pixels : int
        The minimum number of pixels of a deblended source.
    **kwargs
        photutils' other options (``n_levels``, ``contrast``, ...).

    Returns
    -------
    segm : `WeightedSegmentationImage` or `~photutils.segmentation.SegmentationImage`
        Weighted if ``segmentation_image`` was.

    Warns
    -----
    AstropyUserWarning
        If ``segmentation_image`` had partial fractions.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:20, :30]
    >>> data = (np.exp(-((yy - 10)**2 + (xx - 8)**2) / 8)
    ...         + np.exp(-((yy - 10)**2 + (xx - 20)**2) / 8))
    >>> segm = WeightedSegmentationImage((data > 0.05).astype(int))
    >>> split = deblend_sources(data, segm, 5, progress_bar=False)
    >>> type(split).__name__, split.labels.tolist()
    ('WeightedSegmentationImage', [1, 2])
    """
    from photutils.segmentation import deblend_sources as photutils_deblend

    result = photutils_deblend(data, segmentation_image, n_pixels, **kwargs)
    if not isinstance(segmentation_image, WeightedSegmentationImage) \
            or isinstance(result, WeightedSegmentationImage):
        return result
    if segmentation_image.data.ndim == 2 \
            and not segmentation_image.attribution.is_disjoint:
        warnings.warn('deblend_sources splits the disjoint label map only: '
                      'the partial fractions of the input are dropped (the '
                      'result has fractions of 1)', AstropyUserWarning)
    weighted = WeightedSegmentationImage.from_segmentation(result)
    if hasattr(result, 'info'):
        weighted.info = result.info
    return weighted
