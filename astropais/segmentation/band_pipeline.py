"""
`deblend_bands`: one call from several bands of one field to their
weighted segmentation and multi-band catalog (the pipeline of
``astropais deblend`` on several FITS files or a cube).
"""

from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.nddata import NDData, StdDevUncertainty

from .background import DEFAULT_N_SIGMA, estimate_background
from .band_catalog import multiband_catalog
from .inputs import (PreparedImage, is_multiband, prepare_bands,
                     prepare_image, snr_image)

__all__ = ['BandDeblendResult', 'deblend_bands', 'detection_snr_image',
           'band_count_message']


@dataclass
class BandDeblendResult:
    """
    The outcome of `deblend_bands`.

    Parameters
    ----------
    data : `~numpy.ndarray` or `~astropy.units.Quantity`, shape (b, ny, nx)
        The background-subtracted bands, in the model's band order (0
        where masked), in the input's unit if it had one.
    bands : tuple of str or None
        The band names, in that order (None when neither the input nor
        the model names them).
    detection : `~numpy.ndarray`
        The detection image the sources were found on (the S/N-weighted
        sum of the bands, or the given detection image less its
        background; smoothed with ``kernel_fwhm`` if given).
    threshold : float or `~numpy.ndarray`
        The threshold applied to ``detection``.
    noise_sigma : `~numpy.ndarray`, shape (b,)
        Each band's background noise (the median of a ``'2d'`` map): the
        weights of the S/N-weighted sum.
    skies : list of `~astropais.segmentation.SkyBackground`
        Each band's background estimate (for the provenance).
    detection_sky : `~astropais.segmentation.SkyBackground` or None
        The given detection image's background estimate.
    mask : `~numpy.ndarray` of bool
        The pixels masked in any band.
    segmentation : `~astropais.WeightedSegmentationImage` or None
        The segmentation with every band's fractions (None if no source
        was found).
    catalog : `~astropy.table.QTable` or None
        Its `multiband_catalog`.
    """

    data: object
    bands: object
    detection: np.ndarray
    threshold: object
    noise_sigma: np.ndarray
    skies: list
    detection_sky: object = None
    mask: np.ndarray = None
    segmentation: object = None
    catalog: object = None


def detection_snr_image(images, noise_sigma, kernel=None):
    """
    The detection image of several bands: their S/N-weighted sum
    (`~astropais.segmentation.inputs.snr_image`, the sum
    `~astropais.PAISDeblender` detects on), optionally smoothed.

    One function for the command line (`deblend_bands`) and the
    benchmark's multi-band mode, so that photutils, SEP and astropais
    detect on the same image.

    Parameters
    ----------
    images : array_like, shape (b, ny, nx), or list
        The background-subtracted bands (or a list of one 2-D image or
        `~astropy.nddata.NDData` per band).
    noise_sigma : array_like, shape (b,)
        Each band's background noise.
    kernel : 2-D `~numpy.ndarray`, optional
        A detection kernel (e.g.
        `~astropais.segmentation.detection_kernel`), applied after the sum
        with masked pixels interpolated over, as photutils recommends.

    Returns
    -------
    detection : `~numpy.ndarray`
        In units of the noise of the (unsmoothed) sum: a threshold of
        ``n_sigma`` on it is ``n_sigma`` sigmas, as photutils' threshold
        of a smoothed image is in units of the unsmoothed noise.
    mask : `~numpy.ndarray` of bool
        Masked in any band (0 in ``detection`` before smoothing).

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation.band_pipeline import detection_snr_image
    >>> detection, mask = detection_snr_image(np.ones((2, 3, 3)), [1.0, 1.0])
    >>> round(float(detection[1, 1]), 4), bool(mask.any())
    (1.4142, False)
    """
    prepared, _ = prepare_bands(images)
    summed = snr_image(prepared, noise_sigma)
    if kernel is None:
        return summed.data, summed.mask
    return _smoothed(summed, kernel), summed.mask


