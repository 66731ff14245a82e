"""
`WeightedSourceCatalog`: a photutils `~photutils.segmentation.SourceCatalog`
whose photometry and morphology use the partial attribution.

Compatibility: this subclass overrides or reads private members of
photutils' ``SourceCatalog`` (listed in ``_REQUIRED_PRIVATE`` and
``_REQUIRED_INSTANCE``) and uses photutils' private
``_mask_to_mirrored_value``.  It is written and tested against photutils
3.0; `check_photutils_compatibility` raises if a name it relies on is
gone.
"""

import functools

import numpy as np
from astropy import units as u
from astropy.utils import lazyproperty
from photutils.segmentation import SegmentationImage, SourceCatalog

from .inputs import check_real, unpack_nddata
from .weighted import WeightedSegmentationImage

__all__ = ['WeightedSourceCatalog', 'check_photutils_compatibility']

# Private SourceCatalog class members this module overrides or calls.
_REQUIRED_PRIVATE = ('_data_cutouts', '_convdata_cutouts', '_error_cutouts',
                     '_background_cutouts', '_cutout_segment_masks',
                     '_make_aperture_data', '_measured_kron_radius',
                     '_flux_radius_optimizer_args', '_local_background',
                     '_slices_iter', '_lazyproperties', '_x_centroid',
                     '_y_centroid', '_null_objects', '_make_cutout_data_mask',
                     '_kron_photometry')
