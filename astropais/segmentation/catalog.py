"""
`WeightedSourceCatalog`: a photutils `~photutils.segmentation.SourceCatalog`
whose photometry and morphology use the partial attribution.

Compatibility: this subclass overrides or reads private members of
photutils' ``SourceCatalog`` (listed in ``_REQUIRED_PRIVATE`` and
``_REQUIRED_INSTANCE``) and uses photutils' private
``_mask_to_mirrored_value``.  It is written and tested against photutils
3.0; `check_photutils_compatibility` raises if a name it relies on is
gone.

The Kron radius, ``flux_radius`` and windowed centroid of a weighted
segmentation are photutils' own loops run on canvases that hold every
source's neighbour-subtracted window side by side (`_PackedCatalog`), a
batch of sources at a time: the memory is the fractions' (O(footprint))
plus one batch of windows, not one photutils catalog per source.
"""

import functools

import numpy as np
from astropy import units as u
from astropy.utils import lazyproperty
from photutils.segmentation import SegmentationImage, SourceCatalog

from .inputs import check_real, trim_heap, unpack_nddata
from .weighted import WeightedSegmentationImage

__all__ = ['WeightedSourceCatalog', 'check_photutils_compatibility']

# Private SourceCatalog class members this module overrides or calls.
_REQUIRED_PRIVATE = ('_data_cutouts', '_convdata_cutouts', '_error_cutouts',
                     '_background_cutouts', '_cutout_segment_masks',
                     '_make_aperture_data', '_measured_kron_radius',
                     '_flux_radius_optimizer_args', '_local_background',
                     '_slices_iter', '_lazyproperties', '_x_centroid',
                     '_y_centroid', '_null_objects', '_make_cutout_data_mask',
                     '_kron_photometry', '_max_circular_kron_radius',
                     '_all_masked')
# Private SourceCatalog instance attributes this module reads or sets.
_REQUIRED_INSTANCE = ('_data', '_convolved_data', '_error', '_mask',
                      '_background', '_slices', '_segmentation_image',
                      '_aperture_mask_kwargs', '_detection_catalog',
                      '_labels', '_flux_radius_cache')
# Private photutils functions this module calls: (module, name).
_REQUIRED_FUNCTIONS = (('photutils.segmentation.catalog',
                        '_mask_to_mirrored_value'),)

# Extra attributes (not lazy properties) copied when a catalog is indexed.
_EXTRA_ATTRIBUTES = ('_total_fraction', '_fraction_box', '_disjoint')


@functools.lru_cache(maxsize=1)
def check_photutils_compatibility():
    """
    Check that photutils' `~photutils.segmentation.SourceCatalog` still has
    the private members `WeightedSourceCatalog` builds on.

    Raises
    ------
    ImportError
        If one of them is missing (an incompatible photutils release).

    Examples
    --------
    >>> check_photutils_compatibility()    # photutils 3.0: nothing missing
    """
    import importlib

    missing = [name for name in _REQUIRED_PRIVATE
               if not hasattr(SourceCatalog, name)]
    probe = SourceCatalog(np.ones((3, 3)),
                          SegmentationImage(np.ones((3, 3), dtype=int)))
    missing += [name for name in _REQUIRED_INSTANCE
                if not hasattr(probe, name)]
    for module, name in _REQUIRED_FUNCTIONS:
        if not hasattr(importlib.import_module(module), name):
            missing.append(f'{module}.{name}')
    if missing:
        import photutils
        raise ImportError(
            f'photutils {photutils.__version__} lacks the members '
            f'{missing} that astropais.WeightedSourceCatalog needs; install '
            'a photutils release in the tested range (3.0.x)')


def _mirrored(data, foreign, xycen, mask):
    """photutils' 'correct' rule: foreign pixels take mirrored values."""
    from photutils.segmentation.catalog import _mask_to_mirrored_value
    return _mask_to_mirrored_value(data, foreign, xycen, mask=mask)


def _weighted_cutouts(name, array, doc):
    """
    The lazy property ``name`` of `WeightedSourceCatalog`: the per-source
    cut-outs of its ``array`` attribute, weighted by the fractions
    (`WeightedSourceCatalog._weighted`), documented by ``doc``.
    """
    def cutouts(self):
        return self._weighted(name, getattr(self, array))

    # lazyproperty caches under the function's name: the attribute's.
    cutouts.__name__ = cutouts.__qualname__ = name
    cutouts.__doc__ = doc
    return lazyproperty(cutouts)


