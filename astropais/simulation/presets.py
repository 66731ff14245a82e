"""
Scene parameters and the named presets ``'hst'`` and ``'lsst'``.

Every number that shapes a simulated scene lives in one
`SceneParameters` instance, so a scene (and a dataset) is fully described
by its preset name, its overrides and its seed.
"""

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from .psf import PSF_FAMILIES

__all__ = ['SceneParameters', 'PRESETS', 'get_preset', 'MORPHOLOGIES',
           'NOISE_KERNELS']

#: How sky noise can be correlated (see `SceneParameters.noise_kernel`).
NOISE_KERNELS = ('gaussian', 'drizzle', 'cosmos')

#: The galaxy morphologies the generator can draw (stars are ``'star'``).
MORPHOLOGIES = ('sersic', 'bulge_disk', 'knots', 'edge_on')


@dataclass(frozen=True)
class SceneParameters:
    """
    The parameters of a simulated scene.

    Angles and sizes are in arcseconds unless the name says pixels;
    fluxes are in image units where a source of magnitude ``zero_point``
    has a flux of 1.

    Parameters
    ----------
    name : str
        A label for the parameter set (the preset name).
    pixel_scale : float
        Pixel scale in arcsec per pixel (> 0).
    psf : {'gaussian', 'moffat', 'kolmogorov', 'optical', 'double_gaussian'} or `~numpy.ndarray`
        The point-spread function: an analytic profile of FWHM
        ``psf_fwhm`` (see `~astropais.simulation.psf.analytic_psf`) or a
        2-D image of the PSF sampled at ``pixel_scale`` (centred, any
        normalisation).
    psf_fwhm : float
        FWHM of an analytic PSF in arcsec (ignored for an image PSF).
    psf_beta : float
        Moffat index of the ``'moffat'`` PSF.
    psf_obscuration, psf_struts, psf_strut_angle, psf_jitter : float, int, float, float
        The ``'optical'`` PSF: linear central obscuration (fraction of the
        aperture diameter), number of spider struts (0 for none; they make
        the diffraction spikes), their angle in degrees, and the FWHM of the
        Gaussian jitter convolved with it, in units of ``psf_fwhm``.
    psf_halo_fraction, psf_halo_scale : float
        The ``'double_gaussian'`` PSF: fraction of the flux in the halo and
        the halo's FWHM in units of ``psf_fwhm``.
    zero_point : float
        Magnitude of a source of unit flux.
    depth : float
        5-sigma limiting magnitude of an isolated point source measured
        with the optimal (PSF-weighted) filter; sets the sky noise unless
        ``noise_sigma`` is given.
    noise_sigma : float or None
        Per-pixel standard deviation of the sky noise in image units
        (None: derived from ``depth``).  0 gives a noise-free image.
    noise_correlation : float
        Correlation length of the sky noise in pixels (0: uncorrelated
        noise).  For ``noise_kernel='gaussian'`` the sigma of the Gaussian
        kernel that smooths white noise, for ``'drizzle'`` the side of the
        drizzle drop (input pixel times ``pixfrac``) in output pixels;
        ignored by ``'cosmos'``.  The correlated noise is rescaled to
        ``noise_sigma`` per pixel.
    noise_kernel : {'gaussian', 'drizzle', 'cosmos'}
        How the sky noise is correlated (see
        `~astropais.simulation.noise.sky_noise`): a Gaussian kernel, the
        square drop of drizzling, or GalSim's HST ACS COSMOS noise
        correlation function (drizzled F814W, 0.03 arcsec pixels, scaled to
        ``pixel_scale``).
    source_noise_knee : float
        Photon (Poisson) noise of the sources: the pixel value, in units of
        the sky ``noise_sigma``, at which the source's own variance equals
        the sky variance (0: no source noise).
    background_gradient : float
        Amplitude, in sky noise sigmas, of a residual background left by
        an imperfect background subtraction (a random plane plus a wide
        Gaussian bump; 0 for none).
    large_galaxies : float
        Mean number of large, bright galaxies added to each image
        (Poisson), centred anywhere within one half-light radius of it.
    large_size_range : tuple of float
        ``(min, max)`` half-light radius of the large galaxies in *pixels*
        (log-uniform).
    large_surface_snr : tuple of float
        ``(min, max)`` mean surface brightness within the half-light radius
        of a large galaxy, in sky noise sigmas per pixel (log-uniform).
    bright_stars : float
        Mean number of bright stars added to each image (Poisson).
    bright_star_peak_snr : tuple of float
        ``(min, max)`` peak pixel value of a bright star, in sky noise
        sigmas, before saturation (log-uniform).
    saturation_snr : float or None
        Full-well level, in sky noise sigmas: pixels above it are clipped
        and the excess charge bleeds along the column (None: no
        saturation).
    masked_core_probability : float
        Probability that the saturated core of a star is masked (set to 0,
        as the deblender sets masked pixels), as users pass them.
    density : float
        Mean number of sources (stars and galaxies) per square arcminute;
        more than one source per 4 pixels is refused as impossible.
    mag_range : tuple of float
        ``(bright, faint)`` magnitude limits.
    mag_slope : float
        Slope of the number counts, ``d log10 N / dm``.
    size_median : float
        Median galaxy half-light radius (arcsec) at ``size_ref_mag``.
    size_ref_mag : float
        Reference magnitude of ``size_median``.
    size_mag_slope : float
        Change of ``log10`` half-light radius per magnitude.
    size_scatter : float
        Log-normal scatter of the half-light radius (dex).
    size_range : tuple of float
        ``(min, max)`` half-light radius in arcsec.
    ellipticity_rms : float
        RMS of the galaxy ellipticity ``|g|`` (reduced shear), drawn from a
        Rayleigh distribution clipped at 0.85.
    star_fraction : float
        Fraction of sources that are stars.
    morphology_weights : dict
        Relative frequency of each galaxy morphology (keys in
        `MORPHOLOGIES`).
    pair_fraction : float
        Fraction of sources that belong to a close pair or group.
    pair_separation : tuple of float
        ``(min, max)`` separation of a group member from its group's
        primary, in units of the PSF FWHM.
    pair_separation_distribution : {'uniform', 'loguniform'}
        Distribution of the separation between those limits.
    max_group_size : int
        Largest group (2 gives pairs only); group sizes ``k`` are drawn
        with probability proportional to ``2 ** -(k - 2)``.
    cluster : `~astropais.simulation.cluster.ClusterParameters` or None
        A star cluster added on top of the other sources (None: none), its
        members point sources drawn with the scene's PSF (see
        `~astropais.simulation.cluster.draw_cluster_catalog`).
    """

    name: str = 'custom'
    pixel_scale: float = 0.06
    psf: object = 'moffat'
    psf_fwhm: float = 0.18
    psf_beta: float = 3.0
    psf_obscuration: float = 0.33
    psf_struts: int = 4
    psf_strut_angle: float = 45.0
    psf_jitter: float = 0.3
    psf_halo_fraction: float = 0.1
    psf_halo_scale: float = 3.0
    zero_point: float = 25.94
    depth: float = 27.5
    noise_sigma: object = None
    noise_correlation: float = 0.0
    noise_kernel: str = 'gaussian'
    source_noise_knee: float = 0.0
    background_gradient: float = 0.0
    large_galaxies: float = 0.0
    large_size_range: tuple = (10.0, 200.0)
    large_surface_snr: tuple = (0.5, 30.0)
    bright_stars: float = 0.0
    bright_star_peak_snr: tuple = (100.0, 1e5)
    saturation_snr: object = None
    masked_core_probability: float = 0.0
    density: float = 300.0
    mag_range: tuple = (19.0, 28.0)
    mag_slope: float = 0.3
    size_median: float = 0.3
    size_ref_mag: float = 24.0
    size_mag_slope: float = -0.08
    size_scatter: float = 0.2
    size_range: tuple = (0.03, 3.0)
    ellipticity_rms: float = 0.3
    star_fraction: float = 0.05
    morphology_weights: dict = field(default_factory=lambda: {
        'sersic': 0.4, 'bulge_disk': 0.3, 'knots': 0.2, 'edge_on': 0.1})
    pair_fraction: float = 0.3
    pair_separation: tuple = (0.5, 3.0)
    pair_separation_distribution: str = 'uniform'
    max_group_size: int = 3
    cluster: object = None

    def __post_init__(self):
        self.validate()

    def replace(self, **overrides):
        """
        A copy with some parameters changed.

        Parameters
        ----------
        **overrides
            Parameter names and their new values.

        Returns
        -------
        params : `SceneParameters`
            The new, validated parameters.
        """
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f'unknown scene parameter(s): {unknown}; '
                             f'valid names are {sorted(names)}')
        return dataclasses.replace(self, **overrides)

    @property
    def is_image_psf(self):
        """True when the PSF is given as an image."""
        return not isinstance(self.psf, str)

    @property
    def psf_fwhm_pixels(self):
        """The PSF FWHM in pixels (measured on the image for an image PSF)."""
        if self.is_image_psf:
            from .psf import measure_fwhm_pixels
            return measure_fwhm_pixels(np.asarray(self.psf, dtype=float))
        return self.psf_fwhm / self.pixel_scale

    def to_dict(self):
        """
        The parameters as a JSON-serialisable dict.

        Returns
        -------
        params : dict
            An image PSF is replaced by a description of its shape.
        """
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == 'psf' and self.is_image_psf:
                value = f'image{tuple(np.shape(value))}'
            elif f.name == 'cluster':
                if value is None:
                    # Absent when None: descriptions (and dataset
                    # manifests) written before clusters existed stay
                    # the same.
                    continue
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = dict(value)
            out[f.name] = value
        return out

    def validate(self):
        """
        Check every parameter.

        Raises
        ------
        ValueError
            Naming the first invalid parameter.
        """
        def positive(name):
            value = getattr(self, name)
            if not (np.isscalar(value) and math.isfinite(value)
                    and value > 0):
                raise ValueError(f'{name} must be a positive finite number, '
                                 f'got {value!r}')

        def in_unit(name):
            value = getattr(self, name)
            if not (np.isscalar(value) and 0 <= value <= 1):
                raise ValueError(f'{name} must lie in [0, 1], got {value!r}')

        def ordered_pair(name, minimum=None):
            value = getattr(self, name)
            if (np.ndim(value) != 1 or len(value) != 2
                    or not np.all(np.isfinite(value))
                    or value[0] > value[1]):
                raise ValueError(f'{name} must be an increasing pair '
                                 f'(low, high), got {value!r}')
            if minimum is not None and value[0] < minimum:
                raise ValueError(f'{name} must not be negative, got '
                                 f'{value!r}')

        positive('pixel_scale')
        if self.is_image_psf:
            psf = np.asarray(self.psf)
            if (psf.ndim != 2 or min(psf.shape) < 3
                    or not np.issubdtype(psf.dtype, np.number)
                    or not np.all(np.isfinite(psf)) or psf.sum() <= 0):
                raise ValueError('an image psf must be a finite 2-D array of '
                                 'at least 3x3 pixels with a positive sum')
        elif self.psf not in PSF_FAMILIES:
            raise ValueError(f"psf must be one of {PSF_FAMILIES} or a 2-D "
                             f"image, got {self.psf!r}")
        else:
            positive('psf_fwhm')
        if not (np.isscalar(self.psf_obscuration)
                and 0 <= self.psf_obscuration < 0.9):
            raise ValueError(f'psf_obscuration must lie in [0, 0.9), got '
                             f'{self.psf_obscuration!r}')
        if (isinstance(self.psf_struts, bool)
                or not isinstance(self.psf_struts, (int, np.integer))
                or not 0 <= self.psf_struts <= 12):
            raise ValueError(f'psf_struts must be an integer in 0..12, got '
                             f'{self.psf_struts!r}')
        for name in ('psf_strut_angle', 'psf_jitter', 'source_noise_knee',
                     'background_gradient', 'large_galaxies',
                     'bright_stars'):
            value = getattr(self, name)
            if not (np.isscalar(value) and math.isfinite(value)
                    and value >= 0):
                raise ValueError(f'{name} must be a finite number >= 0, '
                                 f'got {value!r}')
        in_unit('psf_halo_fraction')
        positive('psf_halo_scale')
        in_unit('masked_core_probability')
        if self.noise_kernel not in NOISE_KERNELS:
            raise ValueError(f'noise_kernel must be one of {NOISE_KERNELS}, '
                             f'got {self.noise_kernel!r}')
        for name in ('large_size_range', 'large_surface_snr',
                     'bright_star_peak_snr'):
            ordered_pair(name)
            if getattr(self, name)[0] <= 0:
                raise ValueError(f'{name} must be positive, got '
                                 f'{getattr(self, name)!r}')
        if self.saturation_snr is not None and not (
                np.isscalar(self.saturation_snr)
                and math.isfinite(self.saturation_snr)
                and self.saturation_snr > 0):
            raise ValueError(f'saturation_snr must be None or a positive '
                             f'number, got {self.saturation_snr!r}')
        if not self.is_image_psf and self.psf == 'moffat':
            positive('psf_beta')
            if self.psf_beta <= 1.1:
                raise ValueError(f'psf_beta must exceed 1.1 (finite flux), '
                                 f'got {self.psf_beta}')
        for name in ('zero_point', 'depth', 'mag_slope', 'size_ref_mag',
                     'size_mag_slope'):
            value = getattr(self, name)
            if not (np.isscalar(value) and math.isfinite(value)):
                raise ValueError(f'{name} must be a finite number, got '
                                 f'{value!r}')
        if self.noise_sigma is not None and not (
                np.isscalar(self.noise_sigma)
                and math.isfinite(self.noise_sigma)
                and self.noise_sigma >= 0):
            raise ValueError(f'noise_sigma must be None or a finite number '
                             f'>= 0, got {self.noise_sigma!r}')
        if not (np.isscalar(self.noise_correlation)
                and 0 <= self.noise_correlation <= 50):
            raise ValueError(f'noise_correlation must lie in [0, 50] pixels, '
                             f'got {self.noise_correlation!r}')
        if not (np.isscalar(self.density) and math.isfinite(self.density)
                and self.density >= 0):
            raise ValueError(f'density must be a finite number >= 0 sources '
                             f'per square arcmin, got {self.density!r}')
        ordered_pair('mag_range')
        positive('size_median')
        if not (np.isscalar(self.size_scatter) and self.size_scatter >= 0):
            raise ValueError(f'size_scatter must be >= 0 dex, got '
                             f'{self.size_scatter!r}')
        ordered_pair('size_range', minimum=0)
        if self.size_range[0] <= 0:
            raise ValueError(f'size_range must be positive sizes, got '
                             f'{self.size_range!r}')
        if not (np.isscalar(self.ellipticity_rms)
                and 0 <= self.ellipticity_rms <= 0.5):
            raise ValueError(f'ellipticity_rms must lie in [0, 0.5], got '
                             f'{self.ellipticity_rms!r}')
        in_unit('star_fraction')
        in_unit('pair_fraction')
        weights = self.morphology_weights
        if not isinstance(weights, dict) or set(weights) - set(MORPHOLOGIES):
            raise ValueError(f'morphology_weights must be a dict with keys '
                             f'from {MORPHOLOGIES}, got {weights!r}')
        values = np.array(list(weights.values()), dtype=float)
        if (values.size == 0 or np.any(values < 0) or not values.sum() > 0
                or not np.all(np.isfinite(values))):
            raise ValueError('morphology_weights must be non-negative with a '
                             'positive sum')
        ordered_pair('pair_separation', minimum=0)
        if self.pair_separation_distribution not in ('uniform', 'loguniform'):
            raise ValueError(f"pair_separation_distribution must be "
                             f"'uniform' or 'loguniform', got "
                             f"{self.pair_separation_distribution!r}")
        if (self.pair_separation_distribution == 'loguniform'
                and self.pair_separation[0] <= 0):
            raise ValueError('a loguniform pair_separation needs a positive '
                             'lower limit')
        if (not isinstance(self.max_group_size, (int, np.integer))
                or not 2 <= self.max_group_size <= 10):
            raise ValueError(f'max_group_size must be an integer in 2..10, '
                             f'got {self.max_group_size!r}')
        if self.cluster is not None:
            from .cluster import ClusterParameters
            if not isinstance(self.cluster, ClusterParameters):
                raise ValueError(f'cluster must be None or a '
                                 f'ClusterParameters, got {self.cluster!r}')


