"""What every peer returns for one field."""

from dataclasses import dataclass, field

import numpy as np

__all__ = ['PeerResult', 'Unavailable']


class Unavailable(Exception):
    """A peer cannot run here (not installed, no model); the message says why."""


@dataclass
class PeerResult:
    """
    One method's output on one field.

    Parameters
    ----------
    positions : `~numpy.ndarray`, shape (M, 2)
        ``(y, x)`` of each detection.
    fluxes : `~numpy.ndarray`, shape (M,)
        The flux of each detection as ``sum_p M_i(p) I(p)`` over its
        attribution (segment flux for disjoint methods).
    attribution : `~astropais.pcr.PixelAttribution`
        Label ``k + 1`` is detection ``k``.
    native_fluxes : `~numpy.ndarray`, shape (M,), optional
        The method's own flux estimate where it differs (SEP ``flux``,
        scarlet2 model flux).
    total_fluxes : callable, optional
        ``total_fluxes()`` returns a total-flux estimate per detection
        (Kron flux); the runner calls it after the timed section, so its
        cost is not in the method's time.
    extra_seconds : float
        Time spent in inputs this method needs from another (photutils'
        detection for scarlet2 at photutils positions), added to its time.
    info : dict
        Free-form notes (e.g. scarlet2 fallback initialisations).
    band_fluxes : `~numpy.ndarray`, shape (M, b), optional
        On a multi-band field: the flux of each detection in every band.
    """

    positions: np.ndarray
    fluxes: np.ndarray
    attribution: object
    native_fluxes: np.ndarray = None
    total_fluxes: object = None
    extra_seconds: float = 0.0
    info: dict = field(default_factory=dict)
    band_fluxes: np.ndarray = None