class WeightedSourceCatalog(SourceCatalog):
    """
    A photutils source catalog whose quantities use the partial attribution.

    Every quantity that photutils computes over a source segment (fluxes,
    their errors, centroids, moments, shapes, min/max values, Gini, ...)
    is computed from the source's *deblended image* ``M_i * data`` over
    the pixels where its fraction ``M_i`` is positive; this may include
    pixels that the disjoint label map gives to a neighbour.  Hence
    ``sum(segment_flux)`` equals the sum of ``data`` over the footprint.

    Aperture quantities (Kron radius and flux, circular photometry,
    ``flux_radius``, windowed centroids) are measured on ``data`` with the
    *other* sources' attributed flux removed, ``data * (1 - sum_{j != i}
    M_j)``: the neighbours' shares are subtracted, the background and the
    source's own outskirts outside the footprint are kept.  Pixels wholly
    attributed to neighbours are then treated as photutils'
    ``aperture_mask_method`` says (``'correct'``: replaced by the mirrored
    pixel, ``'mask'``: masked).  ``'none'`` (the neighbours' flux kept) is
    refused for a segmentation with partial fractions: the fractions
    always remove it.

    A disjoint segmentation (a photutils
    `~photutils.segmentation.SegmentationImage`, or a weighted one whose
    fractions are all 0 or 1) gives exactly photutils' catalog.

    Parameters
    ----------
    data : 2-D `~numpy.ndarray`, `~astropy.units.Quantity` or `~astropy.nddata.NDData`
        The background-subtracted image.  For `~astropy.nddata.NDData`
        (and `~astropy.nddata.CCDData`) the mask (combined with
        ``mask``), the uncertainty (as ``error``, unless given), the unit
        and the wcs (unless given) are used.
    segmentation_image : `WeightedSegmentationImage` or `~photutils.segmentation.SegmentationImage`
        The weighted segmentation (e.g. from `PAISDeblender`), or a
        disjoint one (each pixel wholly its label's).
    **kwargs
        Passed to `~photutils.segmentation.SourceCatalog` (``error``,
        ``mask``, ``background``, ``wcs``, ``convolved_data``,
        ``local_bkg_width``, ``aperture_mask_method``, ``kron_params``,
        ``progress_bar``, ...).  ``detection_catalog`` is supported for
        disjoint segmentations only.

    Raises
    ------
    TypeError
        If the data are boolean, complex or not numeric, or the
        segmentation is not a `~photutils.segmentation.SegmentationImage`.
    ValueError
        For ``aperture_mask_method='none'`` or a ``detection_catalog``
        with partial fractions, and photutils' own input errors.

    Notes
    -----
    ``segment_area`` is the area of the source's segment in the disjoint
    label map; ``area`` is the number of unmasked pixels where the source
    has a positive fraction.  ``data_cutout`` is the deblended cut-out
    ``M_i * data``; ``bbox`` and ``slices`` are the box of the source's
    fractions (`WeightedSegmentationImage.fraction_slices`).

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation import WeightedSourceCatalog
    >>> from photutils.segmentation import SegmentationImage
    >>> data = np.zeros((5, 5))
    >>> data[1:4, 1:4] = 1.0
    >>> segm = SegmentationImage((data > 0).astype(int))
    >>> float(WeightedSourceCatalog(data, segm).segment_flux[0])
    9.0
    """

    def __init__(self, data, segmentation_image, **kwargs):
        check_photutils_compatibility()
        data, nd_mask, error, wcs = unpack_nddata(data)
        check_real(getattr(data, 'value', data), 'data')
        if nd_mask is not None:
            mask = kwargs.get('mask')
            kwargs['mask'] = (nd_mask if mask is None
                              else np.logical_or(nd_mask, mask))
        if error is not None and kwargs.get('error') is None:
            kwargs['error'] = error if isinstance(data, u.Quantity) else \
                getattr(error, 'value', error)
        if wcs is not None and kwargs.get('wcs') is None:
            kwargs['wcs'] = wcs
        if isinstance(segmentation_image, WeightedSegmentationImage) \
                and segmentation_image.data.ndim == 2:
            # Bring labels and fractions up to date with in-place edits
            # of its data before photutils reads its labels.
            segmentation_image.attribution
        # photutils' own checks and errors first.
        super().__init__(data, segmentation_image, **kwargs)
        if not isinstance(segmentation_image, WeightedSegmentationImage):
            # A disjoint segmentation: every pixel wholly its label's.
            segmentation_image = WeightedSegmentationImage.from_segmentation(
                segmentation_image)
        self._segmentation_image = segmentation_image
        attribution = segmentation_image.attribution
        # Fractions of 0 or 1 that also give the label map (a band of a
        # multi-band segmentation may not: it shares the detection's map).
        self._disjoint = attribution.is_disjoint and np.array_equal(
            attribution.label_map(), segmentation_image.data)
        if self._disjoint:
            # Fractions of 1: photutils' own measurements, unchanged.
            self._total_fraction = self._fraction_box = None
            return
        if self.aperture_mask_method == 'none':
            raise ValueError("aperture_mask_method='none' (the neighbours' "
                             'flux kept in the apertures) is not supported '
                             'for a segmentation with partial fractions: '
                             "their shares are always removed; use 'correct'"
                             " or 'mask'")
        if kwargs.get('detection_catalog') is not None:
            raise ValueError('detection_catalog is not supported by '
                             'WeightedSourceCatalog for a segmentation with '
                             'partial fractions')
        self._slices = list(segmentation_image.fraction_slices)
        # The summed fractions on the footprint pixels only, read window
        # by window: no whole-image float64 map (8 bytes a pixel).
        self._total_fraction = _FootprintValues(attribution)
        # Box of each source's fractions, to place them in any window.
        self._fraction_box = {
            int(label): (cutout, slc) for label, cutout, slc in
            zip(segmentation_image.labels,
                segmentation_image.fraction_cutouts,
                segmentation_image.fraction_slices)}

    def __getitem__(self, index):
        new = super().__getitem__(index)
        for attr in _EXTRA_ATTRIBUTES:
            setattr(new, attr, getattr(self, attr))
        return new

    def _photutils(self, name):
        """photutils' own value of ``name`` (for a disjoint segmentation)."""
        return getattr(super(), name)

    # -- weighted per-source cut-outs --------------------------------------
    @lazyproperty
    def _fraction_cutouts(self):
        """The fraction cut-out of every source over its ``slices``."""
        return [self._fraction_box[int(label)][0] for label in self.labels]

    def _weighted(self, name, array):
        """
        The per-source cut-outs ``name``: photutils' own for a disjoint
        segmentation, otherwise ``M_i * array`` in each source's box (NaN
        stays NaN), or photutils' null objects where ``array`` is `None`.
        """
        if self._disjoint:
            return self._photutils(name)
        if array is None:
            return self._null_objects
        return [np.asarray(array[slc], dtype=float) * fractions
                for slc, fractions in zip(self._slices_iter,
                                          self._fraction_cutouts)]

    # photutils' per-source cut-outs, weighted by the fractions.
    _data_cutouts = _weighted_cutouts(
        '_data_cutouts', '_data',
        'The deblended data cut-outs ``M_i * data``.')
    _convdata_cutouts = _weighted_cutouts(
        '_convdata_cutouts', '_convolved_data',
        'The deblended convolved-data cut-outs ``M_i * convolved_data``.')
    _error_cutouts = _weighted_cutouts(
        '_error_cutouts', '_error',
        'The error cut-outs scaled by the fractions, ``M_i * error``.')
    _background_cutouts = _weighted_cutouts(
        '_background_cutouts', '_background',
        'The background cut-outs scaled by the fractions.')

    @lazyproperty
    def _cutout_segment_masks(self):
        """`True` where the source has no fraction."""
        if self._disjoint:
            return self._photutils('_cutout_segment_masks')
        return [fractions <= 0 for fractions in self._fraction_cutouts]

    # -- aperture quantities on neighbour-subtracted data ------------------
    def _own_share(self, label, slc):
        """
        ``1 - sum_{j != label} M_j`` over ``slc`` (the source's share of
        each pixel, 1 off the footprint) and the pixels wholly attributed
        to other sources.
        """
        total = self._total_fraction[slc]
        keep = 1.0 - total
        own = np.zeros(keep.shape)
        fractions, box = self._fraction_box[int(label)]
        # Overlap of the source's fraction box with the window.
        y0 = max(slc[0].start, box[0].start)
        y1 = min(slc[0].stop, box[0].stop)
        x0 = max(slc[1].start, box[1].start)
        x1 = min(slc[1].stop, box[1].stop)
        if y1 > y0 and x1 > x0:
            own[y0 - slc[0].start:y1 - slc[0].start,
                x0 - slc[1].start:x1 - slc[1].start] = \
                fractions[y0 - box[0].start:y1 - box[0].start,
                          x0 - box[1].start:x1 - box[1].start]
        foreign = (total > 0) & (own <= 0)
        return keep + own, foreign

    def _make_aperture_data(self, label, x_centroid, y_centroid,
                            aperture_bbox, local_background, *,
                            make_error=True):
        """
        Aperture cut-outs of the neighbour-subtracted data (and error).
        """
        if self._disjoint:
            return super()._make_aperture_data(
                label, x_centroid, y_centroid, aperture_bbox,
                local_background, make_error=make_error)
        slc_lg, slc_sm = aperture_bbox.get_overlap_slices(self._data.shape)
        if slc_lg is None:
            return (None,) * 5
        share, foreign = self._own_share(label, slc_lg)
        data = (np.asarray(self._data[slc_lg], dtype=float) * share
                - local_background)
        mask_cutout = None if self._mask is None else self._mask[slc_lg]
        mask = self._make_cutout_data_mask(data, mask_cutout)
        error = None
        if make_error and self._error is not None:
            error = np.asarray(self._error[slc_lg], dtype=float) * share
        cutout_xycen = (x_centroid - max(0, aperture_bbox.ixmin),
                        y_centroid - max(0, aperture_bbox.iymin))
        if self.aperture_mask_method == 'mask':
            mask = mask | foreign
        else:
            data = _mirrored(data, foreign, cutout_xycen, mask)
            if error is not None:
                error = _mirrored(error, foreign, cutout_xycen, mask)
        return data, error, mask, cutout_xycen, slc_sm

    # -- Kron radius, flux radius and windowed centroid -------------------
    def _windows(self, name):
        """
        Every source's measuring window ``(y0, y1, x0, x1)`` in image
        pixels, not clipped to the image: its fraction box grown around
        its centroid to the reach of the Kron measuring ellipse (``6 a``)
        for ``name='_measured_kron_radius'``, of the Kron aperture
        (``kron_params[0] * 6 a``) otherwise, with a margin of 3 pixels.
        """
        semimajor = np.atleast_1d(self.semimajor_axis.value)
        xcen = np.atleast_1d(self._x_centroid)
        ycen = np.atleast_1d(self._y_centroid)
        scale = 1.0 if name == '_measured_kron_radius' else max(
            self.kron_params[0], 1.0)
        reach = 6.0 * scale * semimajor + 3.0
        reach = np.where(np.isfinite(reach), reach, 3.0)
        box = np.array([(slc[0].start, slc[0].stop, slc[1].start,
                         slc[1].stop) for slc in self._slices_iter],
                       dtype=np.int64).reshape(-1, 4)
        finite = np.isfinite(xcen) & np.isfinite(ycen)
        with np.errstate(invalid='ignore'):
            lo_y = np.where(finite, np.floor(ycen - reach), box[:, 0])
            hi_y = np.where(finite, np.ceil(ycen + reach) + 1, box[:, 1])
            lo_x = np.where(finite, np.floor(xcen - reach), box[:, 2])
            hi_x = np.where(finite, np.ceil(xcen + reach) + 1, box[:, 3])
        return np.column_stack([np.minimum(box[:, 0], lo_y),
                                np.maximum(box[:, 1], hi_y),
                                np.minimum(box[:, 2], lo_x),
                                np.maximum(box[:, 3], hi_x)]).astype(np.int64)

    def _packed(self, name, **values):
        """
        photutils' own ``name`` (``'_measured_kron_radius'``,
        ``'_flux_radius_optimizer_args'`` or ``'centroid_win'``) of every
        source, measured on its neighbour-subtracted window.

        The windows (`_windows`) of a batch of sources are laid side by
        side on one canvas, separated by masked pixels: each holds
        ``data * (1 - sum_{j != i} M_j)`` (the source's own share of every
        pixel, 1 off the footprint), its fraction support labelled with
        its label and the pixels wholly attributed to neighbours with
        -1, and the parts outside the image masked.  photutils' loop over
        sources then runs once per batch on the canvas with this
        catalog's centroids, shapes and local background, so that each
        source is measured exactly as photutils measures a source whose
        neighbours are masked or corrected, and the memory is that of one
        batch of windows, not of one catalog per source.

        Parameters
        ----------
        name : str
            The photutils ``SourceCatalog`` member to evaluate.
        **values
            Per-source arrays the member reads besides the shapes (e.g.
            ``_kron_photometry``), in the order of `labels`.

        Returns
        -------
        result : list
            One entry per source; positions are in image pixels.
        """
        windows = self._windows(name)
        n = len(windows)
        heights = windows[:, 1] - windows[:, 0]
        widths = windows[:, 3] - windows[:, 2]
        shared = {key: np.atleast_1d(getattr(self, key)) for key in (
            '_x_centroid', '_y_centroid', 'semimajor_axis',
            'semiminor_axis', 'orientation', 'ellipse_cxx', 'ellipse_cxy',
            'ellipse_cyy', '_all_masked', '_local_background')}
        shared.update({key: np.asarray(value) for key, value in
                       values.items()})
        result = [None] * n
        # Sources in batches of at most _CANVAS_PIXELS window pixels.
        order = np.argsort(-heights, kind='stable')
        area = np.cumsum((heights[order] + _GAP) * (widths[order] + _GAP))
        batch_id = area // _CANVAS_PIXELS
        for batch in np.split(order, np.flatnonzero(np.diff(batch_id)) + 1):
            canvas, origins = self._canvas(batch, windows)
            shift_x = origins[:, 1] - windows[batch, 2]
            shift_y = origins[:, 0] - windows[batch, 0]
            batch_values = {key: value[batch] for key, value in
                            shared.items()}
            batch_values['_x_centroid'] = batch_values['_x_centroid'] \
                + shift_x
            batch_values['_y_centroid'] = batch_values['_y_centroid'] \
                + shift_y
            packed = _PackedCatalog(self, canvas, self.labels[batch],
                                    batch_values)
            measured = getattr(packed, name)
            if name == 'centroid_win':
                measured = np.asarray(measured).reshape(-1, 2) \
                    - np.column_stack([shift_x, shift_y])
            for index, value in zip(batch, measured):
                result[index] = value
            # The batch's canvas and photutils' working memory handed
            # back (freed between batches, they stayed in the heap: the
            # peak of the 8192 x 8192 deblend and catalog grew here).
            del canvas, packed, measured
            trim_heap()
        return result

    def _canvas(self, batch, windows):
        """
        The canvas of the windows of the sources ``batch``: data, mask
        and label arrays and the ``(y, x)`` canvas origin of each window
        (shelves of windows, tallest first, ``_GAP`` masked pixels apart).
        """
        heights = windows[batch, 1] - windows[batch, 0] + _GAP
        widths = windows[batch, 3] - windows[batch, 2] + _GAP
        row_width = max(int(widths.max()),
                        int(np.sqrt(np.sum(heights * widths))))
        origins = np.zeros((len(batch), 2), dtype=np.int64)
        x = y = shelf = 0
        # A loop over the windows of a batch: each is placed on the
        # current shelf or opens the next one.
        for i, (h, w) in enumerate(zip(heights, widths)):
            if x + w > row_width:
                x, y, shelf = 0, y + shelf, 0
            origins[i] = (y + _GAP, x + _GAP)
            x += w
            shelf = max(shelf, int(h))
        shape = (y + shelf + _GAP, row_width + _GAP)
        data = np.zeros(shape)
        mask = np.ones(shape, dtype=bool)
        # (labels and -1 for the neighbours' pixels)
        segm = np.zeros(shape, dtype=np.int32 if int(np.max(
            self.labels)) < 2 ** 31 - 1 else np.int64)
        ny, nx = self._data.shape
        # A loop over the windows of a batch: each is copied in place.
        for (cy, cx), index in zip(origins, batch):
            label = int(self.labels[index])
            y0, y1, x0, x1 = windows[index]
            window = (slice(max(y0, 0), min(y1, ny)),
                      slice(max(x0, 0), min(x1, nx)))
            share, foreign = self._own_share(label, window)
            place = (slice(cy + window[0].start - y0,
                           cy + window[0].stop - y0),
                     slice(cx + window[1].start - x0,
                           cx + window[1].stop - x0))
            data[place] = np.asarray(self._data[window], dtype=float) * share
            mask[place] = (False if self._mask is None
                           else self._mask[window])
            local = segm[place]
            local[foreign] = -1
            fractions, box = self._fraction_box[label]
            local[box[0].start - window[0].start:
                  box[0].stop - window[0].start,
                  box[1].start - window[1].start:
                  box[1].stop - window[1].start][fractions > 0] = label
        return (data, mask, segm), origins

    @lazyproperty
    def _measured_kron_radius(self):
        """The unscaled Kron radius, measured on isolated sources."""
        if self._disjoint:
            return self._photutils('_measured_kron_radius')
        return np.array(self._packed('_measured_kron_radius'), dtype=float)

    @lazyproperty
    def centroid_win(self):
        """
        The ``(x, y)`` windowed centroid, measured on the
        neighbour-subtracted data.
        """
        if self._disjoint:
            return self._photutils('centroid_win')
        result = np.array(self._packed(
            'centroid_win',
            flux_radius=np.atleast_1d(self.flux_radius(0.5).value)),
            dtype=float).reshape(-1, 2)
        return result[0] if self.isscalar else result

    @lazyproperty
    def _flux_radius_optimizer_args(self):
        """Cut-outs for ``flux_radius``, from the isolated sources."""
        if self._disjoint:
            return self._photutils('_flux_radius_optimizer_args')
        return self._packed(
            '_flux_radius_optimizer_args',
            _kron_photometry=np.atleast_2d(self._kron_photometry),
            _max_circular_kron_radius=np.atleast_1d(
                self._max_circular_kron_radius))


