"""
The demo's picture of what a weighted segmentation adds to a label map:
the fraction maps and deblended images of the most blended pair.
"""

import numpy as np

__all__ = ['most_blended_pair', 'plot_blended_pair']


def most_blended_pair(segmentation, data):
    """
    The two sources that share the most flux.

    Parameters
    ----------
    segmentation : `~astropais.WeightedSegmentationImage`
        The weighted segmentation.
    data : 2-D `~numpy.ndarray`
        The background-subtracted image.

    Returns
    -------
    pair : tuple of int or `None`
        The two labels (smaller first), or `None` if no pixel is shared.
    shared_flux : float
        The flux of their shared pixels handed to the lesser of the two,
        summed (what a disjoint label map gives entirely to one source).

    Examples
    --------
    >>> import numpy as np
    >>> from astropais import WeightedSegmentationImage
    >>> from astropais.cli.figures import most_blended_pair
    >>> segm = WeightedSegmentationImage(np.array([[1, 1, 2, 2]]))
    >>> most_blended_pair(segm, np.ones((1, 4)))
    (None, 0.0)
    """
    attr = segmentation.attribution
    if attr.labels.shape[1] < 2 or attr.pixels.size == 0:
        return None, 0.0
    order = np.argsort(-attr.weights, axis=1)[:, :2]
    labels = np.take_along_axis(attr.labels, order, axis=1)
    weights = np.take_along_axis(attr.weights, order, axis=1)
    shared = (labels[:, 1] > 0) & (weights[:, 1] > 0)
    if not np.any(shared):
        return None, 0.0
    pairs = np.sort(labels[shared], axis=1)
    flux = weights[shared, 1] * np.abs(data.flat[attr.pixels[shared]])
    keys, inverse = np.unique(pairs, axis=0, return_inverse=True)
    totals = np.bincount(inverse.ravel(), weights=flux)
    best = int(np.argmax(totals))
    return (int(keys[best, 0]), int(keys[best, 1])), float(totals[best])


def plot_blended_pair(data, segmentation, catalog, *, figure=None,
                      pad=4):
    """
    Draw the most blended pair: the image with its Kron apertures, the
    label map, and each source's fraction map and deblended image.

    Parameters
    ----------
    data : 2-D `~numpy.ndarray`
        The background-subtracted image.
    segmentation : `~astropais.WeightedSegmentationImage`
        The weighted segmentation.
    catalog : `~astropais.WeightedSourceCatalog`
        Its catalog (for the Kron apertures and centroids).
    figure : `matplotlib.figure.Figure`, optional
        The figure to draw in (default: a new one, without pyplot).
    pad : int, optional
        Pixels around the pair's fraction boxes.

    Returns
    -------
    figure : `matplotlib.figure.Figure` or `None`
        A 2 x 3 figure, or `None` if no two sources share a pixel.
    """
    from astropy.visualization import AsinhStretch, ImageNormalize, \
        MinMaxInterval
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    pair, shared = most_blended_pair(segmentation, data)
    if pair is None:
        return None
    boxes = [segmentation.fraction_slices[segmentation.get_index(label)]
             for label in pair]
    y0 = max(0, min(b[0].start for b in boxes) - pad)
    y1 = min(data.shape[0], max(b[0].stop for b in boxes) + pad)
    x0 = max(0, min(b[1].start for b in boxes) - pad)
    x1 = min(data.shape[1], max(b[1].stop for b in boxes) + pad)
    window = (slice(y0, y1), slice(x0, x1))
    extent = (x0 - 0.5, x1 - 0.5, y0 - 0.5, y1 - 0.5)

    if figure is None:
        aspect = (y1 - y0) / (x1 - x0)
        figure = Figure(figsize=(11, 1.2 + 2 * 3.3 * min(aspect, 1.5)),
                        layout='constrained')
    axes = figure.subplots(2, 3, sharex=True, sharey=True)
    cutout = data[window]
    norm = ImageNormalize(cutout, interval=MinMaxInterval(),
                          stretch=AsinhStretch(0.05))
    show = {'origin': 'lower', 'extent': extent, 'interpolation': 'nearest'}
    axes[0, 0].imshow(cutout, cmap='Greys_r', norm=norm, **show)
    axes[0, 0].set_title('Data (asinh stretch)')
    axes[1, 0].imshow(segmentation.data[window], cmap=segmentation.cmap,
                      **show)
    axes[1, 0].set_title('Disjoint label map (argmax)')
    colours = ('tab:orange', 'tab:cyan')
    for row, (label, colour) in enumerate(zip(pair, colours)):
        source = catalog.select_label(label)
        for ax in axes[:, 0]:
            source.kron_aperture.plot(ax=ax, color=colour, lw=1.5)
            ax.plot(source.x_centroid, source.y_centroid, '+', color=colour,
                    ms=10, mew=2)
        fractions = np.zeros(data.shape)
        cut, slc = segmentation.fraction_image(label)
        fractions[slc] = cut
        image = axes[row, 1].imshow(fractions[window], cmap='viridis',
                                    vmin=0, vmax=1, **show)
        axes[row, 1].set_title(f'Fractions $M_{{{label}}}$ of source {label}',
                               color=colour)
        axes[row, 2].imshow(fractions[window] * cutout, cmap='Greys_r',
                            norm=norm, **show)
        axes[row, 2].set_title(f'Deblended source {label} '
                               f'($M_{{{label}}} \\times$ data)',
                               color=colour)
    figure.colorbar(image, ax=axes[:, 1], shrink=0.8,
                    label='fraction of the pixel flux')
    handles = [Line2D([], [], color=c, lw=1.5,
                      label=f'Kron aperture, source {label}')
               for label, c in zip(pair, colours)]
    handles.append(Line2D([], [], color='0.5', marker='+', ls='', ms=10,
                          mew=2, label='centroid'))
    axes[0, 0].legend(handles=handles, loc='upper left', fontsize='small',
                      framealpha=0.8)
    figure.suptitle(f'The most blended pair, sources {pair[0]} and {pair[1]}:'
                    f' their shared pixels hold {shared:.3g} (data units) of '
                    'the lesser share,\nwhich a disjoint label map gives '
                    'wholly to one of them')
    return figure
