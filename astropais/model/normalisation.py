"""
The fixed input normalisation of the PCR network (pure numpy).

Astronomical images span many decades of flux, so the network never sees
raw pixel values.  Every image is divided by its noise level and then
compressed with an inverse hyperbolic sine:

.. math::

    x' = \\operatorname{asinh}\\left(\\frac{x}{k\\,\\sigma}\\right)

where :math:`\\sigma` is the per-band background noise (standard
deviation) and :math:`k` the ``softening`` (in units of the noise).  The
transform is linear (:math:`x' \\approx x / k\\sigma`) for faint pixels,
logarithmic for bright ones, odd (negative noise stays negative) and has
no free parameter estimated from the image, so it is identical in
training and inference.  Its parameters are stored in the model's
sidecar.  Non-finite pixels (NaN, inf) become 0 (the sky level) so that
they cannot leak into neighbours through the convolutions.
"""

import numpy as np

__all__ = ['DEFAULT_NORMALISATION', 'validate_normalisation',
           'normalise_image']

#: The default normalisation: asinh of the image in units of the noise.
DEFAULT_NORMALISATION = {'kind': 'asinh', 'softening': 1.0}

_KINDS = ('asinh',)


def validate_normalisation(params=None):
    """
    Check and complete a normalisation parameter dictionary.

    Parameters
    ----------
    params : dict or None, optional
        ``{'kind': 'asinh', 'softening': k}``; `None` gives
        `DEFAULT_NORMALISATION`.  Missing keys take their default value.

    Returns
    -------
    params : dict
        A new, complete dictionary (JSON serialisable).

    Raises
    ------
    TypeError
        If ``params`` is not a dictionary.
    ValueError
        If the kind is unknown or the softening is not a finite positive
        number.
    """
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise TypeError('normalisation parameters must be a dict, got '
                        f'{type(params).__name__}')
    unknown = set(params) - set(DEFAULT_NORMALISATION)
    if unknown:
        raise ValueError(f'unknown normalisation parameters: {sorted(unknown)}')
    out = {**DEFAULT_NORMALISATION, **params}
    if out['kind'] not in _KINDS:
        raise ValueError(f'unknown normalisation kind {out["kind"]!r}; '
                         f'expected one of {_KINDS}')
    softening = float(out['softening'])
    if not np.isfinite(softening) or softening <= 0:
        raise ValueError('normalisation softening must be finite and > 0, '
                         f'got {out["softening"]!r}')
    out['softening'] = softening
    return out


def _sigma_for(image, noise_sigma):
    """Broadcast ``noise_sigma`` against ``image`` (band axis last)."""
    sigma = np.asarray(noise_sigma, dtype=np.float64)
    if sigma.ndim == 0:
        out = sigma
    elif image.ndim == 2:
        raise ValueError('a 2-D (single band) image needs a scalar '
                         f'noise_sigma, got shape {sigma.shape}')
    elif sigma.ndim == 1:
        if sigma.shape[0] not in (1, image.shape[-1]):
            raise ValueError(f'noise_sigma has {sigma.shape[0]} values but '
                             f'the image has {image.shape[-1]} bands')
        out = sigma
    elif sigma.ndim == 2 and image.ndim == 4:
        if sigma.shape[0] != image.shape[0] or sigma.shape[1] not in (
                1, image.shape[-1]):
            raise ValueError(f'noise_sigma of shape {sigma.shape} does not '
                             f'match a batch of shape {image.shape}')
        out = sigma[:, None, None, :]
    else:
        raise ValueError(f'noise_sigma of shape {sigma.shape} does not match '
                         f'an image of shape {image.shape}')
    if not np.all(np.isfinite(out)) or np.any(out <= 0):
        raise ValueError('noise_sigma must be finite and > 0')
    return out


def normalise_image(image, noise_sigma, params=None):
    """
    Apply the fixed noise-scaled asinh normalisation.

    Parameters
    ----------
    image : array_like
        Background-subtracted image(s) with the band axis last: ``(H, W)``,
        ``(H, W, b)`` or a batch ``(B, H, W, b)``.
    noise_sigma : float or array_like
        The background noise standard deviation: a scalar, one value per
        band ``(b,)``, or for a batch one row per image ``(B, b)``.
    params : dict or None, optional
        Normalisation parameters (see `validate_normalisation`); `None`
        uses `DEFAULT_NORMALISATION`.

    Returns
    -------
    normalised : `numpy.ndarray`
        ``asinh(image / (softening * noise_sigma))`` as float32, same shape
        as ``image``; non-finite input pixels are 0.

    Raises
    ------
    ValueError
        If the shapes do not match or ``noise_sigma`` is not positive.
    """
    params = validate_normalisation(params)
    image = np.asarray(image, dtype=np.float64)
    if image.ndim not in (2, 3, 4):
        raise ValueError('image must be (H, W), (H, W, b) or (B, H, W, b); '
                         f'got shape {image.shape}')
    sigma = _sigma_for(image, noise_sigma)
    with np.errstate(invalid='ignore', over='ignore'):
        out = np.arcsinh(image / (params['softening'] * sigma))
    out[~np.isfinite(out)] = 0.0
    return out.astype(np.float32)
