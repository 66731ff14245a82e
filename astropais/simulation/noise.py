"""Sky noise: white or Gaussian-correlated, with a fixed per-pixel sigma."""

import numpy as np
from scipy import ndimage
from ._galsim import require_galsim

__all__ = ['sky_noise', 'noise_sigma_from_depth', 'source_noise',
           'background_residual', 'scene_noise', 'DRIZZLE_EXPOSURES']


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


def _gaussian_kernel(correlation):
    """The 1-D Gaussian kernel of sigma ``correlation`` pixels (unit sum)."""
    delta = np.zeros(2 * int(4 * correlation + 0.5) + 1)
    delta[delta.size // 2] = 1.0
    return ndimage.gaussian_filter1d(delta, correlation)


def _drop_kernel(drop, offset):
    """
    The 1-D drizzle kernel of a drop of side ``drop`` shifted by ``offset``.

    Element ``j`` is the length of the overlap of output pixel ``j``
    (``[j - 0.5, j + 0.5]``) with the drop ``[offset - drop / 2, offset +
    drop / 2]``, over the drop's length: the share of one input pixel that
    drizzling puts into each output pixel.
    """
    half = int(np.ceil(drop / 2 + abs(offset))) + 1
    j = np.arange(-half, half + 1)
    lo = np.maximum(j - 0.5, offset - drop / 2)
    hi = np.minimum(j + 0.5, offset + drop / 2)
    return np.clip(hi - lo, 0, None) / drop


def _cosmos_noise(shape, rng):
    """Unit-variance noise with the HST ACS COSMOS correlation (per pixel)."""
    galsim = require_galsim()

    # The correlation function is tabulated on 0.03 arcsec drizzled pixels;
    # here it is used in pixel units, whatever the scene's pixel scale.
    noise = galsim.getCOSMOSNoise(
        rng=galsim.BaseDeviate(int(rng.integers(1, 2 ** 31 - 1))),
        cosmos_scale=1.0, variance=1.0)
    image = galsim.ImageD(shape[1], shape[0], scale=1.0)
    image.addNoise(noise)
    return image.array


#: Number of dithered exposures a ``'drizzle'`` noise field combines.
DRIZZLE_EXPOSURES = 4


def sky_noise(shape, sigma, rng, correlation=0.0, kernel='gaussian'):
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
        Correlation length in pixels (0: white noise for the
        ``'gaussian'`` and ``'drizzle'`` kernels).
    kernel : {'gaussian', 'drizzle', 'cosmos'}, optional
        ``'gaussian'``: white noise smoothed by a Gaussian of sigma
        ``correlation``.  ``'drizzle'``: the sum of
        `DRIZZLE_EXPOSURES` dithered exposures, each white noise
        redistributed by square drops of side ``correlation`` output pixels
        at a random sub-pixel offset, as drizzling does.  ``'cosmos'``:
        GalSim's correlation function of drizzled HST ACS COSMOS images in
        pixel units (``correlation`` ignored).  The result is rescaled so
        that each pixel has the standard deviation ``sigma``.

    Returns
    -------
    noise : `~numpy.ndarray`
        float64 array of ``shape``.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.simulation.noise import sky_noise
    >>> noise = sky_noise((256, 256), 2.0, np.random.default_rng(0),
    ...                   correlation=1.2, kernel='drizzle')
    >>> bool(abs(noise.std() - 2.0) < 0.1)
    True
    """
    if kernel == 'cosmos':
        noise = _cosmos_noise(shape, rng)
        return noise * (sigma / np.sqrt(np.mean(noise ** 2)))
    if kernel == 'drizzle' and correlation > 0:
        noise = np.zeros(shape)
        variance = 0.0
        # A loop over the few dithered exposures of the stack.
        for _ in range(DRIZZLE_EXPOSURES):
            ky, kx = (_drop_kernel(correlation, offset)
                      for offset in rng.uniform(-0.5, 0.5, 2))
            white = rng.standard_normal(shape)
            white = ndimage.correlate1d(white, ky, axis=0, mode='wrap')
            noise += ndimage.correlate1d(white, kx, axis=1, mode='wrap')
            variance += np.sum(ky ** 2) * np.sum(kx ** 2)
        return noise * (sigma / np.sqrt(variance))
    if kernel not in ('gaussian', 'drizzle'):
        raise ValueError(f"kernel must be 'gaussian', 'drizzle' or "
                         f"'cosmos', got {kernel!r}")
    noise = rng.standard_normal(shape)
    if correlation > 0:
        noise = ndimage.gaussian_filter(noise, correlation, mode='wrap')
        # The filter is separable: the variance gain is (sum k1**2)**2.
        noise /= np.sum(_gaussian_kernel(correlation) ** 2)
    return noise * sigma


def source_noise(model, sigma, knee, rng):
    """
    Photon noise of the sources.

    Parameters
    ----------
    model : `~numpy.ndarray`
        The noise-free image of all sources.
    sigma : float
        Per-pixel sky noise standard deviation.
    knee : float
        Pixel value, in units of ``sigma``, at which the sources' own
        variance equals the sky variance (0: no source noise).
    rng : `numpy.random.Generator`
        The random generator.

    Returns
    -------
    noise : `~numpy.ndarray`
        Gaussian noise of variance ``sigma * max(model, 0) / knee`` per
        pixel (zeros when ``knee`` is 0).
    """
    if knee <= 0 or sigma <= 0:
        return np.zeros_like(model)
    variance = sigma * np.maximum(model, 0.0) / knee
    return rng.standard_normal(model.shape) * np.sqrt(variance)


def background_residual(shape, amplitude, rng):
    """
    A residual background: a random plane plus a wide Gaussian bump.

    Parameters
    ----------
    shape : tuple of int
        Image shape.
    amplitude : float
        Peak-to-peak amplitude scale (image units).
    rng : `numpy.random.Generator`
        The random generator.

    Returns
    -------
    background : `~numpy.ndarray`
        A smooth float64 image of zero mean.
    """
    if amplitude <= 0:
        return np.zeros(shape)
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx]
    gy, gx = rng.normal(0, 1, 2) / max(shape)
    centre = rng.uniform(0, 1, 2) * shape
    width = rng.uniform(0.3, 1.0) * max(shape)
    bump = rng.normal(0, 1) * np.exp(
        -0.5 * ((y - centre[0]) ** 2 + (x - centre[1]) ** 2) / width ** 2)
    background = amplitude * (gy * y + gx * x + bump)
    return background - background.mean()


def scene_noise(model, sigma, params, rng):
    """
    All the noise of one image of a scene: sky, source photon noise and a
    residual background, as its parameters ask.

    Parameters
    ----------
    model : `~numpy.ndarray`
        The noise-free image of all sources (2-D).
    sigma : float
        Per-pixel sky noise standard deviation.
    params : `~astropais.simulation.SceneParameters`
        ``noise_correlation``, ``noise_kernel``, ``source_noise_knee`` and
        ``background_gradient`` (in units of ``sigma``).
    rng : `numpy.random.Generator`
        The random generator (sky noise first, then source noise and the
        background when either is on).

    Returns
    -------
    noise : `~numpy.ndarray`
        float64 array of the model's shape.
    """
    noise = sky_noise(model.shape, sigma, rng, params.noise_correlation,
                      params.noise_kernel)
    if params.source_noise_knee or params.background_gradient:
        noise = (noise + source_noise(model, sigma, params.source_noise_knee,
                                      rng)
                 + background_residual(model.shape, params.background_gradient
                                       * sigma, rng))
    return noise
