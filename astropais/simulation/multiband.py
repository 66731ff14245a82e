"""
`make_multiband_scene`: one simulated field in several bands, with
per-band noise-free truth of every source.
"""

from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from ._galsim import require_galsim
from ..pcr.sparse import SourceImages
from .bands import MultiBandParameters
from .catalog import draw_catalog
from .noise import noise_sigma_from_depth, scene_noise
from .presets import get_preset
from .profiles import COMPONENTS, draw_morphology, galaxy_profile, stamp_radius
from .psf import compact_psf, make_psf
from .scene import (Scene, _check_seed, _check_shape, draw_stamp,
                    matched_filter_snr)
from .seds import (blackbody_factors, component_betas, draw_colours,
                   power_law_factors)

__all__ = ['MultiBandScene', 'make_multiband_scene', 'band_sources']

#: Child of ``SeedSequence(seed)`` that draws the colours (0-2: catalogue,
#: shapes and noise as in `~astropais.simulation.make_scene`, 3: bright
#: objects).
_COLOUR_STREAM = 4


def band_sources(sources, band):
    """
    One band of multi-band per-source images.

    Parameters
    ----------
    sources : `~astropais.pcr.SourceImages`
        Cut-outs of shape ``(b, h, w)``.
    band : int
        The band index.

    Returns
    -------
    sources : `~astropais.pcr.SourceImages`
        The 2-D cut-outs of that band, same origins.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.pcr import SourceImages
    >>> from astropais.simulation.multiband import band_sources
    >>> cube = SourceImages((4, 4), [np.arange(8.).reshape(2, 2, 2)], [(0, 0)])
    >>> band_sources(cube, 1).fluxes().tolist()
    [22.0]
    """
    return SourceImages(sources.shape, [c[band] for c in sources.cutouts],
                        sources.origins)


@dataclass
class MultiBandScene(Scene):
    """
    A simulated multi-band image with its truth.

    As `~astropais.simulation.Scene`, with a band axis first:

    Attributes
    ----------
    image : `~numpy.ndarray`
        The noisy images, shape ``(b, H, W)``.
    noise : `~numpy.ndarray`
        The noise of each band, shape ``(b, H, W)``.
    sources : `~astropais.pcr.SourceImages`
        One ``(b, h, w)`` cut-out per source.
    noise_sigma : `~numpy.ndarray`
        Per-pixel noise standard deviation of each band, shape (b,).
    psf_fwhm_pixels : `~numpy.ndarray`
        PSF FWHM of each band in pixels, shape (b,).
    psf : list of `~numpy.ndarray`
        The pixelated PSF of each band (unit sum).
    catalog : `~astropy.table.Table`
        The columns of a single-band scene, where ``flux`` and ``mag`` are
        the reference band's, ``flux_in_image`` the reference band's inside
        the image and ``snr`` the combined matched-filter S/N
        ``sqrt(sum_k snr_k ** 2)`` (that of the optimal multi-band
        detection); per band ``<band>``: ``flux_<band>``, ``mag_<band>``
        (total model flux and AB magnitude), ``flux_in_image_<band>``,
        ``snr_<band>``; the SED truth ``beta_sersic``, ``beta_bulge``,
        ``beta_disk``, ``beta_knots`` (slope of each light component, NaN
        for components the source lacks) and ``temperature`` (stars' K,
        NaN for galaxies).  The position is the centroid of the source's
        light with every component at its reference-band flux, the same
        in every band.
    parameters : `~astropais.simulation.bands.MultiBandParameters`
        The parameters used.
    bands : tuple of str
        The band names, in image order.
    """

    bands: tuple = ()

    @property
    def n_bands(self):
        """The number of bands."""
        return len(self.bands)

    @property
    def shape(self):
        """The ``(H, W)`` image shape."""
        return self.image.shape[1:]

    def band(self, band):
        """
        One band as a single-band `~astropais.simulation.Scene`.

        Parameters
        ----------
        band : int or str
            An index or a band name.

        Returns
        -------
        scene : `~astropais.simulation.Scene`
            That band's image, noise, truth and PSF; its catalogue's
            ``flux``, ``mag``, ``flux_in_image`` and ``snr`` are the band's.
        """
        k = self.parameters.band_index(band)
        name = self.bands[k]
        catalog = self.catalog.copy()
        for column in ('flux', 'mag', 'flux_in_image', 'snr'):
            catalog[column] = catalog[f'{column}_{name}']
        catalog.meta.update(preset=f'{self.preset}:{name}', band=name,
                            noise_sigma=float(self.noise_sigma[k]),
                            psf_fwhm_pixels=float(self.psf_fwhm_pixels[k]))
        return Scene(image=self.image[k], sources=band_sources(self.sources, k),
                     noise=self.noise[k],
                     noise_sigma=float(self.noise_sigma[k]), catalog=catalog,
                     psf=self.psf[k],
                     psf_fwhm_pixels=float(self.psf_fwhm_pixels[k]),
                     pixel_scale=self.pixel_scale,
                     preset=f'{self.preset}:{name}',
                     parameters=self.parameters.band_parameters(k),
                     seed=self.seed)

    def _set_truth_columns(self, catalog, sources):
        """Per-band and combined fluxes in the image and S/N."""
        empty = np.zeros((0, self.n_bands))
        fluxes = sources.fluxes().reshape(len(sources), self.n_bands)
        snr = (matched_filter_snr(sources, self.noise_sigma) if len(sources)
               else empty)
        for k, name in enumerate(self.bands):
            catalog[f'flux_in_image_{name}'] = fluxes[:, k]
            catalog[f'snr_{name}'] = snr[:, k]
        catalog['flux_in_image'] = fluxes[:, self.parameters.reference_index]
        catalog['snr'] = np.sqrt(np.sum(snr ** 2, axis=1))


