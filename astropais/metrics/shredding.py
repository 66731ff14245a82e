"""
Shredding: into how many labels a method cuts one object.

A deblender *shreds* an object when it gives pieces of it to several
labels.  Given an image of the object alone (its noise-free truth, or the
image restricted to a footprint that holds only it), the share of that
light each label receives tells whether the object came out whole.
numpy only.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ['label_shares', 'ShreddingScore', 'shredding_score',
           'MIN_SHARE', 'WHOLE_SHARE']

#: A label holding more than this share of an object counts as a piece.
MIN_SHARE = 0.02
#: An object is *whole* when one label holds at least this share.
WHOLE_SHARE = 0.95


def label_shares(attribution, object_image, footprint=None, *,
                 object_fraction=None):
    """
    The share of an object's light that each label receives.

    Parameters
    ----------
    attribution : `~astropais.pcr.PixelAttribution`
        A method's attribution of the image (a disjoint segmentation is an
        attribution with fractions of 1).
    object_image : array_like
        The light of the object alone, same shape (negative pixels count
        as they are: pass a noise-free model, or the image inside a
        footprint of the object).
    footprint : array_like of bool, optional
        The pixels over which the object's light is counted (default: the
        attribution's footprint): pixels outside the method's footprint
        then count as light no label received.
    object_fraction : array_like, optional
        The object's true share ``F(p)`` of the (noise-free) light of each
        pixel, where other sources overlap it.  Without it, label ``i``
        receives ``M_i(p) O(p)`` at every pixel, which is right for a
        disjoint segmentation but counts a neighbour's *correct* share of
        an overlapped pixel as the object's light taken from it (a perfect
        attribution of a galaxy under a bright neighbour would not come out
        whole).  With it, the object's light flows first to its own label
        ``g`` -- the label that would receive the most -- up to what that
        label claims, ``O(p) min(1, M_g(p) / F(p))``, and only the rest
        goes to the other labels in proportion to their ``M_i(p)``.  A
        disjoint segmentation scores the same either way.

    Returns
    -------
    shares : `~numpy.ndarray`, shape (N,)
        ``sum_p M_i(p) O(p) / sum_{p in footprint} O(p)`` for label ``i`` at
        index ``i - 1`` (or the flow above with ``object_fraction``); NaN
        when the object has no positive light there.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.pcr import PixelAttribution
    >>> from astropais.metrics import label_shares
    >>> labels = np.array([[1, 1, 2, 2]])
    >>> att = PixelAttribution.from_label_map(labels)
    >>> label_shares(att, np.array([[1.0, 1.0, 1.0, 0.0]])).round(3).tolist()
    [0.667, 0.333]

    A pixel shared half and half with a neighbour of equal brightness, and
    split so, is not light taken from the object:

    >>> att = PixelAttribution((1, 2), np.array([0, 1]),
    ...                        np.array([[1, 0], [1, 2]]),
    ...                        np.array([[1.0, 0.0], [0.5, 0.5]]),
    ...                        np.array([[0.0, 0.0], [0.0, 1.0]]))
    >>> obj = np.array([[2.0, 1.0]])
    >>> label_shares(att, obj).round(3).tolist()
    [0.833, 0.167]
    >>> label_shares(att, obj, object_fraction=np.array([[1.0, 0.5]])).tolist()
    [1.0, 0.0]
    """
    object_image = np.asarray(object_image, dtype=np.float64)
    if footprint is None:
        footprint = attribution.footprint
    footprint = np.asarray(footprint, dtype=bool)
    if footprint.shape != object_image.shape:
        raise ValueError(f'footprint has shape {footprint.shape}, the object '
                         f'image {object_image.shape}')
    inside = np.where(footprint, object_image, 0.0)
    total = inside.sum()
    if object_fraction is None:
        fluxes = attribution.fluxes(inside)
    else:
        fluxes = _agreement_flow(attribution, inside, object_fraction)
    if not total > 0:
        return np.full(fluxes.shape, np.nan)
    return fluxes / total


def _agreement_flow(attribution, inside, object_fraction):
    """Object light per label: first to the object's own label up to its
    claim, the rest to the others in proportion to their weights."""
    fraction = np.asarray(object_fraction, dtype=np.float64)
    if fraction.shape != inside.shape:
        raise ValueError(f'object_fraction has shape {fraction.shape}, the '
                         f'object image {inside.shape}')
    if np.any(~np.isfinite(fraction)) or np.any((fraction < 0)
                                                | (fraction > 1)):
        raise ValueError('object_fraction must lie in [0, 1]')
    n_labels = attribution.n_sources
    light = inside.ravel()[attribution.pixels][:, None]      # (P, 1)
    frac = fraction.ravel()[attribution.pixels][:, None]
    weights, labels = attribution.weights, attribution.labels
    # What label i could take of the object at p: O(p) min(1, M_i / F).
    claim = light * np.minimum(1.0, np.divide(
        weights, frac, out=np.ones_like(weights), where=frac > 0))
    # Index 0 (unused slots) is dropped by the [1:].
    taken = np.bincount(labels.ravel(), claim.ravel(),
                        minlength=n_labels + 1)[1:]
    if n_labels == 0:
        return taken
    own = int(np.argmax(taken)) + 1
    is_own = labels == own
    own_claim = (claim * is_own).sum(axis=1, keepdims=True)
    others = np.where(is_own, 0.0, weights)
    norm = others.sum(axis=1, keepdims=True)
    rest = (light - own_claim) * np.divide(others, norm,
                                           out=np.zeros_like(others),
                                           where=norm > 0)
    flow = np.bincount(labels.ravel(), rest.ravel(),
                       minlength=n_labels + 1)[1:]
    flow[own - 1] += own_claim.sum()
    return flow


@dataclass(frozen=True)
class ShreddingScore:
    """
    How one object was cut.

    Attributes
    ----------
    n_pieces : int
        Labels holding more than `MIN_SHARE` of the object.
    main_share : float
        The largest share one label holds.
    whole : bool
        ``n_pieces == 1`` and ``main_share >= WHOLE_SHARE``.
    """

    n_pieces: int
    main_share: float
    whole: bool


def shredding_score(shares, min_share=MIN_SHARE, whole_share=WHOLE_SHARE):
    """
    Summarise the label shares of one object.

    Parameters
    ----------
    shares : array_like
        From `label_shares`.
    min_share : float, optional
        A label above this share is a piece.
    whole_share : float, optional
        The share one label needs for a whole object.

    Returns
    -------
    score : `ShreddingScore`
        No labels give ``n_pieces=0``, ``main_share=0``, not whole.

    Examples
    --------
    >>> from astropais.metrics import shredding_score
    >>> shredding_score([0.97, 0.01, 0.02])
    ShreddingScore(n_pieces=1, main_share=0.97, whole=True)
    """
    shares = np.nan_to_num(np.asarray(shares, dtype=np.float64), nan=0.0)
    n_pieces = int(np.count_nonzero(shares > min_share))
    main = float(shares.max()) if shares.size else 0.0
    return ShreddingScore(n_pieces, main,
                          bool(n_pieces == 1 and main >= whole_share))
