"""Sky noise: white or Gaussian-correlated, with a fixed per-pixel sigma."""

import numpy as np
from scipy import ndimage

__all__ = ['sky_noise', 'noise_sigma_from_depth']


def noise_sigma_from_depth(depth, zero_point, psf_image):
    """
    Per-pixel sky sigma giving a 5-sigma point source at ``depth``.

    With the optimal (PSF-weighted) filter the signal-to-noise of a point
    source of flux ``F`` on white noise ``sigma`` is
    ``F / (sigma * sqrt(n_eff))`` with ``n_eff = 1 / sum(psf ** 2)``.

    Parameters
    ----------
    depth : float
        5-sigma limiting magnitude.
    zero_point : float
        Magnitude of unit flux.
    psf_image : `~numpy.ndarray`
        The pixelated PSF (any normalisation).

    Returns
    -------
    sigma : float
        The per-pixel noise standard deviation.
    """
    psf = np.asarray(psf_image, dtype=np.float64)
    psf = psf / psf.sum()
    n_eff = 1.0 / np.sum(psf ** 2)
    flux = 10.0 ** (-0.4 * (depth - zero_point))
    return float(flux / (5.0 * np.sqrt(n_eff)))


def sky_noise(shape, sigma, rng, correlation=0.0):
    """
    A realisation of the sky noise.

    Parameters
    ----------
    shape : tuple of int
        Image shape.
    sigma : float
        Per-pixel standard deviation.
    rng : `numpy.random.Generator`
        The random generator.
    correlation : float, optional
        Sigma (pixels) of the Gaussian kernel that correlates the noise;
        0 gives white noise.  The smoothed noise is rescaled so that each
        pixel keeps the standard deviation ``sigma``.

    Returns
    -------
    noise : `~numpy.ndarray`
        float64 array of ``shape``.
    """
    noise = rng.standard_normal(shape)
    if correlation > 0:
        noise = ndimage.gaussian_filter(noise, correlation, mode='wrap')
        # The filter is separable: the variance gain is (sum k1**2)**2.
        delta = np.zeros(2 * int(4 * correlation + 0.5) + 1)
        delta[delta.size // 2] = 1.0
        kernel = ndimage.gaussian_filter1d(delta, correlation)
        noise /= np.sum(kernel ** 2)
    return noise * sigma