def _smoothed(image, kernel):
    """A `PreparedImage` convolved with ``kernel`` (masked pixels
    interpolated over; the result 0 where it cannot be)."""
    from astropy.convolution import convolve

    data = np.where(image.mask, np.nan, image.data)
    return np.nan_to_num(convolve(data, kernel, mask=image.mask,
                                  nan_treatment='interpolate',
                                  normalize_kernel=True))


def deblend_bands(data, *, bands=None, n_sigma=DEFAULT_N_SIGMA, n_pixels=5,
                  model=None, background='constant', box_size=64,
                  filter_size=3, mask=None, wcs=None, deblender=None,
                  detection_image=None, kernel_fwhm=None, zero_points=None,
                  columns=('segment_flux', 'kron_flux'), precision='auto',
                  progress_bar=True):
    """
    Subtract each band's background, detect once, deblend every band and
    measure per-band fluxes and colours.

    Parameters
    ----------
    data : array_like or `~astropy.units.Quantity`, shape (b, ny, nx), or list
        The bands of one field on one pixel grid: a cube, or a list of one
        2-D array, `~astropy.units.Quantity` or `~astropy.nddata.NDData`
        per band (of one unit).  Non-finite pixels are masked (with a
        warning).
    bands : sequence of str, optional
        The names of the given bands, in order; they are put in the
        model's order (its sidecar's ``bands``).  Without names the bands
        are taken to be in the model's order.
    n_sigma : float, optional
        Detection threshold in units of the detection image's noise.
    n_pixels : int, optional
        Minimum connected pixels of a detection.
    model : None, path or `~astropais.model.PCRNetwork`, optional
        A network of ``b`` bands (`None`: the shipped model, which takes
        one band).
    background : {'constant', '2d', 'none'}, optional
        Each band's background (see
        `~astropais.segmentation.estimate_background`); the weights of
        the S/N-weighted sum are each band's noise, the median of a
        ``'2d'`` noise map.
    box_size, filter_size : int, optional
        ``Background2D``'s sizes, for ``background='2d'``.
    mask : array_like of bool, shape (ny, nx) or (b, ny, nx), optional
        Pixels to ignore, in every band or per band.
    wcs : `~astropy.wcs.WCS`, optional
        The bands' celestial WCS, for the catalog's sky coordinates.
    deblender : `~astropais.PAISDeblender`, optional
        A configured deblender (then ``n_pixels``, ``model`` and
        ``precision`` are ignored).
    detection_image : 2-D array_like, optional
        The image to detect on (its background subtracted by the same
        ``background`` method); ``n_sigma`` is then in units of its noise.
        Default: the S/N-weighted sum of the bands
        (`detection_snr_image`).
    kernel_fwhm : float, optional
        Smooth the detection image with a Gaussian of this FWHM in pixels
        (`~astropais.segmentation.detection_kernel`) before detecting.
    zero_points : sequence of float, optional
        AB zero point of each band (in the model's order): adds
        magnitudes to the catalog (see `multiband_catalog`).
    columns : sequence of str, optional
        The per-band catalog quantities (`multiband_catalog`).
    precision : {'auto', 'float32', 'bfloat16'}, optional
        The network's arithmetic.
    progress_bar : bool, optional
        Show progress bars.

    Returns
    -------
    result : `BandDeblendResult`

    Raises
    ------
    ValueError
        If the model's number of bands or band names differ from the
        data's (the message names both), the bands differ in shape or
        unit, a band's noise cannot be measured, or the detection image
        differs in shape.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation import deblend_bands
    >>> deblend_bands(np.zeros((3, 32, 32)), bands=['g', 'r', 'i'],
    ...               progress_bar=False)
    Traceback (most recent call last):
    ...
    ValueError: the data have 3 bands (g, r, i); the model pcr_model.keras takes 1 band
    (one 2-D image): give a model of 3 bands
    """
    from .pipeline import detection_kernel, make_deblender

    if not n_sigma > 0:
        raise ValueError(f'n_sigma must be positive, got {n_sigma!r}')
    if deblender is None:
        deblender = make_deblender((0, 0), n_pixels, model=model,
                                   precision=precision,
                                   progress_bar=progress_bar, dask=False)
    network = deblender.model
    model_bands = network.metadata.get('bands')
    n_given = ((len(data) if isinstance(data, (list, tuple))
                else np.shape(data)[0]) if is_multiband(data) else 1)
    if n_given != network.n_bands:
        raise ValueError(band_count_message(n_given, bands, network))
    images, names = prepare_bands(data, mask, bands=bands,
                                  model_bands=model_bands,
                                  n_bands=network.n_bands)
    units = {im.unit for im in images}
    if len(units) > 1:
        raise ValueError(f'the bands have different units: '
                         f'{", ".join(str(un) for un in units)}')
    unit = images[0].unit
    skies, work = [], []
    # A loop over the bands (few): one background estimate each.
    for image in images:
        sky = estimate_background(image.data, image.mask, method=background,
                                  box_size=box_size, filter_size=filter_size)
        band = image.data - sky.background
        band[image.mask] = 0.0
        skies.append(sky)
        work.append(PreparedImage(band, image.mask))
    noise = np.array([float(np.median(sky.background_rms))
                      for sky in skies])
    any_mask = np.logical_or.reduce([im.mask for im in images])
    kernel = None if kernel_fwhm is None else detection_kernel(kernel_fwhm)
    detection_sky = None
    if detection_image is None:
        summed = snr_image(work, noise)
        threshold = float(n_sigma)
    else:
        given = prepare_image(detection_image)
        if given.data.shape != any_mask.shape:
            raise ValueError(f'the detection image has shape '
                             f'{given.data.shape}, the bands '
                             f'{any_mask.shape}')
        masked = given.mask | any_mask
        detection_sky = estimate_background(
            given.data, masked, method=background, box_size=box_size,
            filter_size=filter_size)
        summed = PreparedImage(given.data - detection_sky.background, masked)
        summed.data[masked] = 0.0
        threshold = n_sigma * np.asarray(detection_sky.background_rms)
    detection = (summed.data if kernel is None
                 else _smoothed(summed, kernel))

    # The background noise of every band: the network's normalisation.
    nddata = [NDData(band.data, mask=band.mask, unit=unit,
                     uncertainty=StdDevUncertainty(np.broadcast_to(
                         np.asarray(sky.background_rms, dtype=float),
                         band.data.shape)))
              for band, sky in zip(work, skies)]
    segm = deblender(nddata, threshold, detection_image=detection)
    cube = np.stack([band.data for band in work])
    if unit is not None:
        cube = u.Quantity(cube, unit)
    catalog = None
    if segm is not None:
        catalog = multiband_catalog(
            cube, segm, bands=names, zero_points=zero_points,
            columns=columns, mask=any_mask, wcs=wcs,
            progress_bar=progress_bar)
    return BandDeblendResult(cube, names, detection, threshold, noise,
                             skies, detection_sky, any_mask, segm, catalog)


def band_count_message(n_given, bands, network):
    """
    The error message for data whose number of bands is not the model's.

    Parameters
    ----------
    n_given : int
        The number of bands given.
    bands : sequence of str or None
        Their names.
    network : `~astropais.model.PCRNetwork`
        The model.

    Returns
    -------
    message : str
        Both numbers of bands, with their names where known, and the
        model file.

    Examples
    --------
    >>> from astropais.model import load_model
    >>> from astropais.segmentation.band_pipeline import band_count_message
    >>> print(band_count_message(3, ['g', 'r', 'i'], load_model()))
    the data have 3 bands (g, r, i); the model pcr_model.keras takes 1 band
    (one 2-D image): give a model of 3 bands
    """
    def counted(n, names):
        listed = (f' ({", ".join(names)})' if names is not None
                  and len(names) == n else '')
        return f'{n} band{"s" if n != 1 else ""}{listed}'

    name = network.metadata.get('model_file', 'the model')
    takes = counted(network.n_bands, network.metadata.get('bands'))
    if network.n_bands == 1:
        takes += ' (one 2-D image)'
    return (f'the data have {counted(n_given, bands)}; the model {name} '
            f'takes {takes}: give a model of {n_given} bands')