# Window pixels measured together on one canvas, and the masked gap
# between two windows (beyond the few pixels photutils' boxes reach past
# the Kron reach by rounding).
_CANVAS_PIXELS = 2 ** 22
_GAP = 16


class _PackedCatalog(SourceCatalog):
    """
    photutils' catalog machinery over a canvas of windows (see
    `WeightedSourceCatalog._packed`): no segment quantity is computed
    here; the centroids, shapes and local background are the weighted
    catalog's, given.
    """

    def __init__(self, parent, canvas, labels, values):
        data, mask, segm = canvas
        self._data = data
        self._mask = mask
        self._segmentation_image = _LabelArray(segm)
        self._detection_catalog = None
        self._labels = np.asarray(labels)
        self.kron_params = parent.kron_params
        self.aperture_mask_method = parent.aperture_mask_method
        self._aperture_mask_kwargs = parent._aperture_mask_kwargs
        self.progress_bar = False
        self._flux_radius_cache = {}
        self.__dict__['isscalar'] = False
        radius = values.pop('flux_radius', None)
        self._half_light = None if radius is None else radius << u.pix
        for key, value in values.items():
            self.__dict__[key] = value

    def flux_radius(self, fraction, name=None, overwrite=False):
        """The weighted catalog's half-light radius (for centroid_win)."""
        if fraction != 0.5 or self._half_light is None:
            raise NotImplementedError('only flux_radius(0.5) is given')
        return self._half_light


