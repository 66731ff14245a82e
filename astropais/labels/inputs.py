"""
Validation of the inputs of a scarlet2 label fit: image, noise, PSF and
source positions, turned into the arrays scarlet2 needs.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ['LabelInputs', 'prepare_inputs', 'positions_to_yx']

#: How far from unit sum a PSF may be and still count as normalised.
PSF_SUM_TOLERANCE = 1e-3


@dataclass
class LabelInputs:
    """
    Validated inputs of a scarlet2 fit, band-first.

    Attributes
    ----------
    image : `~numpy.ndarray`, shape (b, H, W)
        The background-subtracted image (masked pixels set to 0).
    weights : `~numpy.ndarray`, shape (b, H, W)
        Inverse-variance weights (0 for masked pixels).
    psf : `~numpy.ndarray`, shape (b, h, w)
        The PSF of each band, odd-sized, unit sum.
    positions : `~numpy.ndarray`, shape (N, 2)
        The ``(y, x)`` source positions in 0-based pixels.
    noise_sigma : `~numpy.ndarray`, shape (b,)
        A representative (median) per-pixel noise sigma of each band.
    """

    image: np.ndarray
    weights: np.ndarray
    psf: np.ndarray
    positions: np.ndarray
    noise_sigma: np.ndarray

    @property
    def n_bands(self):
        """The number of bands."""
        return self.image.shape[0]

    @property
    def shape(self):
        """The ``(H, W)`` image shape."""
        return self.image.shape[1:]

    def crop(self, slices, positions=None):
        """
        The inputs restricted to a rectangle of the image.

        Parameters
        ----------
        slices : tuple of slice
            The ``(y, x)`` rectangle (steps of 1, inside the image).
        positions : `~numpy.ndarray`, optional
            ``(y, x)`` positions in full-image pixels to keep (default:
            none); they are shifted to the crop's pixels.

        Returns
        -------
        inputs : `LabelInputs`
            The crop (arrays are views where possible).
        """
        origin = np.array([slices[0].start or 0, slices[1].start or 0])
        pos = (np.zeros((0, 2)) if positions is None
               else np.asarray(positions, dtype=np.float64) - origin)
        sl = (slice(None), *slices)
        return LabelInputs(self.image[sl], self.weights[sl], self.psf,
                           pos.reshape(-1, 2), self.noise_sigma)


def positions_to_yx(positions):
    """
    Source positions as an ``(N, 2)`` array of ``(y, x)``.

    Parameters
    ----------
    positions : `~astropy.table.Table` or array_like
        A table with ``x`` and ``y`` columns (or ``xcentroid`` and
        ``ycentroid``, as photutils writes them), or an ``(N, 2)`` array of
        ``(x, y)``; 0-based pixels, pixel centres at integers.

    Returns
    -------
    yx : `~numpy.ndarray`, shape (N, 2)
        float64 ``(y, x)`` positions.

    Raises
    ------
    ValueError
        If the positions have the wrong shape or are not finite.
    """
    if hasattr(positions, 'colnames'):
        names = set(positions.colnames)
        for xname, yname in (('x', 'y'), ('xcentroid', 'ycentroid'),
                             ('x_centroid', 'y_centroid')):
            if {xname, yname} <= names:
                x = np.asarray(positions[xname], dtype=np.float64)
                y = np.asarray(positions[yname], dtype=np.float64)
                break
        else:
            raise ValueError(f'the position table needs x and y columns '
                             f'(or xcentroid, ycentroid); it has '
                             f'{positions.colnames}')
    else:
        xy = np.asarray(positions, dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] != 2:
            if xy.size == 0:
                xy = xy.reshape(0, 2)
            else:
                raise ValueError(f'positions must be an (N, 2) array of '
                                 f'(x, y), got shape {xy.shape}')
        x, y = xy[:, 0], xy[:, 1]
    yx = np.column_stack([y, x]).reshape(-1, 2)
    if not np.all(np.isfinite(yx)):
        raise ValueError('positions have NaN or inf values')
    return yx


def _band_first(array, name, n_bands=None):
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f'{name} must be 2-D (H, W) or 3-D (bands, H, W), '
                         f'got shape {array.shape}')
    if n_bands is not None and array.shape[0] != n_bands:
        raise ValueError(f'{name} has {array.shape[0]} band(s) but the '
                         f'image has {n_bands}')
    return array


def _weights(image, noise_sigma, variance, weights):
    given = [v is not None for v in (noise_sigma, variance, weights)]
    if sum(given) != 1:
        raise ValueError('give exactly one of noise_sigma, variance and '
                         'weights')
    n_bands, shape = image.shape[0], image.shape[1:]
    if noise_sigma is not None:
        sigma = np.asarray(noise_sigma, dtype=np.float64)
        if sigma.ndim == 0 or sigma.shape == (n_bands,):
            sigma = np.broadcast_to(sigma.reshape(-1, 1, 1),
                                    (n_bands, *shape))
        else:
            sigma = _band_first(sigma, 'noise_sigma', n_bands)
        variance = sigma ** 2
    if variance is not None:
        variance = np.broadcast_to(_band_first(variance, 'variance', n_bands)
                                   if np.ndim(variance) >= 2 else
                                   np.asarray(variance, float).reshape(-1, 1, 1),
                                   image.shape)
        if np.any(variance[np.isfinite(variance)] < 0):
            raise ValueError('variance has negative values')
        with np.errstate(divide='ignore'):
            weights = np.where(np.isfinite(variance) & (variance > 0),
                               1.0 / np.where(variance > 0, variance, 1.0),
                               0.0)
    else:
        weights = _band_first(weights, 'weights', n_bands)
        weights = np.where(np.isfinite(weights), weights, 0.0)
        if np.any(weights < 0):
            raise ValueError('weights have negative values')
    weights = np.broadcast_to(weights, image.shape)
    if weights.shape != image.shape:
        raise ValueError(f'noise has shape {weights.shape}, the image '
                         f'{image.shape}')
    return np.array(weights, dtype=np.float64)


def _check_psf(psf, n_bands, shape):
    psf = np.asarray(psf, dtype=np.float64)
    if psf.ndim == 2:
        psf = np.broadcast_to(psf, (n_bands, *psf.shape))
    if psf.ndim != 3:
        raise ValueError(f'psf must be a 2-D (h, w) or 3-D (bands, h, w) '
                         f'array, got shape {psf.shape}')
    if psf.shape[0] != n_bands:
        raise ValueError(f'psf has {psf.shape[0]} band(s) but the image has '
                         f'{n_bands}')
    h, w = psf.shape[1:]
    if h != w or h % 2 == 0:
        raise ValueError(f'psf must be square with an odd size (centred on '
                         f'its middle pixel), got {h} x {w}')
    if h > min(shape):
        raise ValueError(f'psf ({h} x {w}) is larger than the image '
                         f'{tuple(shape)}')
    if not np.all(np.isfinite(psf)):
        raise ValueError('psf has NaN or inf values')
    sums = psf.sum(axis=(1, 2))
    if np.any(np.abs(sums - 1) > PSF_SUM_TOLERANCE):
        raise ValueError(f'psf is not normalised: band sums {sums} (must be '
                         f'1 within {PSF_SUM_TOLERANCE})')
    centre = np.unravel_index(np.argmax(psf, axis=None), psf.shape)[1:]
    if max(abs(c - h // 2) for c in centre) > 1:
        raise ValueError(f'psf peak at {centre} is not at the centre '
                         f'({h // 2}, {w // 2})')
    return np.array(psf / sums[:, None, None])


def prepare_inputs(image, psf, positions, *, noise_sigma=None,
                   variance=None, weights=None, mask=None):
    """
    Validate the inputs of a scarlet2 label fit.

    Parameters
    ----------
    image : array_like, shape (H, W) or (b, H, W)
        Background-subtracted image, one or several bands.  NaN and inf
        pixels are masked.
    psf : array_like, shape (h, w) or (b, h, w)
        The pixelated PSF (odd square, centred, unit sum per band).
    positions : `~astropy.table.Table` or array_like
        Source positions: a table with ``x``, ``y`` columns or an ``(N, 2)``
        array of ``(x, y)`` (0-based pixels).
    noise_sigma : float, array_like, optional
        Per-pixel noise standard deviation: a scalar, one value per band or
        a map like ``image``.
    variance : float or array_like, optional
        Per-pixel noise variance (instead of ``noise_sigma``).
    weights : array_like, optional
        Inverse-variance weights like ``image`` (instead of
        ``noise_sigma``); 0 masks a pixel.
    mask : array_like of bool, shape (H, W) or like ``image``, optional
        True for pixels to ignore.

    Returns
    -------
    inputs : `LabelInputs`
        The validated, band-first arrays.

    Raises
    ------
    ValueError
        For a position outside the image, a PSF of the wrong shape or not
        normalised, mismatched bands or shapes, or no usable noise.
    """
    image = _band_first(image, 'image')
    if min(image.shape[1:]) < 3:
        raise ValueError(f'image is too small: {image.shape[1:]}')
    bad = ~np.isfinite(image)
    w = _weights(image, noise_sigma, variance, weights)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape not in (image.shape, image.shape[1:]):
            raise ValueError(f'mask has shape {mask.shape}, the image '
                             f'{image.shape}')
        bad = bad | np.broadcast_to(mask, image.shape)
    w[bad] = 0.0
    image = np.where(bad, 0.0, image)
    if not np.any(w > 0):
        raise ValueError('every pixel is masked or has zero weight')
    psf = _check_psf(psf, image.shape[0], image.shape[1:])
    yx = positions_to_yx(positions)
    ny, nx = image.shape[1:]
    outside = ((yx[:, 0] < -0.5) | (yx[:, 0] >= ny - 0.5)
               | (yx[:, 1] < -0.5) | (yx[:, 1] >= nx - 0.5))
    if np.any(outside):
        idx = np.flatnonzero(outside)
        raise ValueError(f'{idx.size} position(s) lie outside the '
                         f'{ny} x {nx} image (indices {idx[:10].tolist()}'
                         f'{" ..." if idx.size > 10 else ""}); positions are '
                         f'(x, y) in 0-based pixels')
    sigma = np.array([np.median(1 / np.sqrt(wb[wb > 0])) if np.any(wb > 0)
                      else np.inf for wb in w])
    return LabelInputs(image, w, psf, yx, sigma)
