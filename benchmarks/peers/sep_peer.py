"""SEP ``extract`` with deblending and a segmentation map."""

import numpy as np

from astropais.metrics import attribution_from_label_map

from .base import PeerResult, Unavailable

__all__ = ['available', 'run_sep']


def available():
    """Raise `Unavailable` unless sep can be imported."""
    try:
        import sep  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f'sep is not installed ({exc})') from exc


def run_sep(image, noise_sigma, kernel, *, n_pixels=5, n_sigma=1.5,
            mask=None):
    """
    Detect and deblend with SEP (``deblend_nthresh=32``,
    ``deblend_cont=0.005``, cleaning on: SEP's defaults), filtered with the
    same PSF-matched kernel as photutils.

    Parameters
    ----------
    image : `~numpy.ndarray`
        Background-subtracted image.
    noise_sigma : float
        Noise standard deviation (``err``; the threshold is relative to it).
    kernel : `~numpy.ndarray`
        Detection filter kernel.
    n_pixels : int
        ``minarea``.
    n_sigma : float
        Threshold in units of ``noise_sigma``.
    mask : `~numpy.ndarray` of bool, optional
        Pixels SEP ignores.

    Returns
    -------
    result : `PeerResult`
        Fluxes from the segmentation sum (as photutils' ``segment_flux``);
        ``native_fluxes`` are SEP's own ``flux``.
    """
    import sep

    data = np.ascontiguousarray(image, dtype=np.float64)
    objects, segmap = sep.extract(
        data, n_sigma, err=float(noise_sigma), minarea=n_pixels,
        filter_kernel=np.ascontiguousarray(kernel, dtype=np.float64),
        deblend_nthresh=32, deblend_cont=0.005, segmentation_map=True,
        mask=None if mask is None else np.ascontiguousarray(mask, bool))
    positions = np.column_stack([objects['y'], objects['x']]).astype(float)
    # Object k owns the pixels labelled k + 1 in the segmentation map.
    att = attribution_from_label_map(np.asarray(segmap, dtype=np.int64),
                                     positions.reshape(-1, 2))
    return PeerResult(positions.reshape(-1, 2), att.fluxes(image), att,
                      native_fluxes=np.asarray(objects['flux'], dtype=float))
