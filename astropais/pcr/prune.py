"""
Centres must earn their place: drop a decoded centre that is neither a
peak of the image nor a real share of the light it sits in.

A network whose view is smaller than an object finds several centres
inside one smooth profile (the wedges of a large galaxy, the spikes of a
bright star).  photutils keeps a deblended source only if it is a
separate peak above a saddle (multi-thresholding) holding at least
``contrast`` of the parent's flux; SExtractor likewise.  PAIS can split a
close pair with no saddle between the two, which those cannot, so a centre
here is kept when it *either* is a separate peak (the smoothed image dips
between it and its brighter neighbour by more than the noise) *or* holds a
real share of the pair's flux.  Centres on masked pixels never multiply:
one centre per connected masked region.  numpy/scipy only.
"""

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = ['prune_centres', 'missing_peaks']

#: Samples taken along the line between a centre and its neighbour.
_LINE_SAMPLES = 32
#: Brighter-neighbour candidates examined per centre.
_NEIGHBOURS = 8


def _brighter_neighbour(centres, fluxes, segment):
    """Index of the nearest brighter centre in the same segment, or -1."""
    n = len(centres)
    k = min(n, _NEIGHBOURS + 1)
    _, idx = cKDTree(centres).query(centres, k=k)
    idx = np.asarray(idx).reshape(n, k)[:, 1:]
    # Ties in flux: the lower index counts as brighter, so that exactly
    # one of two equal centres has a brighter neighbour.
    own = np.arange(n)[:, None]
    brighter = ((fluxes[idx] > fluxes[:, None])
                | ((fluxes[idx] == fluxes[:, None]) & (idx < own)))
    valid = brighter & (segment[idx] == segment[:, None]) & (segment[
        :, None] > 0)
    first = np.argmax(valid, axis=1)
    has = valid[np.arange(n), first]
    return np.where(has, idx[np.arange(n), first], -1)


def _real_image(image):
    """An image as a floating-point array, without a copy if it is one."""
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float64)
    return image


def _is_peak(smoothed, start, end, radius, depth):
    """
    Whether each ``start`` is a separate peak on the way to its ``end``.

    A peak has a saddle (the image dips by more than ``depth`` on the line
    to ``end``) or stands out of its surroundings: it exceeds by more than
    ``depth`` the mean of the image ``radius`` pixels before and after it
    on that line, or on the perpendicular through it.  A point inside a
    smooth profile does none of these (along a circle about the object's
    centre the profile is flat, along the radius it is smooth).
    """
    sample = ndimage.map_coordinates
    t = np.linspace(0.0, 1.0, _LINE_SAMPLES)
    points = start[:, None, :] + t[None, :, None] * (end - start)[:, None, :]
    # Sampled in float64 whatever the image's type.
    values = sample(smoothed, points.reshape(-1, 2).T, order=1,
                    mode='nearest', output=np.float64).reshape(
                        len(start), _LINE_SAMPLES)
    saddle = values.min(axis=1) < values[:, 0] - depth
    step = end - start
    step = radius * step / np.hypot(*step.T)[:, None]
    across = step[:, ::-1] * np.array([1.0, -1.0])
    sides = sample(smoothed, np.concatenate(
        [start - step, start + step, start - across, start + across]).T,
        order=1, mode='nearest', output=np.float64).reshape(2, 2, len(start))
    prominent = np.any(values[:, 0] - sides.mean(axis=1) > depth, axis=0)
    return saddle | prominent