#: The named presets.
PRESETS = {
    # HST WFC3/IR F160W-like deep field (the paper's data): 0.06" pixels
    # (drizzled), PSF FWHM ~0.18" with Moffat wings, AB zero point 25.94
    # for e-/s, 5-sigma point-source depth 27.5 (GOODS-S-deep-like), number
    # counts to H ~ 28 of a few hundred galaxies per arcmin^2.
    'hst': SceneParameters(
        name='hst', pixel_scale=0.06, psf='moffat', psf_fwhm=0.18,
        psf_beta=3.0, zero_point=25.94, depth=27.5, density=300.0,
        mag_range=(19.0, 28.0), mag_slope=0.3, size_median=0.3,
        size_ref_mag=24.0, size_mag_slope=-0.08, size_scatter=0.2,
        size_range=(0.03, 3.0), star_fraction=0.05, pair_fraction=0.3,
        pair_separation=(0.5, 3.0)),
    # Ground-based LSST-like coadd: 0.2" pixels, 0.7" seeing (Moffat,
    # beta = 3.5), fluxes in nJy (AB zero point 31.4), 5-sigma depth 26.5.
    'lsst': SceneParameters(
        name='lsst', pixel_scale=0.2, psf='moffat', psf_fwhm=0.7,
        psf_beta=3.5, zero_point=31.4, depth=26.5, density=150.0,
        mag_range=(17.0, 27.0), mag_slope=0.3, size_median=0.4,
        size_ref_mag=23.0, size_mag_slope=-0.08, size_scatter=0.2,
        size_range=(0.05, 5.0), star_fraction=0.1, pair_fraction=0.3,
        pair_separation=(0.5, 3.0)),
    # HST ACS-like drizzled image, a family the 'hst' preset lacks: a
    # diffraction-limited optical PSF with four struts (spikes), 0.05"
    # drizzled pixels with the COSMOS noise correlation, source photon
    # noise, and a few bright (saturating) stars and large galaxies.
    'hst_drizzled': SceneParameters(
        name='hst_drizzled', pixel_scale=0.05, psf='optical', psf_fwhm=0.1,
        psf_obscuration=0.33, psf_struts=4, psf_strut_angle=45.0,
        psf_jitter=0.3, zero_point=25.94, depth=27.2, density=250.0,
        noise_kernel='cosmos', source_noise_knee=300.0,
        mag_range=(18.0, 27.5), mag_slope=0.3, size_median=0.3,
        size_ref_mag=24.0, size_mag_slope=-0.08, size_scatter=0.2,
        size_range=(0.03, 3.0), star_fraction=0.05, pair_fraction=0.3,
        pair_separation=(0.5, 3.0), large_galaxies=0.3, bright_stars=0.3,
        bright_star_peak_snr=(100.0, 3e4), saturation_snr=5000.0),
    # Ground-based seeing (Kolmogorov) with a residual background, 0.168"
    # pixels (HSC-like), white sky noise plus source photon noise.
    'ground': SceneParameters(
        name='ground', pixel_scale=0.168, psf='kolmogorov', psf_fwhm=0.6,
        zero_point=27.0, depth=26.0, density=150.0, source_noise_knee=100.0,
        background_gradient=0.1, mag_range=(17.0, 26.5), mag_slope=0.3,
        size_median=0.4, size_ref_mag=23.0, size_mag_slope=-0.08,
        size_scatter=0.2, size_range=(0.05, 5.0), star_fraction=0.1,
        pair_fraction=0.3, pair_separation=(0.5, 3.0), large_galaxies=0.3,
        bright_stars=0.3, bright_star_peak_snr=(100.0, 3e4),
        saturation_snr=5000.0),
}


