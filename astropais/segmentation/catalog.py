"""
`WeightedSourceCatalog`: a photutils `~photutils.segmentation.SourceCatalog`
whose photometry and morphology use the partial attribution.

Compatibility: this subclass overrides private per-source cut-out
properties of photutils' ``SourceCatalog`` (``_data_cutouts``,
``_convdata_cutouts``, ``_error_cutouts``, ``_background_cutouts``,
``_cutout_segment_masks``, ``_make_aperture_data``,
``_measured_kron_radius``, ``centroid_win`` and
``_flux_radius_optimizer_args``).  It is written and tested against
photutils 3.0; `check_photutils_compatibility` raises if a name it relies
on is gone.
"""

import numpy as np
from astropy.utils import lazyproperty
from photutils.segmentation import SegmentationImage, SourceCatalog

from .weighted import WeightedSegmentationImage

__all__ = ['WeightedSourceCatalog', 'check_photutils_compatibility']

# Private SourceCatalog members this module overrides or calls.
_REQUIRED_PRIVATE = ('_data_cutouts', '_convdata_cutouts', '_error_cutouts',
                     '_background_cutouts', '_cutout_segment_masks',
                     '_make_aperture_data', '_measured_kron_radius',
                     '_flux_radius_optimizer_args', '_local_background',
                     '_slices_iter', '_lazyproperties', '_x_centroid',
                     '_y_centroid')

# Extra attributes (not lazy properties) copied when a catalog is indexed.
_EXTRA_ATTRIBUTES = ('_total_fraction', '_fraction_box')


