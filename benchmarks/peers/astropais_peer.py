"""astropais' own deblender, picked up as soon as it is importable."""

import numpy as np

from .base import PeerResult, Unavailable

__all__ = ['available', 'run_astropais']


def available(n_pixels=5, model=None, **options):
    """
    Raise `Unavailable` unless ``astropais.PAISDeblender`` imports and can
    be built (it loads the shipped model).

    Parameters
    ----------
    n_pixels : int
        Passed to the constructor.
    model : str, optional
        A model file (default: the shipped model).
    **options
        Further ``PAISDeblender`` keywords (e.g. ``peak_threshold``).

    Returns
    -------
    deblender : ``PAISDeblender``
        The configured deblender.
    """
    try:
        from astropais import PAISDeblender
    except (ImportError, AttributeError) as exc:
        raise Unavailable(f'astropais.PAISDeblender is not available yet '
                          f'({exc})') from exc
    try:
        return PAISDeblender(n_pixels=n_pixels, model=model,
                             progress_bar=False, **options)
    except Exception as exc:  # e.g. no shipped model
        raise Unavailable(f'PAISDeblender cannot be built '
                          f'({type(exc).__name__}: {exc})') from exc


def run_astropais(deblender, image, noise_sigma, *, n_sigma=1.5,
                  kernel=None, mask=None):
    """
    Run ``deblender(image, threshold)`` and read its attribution.

    With ``kernel`` the detection footprint is found on the image
    convolved with it, exactly as for the photutils row.

    Parameters
    ----------
    deblender : ``PAISDeblender``
        From `available`.
    image : `~numpy.ndarray`
        Background-subtracted image.
    noise_sigma : float
        Noise standard deviation.
    n_sigma : float
        Threshold in units of ``noise_sigma`` (as for photutils).
    kernel : `~numpy.ndarray`, optional
        The detection smoothing kernel (the photutils row's).
    mask : `~numpy.ndarray` of bool, optional
        Pixels to ignore.

    Returns
    -------
    result : `PeerResult`
    """
    convolved = None
    if kernel is not None:
        from astropy.convolution import convolve
        convolved = convolve(image, kernel, normalize_kernel=True, mask=mask)
    segm = deblender(image, n_sigma * noise_sigma, mask=mask,
                     convolved_data=convolved)
    # The configuration (precision included) goes into the run's meta.json.
    info = {'configuration': repr(deblender)}
    if segm is None:  # nothing detected
        from astropais.metrics import attribution_from_label_map
        empty = attribution_from_label_map(np.zeros(image.shape, dtype=int),
                                           np.zeros((0, 2)))
        return PeerResult(np.zeros((0, 2)), np.zeros(0), empty, info=info)
    att = segm.attribution

    def kron_fluxes():
        # Kron fluxes on the neighbour-subtracted image; catalogue row k
        # is label k + 1, i.e. detection k.
        from astropais import WeightedSourceCatalog
        catalog = WeightedSourceCatalog(image, segm,
                                        convolved_data=convolved)
        return np.asarray(catalog.kron_flux, dtype=np.float64)

    return PeerResult(np.asarray(att.centres, dtype=float).reshape(-1, 2),
                      att.fluxes(image), att, total_fluxes=kron_fluxes,
                      info=info)