def make_multiband_scene(preset='grizy', shape=(128, 128), seed=0,
                         **overrides):
    """
    Simulate a blended field in several bands, with per-band truth.

    The catalogue (positions, kinds, reference-band magnitudes, sizes,
    shapes) and the morphologies are drawn as
    `~astropais.simulation.make_scene` draws them from ``preset.base``;
    each source then gets an SED (`~astropais.simulation.seds`) that sets
    the flux of each of its light components in every band; every band
    has its own PSF and noise.

    Parameters
    ----------
    preset : str or `~astropais.simulation.MultiBandParameters`, optional
        ``'grizy'``, ``'hst_multi'`` or a parameter set.
    shape : tuple of int, optional
        ``(ny, nx)`` image shape.
    seed : int, optional
        Seed of every random choice (the same seed, the same scene bit for
        bit).
    **overrides
        Fields of `~astropais.simulation.MultiBandParameters` or of its
        ``base`` (e.g. ``density``, ``noise_sigma``).

    Returns
    -------
    scene : `MultiBandScene`
        ``image`` of shape ``(b, ny, nx)`` and its truth.

    Examples
    --------
    >>> from astropais.simulation import make_scene
    >>> scene = make_scene('grizy', shape=(32, 32), seed=1)
    >>> scene.image.shape, scene.bands
    ((5, 32, 32), ('g', 'r', 'i', 'z', 'y'))
    """
    galsim = require_galsim()

    params = get_preset(preset, **overrides)
    if not isinstance(params, MultiBandParameters):
        raise ValueError(f'{params.name!r} is a single-band preset: use '
                         f'make_scene')
    shape = _check_shape(shape)
    seed = _check_seed(seed)
    streams = np.random.SeedSequence(seed).spawn(_COLOUR_STREAM + 1)
    catalog_ss, shape_ss, noise_ss = streams[:3]
    n_bands = params.n_bands
    per_band = [params.band_parameters(k) for k in range(n_bands)]
    psfs = [make_psf(p) for p in per_band]
    fwhm = np.array([psf[2] for psf in psfs])
    base = params.base
    if base.noise_sigma is None:
        sigma = np.array([noise_sigma_from_depth(p.depth, p.zero_point,
                                                 psf[1])
                          for p, psf in zip(per_band, psfs)])
    else:
        sigma = np.full(n_bands, float(base.noise_sigma))
    kernels = [compact_psf(psf[0], p, psf[2])
               for p, psf in zip(per_band, psfs)]

    reference = per_band[params.reference_index]
    cols = draw_catalog(reference, shape, np.random.default_rng(catalog_ss))
    n_sources = len(cols['x'])
    shape_rng = np.random.default_rng(shape_ss)
    galsim_seeds = shape_rng.integers(1, 2 ** 31 - 1, size=n_sources)
    colours = draw_colours(params, n_sources,
                           np.random.default_rng(streams[_COLOUR_STREAM]))
    lam, lam_ref = params.wavelengths, params.wavelengths[
        params.reference_index]
    betas = {f'beta_{c}': np.full(n_sources, np.nan)
             for c in ('sersic', 'bulge', 'disk', 'knots')}
    band_flux = np.zeros((n_sources, n_bands))
    scale = base.pixel_scale

    cutouts, origins = [], []
    # A loop over sources, and for each over bands: GalSim draws one
    # profile into one stamp at a time.
    for i in range(n_sources):
        x, y, kind, flux = cols['x'][i], cols['y'][i], cols['kind'][i], \
            cols['flux'][i]
        if kind == 'star':
            factors = blackbody_factors(colours['temperature'][i], lam,
                                        lam_ref)
            profiles = [psf[0].withFlux(flux * f)
                        for psf, f in zip(psfs, factors)]
            extent = 0.0
        else:
            morphology = draw_morphology(kind, shape_rng)
            slopes = component_betas(kind, morphology, colours, i, params)
            for component, beta in slopes.items():
                betas[f'beta_{component}'][i] = beta
            args = (kind, flux, cols['size'][i], cols['g1'][i],
                    cols['g2'][i], morphology, galsim_seeds[i], scale)
            whole, extent = galaxy_profile(*args)
            factors = {c: power_law_factors(slopes[c], lam, lam_ref)
                       for c in COMPONENTS[kind]}
            profiles = [galsim.Convolve(galaxy_profile(
                *args, weights={c: f[k] for c, f in factors.items()},
                centroid=whole.centroid)[0], kernels[k])
                for k in range(n_bands)]
        band_flux[i] = [p.flux for p in profiles]
        radius = stamp_radius(extent, fwhm.max())
        stamps = [draw_stamp(p, x, y, radius, scale) for p in profiles]
        cutouts.append(np.stack([stamp for stamp, _ in stamps]))
        origins.append(stamps[0][1])

    sources = SourceImages(shape, cutouts, np.array(origins).reshape(-1, 2))
    total = (sources.total() if n_sources
             else np.zeros((n_bands, *shape)))  # (b, H, W)
    noise = np.stack([
        scene_noise(total[k], sigma[k], per_band[k], np.random.default_rng(ss))
        for k, ss in enumerate(noise_ss.spawn(n_bands))])
    image = total + noise

    catalog = Table()
    catalog['id'] = np.arange(1, n_sources + 1, dtype=np.int64)
    for name in ('x', 'y', 'flux', 'size', 'kind', 'mag', 'g1', 'g2',
                 'group', 'separation'):
        catalog[name] = cols[name]
    with np.errstate(divide='ignore'):
        mags = base.zero_point - 2.5 * np.log10(band_flux)
    for k, name in enumerate(params.band_names):
        catalog[f'flux_{name}'] = band_flux[:, k]
        catalog[f'mag_{name}'] = mags[:, k]
    for name, values in betas.items():
        catalog[name] = values
    catalog['temperature'] = np.where(cols['kind'] == 'star',
                                      colours['temperature'], np.nan)
    catalog.meta.update(preset=params.name, seed=seed, pixel_scale=scale,
                        bands=list(params.band_names),
                        reference_band=params.reference_band,
                        noise_sigma=sigma.tolist(),
                        psf_fwhm_pixels=fwhm.tolist())
    scene = MultiBandScene(
        image=image, sources=sources, noise=noise, noise_sigma=sigma,
        catalog=catalog, psf=[psf[1] for psf in psfs], psf_fwhm_pixels=fwhm,
        pixel_scale=scale, preset=params.name, parameters=params, seed=seed,
        bands=params.band_names)
    scene._set_truth_columns(catalog, sources)
    return scene
