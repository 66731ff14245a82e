"""
Dense brute-force references and hypothesis strategies for the PCR tests.

The references build the full ``N x H x W`` cube on purpose: they are slow,
obvious and only used on tiny images, to check the vectorised code.
"""

import numpy as np
from hypothesis import strategies as st

from astropais.pcr import SourceImages

__all__ = ['dense_sources', 'reference_nearest', 'reference_brightest',
           'reference_slots', 'reference_heatmap',
           'reference_fractions', 'truncated_truth', 'dense_attribution',
           'scenes']


def dense_sources(sources):
    """(N, b, H, W) cube of the source images."""
    cube = np.zeros((len(sources), sources.n_bands, *sources.shape))
    for i, cutout in enumerate(sources.cutouts):
        image_sl, cutout_sl = sources.slices(i)
        cube[(i, slice(None), *image_sl)] = cutout.reshape(
            -1, *cutout.shape[-2:])[(slice(None), *cutout_sl)]
    return cube


def reference_nearest(shape, centres, n):
    """(H, W, min(n, N)) source indices, nearest first, ties by index."""
    yy, xx = np.indices(shape)
    d2 = ((yy[..., None] - centres[:, 0]) ** 2
          + (xx[..., None] - centres[:, 1]) ** 2)       # (H, W, N)
    index = np.broadcast_to(np.arange(len(centres)), d2.shape)
    order = np.lexsort((index, d2), axis=-1)
    return order[..., :min(n, len(centres))]


def reference_brightest(sources, centres, n):
    """(H, W, min(n, N)) source indices: the sources with flux at the pixel
    (summed over bands), brightest first, ties by index; then the nearest
    others, nearest first, ties by index."""
    flux = dense_sources(sources).sum(axis=1)            # (N, H, W)
    shape = sources.shape
    yy, xx = np.indices(shape)
    d2 = ((yy[..., None] - centres[:, 0]) ** 2
          + (xx[..., None] - centres[:, 1]) ** 2)       # (H, W, N)
    flux = np.moveaxis(flux, 0, -1)
    index = np.broadcast_to(np.arange(len(centres)), d2.shape)
    contributes = flux > 0
    # lexsort: last key first -> contributors, then -flux, then d2, index.
    order = np.lexsort((index, np.where(contributes, 0, d2),
                        -flux, ~contributes), axis=-1)
    return order[..., :min(n, len(centres))]


def reference_slots(sources, centres, n, slots='nearest'):
    """(H, W, k) slot indices of `encode` for either slot rule."""
    if slots == 'brightest':
        return reference_brightest(sources, centres, n)
    return reference_nearest(sources.shape, centres, n)


def reference_heatmap(shape, centres, sigma):
    """max_i exp(-(|p - c_i|^2 - |p*_i - c_i|^2) / (2 sigma^2))."""
    yy, xx = np.indices(shape)
    e2 = ((np.floor(centres + 0.5) - centres) ** 2).sum(axis=1)
    d2 = ((yy[..., None] - centres[:, 0]) ** 2
          + (xx[..., None] - centres[:, 1]) ** 2)
    if len(centres) == 0:
        return np.zeros(shape)
    return np.exp(-(d2 - e2) / (2 * sigma ** 2)).max(axis=-1)


def reference_fractions(sources, centres, n, source_mask, slots='nearest'):
    """(H, W, b, n) renormalised fractions of the n slot sources."""
    cube = dense_sources(sources)
    shape = sources.shape
    out = np.zeros((*shape, sources.n_bands, n))
    if len(centres) == 0:
        return out
    near = reference_slots(sources, centres, n, slots)   # (H, W, k)
    k = near.shape[-1]
    yy, xx = np.indices(shape)
    flux = cube[near, :, yy[..., None], xx[..., None]]   # (H, W, k, b)
    flux = np.moveaxis(flux, -1, -2)                     # (H, W, b, k)
    norm = flux.sum(axis=-1, keepdims=True)
    frac = np.where(norm > 0, flux / np.where(norm > 0, norm, 1), 0.0)
    frac[..., 0] = np.where((norm[..., 0] == 0) & source_mask[..., None],
                            1.0, frac[..., 0])
    frac[~source_mask] = 0
    out[..., :k] = frac
    return out


def _merge_coincident(centres):
    """Index of the first centre with the same coordinates, per centre."""
    same = np.all(centres[:, None] == centres[None], axis=-1)
    return np.argmax(same, axis=1)


def truncated_truth(sources, centres, n, source_mask, band=0):
    """(N, H, W) truth fractions of the n-truncated encoding, with
    coincident centres merged into the lowest index."""
    frac = reference_fractions(sources, centres, n, source_mask)[:, :, band]
    out = np.zeros((len(centres), *sources.shape))
    if len(centres) == 0:
        return out
    near = reference_nearest(sources.shape, centres, n)
    owner = _merge_coincident(centres)[near]
    yy, xx = np.indices(sources.shape)
    for k in range(near.shape[-1]):
        np.add.at(out, (owner[..., k], yy, xx), frac[..., k])
    return out


def dense_attribution(att):
    """(N, H, W) weights of a PixelAttribution."""
    out = np.zeros((att.n_sources + 1, *att.shape))
    yy, xx = np.unravel_index(att.pixels, att.shape)
    for k in range(att.n_slots):
        np.add.at(out, (att.labels[:, k], yy, xx), att.weights[:, k])
    return out[1:]


@st.composite
def scenes(draw, max_size=14, max_sources=6, n_bands=1, min_separation=None,
           coincident=False):
    """
    Random small scenes: (SourceImages, centres).

    Centres lie on a 1/8-pixel grid inside ``[-0.5, size - 0.5)`` (so their
    nearest pixel is in the image; exact ties and coincident centres are
    possible).  With ``min_separation`` the nearest pixels of any two
    centres are at least that far apart (Chebyshev).  Cut-outs hold small
    non-negative integers (many zeros, many equal values) and may extend
    past the image edges.  With ``coincident`` one more source is added
    at the exact centre of an existing one.
    """
    ny = draw(st.integers(3, max_size))
    nx = draw(st.integers(3, max_size))
    n_src = draw(st.integers(0, max_sources))
    centres, cutouts, origins = [], [], []
    for _ in range(n_src):
        cy = draw(st.integers(-4, 8 * ny - 5)) / 8
        cx = draw(st.integers(-4, 8 * nx - 5)) / 8
        if min_separation is not None:
            peak = np.floor(np.array([cy, cx]) + 0.5)
            if any(np.max(np.abs(np.floor(np.asarray(c) + 0.5) - peak))
                   < min_separation for c in centres):
                continue
        centres.append((cy, cx))
        h = draw(st.integers(1, 7))
        w = draw(st.integers(1, 7))
        values = draw(st.lists(st.integers(0, 3), min_size=h * w * n_bands,
                               max_size=h * w * n_bands))
        cut = np.asarray(values, dtype=np.float64)
        cut = cut.reshape((n_bands, h, w) if n_bands > 1 else (h, w))
        cutouts.append(cut)
        origins.append((int(round(cy)) - h // 2 + draw(st.integers(-1, 1)),
                        int(round(cx)) - w // 2 + draw(st.integers(-1, 1))))
    if coincident and centres:
        twin = draw(st.integers(0, len(centres) - 1))
        centres.append(centres[twin])
        cutouts.append(draw(st.sampled_from([1.0, 2.5])) * cutouts[twin])
        origins.append(origins[twin])
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    return SourceImages((ny, nx), cutouts, origins), centres
