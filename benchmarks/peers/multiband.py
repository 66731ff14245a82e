"""
The peers on a multi-band field (`~astropais.simulation.MultiBandScene`).

photutils and SEP detect on one image, the S/N-weighted sum of the bands
(`astropais.segmentation.band_pipeline.detection_snr_image`, the sum
`~astropais.PAISDeblender` detects on), smoothed with the same
PSF-matched kernel, and measure every band on that one segmentation;
scarlet2 fits all bands at once (one morphology and one spectrum per
source) at given positions; astropais detects on the same smoothed sum
and gives every band its own fractions.
"""

import numpy as np

from astropais.segmentation.band_pipeline import detection_snr_image

from . import photutils_peer, scarlet2_peer, sep_peer
from .base import PeerResult, Unavailable

__all__ = ['detection_fwhm', 'band_fluxes', 'run_photutils_bands',
           'run_sep_bands', 'run_scarlet2_bands', 'check_astropais_bands',
           'run_astropais_bands', 'common_psf']


def detection_fwhm(scene):
    """
    The PSF FWHM (pixels) of a field's detection image: for several
    bands the mean of the bands' FWHM weighted as the S/N-weighted sum
    weighs the bands (``1 / sigma_k**2``).

    Parameters
    ----------
    scene : `~astropais.simulation.Scene` or `~astropais.simulation.MultiBandScene`
        The field.

    Returns
    -------
    fwhm : float
        The detection kernel's FWHM and the unit of the matching radius.
    """
    fwhm = np.asarray(scene.psf_fwhm_pixels, dtype=float)
    if fwhm.ndim == 0:
        return float(fwhm)
    return float(np.average(fwhm, weights=1.0 / np.asarray(
        scene.noise_sigma, dtype=float) ** 2))


def band_fluxes(attributions, image):
    """
    Per-band fluxes ``sum_p M_i^k(p) I_k(p)``.

    Parameters
    ----------
    attributions : `~astropais.pcr.PixelAttribution` or list of them
        One for every band (a disjoint segmentation: the same one).
    image : `~numpy.ndarray`, shape (b, ny, nx)
        The bands.

    Returns
    -------
    fluxes : `~numpy.ndarray`, shape (N, b)
    """
    if not isinstance(attributions, (list, tuple)):
        attributions = [attributions] * len(image)
    return np.column_stack([att.fluxes(band)
                            for att, band in zip(attributions, image)])


def _disjoint_bands(result, image):
    """A detection result measured in every band on its segmentation."""
    result.band_fluxes = band_fluxes(result.attribution, image)
    # Detection-image fluxes and Kron fluxes mean nothing per band here.
    result.native_fluxes = result.total_fluxes = None
    return result


def run_photutils_bands(image, noise_sigma, kernel, *, n_pixels=5,
                        n_sigma=1.5):
    """
    photutils' `run_photutils` on the S/N-weighted sum (unit noise), every
    band measured on its segmentation (``segment_flux``).

    Parameters
    ----------
    image : `~numpy.ndarray`, shape (b, ny, nx)
        The background-subtracted bands.
    noise_sigma : array_like, shape (b,)
        Each band's noise.
    kernel : `~numpy.ndarray`
        The detection kernel.
    n_pixels : int
        Minimum connected pixels.
    n_sigma : float
        Threshold in sigmas of the sum.

    Returns
    -------
    result : `PeerResult`
        With ``band_fluxes`` (M, b) and ``info['footprint']``.
    """
    detection, _ = detection_snr_image(image, noise_sigma)
    result = photutils_peer.run_photutils(detection, 1.0, None,
                                          n_pixels=n_pixels,
                                          n_sigma=n_sigma, kernel=kernel)
    return _disjoint_bands(result, image)


def run_sep_bands(image, noise_sigma, kernel, *, n_pixels=5, n_sigma=1.5):
    """
    SEP's `run_sep` on the S/N-weighted sum (unit noise), every band
    measured on its segmentation map.

    Parameters are those of `run_photutils_bands`.

    Returns
    -------
    result : `PeerResult`
        With ``band_fluxes`` (M, b).
    """
    detection, _ = detection_snr_image(image, noise_sigma)
    result = sep_peer.run_sep(detection, 1.0, kernel, n_pixels=n_pixels,
                              n_sigma=n_sigma)
    return _disjoint_bands(result, image)


def common_psf(psfs):
    """
    The bands' PSFs on one odd square grid (each zero-padded about its
    centre to the largest), as scarlet2 takes them.

    Parameters
    ----------
    psfs : list of `~numpy.ndarray`
        One odd, square, centred PSF image per band.

    Returns
    -------
    psf : `~numpy.ndarray`, shape (b, h, h)
        Each band normalised to unit sum.
    """
    size = max(p.shape[0] for p in psfs)
    stack = np.zeros((len(psfs), size, size))
    # A loop over the bands (few): one padded copy each.
    for k, psf in enumerate(psfs):
        pad = (size - psf.shape[0]) // 2
        stack[k, pad:pad + psf.shape[0], pad:pad + psf.shape[1]] = psf
    return stack / stack.sum(axis=(1, 2), keepdims=True)