# Private SourceCatalog instance attributes this module reads or sets.
_REQUIRED_INSTANCE = ('_data', '_convolved_data', '_error', '_mask',
                      '_background', '_slices', '_segmentation_image')
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
        self._disjoint = segmentation_image.attribution.is_disjoint
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
        self._total_fraction = segmentation_image.total_fraction
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

    def _weighted(self, array):
        """``M_i * array`` in each source's box (NaN stays NaN)."""
        return [np.asarray(array[slc], dtype=float) * fractions
                for slc, fractions in zip(self._slices_iter,
                                          self._fraction_cutouts)]

    @lazyproperty
    def _data_cutouts(self):
        """The deblended data cut-outs ``M_i * data``."""
        if self._disjoint:
            return self._photutils('_data_cutouts')
        return self._weighted(self._data)

    @lazyproperty
    def _convdata_cutouts(self):
        """The deblended convolved-data cut-outs ``M_i * convolved_data``."""
        if self._disjoint:
            return self._photutils('_convdata_cutouts')
        return self._weighted(self._convolved_data)

    @lazyproperty
    def _error_cutouts(self):
        """The error cut-outs scaled by the fractions, ``M_i * error``."""
        if self._disjoint:
            return self._photutils('_error_cutouts')
        if self._error is None:
            return self._null_objects
        return self._weighted(self._error)

    @lazyproperty
    def _background_cutouts(self):
        """The background cut-outs scaled by the fractions."""
        if self._disjoint:
            return self._photutils('_background_cutouts')
        if self._background is None:
            return self._null_objects
        return self._weighted(self._background)

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
        keep = 1.0 - self._total_fraction[slc]
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
        foreign = (self._total_fraction[slc] > 0) & (own <= 0)
        return keep + own, foreign

    def _isolated(self, label, slc, array):
        """
        ``array * (1 - sum_{j != label} M_j)`` over ``slc``: the other
        sources' attributed shares removed.
        """
        share, _ = self._own_share(label, slc)
        return np.asarray(array[slc], dtype=float) * share

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

    @lazyproperty
    def _isolated_catalogs(self):
        """
        For every source, a one-source photutils catalog on a window of
        the neighbour-subtracted data, and the window's ``(y0, x0)``.

        Its segment (label 1) is the source's fraction support, and the
        pixels wholly attributed to other sources are label 2, so its
        segment quantities equal this catalog's and photutils measures
        the aperture quantities (Kron radius, windowed centroid, flux
        radius) on it exactly as for a source with masked or corrected
        neighbours.
        """
        ny, nx = self._data.shape
        semimajor = np.atleast_1d(self.semimajor_axis.value)
        xcen = np.atleast_1d(self._x_centroid)
        ycen = np.atleast_1d(self._y_centroid)
        # The Kron measuring ellipse reaches 6 a; the Kron aperture
        # kron_params[0] * 6 a; keep a margin.
        reach = 6.0 * max(self.kron_params[0], 1.0) * semimajor + 3.0
        reach = np.where(np.isfinite(reach), reach, 3.0)
        bkg = np.atleast_1d(self._local_background)
        convolved = self._convolved_data is not self._data
        result = []
        # A loop over sources: each gets its own small catalog.
        for label, slc, xc, yc, r, bkg_i in zip(
                self.labels, self._slices_iter, xcen, ycen, reach, bkg):
            if np.isfinite(xc) and np.isfinite(yc):
                y0 = max(0, min(slc[0].start, int(np.floor(yc - r))))
                y1 = min(ny, max(slc[0].stop, int(np.ceil(yc + r)) + 1))
                x0 = max(0, min(slc[1].start, int(np.floor(xc - r))))
                x1 = min(nx, max(slc[1].stop, int(np.ceil(xc + r)) + 1))
            else:
                (y0, y1), (x0, x1) = ((slc[0].start, slc[0].stop),
                                      (slc[1].start, slc[1].stop))
            window = (slice(y0, y1), slice(x0, x1))
            fractions, box = self._fraction_box[int(label)]
            share, foreign = self._own_share(label, window)
            local_segm = np.where(foreign, 2, 0).astype(np.int32)
            local_segm[box[0].start - y0:box[0].stop - y0,
                       box[1].start - x0:box[1].stop - x0][fractions > 0] = 1
            kwargs = {'kron_params': self.kron_params,
                      'aperture_mask_method': self.aperture_mask_method}
            if self._mask is not None:
                kwargs['mask'] = self._mask[window]
            if self._error is not None:
                kwargs['error'] = np.asarray(self._error[window],
                                             dtype=float) * share
            if convolved:
                kwargs['convolved_data'] = np.asarray(
                    self._convolved_data[window], dtype=float) * share
            cat = SourceCatalog(np.asarray(self._data[window], dtype=float)
                                * share, SegmentationImage(local_segm),
                                **kwargs)[0]
            cat.__dict__['_local_background'] = np.array([bkg_i])
            result.append((cat, (y0, x0)))
        return result

    @lazyproperty
    def _measured_kron_radius(self):
        """The unscaled Kron radius, measured on isolated sources."""
        if self._disjoint:
            return self._photutils('_measured_kron_radius')
        return np.array([float(np.atleast_1d(cat._measured_kron_radius)[0])
                         for cat, _ in self._isolated_catalogs])

    @lazyproperty
    def centroid_win(self):
        """
        The ``(x, y)`` windowed centroid, measured on the
        neighbour-subtracted data.
        """
        if self._disjoint:
            return self._photutils('centroid_win')
        result = np.array([np.ravel(cat.centroid_win) + (x0, y0)
                           for cat, (y0, x0) in self._isolated_catalogs])
        return result[0] if self.isscalar else result

    @lazyproperty
    def _flux_radius_optimizer_args(self):
        """Cut-outs for ``flux_radius``, from the isolated sources."""
        if self._disjoint:
            return self._photutils('_flux_radius_optimizer_args')
        args = []
        for (cat, _), kron_flux in zip(self._isolated_catalogs,
                                       np.atleast_1d(self._kron_photometry[
                                           ..., 0])):
            local = cat._flux_radius_optimizer_args[0]
            if local is not None and np.isfinite(kron_flux) \
                    and kron_flux != 0:
                local = [local[0], local[1], kron_flux, local[3]]
            else:
                local = None
            args.append(local)
        return args