def get_preset(preset='hst', **overrides):
    """
    The parameters of a named preset, optionally changed.

    Parameters
    ----------
    preset : str, `SceneParameters` or `~astropais.simulation.MultiBandParameters`
        ``'hst'``, ``'lsst'``, ``'hst_drizzled'``, ``'ground'``, a
        multi-band preset (``'grizy'``, ``'hst_multi'``, see
        `~astropais.simulation.MULTIBAND_PRESETS`) or a parameter set.
    **overrides
        Parameters to change (see `SceneParameters`; for a multi-band
        preset also `~astropais.simulation.MultiBandParameters`).

    Returns
    -------
    params : `SceneParameters` or `~astropais.simulation.MultiBandParameters`
        The validated parameters.
    """
    from .bands import MULTIBAND_PRESETS, MultiBandParameters

    if isinstance(preset, (SceneParameters, MultiBandParameters)):
        base = preset
    elif isinstance(preset, str) and preset in PRESETS:
        base = PRESETS[preset]
    elif isinstance(preset, str) and preset in MULTIBAND_PRESETS:
        base = MULTIBAND_PRESETS[preset]
    else:
        raise ValueError(f'unknown preset {preset!r}; choose one of '
                         f'{sorted(PRESETS) + sorted(MULTIBAND_PRESETS)} or '
                         f'pass a SceneParameters')
    return base.replace(**overrides) if overrides else base
