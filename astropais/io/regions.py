"""
Export source footprints and apertures as `regions` objects.

The disjoint segments are already available from photutils
(`~photutils.segmentation.SegmentationImage.to_regions`); these functions
add the footprint of each source's *fractions* (which overlap) and the
catalog's apertures.
"""

import numpy as np

__all__ = ['fraction_regions', 'aperture_regions']


def fraction_regions(segmentation, *, min_fraction=0.0, **kwargs):
    """
    Polygons around the pixels where each source has a fraction.

    Unlike the disjoint segments, these overlap where sources share
    pixels.

    Parameters
    ----------
    segmentation : `~astropais.WeightedSegmentationImage`
        The weighted segmentation.
    min_fraction : float, optional
        Outline the pixels where the source's fraction exceeds this value
        (default 0: every pixel it has a share of).
    **kwargs
        Visual keywords for the regions (``color``, ``linewidth``, ...).

    Returns
    -------
    regions : `~regions.Regions`
        One `~regions.PolygonPixelRegion` per contiguous part of each
        source's fraction footprint; ``region.meta['label']`` is the label.
    """
    from photutils.segmentation import SegmentationImage
    from regions import PixCoord, PolygonPixelRegion, Regions

    if not 0 <= min_fraction < 1:
        raise ValueError('min_fraction must be in [0, 1)')
    result = []
    # A loop over sources: each outline is traced on its own cut-out.
    for label, fractions, slc in zip(segmentation.labels,
                                     segmentation.fraction_cutouts,
                                     segmentation.fraction_slices):
        support = (fractions > min_fraction).astype(np.int32)
        if not support.any():
            continue
        for region in SegmentationImage(support).to_regions(**kwargs):
            vertices = PixCoord(region.vertices.x + slc[1].start,
                                region.vertices.y + slc[0].start)
            shifted = PolygonPixelRegion(vertices, visual=region.visual)
            shifted.meta['label'] = int(label)
            result.append(shifted)
    return Regions(result)


def aperture_regions(catalog, *, kind='kron', radius=None, **kwargs):
    """
    The catalog's apertures as regions.

    Parameters
    ----------
    catalog : `~photutils.segmentation.SourceCatalog`
        A (weighted) source catalog.
    kind : {'kron', 'circular'}, optional
        Kron ellipses, or circles of ``radius`` pixels at the centroids.
    radius : float, optional
        The circle radius for ``kind='circular'``.
    **kwargs
        Visual keywords for the regions.

    Returns
    -------
    regions : `~regions.Regions`
        One region per source with a defined aperture;
        ``region.meta['label']`` is the label.
    """
    from photutils.aperture import aperture_to_region
    from regions import Regions

    if kind == 'kron':
        apertures = catalog.kron_aperture
    elif kind == 'circular':
        if radius is None or not radius > 0:
            raise ValueError("kind='circular' needs a positive radius")
        apertures = catalog.make_circular_apertures(radius)
    else:
        raise ValueError(f"kind must be 'kron' or 'circular', got {kind!r}")
    if catalog.isscalar:
        apertures = [apertures]
    result = []
    for label, aperture in zip(catalog.labels, apertures):
        if aperture is None:
            continue
        region = aperture_to_region(aperture)
        region.meta['label'] = int(label)
        for key, value in kwargs.items():
            region.visual[key] = value
        result.append(region)
    return Regions(result)
