"""
Pack PCR label arrays into the targets of the PCR losses (pure numpy).

See `astropais.model.losses` for the packed layout.
"""

import numpy as np

__all__ = ['PIXEL_WEIGHTINGS', 'VECTOR_WEIGHTINGS', 'check_pixel_weighting',
           'check_vector_weighting', 'pack_targets', 'pixel_weights']

#: Accepted values of ``pixel_weighting``.
PIXEL_WEIGHTINGS = ('uniform', 'signal')

#: Accepted values of ``vector_weighting``.
VECTOR_WEIGHTINGS = ('uniform', 'fraction')

#: Weight floor of a valid slot under ``vector_weighting='fraction'``.
_VECTOR_WEIGHT_FLOOR = 0.05

#: Cap of the per-pixel signal-to-noise ratio in the ``'signal'`` weights.
_MAX_PIXEL_SNR = 400.0


def check_pixel_weighting(pixel_weighting):
    """
    Refuse an unknown ``pixel_weighting`` name.

    Parameters
    ----------
    pixel_weighting : str
        The name to check.

    Raises
    ------
    ValueError
        If it is not one of `PIXEL_WEIGHTINGS`.
    """
    _check_name('pixel_weighting', pixel_weighting, PIXEL_WEIGHTINGS)


def check_vector_weighting(vector_weighting):
    """
    Refuse an unknown ``vector_weighting`` name.

    Parameters
    ----------
    vector_weighting : str
        The name to check.

    Raises
    ------
    ValueError
        If it is not one of `VECTOR_WEIGHTINGS`.
    """
    _check_name('vector_weighting', vector_weighting, VECTOR_WEIGHTINGS)


def _check_name(keyword, value, names):
    """Refuse a ``keyword`` value that is not one of ``names``."""
    if value not in names:
        raise ValueError(f'{keyword} must be one of {names}, got {value!r}')


def pixel_weights(image, noise_sigma, pixel_weighting='uniform'):
    """
    Per-pixel loss weights of the vectors and fractions.

    With ``'uniform'`` every source pixel counts the same (paper eq. 3).
    With ``'signal'`` a pixel counts :math:`1 + \\sqrt{\\mathrm{clip}(I /
    \\sigma, 0, 400)}`: the fractions and vectors of the pixels that carry
    the flux (which decide the deblended photometry) weigh more than
    noise-dominated outskirts, without letting a few bright stars dominate.

    Parameters
    ----------
    image : array_like
        Images ``(B, h, w, b)``.
    noise_sigma : array_like
        Noise sigmas ``(B, b)``.
    pixel_weighting : {'uniform', 'signal'}, optional
        The weighting.

    Returns
    -------
    weights : `numpy.ndarray`
        float32 ``(B, h, w, b)``.

    Raises
    ------
    ValueError
        If ``pixel_weighting`` is unknown or the shapes disagree.
    """
    check_pixel_weighting(pixel_weighting)
    image = np.asarray(image, dtype=np.float32)
    noise_sigma = np.asarray(noise_sigma, dtype=np.float32)
    if image.ndim != 4 or noise_sigma.shape != (image.shape[0], image.shape[3]):
        raise ValueError(f'image (B, h, w, b) {image.shape} and noise_sigma '
                         f'(B, b) {noise_sigma.shape} do not match')
    if pixel_weighting == 'uniform':
        return np.ones(image.shape, dtype=np.float32)
    snr = image / noise_sigma[:, None, None, :]
    return (1.0 + np.sqrt(np.clip(np.nan_to_num(snr), 0.0, _MAX_PIXEL_SNR))
            ).astype(np.float32)


