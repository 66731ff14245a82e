"""
The files a deblending run produces: the weighted segmentation (FITS), the
catalog (ECSV) and a PNG overview.
"""

from pathlib import Path

import numpy as np

from .files import write_weighted_segmentation

__all__ = ['OVERVIEW_SIDE', 'write_products', 'plot_overview']


#: The most pixels along a side drawn by `plot_overview`: larger images
#: are drawn from every ``k``-th pixel (the PNG has ~500 pixels a panel,
#: so 1024 still draws two image pixels a PNG pixel; matplotlib's
#: resampling of 2048 x 2048 panels was the peak of ``astropais deblend``
#: at 16384 x 16384).
OVERVIEW_SIDE = 1024


def plot_overview(data, segmentation, catalog=None, *, figure=None):
    """
    Draw the image, the disjoint segmentation and the source apertures.

    Parameters
    ----------
    data : 2-D `~numpy.ndarray`
        The background-subtracted image.
    segmentation : `~astropais.WeightedSegmentationImage`
        The weighted segmentation.
    catalog : `~photutils.segmentation.SourceCatalog`, optional
        If given, its Kron apertures are drawn on the image.
    figure : `matplotlib.figure.Figure`, optional
        The figure to draw in (default: a new one, without pyplot).

    Returns
    -------
    figure : `matplotlib.figure.Figure`
        The figure, with the image (asinh stretch) on the left and the
        label map, coloured with ``segmentation.cmap``, on the right, in
        pixel coordinates.  An image with a side longer than
        `OVERVIEW_SIDE` is drawn from every ``k``-th pixel of every
        ``k``-th row (the smallest ``k`` that brings both sides within
        it), so that a large mosaic is never copied whole for drawing.
    """
    from astropy.visualization import AsinhStretch, ImageNormalize, \
        ZScaleInterval
    from matplotlib.figure import Figure

    if figure is None:
        figure = Figure(figsize=(10, 5), layout='constrained')
    ax_image, ax_segm = figure.subplots(1, 2, sharex=True, sharey=True)
    step = -(-max(np.shape(data)) // OVERVIEW_SIDE)
    shown = np.asarray(data[::step, ::step])
    finite = np.where(np.isfinite(shown), shown, 0.0)
    labels = np.asarray(segmentation.data[::step, ::step])
    ny, nx = np.shape(data)
    # Each drawn pixel stands for a step x step block.
    extent = (-0.5, labels.shape[1] * step - 0.5,
              -0.5, labels.shape[0] * step - 0.5)
    norm = ImageNormalize(finite, interval=ZScaleInterval(),
                          stretch=AsinhStretch())
    ax_image.imshow(finite, origin='lower', cmap='Greys_r', norm=norm,
                    interpolation='nearest', extent=extent)
    ax_image.set_title('Data')
    ax_segm.imshow(labels, origin='lower', cmap=segmentation.cmap,
                   interpolation='nearest', extent=extent, vmin=0,
                   vmax=max(int(segmentation.max_label), 1))
    ax_segm.set_title(f'PAIS segmentation ({segmentation.n_labels} sources)')
    ax_image.set_xlim(-0.5, nx - 0.5)
    ax_image.set_ylim(-0.5, ny - 0.5)
    if catalog is not None:
        from matplotlib.lines import Line2D
        # One collection of ellipses a panel (photutils'
        # plot_kron_apertures makes two patches a source: minutes for
        # 100 000 sources).
        ellipses = _kron_ellipses(catalog)
        _draw_ellipses(ax_image, ellipses, 'tab:orange')
        _draw_ellipses(ax_segm, ellipses, 'white')
        ax_image.legend(handles=[Line2D([], [], color='tab:orange', lw=1,
                                        label='Kron apertures (catalog)')],
                        loc='upper right', fontsize='small', framealpha=0.8)
    return figure


def _kron_ellipses(catalog):
    """The ``(x, y, a, b, theta in degrees)`` rows of the catalog's Kron
    apertures (circular ones with ``a = b``; sources without one are
    left out)."""
    apertures = catalog.kron_aperture
    if getattr(catalog, 'isscalar', False):
        apertures = [apertures]
    rows = []
    # A loop over the sources' apertures (objects): their parameters only.
    for aperture in apertures:
        if aperture is None:
            continue
        x, y = np.ravel(aperture.positions)[:2]
        a = getattr(aperture, 'a', getattr(aperture, 'r', np.nan))
        b = getattr(aperture, 'b', a)
        theta = getattr(aperture, 'theta', 0.0)
        theta = (theta.to_value('deg') if hasattr(theta, 'to_value')
                 else np.degrees(theta))
        rows.append((x, y, a, b, theta))
    return np.array(rows, dtype=float).reshape(-1, 5)


def _draw_ellipses(ax, ellipses, color):
    """Draw ``(x, y, a, b, theta)`` ellipses as one collection."""
    from matplotlib.collections import EllipseCollection

    ax.add_collection(EllipseCollection(
        2 * ellipses[:, 2], 2 * ellipses[:, 3], ellipses[:, 4], units='xy',
        offsets=ellipses[:, :2], offset_transform=ax.transData,
        facecolors='none', edgecolors=color, linewidths=1))


def write_products(directory, stem, data, segmentation, catalog, *,
                   wcs=None, overwrite=False, provenance=None):
    """
    Write the segmentation, the catalog and an overview picture.

    Parameters
    ----------
    directory : str or path-like
        Output directory (created if needed).
    stem : str
        File name stem: ``<stem>_segm.fits``, ``<stem>_catalog.ecsv``,
        ``<stem>_overview.png``.
    data : 2-D `~numpy.ndarray`
        The background-subtracted image.
    segmentation : `~astropais.WeightedSegmentationImage`
        The weighted segmentation.
    catalog : `~astropais.WeightedSourceCatalog` or `~astropy.table.Table`
        Its catalog (or a table of it, such as
        `~astropais.segmentation.multiband_catalog`'s; the overview then
        has no apertures).
    wcs : `~astropy.wcs.WCS`, optional
        Stored with the segmentation.
    overwrite : bool, optional
        Replace existing files.
    provenance : dict, optional
        ``KEYWORD: (value, comment)`` cards recording how the products were
        made: written to the segmentation's primary FITS header and, as
        ``KEYWORD: value``, to the catalog's ECSV meta.

    Returns
    -------
    paths : dict of `pathlib.Path`
        ``segmentation``, ``catalog`` and ``overview``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {'segmentation': directory / f'{stem}_segm.fits',
             'catalog': directory / f'{stem}_catalog.ecsv',
             'overview': directory / f'{stem}_overview.png'}
    if not overwrite:
        existing = [str(p) for p in paths.values() if p.exists()]
        if existing:
            raise OSError(f'output exists: {existing}; pass overwrite=True '
                          '(--overwrite on the command line) to replace it')
    provenance = dict(provenance or {})
    write_weighted_segmentation(segmentation, paths['segmentation'], wcs=wcs,
                                overwrite=overwrite)
    if provenance:
        from astropy.io import fits
        with fits.open(paths['segmentation'], mode='update') as hdul:
            hdul[0].header.update(provenance)
    is_table = not hasattr(catalog, 'to_table')
    table = catalog if is_table else catalog.to_table()
    table.meta.update({key: value for key, (value, _) in provenance.items()})
    table.write(paths['catalog'], format='ascii.ecsv', overwrite=overwrite)
    # The catalog's freed working memory handed back before drawing.
    from astropais.segmentation.inputs import trim_heap
    trim_heap()
    plot_overview(data, segmentation, None if is_table else catalog).savefig(
        paths['overview'], dpi=100, bbox_inches='tight')
    return paths