def prune_centres(attribution, image, *, smoothed=None, noise_sigma,
                  contrast=None, n_sigma=3.0, radius=4.0, mask=None,
                  segments=None):
    """
    The centres of a decoded attribution that earn their place.

    Parameters
    ----------
    attribution : `~astropais.pcr.PixelAttribution`
        A decoded attribution; label ``i`` is centre ``i - 1``.
    image : array_like
        The image (fluxes are ``sum_p M_i(p) I(p)``).
    smoothed : array_like, optional
        The image the peak test reads (e.g. the detection image convolved
        with a PSF-matched kernel); default ``image``.
    noise_sigma : float or array_like
        The noise of ``smoothed`` (per pixel, or a scalar).
    contrast : float or None, optional
        A centre that is not a separate peak is still kept if it holds at
        least this share of the flux of itself and its nearest brighter
        neighbour (0 keeps every centre).  None (default) keeps separate
        peaks only: the wedges a small field of view cuts out of a large
        galaxy can each hold a quarter of the pair's flux, as much as a
        real faint companion, so flux alone does not tell them apart.
    n_sigma : float, optional
        A centre is a separate peak when, on the straight line to its
        nearest brighter neighbour in the same footprint segment, the
        smoothed image falls more than ``n_sigma * noise_sigma`` below its
        value at the centre (a saddle), or when the centre exceeds by as
        much the mean of the smoothed image ``radius`` pixels before and
        after it on that line or on the perpendicular through it (a source
        on the slope of a brighter one).  A point inside a smooth profile
        does neither.
    radius : float, optional
        Pixels to each side for the slope test (about twice the PSF
        FWHM).
    mask : array_like of bool, optional
        Masked pixels: of the centres inside one connected masked region
        only the one with the largest flux is kept.
    segments : array_like of int, optional
        The detection segmentation (0 for background); centres compete
        only within one segment.  Default: the 8-connected regions of the
        attribution's footprint.

    Returns
    -------
    keep : `~numpy.ndarray` of bool, shape (N,)
        True for the centres to keep; the brightest centre of every
        footprint segment is always kept.

    Examples
    --------
    A smooth profile cut into a bright core and a faint wedge keeps only
    the core; a real second peak is kept however faint.

    >>> import numpy as np
    >>> from astropais.pcr import PixelAttribution, prune_centres
    >>> y, x = np.mgrid[0:40, 0:80]
    >>> image = np.exp(-((x - 20) ** 2 + (y - 20) ** 2) / 50.0)
    >>> labels = np.where(x < 30, 1, 2)
    >>> att = PixelAttribution.from_label_map(labels, [(20, 20), (20, 40)])
    >>> prune_centres(att, image, noise_sigma=0.01).tolist()
    [True, False]
    >>> image += 0.2 * np.exp(-((x - 40) ** 2 + (y - 20) ** 2) / 8.0)
    >>> prune_centres(att, image, noise_sigma=0.01).tolist()
    [True, True]
    """
    # Not converted whole (a float32 image stays as it is): the fluxes
    # and samples below are computed in float64 from the pixels they use.
    image = _real_image(image)
    smoothed = image if smoothed is None else _real_image(smoothed)
    centres = np.asarray(attribution.centres, dtype=np.float64).reshape(-1, 2)
    n = len(centres)
    keep = np.ones(n, dtype=bool)
    if contrast is not None and not 0 <= contrast <= 1:
        raise ValueError(f'contrast must lie in [0, 1] or be None, got '
                         f'{contrast!r}')
    if n < 2:
        return keep
    fluxes = attribution.fluxes(image)
    shape = image.shape
    pix = np.clip(np.round(centres).astype(int), 0,
                  np.array(shape) - 1)
    if segments is None:
        segments, _ = ndimage.label(attribution.footprint,
                                    structure=np.ones((3, 3)))
    segment = np.asarray(segments)[pix[:, 0], pix[:, 1]]

    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        regions, _ = ndimage.label(mask, structure=np.ones((3, 3)))
        region = regions[pix[:, 0], pix[:, 1]]
        inside = np.flatnonzero(region > 0)
        if inside.size:
            # The brightest centre of each masked region survives.
            order = inside[np.lexsort((-fluxes[inside], region[inside]))]
            first = np.r_[True, np.diff(region[order]) != 0]
            keep[order[~first]] = False

    if contrast is None or contrast > 0:
        neighbour = _brighter_neighbour(centres, np.where(keep, fluxes,
                                                          -np.inf), segment)
        test = np.flatnonzero(keep & (neighbour >= 0))
        if test.size:
            j = neighbour[test]
            total = np.clip(fluxes[test], 0, None) + np.clip(fluxes[j], 0,
                                                             None)
            share = np.divide(np.clip(fluxes[test], 0, None), total,
                              out=np.zeros(test.size), where=total > 0)
            sigma = np.broadcast_to(np.asarray(noise_sigma, float), shape)
            depth = n_sigma * sigma[pix[test, 0], pix[test, 1]]
            peak = _is_peak(smoothed, centres[test], centres[j], radius,
                            depth)
            keep[test] = peak if contrast is None else (
                peak | (share >= contrast))
    return keep


def missing_peaks(centres, segments, image, *, mask=None, radius=3.0):
    """
    The brightest pixel of every segment that has no centre near it.

    Whatever a network finds, the brightest point of a detection segment
    is a source (photutils' deblending always keeps it): when a network
    finds centres only on the small neighbours of a large bright object,
    the object's own light would otherwise go to them.

    Parameters
    ----------
    centres : array_like, shape (N, 2)
        The ``(y, x)`` centres found so far.
    segments : array_like of int
        The detection segmentation (0 for background).
    image : array_like
        The image whose maxima are the peaks (e.g. the smoothed detection
        image).
    mask : array_like of bool, optional
        Masked pixels never hold a peak.
    radius : float, optional
        A segment's peak counts as found if a centre lies within this many
        pixels of it.

    Returns
    -------
    peaks : `~numpy.ndarray`, shape (M, 2)
        The ``(y, x)`` of the peaks to add, in segment order (of pixels
        of equal value, the first in raster order).

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.pcr import missing_peaks
    >>> segments = np.array([[1, 1, 1, 1, 1, 0, 2, 2]])
    >>> image = np.array([[3.0, 1.0, 1.0, 1.0, 1.0, 0.0, 2.0, 1.0]])
    >>> missing_peaks([(0, 6)], segments, image).tolist()
    [[0.0, 0.0]]
    """
    segments = np.asarray(segments)
    # Over the segment pixels only (O(footprint), no whole-image sort).
    pixels = np.flatnonzero(segments > 0)
    if pixels.size == 0:
        return np.zeros((0, 2))
    segment = segments.ravel()[pixels]
    values = np.asarray(image).ravel()[pixels].astype(np.float64)
    if mask is not None:
        values[np.asarray(mask, dtype=bool).ravel()[pixels]] = -np.inf
    # Each segment's brightest pixel (of equal ones, the first in raster
    # order): the first of its pixels by decreasing value.
    order = np.lexsort((pixels, -values, segment))
    first = np.ones(order.size, dtype=bool)
    first[1:] = segment[order][1:] != segment[order][:-1]
    best = order[first]
    peaks = np.column_stack(np.unravel_index(pixels[best], segments.shape)
                            ).astype(np.float64).reshape(-1, 2)
    # A segment wholly masked has no peak (its position is meaningless).
    peaks = peaks[np.isfinite(values[best])]
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    if len(centres) and len(peaks):
        distance, _ = cKDTree(centres).query(peaks, k=1)
        peaks = peaks[distance > radius]
    return peaks
