"""
The PCR oracle: truth encoded to PCR and decoded on photutils' detection
footprint -- what astropais would give with a perfect network.
"""

import numpy as np

from .base import PeerResult, Unavailable

__all__ = ['available', 'run_pcr_oracle']


def available():
    """Raise `Unavailable` unless the PCR encoder and decoder exist."""
    try:
        from astropais.pcr import decode, encode  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f'astropais.pcr has no encode/decode yet ({exc})'
                          ) from exc


def run_pcr_oracle(image, sources, centres, footprint, *, n=3, sigma=2.0,
                   slots='nearest'):
    """
    Encode the truth and decode it, finding the centres as the decoder
    does (heatmap peaks), so close pairs merge as they would for a perfect
    network trained with the same ``sigma``.

    Parameters
    ----------
    image : `~numpy.ndarray`
        The noisy image (fluxes are measured on it).
    sources : `~astropais.pcr.SourceImages`
        Noise-free truth.
    centres : array_like, shape (N, 2)
        True ``(y, x)`` centres.
    footprint : `~numpy.ndarray` of bool
        photutils' detection footprint.
    n, sigma : int, float
        PCR parameters.
    slots : {'nearest', 'brightest'}
        The PCR slot rule (`astropais.pcr.SLOT_RULES`).

    Returns
    -------
    result : `PeerResult`
    """
    from astropais.pcr import decode, encode

    pcr = encode(sources, np.asarray(centres, dtype=np.float64), n=n,
                 sigma=sigma, slots=slots)
    att = decode(pcr.heatmap, pcr.vectors, pcr.fractions, footprint)
    return PeerResult(np.asarray(att.centres, dtype=float).reshape(-1, 2),
                      att.fluxes(image), att)