def pack_targets(batch, pixel_weighting='uniform', vector_weighting='uniform'):
    """
    Build the loss targets from a batch of PCR labels.

    Parameters
    ----------
    batch : dict
        Arrays ``heatmap`` ``(B, h, w)``, ``vectors`` ``(B, h, w, n, 2)``
        (pixels), ``slot_mask`` ``(B, h, w, n)``, ``fractions``
        ``(B, h, w, b, n)`` and ``source_mask`` ``(B, h, w)``; with
        ``pixel_weighting='signal'`` also ``image`` ``(B, h, w, b)`` and
        ``noise_sigma`` ``(B, b)``.
    pixel_weighting : {'uniform', 'signal'}, optional
        Per-pixel weights of the vector and fraction losses (see
        `pixel_weights`); the heatmap loss stays uniform.
    vector_weighting : {'uniform', 'fraction'}, optional
        Per-slot weights of the vector loss.  ``'uniform'``: every valid
        slot of a source pixel counts the same (paper eq. 3).
        ``'fraction'``: a slot counts its target fraction (averaged over
        the bands) plus 0.05, so the vectors of the slots that carry a
        pixel's light -- the votes that decide its attribution -- are
        learned first, not the long vectors to sources that put almost no
        light there.  The vector loss stays a weighted mean in pixels.

    Returns
    -------
    targets : dict of `numpy.ndarray`
        float32 ``heatmap`` ``(B, h, w)``, ``vectors`` ``(B, h, w, n, 3)``
        and ``fractions`` ``(B, h, w, b, 2 n)``.

    Raises
    ------
    ValueError
        If the shapes are inconsistent, a label is not finite or
        ``pixel_weighting`` or ``vector_weighting`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.model.targets import pack_targets
    >>> batch = {'heatmap': np.zeros((1, 2, 2)),
    ...          'vectors': np.zeros((1, 2, 2, 3, 2)),
    ...          'slot_mask': np.ones((1, 2, 2, 3), bool),
    ...          'fractions': np.tile([0.8, 0.2, 0.0], (1, 2, 2, 1, 1)),
    ...          'source_mask': np.ones((1, 2, 2), bool)}
    >>> pack_targets(batch, vector_weighting='fraction')['vectors'][0, 0, 0, :, 2]
    array([0.85, 0.25, 0.05], dtype=float32)
    """
    check_pixel_weighting(pixel_weighting)
    check_vector_weighting(vector_weighting)
    heatmap = np.asarray(batch['heatmap'], dtype=np.float32)
    vectors = np.asarray(batch['vectors'], dtype=np.float32)
    slot_mask = np.asarray(batch['slot_mask'], dtype=bool)
    fractions = np.asarray(batch['fractions'], dtype=np.float32)
    source_mask = np.asarray(batch['source_mask'], dtype=bool)
    if heatmap.ndim != 3:
        raise ValueError(f'heatmap must be (B, h, w), got {heatmap.shape}')
    bhw = heatmap.shape
    n = vectors.shape[-2] if vectors.ndim == 5 else None
    expected = {'vectors': (*bhw, n, 2), 'slot_mask': (*bhw, n),
                'fractions': (*bhw, fractions.shape[3] if fractions.ndim == 5
                              else None, n),
                'source_mask': bhw}
    for key, array in (('vectors', vectors), ('slot_mask', slot_mask),
                       ('fractions', fractions), ('source_mask', source_mask)):
        if array.shape != expected[key]:
            raise ValueError(f'{key} has shape {array.shape}, expected '
                             f'{expected[key]} for a heatmap of shape {bhw}')
    weight = slot_mask & source_mask[..., None]
    # Padding slots may carry any value in the labels: zero them.
    vectors = np.where(weight[..., None], vectors, 0.0).astype(np.float32)
    for key, array in (('heatmap', heatmap), ('vectors', vectors),
                       ('fractions', fractions)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f'{key} labels contain non-finite values')
    weight = weight.astype(np.float32)
    band_weight = weight[:, :, :, None, :]
    if vector_weighting == 'fraction':
        weight = weight * (fractions.mean(axis=3) + _VECTOR_WEIGHT_FLOOR)
    if pixel_weighting != 'uniform':
        per_pixel = pixel_weights(batch['image'], batch['noise_sigma'],
                                  pixel_weighting)
        band_weight = band_weight * per_pixel[..., None]
        weight = weight * per_pixel.mean(axis=-1)[..., None]
    band_weight = np.broadcast_to(band_weight, fractions.shape)
    return {'heatmap': heatmap,
            'vectors': np.concatenate([vectors, weight[..., None]], axis=-1),
            'fractions': np.concatenate([fractions, band_weight], axis=-1)}
