"""
Domain-randomised scene parameters: one distribution of PSF families,
noise correlations, sampling, densities and bright objects, from which
every training crop draws its own `SceneParameters`.

A network trained on one simulator learns that simulator's PSF and noise;
drawing them anew for every crop (and holding out whole families for
validation) is what lets it meet real pixels.
"""

from dataclasses import dataclass

import numpy as np

from .catalog import sample_loguniform
from .cluster import ClusterDistribution
from .presets import SceneParameters

__all__ = ['SceneDistribution', 'DISTRIBUTIONS', 'get_distribution']


def _loguniform(rng, lo, hi):
    return float(sample_loguniform(rng, (lo, hi)))


@dataclass(frozen=True)
class SceneDistribution:
    """
    A distribution of scene parameters.

    All sizes are in pixels (``pixel_scale`` is fixed at 0.1 arcsec, so
    that arcsec parameters follow); each crop draws its parameters with
    `draw`.

    Parameters
    ----------
    name : str
        The distribution's name.
    psf_families : dict
        Relative frequency of each PSF family.
    psf_fwhm_pixels : tuple of float
        ``(min, max)`` PSF FWHM in pixels (log-uniform).
    noise_kernels : dict
        Relative frequency of ``'white'``, ``'gaussian'``, ``'drizzle'``
        and ``'cosmos'`` sky noise.
    density : tuple of float
        ``(min, max)`` sources per square arcmin (log-uniform).
    size_median_pixels : tuple of float
        ``(min, max)`` median half-light radius in pixels (log-uniform).
    large_galaxies, bright_stars : float
        Mean numbers of large galaxies and bright stars per crop.
    saturation_probability : float
        Fraction of crops with a saturation level.
    masked_core_probability : float
        Probability that a saturated core is masked.
    clusters : `~astropais.simulation.cluster.ClusterDistribution` or None
        How often a crop holds a star cluster, and which (None: never).

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.simulation import get_distribution
    >>> params = get_distribution('mixed').draw(np.random.default_rng(3))
    >>> params.name
    'mixed'
    >>> crowded = get_distribution('crowded')
    >>> sum(crowded.draw(np.random.default_rng(s)).cluster is not None
    ...     for s in range(20)) > 5
    True
    """

    name: str = 'mixed'
    psf_families: tuple = (('moffat', 0.3), ('kolmogorov', 0.2),
                           ('optical', 0.3), ('double_gaussian', 0.1),
                           ('gaussian', 0.1))
    psf_fwhm_pixels: tuple = (1.5, 6.0)
    noise_kernels: tuple = (('white', 0.35), ('gaussian', 0.15),
                            ('drizzle', 0.25), ('cosmos', 0.25))
    density: tuple = (100.0, 1000.0)
    size_median_pixels: tuple = (1.5, 8.0)
    large_galaxies: float = 0.7
    bright_stars: float = 0.5
    saturation_probability: float = 0.5
    masked_core_probability: float = 0.3
    clusters: object = None

    #: Pixel scale of every drawn scene (arcsec).
    pixel_scale = 0.1

    @property
    def max_psf_fwhm_pixels(self):
        """The largest PSF FWHM, in pixels, a crop can draw."""
        return self.psf_fwhm_pixels[1]

    def to_dict(self):
        """
        The distribution as a JSON-serialisable dict.

        Returns
        -------
        description : dict
            Every field, with ``kind: 'distribution'`` (``clusters`` only
            when set, so that descriptions and dataset manifests written
            before clusters existed stay the same).
        """
        out = dict(kind='distribution', name=self.name,
                   psf_families=dict(self.psf_families),
                   psf_fwhm_pixels=list(self.psf_fwhm_pixels),
                   noise_kernels=dict(self.noise_kernels),
                   density=list(self.density),
                   size_median_pixels=list(self.size_median_pixels),
                   large_galaxies=self.large_galaxies,
                   bright_stars=self.bright_stars,
                   saturation_probability=self.saturation_probability,
                   masked_core_probability=self.masked_core_probability,
                   pixel_scale=self.pixel_scale)
        if self.clusters is not None:
            out['clusters'] = self.clusters.to_dict()
        return out

    def draw(self, rng):
        """
        Draw the parameters of one scene.

        Parameters
        ----------
        rng : `numpy.random.Generator`
            The random generator.

        Returns
        -------
        params : `~astropais.simulation.SceneParameters`
            Validated parameters named after the distribution.
        """
        scale = self.pixel_scale
        families, weights = zip(*self.psf_families)
        family = families[rng.choice(len(families),
                                     p=np.divide(weights, sum(weights)))]
        fwhm = _loguniform(rng, *self.psf_fwhm_pixels)
        kernels, weights = zip(*self.noise_kernels)
        kernel = kernels[rng.choice(len(kernels),
                                    p=np.divide(weights, sum(weights)))]
        correlation = {'white': 0.0, 'gaussian': rng.uniform(0.5, 1.5),
                       'drizzle': rng.uniform(0.7, 1.6),
                       'cosmos': 0.0}[kernel]
        depth = rng.uniform(26.0, 28.0)
        saturated = rng.random() < self.saturation_probability
        params = SceneParameters(
            name=self.name, pixel_scale=scale, psf=family,
            psf_fwhm=fwhm * scale, psf_beta=rng.uniform(2.5, 5.0),
            psf_obscuration=rng.uniform(0.0, 0.45),
            psf_struts=int(rng.choice([0, 3, 4, 6])),
            psf_strut_angle=rng.uniform(0, 90),
            psf_jitter=rng.uniform(0.1, 0.5),
            psf_halo_fraction=rng.uniform(0.05, 0.3),
            psf_halo_scale=rng.uniform(2.0, 5.0),
            zero_point=30.0, depth=depth,
            noise_kernel='drizzle' if kernel == 'drizzle' else (
                'cosmos' if kernel == 'cosmos' else 'gaussian'),
            noise_correlation=correlation,
            source_noise_knee=(0.0 if rng.random() < 0.5
                               else _loguniform(rng, 10.0, 1000.0)),
            background_gradient=(0.0 if rng.random() < 0.5
                                 else rng.uniform(0.0, 0.3)),
            density=_loguniform(rng, *self.density),
            mag_range=(depth - 9.0, depth + 0.5),
            size_median=_loguniform(rng, *self.size_median_pixels) * scale,
            size_ref_mag=depth - 4.0,
            size_range=(0.5 * scale, 40.0 * scale),
            star_fraction=rng.uniform(0.02, 0.15),
            pair_fraction=rng.uniform(0.2, 0.5),
            pair_separation=(0.5, 3.0),
            large_galaxies=self.large_galaxies,
            bright_stars=self.bright_stars,
            saturation_snr=(_loguniform(rng, 300.0, 3e4) if saturated
                            else None),
            masked_core_probability=self.masked_core_probability)
        if self.clusters is None:
            return params
        # Drawn last, so that the rest of a crop's parameters is drawn as
        # without clusters.
        return params.replace(cluster=self.clusters.draw(rng, depth, fwhm))


#: The named distributions: ``'mixed'``, and ``'crowded'``, the same with
#: a star cluster (globular- or open-cluster-like) in 60 per cent of the
#: crops.
DISTRIBUTIONS = {
    'mixed': SceneDistribution(),
    'crowded': SceneDistribution(name='crowded',
                                 clusters=ClusterDistribution(probability=0.6)),
}


def get_distribution(name):
    """
    A named scene distribution.

    Parameters
    ----------
    name : str or `SceneDistribution`
        ``'mixed'``, ``'crowded'`` or a distribution.

    Returns
    -------
    distribution : `SceneDistribution`
        The distribution.

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if isinstance(name, SceneDistribution):
        return name
    if isinstance(name, str) and name in DISTRIBUTIONS:
        return DISTRIBUTIONS[name]
    raise ValueError(f'unknown scene distribution {name!r}; choose one of '
                     f'{sorted(DISTRIBUTIONS)}')