class _FootprintValues:
    """
    The summed fractions of an attribution (its ``total_fraction``, 0 off
    the footprint), kept on the footprint pixels (``O(footprint)``) and
    read as dense windows: ``values[slc]`` for in-image slices of step 1
    equals ``segmentation.total_fraction[slc]``.
    """

    def __init__(self, attribution):
        # (an attribution's pixels are strictly increasing flat indices)
        self.pixels = attribution.pixels
        self.totals = np.where(attribution.labels > 0, attribution.weights,
                               0.0).sum(axis=1)
        self.shape = tuple(attribution.shape)

    def __getitem__(self, slc):
        (y0, y1, _), (x0, x1, _) = (part.indices(n) for part, n in
                                    zip(slc, self.shape))
        width = self.shape[1]
        # The footprint pixels of rows y0..y1 are one run of the sorted
        # flat indices.
        lo, hi = np.searchsorted(self.pixels, [y0 * width, y1 * width])
        yy, xx = np.divmod(self.pixels[lo:hi], width)
        inside = (xx >= x0) & (xx < x1)
        window = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)))
        window[yy[inside] - y0, xx[inside] - x0] = self.totals[lo:hi][inside]
        return window


class _LabelArray:
    """A label array where photutils reads ``segmentation_image.data``."""

    def __init__(self, data):
        self.data = data