def check_photutils_compatibility():
    """
    Check that photutils' `~photutils.segmentation.SourceCatalog` still has
    the private members `WeightedSourceCatalog` builds on.

    Raises
    ------
    ImportError
        If one of them is missing (an incompatible photutils release).
    """
    missing = [name for name in _REQUIRED_PRIVATE
               if not hasattr(SourceCatalog, name)]
    if missing:
        import photutils
        raise ImportError(
            f'photutils {photutils.__version__} lacks SourceCatalog members '
            f'{missing} that astropais.WeightedSourceCatalog needs; install a '
            'photutils release in the tested range (3.0.x)')


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
    source's own outskirts outside the footprint are kept.  The
    ``aperture_mask_method`` option therefore has no effect here.

    Parameters
    ----------
    data : 2-D `~numpy.ndarray` or `~astropy.units.Quantity`
        The background-subtracted image.
    segmentation_image : `WeightedSegmentationImage`
        The weighted segmentation (e.g. from `PAISDeblender`).
    **kwargs
        Passed to `~photutils.segmentation.SourceCatalog` (``error``,
        ``mask``, ``background``, ``wcs``, ``convolved_data``,
        ``local_bkg_width``, ``kron_params``, ``progress_bar``, ...).
        ``detection_catalog`` is not supported.

    Notes
    -----
    ``segment_area`` is the area of the source's segment in the disjoint
    label map; ``area`` is the number of unmasked pixels where the source
    has a positive fraction.  ``data_cutout`` is the deblended cut-out
    ``M_i * data``; ``bbox`` and ``slices`` are the box of the source's
    fractions (`WeightedSegmentationImage.fraction_slices`).
    """

    def __init__(self, data, segmentation_image, **kwargs):
        check_photutils_compatibility()
        if not isinstance(segmentation_image, WeightedSegmentationImage):
            raise TypeError('segmentation_image must be a '
                            'WeightedSegmentationImage (use photutils '
                            'SourceCatalog for a disjoint segmentation)')
        if kwargs.get('detection_catalog') is not None:
            raise ValueError('detection_catalog is not supported by '
                             'WeightedSourceCatalog')
        super().__init__(data, segmentation_image, **kwargs)
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
        return self._weighted(self._data)

    @lazyproperty
    def _convdata_cutouts(self):
        """The deblended convolved-data cut-outs ``M_i * convolved_data``."""
        return self._weighted(self._convolved_data)

    @lazyproperty
    def _error_cutouts(self):
        """The error cut-outs scaled by the fractions, ``M_i * error``."""
        if self._error is None:
            return self._null_objects
        return self._weighted(self._error)

    @lazyproperty
    def _background_cutouts(self):
        """The background cut-outs scaled by the fractions."""
        if self._background is None:
            return self._null_objects
        return self._weighted(self._background)

    @lazyproperty
    def _cutout_segment_masks(self):
        """`True` where the source has no fraction."""
        return [fractions <= 0 for fractions in self._fraction_cutouts]

    # -- aperture quantities on neighbour-subtracted data ------------------
    def _isolated(self, label, slc, array):
        """
        ``array * (1 - sum_{j != label} M_j)`` over ``slc``: the other
        sources' attributed shares removed.
        """
        keep = 1.0 - self._total_fraction[slc]
        fractions, box = self._fraction_box[int(label)]
        # Overlap of the source's fraction box with the window.
        y0 = max(slc[0].start, box[0].start)
        y1 = min(slc[0].stop, box[0].stop)
        x0 = max(slc[1].start, box[1].start)
        x1 = min(slc[1].stop, box[1].stop)
        if y1 > y0 and x1 > x0:
            keep[y0 - slc[0].start:y1 - slc[0].start,
                 x0 - slc[1].start:x1 - slc[1].start] += \
                fractions[y0 - box[0].start:y1 - box[0].start,
                          x0 - box[1].start:x1 - box[1].start]
        return np.asarray(array[slc], dtype=float) * keep

    def _make_aperture_data(self, label, x_centroid, y_centroid,
                            aperture_bbox, local_background, *,
                            make_error=True):
        """
        Aperture cut-outs of the neighbour-subtracted data (and error).
        """
        slc_lg, slc_sm = aperture_bbox.get_overlap_slices(self._data.shape)
        if slc_lg is None:
            return (None,) * 5
        data = self._isolated(label, slc_lg, self._data) - local_background
        mask_cutout = None if self._mask is None else self._mask[slc_lg]
        mask = self._make_cutout_data_mask(data, mask_cutout)
        error = None
        if make_error and self._error is not None:
            error = self._isolated(label, slc_lg, self._error)
        cutout_xycen = (x_centroid - max(0, aperture_bbox.ixmin),
                        y_centroid - max(0, aperture_bbox.iymin))
        return data, error, mask, cutout_xycen, slc_sm

    @lazyproperty
    def _isolated_catalogs(self):
        """
        For every source, a one-source photutils catalog on a window of
        the neighbour-subtracted data, and the window's ``(y0, x0)``.

        Its segment is the source's fraction support, so its segment
        quantities equal this catalog's; photutils then measures the
        aperture quantities (Kron radius, windowed centroid, flux radius)
        on it exactly as for an isolated source.
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
            local_segm = np.zeros((y1 - y0, x1 - x0), dtype=np.int32)
            local_segm[box[0].start - y0:box[0].stop - y0,
                       box[1].start - x0:box[1].stop - x0] = fractions > 0
            kwargs = {'kron_params': self.kron_params,
                      'aperture_mask_method': 'none'}
            if self._mask is not None:
                kwargs['mask'] = self._mask[window]
            if self._error is not None:
                kwargs['error'] = self._isolated(label, window, self._error)
            cat = SourceCatalog(self._isolated(label, window, self._data),
                                SegmentationImage(local_segm), **kwargs)
            cat.__dict__['_local_background'] = np.array([bkg_i])
            result.append((cat, (y0, x0)))
        return result

    @lazyproperty
    def _measured_kron_radius(self):
        """The unscaled Kron radius, measured on isolated sources."""
        return np.array([float(np.atleast_1d(cat._measured_kron_radius)[0])
                         for cat, _ in self._isolated_catalogs])

    @lazyproperty
    def centroid_win(self):
        """
        The ``(x, y)`` windowed centroid, measured on the
        neighbour-subtracted data.
        """
        result = np.array([np.ravel(cat.centroid_win) + (x0, y0)
                           for cat, (y0, x0) in self._isolated_catalogs])
        return result[0] if self.isscalar else result

    @lazyproperty
    def _flux_radius_optimizer_args(self):
        """Cut-outs for ``flux_radius``, from the isolated sources."""
        args = []
        for (cat, _), kron_flux in zip(self._isolated_catalogs,
                                       np.atleast_1d(self._kron_photometry[
                                           ..., 0])):
            local = cat._flux_radius_optimizer_args[0]
            if local is not None:
                local = [local[0], local[1], kron_flux, local[3]]
            args.append(local)
        return args
