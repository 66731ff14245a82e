"""Small scenes with known truth for the label tests and benchmarks."""

import numpy as np

from astropais.pcr import SourceImages

__all__ = ['gaussian_psf', 'blended_pair']


def gaussian_psf(fwhm=3.0, size=15):
    """A centred, unit-sum Gaussian PSF image."""
    sigma = fwhm / 2.3548
    yy, xx = np.indices((size, size)) - size // 2
    psf = np.exp(-(yy ** 2 + xx ** 2) / (2 * sigma ** 2))
    return psf / psf.sum()


def blended_pair(shape=(40, 40), separation=5.0, flux=(3000.0, 1500.0),
                 size=(2.0, 1.5), noise_sigma=2.0, fwhm=3.0, seed=0):
    """
    Two PSF-convolved elliptical exponential galaxies that overlap.

    Returns
    -------
    image, psf, positions, truth, noise_sigma
        ``positions`` is ``(N, 2)`` of ``(x, y)``; ``truth`` a
        `~astropais.pcr.SourceImages` of the noise-free sources.
    """
    import galsim

    rng = np.random.default_rng(seed)
    ny, nx = shape
    centre = np.array([(ny - 1) / 2, (nx - 1) / 2])
    offsets = np.array([[0.0, -separation / 2], [0.0, separation / 2]])
    psf_profile = galsim.Gaussian(fwhm=fwhm)
    psf = psf_profile.drawImage(nx=15, ny=15, scale=1.0,
                                method='no_pixel').array
    psf /= psf.sum()
    cutouts, positions = [], []
    for k, (dyx, f, r) in enumerate(zip(offsets, flux, size)):
        y, x = centre + dyx
        galaxy = galsim.Exponential(half_light_radius=r, flux=f).shear(
            e1=0.2 * (-1) ** k, e2=0.1)
        image = galsim.Convolve(galaxy, psf_profile).drawImage(
            nx=nx, ny=ny, scale=1.0, method='no_pixel',
            offset=(x - (nx - 1) / 2, y - (ny - 1) / 2)).array
        cutouts.append(image.astype(np.float64))
        positions.append((x, y))
    truth = SourceImages(shape, cutouts, np.zeros((2, 2)))
    image = truth.total() + rng.normal(0, noise_sigma, shape)
    return image, psf, np.array(positions), truth, noise_sigma
