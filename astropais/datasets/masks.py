"""The ``source_mask`` of training labels, defined once for every label source."""

import numpy as np
from scipy import ndimage

__all__ = ['truth_source_mask', 'SOURCE_MASK_THRESHOLD', 'SOURCE_MASK_DILATION',
           'source_mask_definition']

#: Default threshold, in units of the noise sigma, on the noise-free sum.
SOURCE_MASK_THRESHOLD = 0.1
#: Default dilation (pixels, 3x3 square structuring element).
SOURCE_MASK_DILATION = 1


def truth_source_mask(model_total, noise_sigma, *,
                      threshold=SOURCE_MASK_THRESHOLD,
                      dilation=SOURCE_MASK_DILATION):
    """
    The source pixels of a label: where the noise-free model is significant.

    A pixel is a source pixel when the sum of the noise-free source models
    exceeds ``threshold * noise_sigma`` (in any band), after dilating that
    set by ``dilation`` pixels (3x3 square), and keeping only pixels where
    the model sum is positive (so fractions are always defined).

    Parameters
    ----------
    model_total : array_like, shape (H, W) or (b, H, W)
        The sum of the noise-free source models.
    noise_sigma : float or array_like of shape (b,)
        The per-pixel noise standard deviation (per band).
    threshold : float, optional
        Threshold in units of ``noise_sigma`` (>= 0).
    dilation : int, optional
        Number of dilation steps (>= 0).

    Returns
    -------
    mask : `~numpy.ndarray` of bool, shape (H, W)
        The source pixels.
    """
    total = np.asarray(model_total, dtype=np.float64)
    if total.ndim == 2:
        total = total[None]
    if total.ndim != 3:
        raise ValueError(f'model_total must be (H, W) or (b, H, W), got '
                         f'shape {np.shape(model_total)}')
    sigma = np.broadcast_to(np.asarray(noise_sigma, dtype=np.float64).ravel()
                            if np.ndim(noise_sigma) else noise_sigma,
                            (total.shape[0],))
    if not np.all(np.isfinite(sigma)) or np.any(sigma < 0):
        raise ValueError(f'noise_sigma must be finite and >= 0, got '
                         f'{noise_sigma!r}')
    if not (np.isscalar(threshold) and threshold >= 0):
        raise ValueError(f'threshold must be >= 0, got {threshold!r}')
    if (isinstance(dilation, bool) or not isinstance(dilation, (int, np.integer))
            or dilation < 0):
        raise ValueError(f'dilation must be an integer >= 0, got '
                         f'{dilation!r}')
    significant = np.any(total > threshold * sigma[:, None, None], axis=0)
    if dilation:
        significant = ndimage.binary_dilation(
            significant, structure=np.ones((3, 3), bool), iterations=dilation)
    return significant & np.any(total > 0, axis=0)


def source_mask_definition(threshold=SOURCE_MASK_THRESHOLD,
                           dilation=SOURCE_MASK_DILATION):
    """
    The manifest record of the ``source_mask`` definition.

    Parameters
    ----------
    threshold : float, optional
        Threshold in units of the noise sigma.
    dilation : int, optional
        Dilation steps (3x3 square).

    Returns
    -------
    record : dict
        JSON-serialisable description.
    """
    return {'definition': 'dilate(sum(models) > threshold_sigma * '
                          'noise_sigma, dilation x 3x3) & (sum(models) > 0)',
            'threshold_sigma': float(threshold), 'dilation': int(dilation)}
