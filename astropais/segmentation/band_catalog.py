"""
`multiband_catalog`: one table of per-band fluxes and colours of every
source of a (multi-band) segmentation.
"""

import numpy as np
from astropy import units as u
from astropy.nddata import NDData
from astropy.table import QTable

from .catalog import WeightedSourceCatalog
from .weighted import WeightedSegmentationImage

__all__ = ['multiband_catalog']


def _per_band(value, n_bands, name, allow_none=False):
    """
    A per-band list from a (b, H, W) array or a list of b images (of
    ``n_bands`` items unless it is None).
    """
    if value is None and allow_none:
        return [None] * n_bands
    if isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, NDData):
        raise TypeError(f'{name}: give a list of one NDData per band, not '
                        f'one NDData')
    elif np.ndim(value) == 3:
        items = [value[k] for k in range(np.shape(value)[0])]
    else:
        raise ValueError(f'{name} must be a (bands, ny, nx) array or a list '
                         f'of one 2-D image per band, got shape '
                         f'{np.shape(value)}')
    if n_bands is not None and len(items) != n_bands:
        raise ValueError(f'{name} has {len(items)} bands, the segmentation '
                         f'{n_bands}')
    return items


def multiband_catalog(data, segmentation_image, *, bands=None, error=None,
                      zero_points=None, columns=('segment_flux',),
                      centroid_band=0, **kwargs):
    """
    Per-band fluxes and colours of every source, in one table.

    Band ``k`` is measured by
    ``WeightedSourceCatalog(data[k], segmentation_image.band(k))``: with
    that band's fractions for a multi-band
    `~astropais.segmentation.WeightedSegmentationImage`, or with the one
    segmentation in every band for a single-band one (or a photutils
    `~photutils.segmentation.SegmentationImage`: photutils' and SEP's
    way, detect on one image and measure every band on its segments).

    Parameters
    ----------
    data : array_like or `~astropy.units.Quantity`, shape (b, ny, nx), or list
        The background-subtracted images, or a list of one 2-D array,
        `~astropy.units.Quantity` or `~astropy.nddata.NDData` per band.
    segmentation_image : `WeightedSegmentationImage` or `~photutils.segmentation.SegmentationImage`
        The segmentation.
    bands : sequence of str, optional
        Band names for the columns; default the segmentation's, else
        ``'0'``, ``'1'``, ...
    error : array_like, shape (b, ny, nx), or list, optional
        The 1-sigma error of each band's image (adds the ``*_err``
        columns of the flux quantities).
    zero_points : sequence of float, optional
        AB zero point of each band: adds ``mag_<band>`` columns and makes
        the colours ``mag_a - mag_b``.  Without them the colours are
        ``-2.5 log10(flux_a / flux_b)`` (bands in one flux unit).
    columns : sequence of str, optional
        The `~astropais.segmentation.WeightedSourceCatalog` quantities
        listed per band (``<name>_<band>``); the first is the flux of the
        colours.
    centroid_band : int or str, optional
        The band whose ``x_centroid`` and ``y_centroid`` the table lists.
    **kwargs
        Passed to every band's `~astropais.segmentation.WeightedSourceCatalog`
        (``mask``, ``wcs``, ``kron_params``, ``progress_bar``, ...).

    Returns
    -------
    table : `~astropy.table.QTable`
        ``label``, ``x_centroid``, ``y_centroid`` (and ``sky_centroid``
        with a ``wcs``), then per band the
        ``columns`` (and their errors), ``mag_<band>`` with
        ``zero_points``, and the colour of each pair of consecutive bands
        (``'<a>-<b>'``, NaN where a flux is not positive).

    Raises
    ------
    ValueError
        If the number of bands, band names or zero points does not match.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation import (WeightedSegmentationImage,
    ...                                     multiband_catalog)
    >>> from astropais.segmentation.bands import MultiBandAttribution
    >>> multi = MultiBandAttribution.from_weights(
    ...     (1, 2), [0, 1], [[1, 2], [2, 1]],
    ...     [[[0.75, 0.25], [0.5, 0.5]], [[0.25, 0.75], [1.0, 0.0]]],
    ...     [[0, 0], [0, 1]], bands=['g', 'i'])
    >>> data = np.array([[[8.0, 8.0]], [[4.0, 4.0]]])
    >>> table = multiband_catalog(data, WeightedSegmentationImage(multi))
    >>> table['segment_flux_g'].tolist(), table['segment_flux_i'].tolist()
    ([10.0, 6.0], [1.0, 7.0])
    >>> [round(c, 3) for c in table['g-i'].tolist()]
    [-2.5, 0.167]
    """
    segm = segmentation_image
    multi = isinstance(segm, WeightedSegmentationImage) and segm.n_bands > 1
    # One segmentation for every band: the data say how many bands.
    images = _per_band(data, segm.n_bands if multi else None, 'data')
    n_bands = len(images)
    errors = _per_band(error, n_bands, 'error', allow_none=True)
    names = tuple(bands) if bands is not None else (
        getattr(segm, 'bands', None) or tuple(str(k) for k in
                                              range(n_bands)))
    if len(names) != n_bands or len(set(names)) != n_bands:
        raise ValueError(f'bands must be {n_bands} unique names, got '
                         f'{names!r}')
    if zero_points is not None and np.shape(zero_points) != (n_bands,):
        raise ValueError(f'zero_points must have one value per band '
                         f'({n_bands}), got {zero_points!r}')
    columns = list(columns)
    if not columns:
        raise ValueError('columns must name at least one quantity')
    if isinstance(centroid_band, str):
        if centroid_band not in names:
            raise ValueError(f'no band {centroid_band!r}; the bands are '
                             f'{names}')
        centroid_band = names.index(centroid_band)

    table = QTable()
    fluxes = []
    # A loop over bands: each is one catalog of its own image.
    for k, (name, image, err) in enumerate(zip(names, images, errors)):
        catalog = WeightedSourceCatalog(
            image, segm.band(k) if multi else segm, error=err, **kwargs)
        if k == 0:
            table['label'] = catalog.labels
        if k == centroid_band:
            table['x_centroid'] = catalog.x_centroid
            table['y_centroid'] = catalog.y_centroid
            if kwargs.get('wcs') is not None:
                table['sky_centroid'] = catalog.sky_centroid
        for column in columns:
            table[f'{column}_{name}'] = getattr(catalog, column)
            if err is not None and hasattr(catalog, f'{column}_err'):
                table[f'{column}_err_{name}'] = getattr(catalog,
                                                        f'{column}_err')
        fluxes.append(getattr(catalog, columns[0]))
    offsets = np.zeros(n_bands) if zero_points is None else np.asarray(
        zero_points, dtype=float)
    # Magnitudes of the fluxes in one unit (the first band's, if any).
    unit = getattr(fluxes[0], 'unit', None)
    mags = [_magnitude(flux if unit is None else
                       u.Quantity(flux).to_value(unit)) + zp
            for flux, zp in zip(fluxes, offsets)]
    if zero_points is not None:
        for name, mag in zip(names, mags):
            table[f'mag_{name}'] = mag
    for k in range(n_bands - 1):
        table[f'{names[k]}-{names[k + 1]}'] = mags[k] - mags[k + 1]
    return table


def _magnitude(flux):
    """``-2.5 log10(flux)`` (NaN where the flux is not positive)."""
    value = np.asarray(flux, dtype=float)
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(value > 0, -2.5 * np.log10(value), np.nan)
