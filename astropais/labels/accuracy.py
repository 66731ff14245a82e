"""
Accuracy of scarlet2 labels against known truth (simulated scenes):
per-pixel fraction errors and per-source flux errors, computed with
`astropais.metrics`.
"""

import numpy as np

__all__ = ['label_accuracy']


def label_accuracy(fit, truth, noise_sigma, *, blended_below=0.9):
    """
    Compare the fractions and fluxes of a `~astropais.labels.SceneFit`
    with the truth it was fitted to.

    The fit's source ``k`` is the true source ``fit.index[k]`` (the fit
    was given the true positions), so no positional matching is needed.
    Fractions are scored on the truth's source pixels
    (`astropais.datasets.truth_source_mask`) with
    `astropais.metrics.fraction_errors` (total-variation distance per
    pixel, in [0, 1]); fluxes with `astropais.metrics.flux_errors`.

    Parameters
    ----------
    fit : `~astropais.labels.SceneFit`
        A single-band fit.
    truth : `~astropais.pcr.SourceImages`
        The noise-free true source images (single band), in the order of
        the positions given to the fit.
    noise_sigma : float
        The image's per-pixel noise sigma (defines the source pixels).
    blended_below : float, optional
        Pixels whose largest true fraction is below this count as blended.

    Returns
    -------
    scores : dict
        ``median_fraction_error`` (all scored pixels),
        ``median_fraction_error_blended`` (blended pixels only, NaN if
        none), ``median_flux_error`` (relative, over fitted sources),
        ``flux_errors`` (per true source, NaN where dropped),
        ``fraction_errors`` (per scored pixel), ``blended`` (bool per
        scored pixel), ``n_pixels``, ``n_blended_pixels``, ``n_sources``, ``n_dropped``.
    """
    from astropais.datasets import truth_source_mask
    from astropais.metrics import (SourceMatch, attribution_from_source_images,
                                   flux_errors, fraction_errors)

    if truth.n_bands != 1 or fit.sources.n_bands != 1:
        raise ValueError('label_accuracy scores single-band fits')
    if tuple(truth.shape) != tuple(fit.sources.shape):
        raise ValueError(f'truth shape {truth.shape} differs from the fit '
                         f'shape {fit.sources.shape}')
    n_fit = len(fit.index)
    match = SourceMatch(true_index=np.asarray(fit.index, dtype=np.int64),
                        detected_index=np.arange(n_fit),
                        separation=np.zeros(n_fit), n_true=len(truth),
                        n_detected=n_fit, max_separation=np.inf)
    total = truth.total()
    footprint = truth_source_mask(total, noise_sigma)
    attribution = attribution_from_source_images(fit.sources, footprint,
                                                 fit.centres)
    pixels, errors = fraction_errors(truth, attribution, match)
    largest = np.zeros(truth.shape)
    # A loop over sources: the largest true fraction of every pixel.
    with np.errstate(divide='ignore', invalid='ignore'):
        for i, cutout in enumerate(truth.cutouts):
            image_sl, cutout_sl = truth.slices(i)
            frac = cutout[cutout_sl] / total[image_sl]
            largest[image_sl] = np.fmax(largest[image_sl],
                                        np.nan_to_num(frac))
    blended = largest.ravel()[pixels] < blended_below
    flux_err = flux_errors(truth.fluxes(), fit.fluxes, match)
    return {
        'median_fraction_error': float(np.median(errors)) if errors.size
        else np.nan,
        'median_fraction_error_blended': float(np.median(errors[blended]))
        if blended.any() else np.nan,
        'median_flux_error': float(np.nanmedian(flux_err))
        if np.any(np.isfinite(flux_err)) else np.nan,
        'flux_errors': flux_err,
        'fraction_errors': errors,
        'blended': blended,
        'n_pixels': int(errors.size),
        'n_blended_pixels': int(blended.sum()),
        'n_sources': len(truth),
        'n_dropped': len(fit.dropped),
    }