def run_scarlet2_bands(image, noise_sigma, psfs, positions, footprint, *,
                       max_iter=50, morphology='free'):
    """
    scarlet2 on all bands at once (`astropais.labels.fit_scene`) at
    ``positions``; each band's footprint pixels shared in proportion to
    that band's source models.

    Parameters
    ----------
    image : `~numpy.ndarray`, shape (b, ny, nx)
        The background-subtracted bands.
    noise_sigma : array_like, shape (b,)
        Each band's noise.
    psfs : list of `~numpy.ndarray`
        Each band's PSF.
    positions : array_like, shape (N, 2)
        ``(y, x)`` initial positions.
    footprint : `~numpy.ndarray` of bool
        The pixels to attribute (photutils' detection footprint).
    max_iter : int
        Optimiser iterations.
    morphology : {'free', 'sersic'}
        The morphology model.

    Returns
    -------
    result : `PeerResult`
        One detection per kept source at its fitted centre, the
        attribution of the band-summed models, ``band_fluxes`` (M, b)
        and the model fluxes of every band as ``native_band_fluxes`` in
        ``info``.

    Raises
    ------
    Unavailable
        Without `astropais.labels` (the multi-band fit).
    """
    from astropais.metrics import attribution_from_source_images
    from astropais.pcr import SourceImages
    from astropais.simulation.multiband import band_sources

    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    n_bands = len(image)
    if len(positions) == 0:
        empty = attribution_from_source_images(
            SourceImages(image.shape[1:], [], np.zeros((0, 2))), footprint)
        return PeerResult(np.zeros((0, 2)), np.zeros(0), empty,
                          band_fluxes=np.zeros((0, n_bands)))
    fitted = scarlet2_peer._fit_with_labels(
        image, np.asarray(noise_sigma, dtype=float), common_psf(psfs),
        positions, morphology, max_iter)
    if fitted is None:
        raise Unavailable('the multi-band scarlet2 fit needs '
                          'astropais.labels')
    models, centres, info = fitted
    summed = SourceImages(models.shape, [c.sum(axis=0) for c in
                                         models.cutouts], models.origins)
    detection = attribution_from_source_images(summed, footprint, centres)
    per_band = [attribution_from_source_images(band_sources(models, k),
                                               footprint, centres)
                for k in range(n_bands)]
    fluxes = band_fluxes(per_band, image)
    return PeerResult(centres, fluxes.sum(axis=1), detection,
                      band_fluxes=fluxes, info=info)


def check_astropais_bands(deblender, bands):
    """
    Raise `Unavailable` unless the deblender's model takes these bands.

    Parameters
    ----------
    deblender : `~astropais.PAISDeblender`
        The configured deblender.
    bands : tuple of str
        The field's bands.
    """
    from astropais.segmentation.band_pipeline import band_count_message

    network = deblender.model
    model_bands = network.metadata.get('bands')
    if network.n_bands != len(bands):
        raise Unavailable(band_count_message(len(bands), bands, network)
                          + ' (--model)')
    if model_bands is not None and set(model_bands) != set(bands):
        raise Unavailable(f'the model takes bands {tuple(model_bands)}, the '
                          f'field has {tuple(bands)} (--model)')


def run_astropais_bands(deblender, image, noise_sigma, bands, kernel, *,
                        n_sigma=1.5):
    """
    ``deblender`` on the bands (each with its known noise), detecting on
    the same smoothed S/N-weighted sum as photutils.

    Parameters
    ----------
    deblender : `~astropais.PAISDeblender`
        A deblender of these bands (`check_astropais_bands`).
    image : `~numpy.ndarray`, shape (b, ny, nx)
        The background-subtracted bands.
    noise_sigma : array_like, shape (b,)
        Each band's noise.
    bands : tuple of str
        The band names.
    kernel : `~numpy.ndarray`
        The detection kernel.
    n_sigma : float
        Threshold in sigmas of the sum.

    Returns
    -------
    result : `PeerResult`
        The detection attribution, ``band_fluxes`` (M, b) from each
        band's fractions (in the order of ``bands``).
    """
    from astropy.nddata import NDData, StdDevUncertainty

    from astropais.metrics import attribution_from_label_map

    detection, _ = detection_snr_image(image, noise_sigma, kernel)
    data = [NDData(band, uncertainty=StdDevUncertainty(
        np.full(band.shape, float(sigma))))
        for band, sigma in zip(image, noise_sigma)]
    segm = deblender(data, n_sigma, bands=bands, detection_image=detection)
    info = {'configuration': repr(deblender)}
    if segm is None:  # nothing detected
        empty = attribution_from_label_map(np.zeros(image.shape[1:], int),
                                           np.zeros((0, 2)))
        return PeerResult(np.zeros((0, 2)), np.zeros(0), empty,
                          band_fluxes=np.zeros((0, len(image))), info=info)
    # The detection's attribution (the band-averaged fractions).
    att = segm.attribution
    fluxes = band_fluxes([segm.band(name).attribution for name in bands],
                         image)
    return PeerResult(np.asarray(att.centres, dtype=float).reshape(-1, 2),
                      fluxes.sum(axis=1), att, band_fluxes=fluxes, info=info)
