"""
`make_scene`: one simulated field with per-source noise-free truth.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from ._galsim import require_galsim
from ..pcr.sparse import SourceImages
from .bright import (LARGE_KIND, bright_star_radius, draw_bright_catalog,
                     large_galaxy_profile, saturate)
from .catalog import draw_catalog
from .cluster import draw_cluster_catalog, draw_members
from .noise import noise_sigma_from_depth, scene_noise
from .presets import SceneParameters, get_preset
from .profiles import source_profile, stamp_radius
from .psf import compact_psf, make_psf

__all__ = ['Scene', 'make_scene', 'matched_filter_snr', 'draw_stamp']


def matched_filter_snr(sources, noise_sigma):
    """
    The matched-filter signal-to-noise of each source alone in the image.

    Parameters
    ----------
    sources : `~astropais.pcr.SourceImages`
        Noise-free source images (2-D cut-outs, or ``(b, h, w)`` for
        ``b`` bands).
    noise_sigma : float or array_like of shape (b,)
        Per-pixel white-noise standard deviation (of each band).

    Returns
    -------
    snr : `~numpy.ndarray`
        ``sqrt(sum(S_i ** 2)) / noise_sigma`` over the part of each source
        inside the image (the best achievable S/N of an isolated source on
        white noise), shape (N,), or (N, b) per band for multi-band
        cut-outs; inf where ``noise_sigma`` is 0 and the source has flux
        in the image.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.pcr import SourceImages
    >>> from astropais.simulation import matched_filter_snr
    >>> two_bands = SourceImages((4, 4), [np.ones((2, 2, 2))], [(1, 1)])
    >>> matched_filter_snr(two_bands, [1.0, 2.0]).tolist()
    [[2.0, 1.0]]
    """
    if sources.cutouts and sources.cutouts[0].ndim == 3:
        power = np.zeros((len(sources), sources.n_bands))
        sigma = np.broadcast_to(np.asarray(noise_sigma, dtype=float),
                                (sources.n_bands,))
    else:
        power, sigma = np.zeros(len(sources)), noise_sigma
    # A loop over sources: each sums its own overlap with the image.
    for i, cutout in enumerate(sources.cutouts):
        _, cutout_sl = sources.slices(i)
        part = cutout[(Ellipsis, *cutout_sl)] ** 2
        power[i] = part.sum(axis=(-2, -1)) if part.ndim == 3 else np.sum(part)
    with np.errstate(divide='ignore', invalid='ignore'):
        snr = np.sqrt(power) / sigma
    return np.where(power > 0, snr, 0.0)


@dataclass
class Scene:
    """
    A simulated image with its truth.

    Attributes
    ----------
    image : `~numpy.ndarray`
        The noisy image, ``sources.total() + noise`` (float64, (H, W)).
    sources : `~astropais.pcr.SourceImages`
        The noise-free image of every source (one stamp each), in catalogue
        order.
    noise : `~numpy.ndarray`
        The noise realisation added to the image.
    noise_sigma : float
        Per-pixel standard deviation of the noise.
    catalog : `~astropy.table.Table`
        One row per source: ``id`` (1..N), ``x``, ``y`` (true centroid,
        0-based pixels, pixel centres at integers), ``flux`` (total model
        flux), ``size`` (half-light radius in pixels, 0 for stars),
        ``kind``, ``mag``, ``g1``, ``g2``, ``group`` (0: isolated),
        ``separation`` (pixels from the group's primary), ``flux_in_image``
        (noise-free flux inside the image), ``snr`` (matched-filter
        signal-to-noise of the source alone inside the image,
        ``sqrt(sum(S ** 2)) / noise_sigma``; inf without noise).
    psf : `~numpy.ndarray`
        The pixelated PSF, unit sum: for an analytic PSF an odd square
        centred on its central pixel, for an image PSF the given image.
    psf_fwhm_pixels : float
        The PSF FWHM in pixels.
    pixel_scale : float
        Arcsec per pixel.
    preset : str
        Name of the parameter set.
    parameters : `~astropais.simulation.SceneParameters`
        The parameters used.
    seed : int
        The seed.
    mask : `~numpy.ndarray` of bool or None
        Pixels a user would mask (masked saturated star cores; their image
        value is 0, as the deblender sets masked pixels), or None.
    saturation : float or None
        The saturation level in image units (pixels at it are flat-topped
        and ``image == min(sources.total() + noise, saturation)``), or
        None.
    """

    image: np.ndarray
    sources: SourceImages
    noise: np.ndarray
    noise_sigma: float
    catalog: Table
    psf: np.ndarray
    psf_fwhm_pixels: float
    pixel_scale: float
    preset: str
    parameters: SceneParameters
    seed: int
    mask: np.ndarray = None
    saturation: float = None

    @property
    def shape(self):
        """The image shape."""
        return self.image.shape

    @property
    def centres(self):
        """The ``(y, x)`` true centres, shape (N, 2)."""
        return np.column_stack([np.asarray(self.catalog['y'], float),
                                np.asarray(self.catalog['x'], float)])

    def crop(self, y0, x0, shape):
        """
        A sub-image with its truth, as a new `Scene`.

        Sources whose light reaches the crop are kept, also those centred
        outside it (their centres then lie outside the crop); sources with
        no flux in the crop are dropped and ``id`` is renumbered 1..N.

        Parameters
        ----------
        y0, x0 : int
            The full-image pixel of the crop's ``[0, 0]``.
        shape : tuple of int
            The crop shape; the crop must lie inside the image.

        Returns
        -------
        scene : `Scene`
            The cropped scene (``image == sources.total() + noise`` still
            holds exactly).
        """
        shape = _check_shape(shape)
        y0, x0 = int(y0), int(x0)
        if (y0 < 0 or x0 < 0 or y0 + shape[0] > self.shape[0]
                or x0 + shape[1] > self.shape[1]):
            raise ValueError(f'crop at {(y0, x0)} of shape {shape} leaves the '
                             f'image of shape {self.shape}')
        window = (slice(y0, y0 + shape[0]), slice(x0, x0 + shape[1]))
        moved = SourceImages(shape, self.sources.cutouts,
                             self.sources.origins - np.array([y0, x0]))
        # (Several bands: kept if it has flux in any band.)
        keep = np.flatnonzero(
            (moved.fluxes() > 0).reshape(len(moved), moved.n_bands)
            .any(axis=1))
        sources = SourceImages(shape, [moved.cutouts[i] for i in keep],
                               moved.origins[keep])
        catalog = self.catalog[keep]
        catalog['id'] = np.arange(1, len(keep) + 1, dtype=np.int64)
        catalog['x'] = catalog['x'] - x0
        catalog['y'] = catalog['y'] - y0
        self._set_truth_columns(catalog, sources)
        catalog.meta = dict(self.catalog.meta, crop_origin=[y0, x0])
        window = (Ellipsis, *window)
        return dataclasses.replace(
            self, image=self.image[window].copy(), sources=sources,
            noise=self.noise[window].copy(), catalog=catalog,
            mask=None if self.mask is None else self.mask[window].copy())

    def _set_truth_columns(self, catalog, sources):
        """Set the catalogue columns measured on the truth images."""
        catalog['flux_in_image'] = sources.fluxes()
        catalog['snr'] = matched_filter_snr(sources, self.noise_sigma)


def _check_shape(shape):
    if np.ndim(shape) != 1 or len(shape) != 2:
        raise ValueError(f'shape must be (ny, nx), got {shape!r}')
    if not all(float(s).is_integer() and s >= 1 for s in shape):
        raise ValueError(f'shape must be two positive integers, got '
                         f'{shape!r}')
    return int(shape[0]), int(shape[1])


def _check_seed(seed):
    if isinstance(seed, (bool, np.bool_)) or not isinstance(
            seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
    return int(seed)


def draw_stamp(profile, x, y, radius, pixel_scale, method='auto',
               clip_to=None):
    """
    Draw one source into a square stamp around its position.

    Parameters
    ----------
    profile : `galsim.GSObject`
        The (PSF-convolved) profile in arcsec.
    x, y : float
        The centre in 0-based image pixels (pixel centres at integers, as
        in photutils).
    radius : int
        The stamp spans ``2 * radius + 1`` pixels around the nearest pixel.
    pixel_scale : float
        Arcsec per pixel.
    method : str, optional
        GalSim's drawing method.
    clip_to : tuple of int, optional
        An image shape: only the part of the stamp on that image is drawn
        (a one-pixel stamp at the nearest pixel if none is).

    Returns
    -------
    cutout : `~numpy.ndarray`
        The stamp, negative FFT ringing clipped to 0.
    origin : tuple of int
        Image ``(y, x)`` of the stamp's ``[0, 0]``.

    Examples
    --------
    >>> import galsim
    >>> from astropais.simulation.scene import draw_stamp
    >>> cutout, origin = draw_stamp(galsim.Gaussian(sigma=0.2), 10.0, 5.0,
    ...                             8, 0.1)
    >>> cutout.shape, origin
    ((17, 17), (-3, 2))
    """
    galsim = require_galsim()

    ix, iy = int(np.round(x)), int(np.round(y))
    bounds = galsim.BoundsI(ix - radius, ix + radius, iy - radius,
                            iy + radius)
    if clip_to is not None:
        bounds = bounds & galsim.BoundsI(0, clip_to[1] - 1, 0,
                                         clip_to[0] - 1)
        if not bounds.isDefined():
            bounds = galsim.BoundsI(ix, ix, iy, iy)
    stamp = galsim.ImageD(bounds, scale=pixel_scale)
    profile.drawImage(image=stamp, center=galsim.PositionD(x, y),
                      method=method)
    # FFT drawing leaves ringing of ~1e-5 of the peak below zero: clip it so
    # that truth images (and fractions) are never negative.
    return np.maximum(stamp.array, 0.0), (bounds.ymin, bounds.xmin)


def make_scene(preset='hst', shape=(256, 256), seed=0, **overrides):
    """
    Simulate a blended field with per-source noise-free truth.

    Parameters
    ----------
    preset : str or `~astropais.simulation.SceneParameters`, optional
        ``'hst'`` (F160W-like deep field) or ``'lsst'`` (ground-based), or
        a parameter set.  A multi-band preset (``'grizy'``,
        ``'hst_multi'`` or a `~astropais.simulation.MultiBandParameters`)
        gives a `~astropais.simulation.MultiBandScene` (see
        `~astropais.simulation.make_multiband_scene`).
    shape : tuple of int, optional
        ``(ny, nx)`` image shape.
    seed : int, optional
        Seed of every random choice: the same seed gives the same scene
        bit for bit.
    **overrides
        Any `~astropais.simulation.SceneParameters` field, e.g.
        ``pixel_scale``, ``psf``, ``psf_fwhm``, ``noise_sigma``,
        ``density``, ``mag_range``, ``star_fraction``, ``pair_fraction``,
        ``pair_separation``, ``noise_correlation``.

    Returns
    -------
    scene : `Scene`
        The image, its per-source truth and the catalogue.

    Raises
    ------
    ValueError
        For an unknown preset or parameter, or invalid values.
    """
    galsim = require_galsim()

    params = get_preset(preset, **overrides)
    if not isinstance(params, SceneParameters):
        from .multiband import make_multiband_scene
        return make_multiband_scene(params, shape, seed)
    shape = _check_shape(shape)
    seed = _check_seed(seed)
    catalog_ss, shape_ss, noise_ss = np.random.SeedSequence(seed).spawn(3)
    psf_profile, psf_image, fwhm = make_psf(params)
    if params.noise_sigma is None:
        sigma = noise_sigma_from_depth(params.depth, params.zero_point,
                                       psf_image)
    else:
        sigma = float(params.noise_sigma)

    cols = draw_catalog(params, shape, np.random.default_rng(catalog_ss))
    n_regular = len(cols['x'])
    bright_rng = None
    if params.large_galaxies or params.bright_stars:
        # A fourth stream, so that scenes without bright objects stay the
        # same bit for bit.
        bright_rng = np.random.default_rng(
            np.random.SeedSequence(seed).spawn(4)[3])
        extra = draw_bright_catalog(params, shape, sigma, psf_image.max(),
                                    bright_rng)
        cols = {key: np.concatenate([cols[key], extra[key]])
                for key in cols}
    n_field = len(cols['x'])
    if params.cluster is not None:
        # A fifth stream: scenes without a cluster stay the same bit for bit.
        members = draw_cluster_catalog(
            params.cluster, shape, params.zero_point, np.random.default_rng(
                np.random.SeedSequence(seed).spawn(5)[4]))
        cols = {key: np.concatenate([cols[key], members[key]])
                for key in cols}
    n_sources = len(cols['x'])
    kernel = compact_psf(psf_profile, params, fwhm)
    shape_rng = np.random.default_rng(shape_ss)
    galsim_seeds = shape_rng.integers(1, 2 ** 31 - 1, size=n_field)
    method = 'no_pixel' if params.is_image_psf else 'auto'
    scale = params.pixel_scale

    cutouts, origins = [], []
    # A loop over sources: GalSim draws one profile into one stamp at a time.
    for i in range(n_field):
        x, y, kind = cols['x'][i], cols['y'][i], cols['kind'][i]
        if kind == 'star':
            profile, extent = psf_profile.withFlux(cols['flux'][i]), 0.0
        elif kind == LARGE_KIND:
            galaxy, extent = large_galaxy_profile(
                cols['flux'][i], cols['size'][i], cols['g1'][i],
                cols['g2'][i], bright_rng, galsim_seeds[i], scale)
            profile = galsim.Convolve(galaxy, kernel)
        else:
            galaxy, extent = source_profile(
                kind, cols['flux'][i], cols['size'][i], cols['g1'][i],
                cols['g2'][i], shape_rng, galsim_seeds[i], scale)
            profile = galsim.Convolve(galaxy, kernel)
        if i >= n_regular and kind == 'star':
            radius = bright_star_radius(
                cols['flux'][i] * psf_image.max() / max(sigma, 1e-30), fwhm)
        else:
            radius = stamp_radius(extent, fwhm)
        # Bright objects can be far larger than the image: draw only the
        # part that falls on it.
        cutout, origin = draw_stamp(profile, x, y, radius, scale, method,
                                    clip_to=shape if i >= n_regular else None)
        cutouts.append(cutout)
        origins.append(origin)
    if n_sources > n_field:
        members = {key: cols[key][n_field:] for key in ('x', 'y', 'flux')}
        more, at = draw_members(members, psf_profile, kernel,
                                psf_image.max() / max(sigma, 1e-30), fwhm,
                                scale, method, shape)
        cutouts += more
        origins += at

    noise_rng = np.random.default_rng(noise_ss)
    saturation = mask = None
    if params.saturation_snr is not None:
        saturation = params.saturation_snr * sigma
        cutouts, saturated = _saturate_stars(cutouts, cols['kind'],
                                             saturation)
    sources = SourceImages(shape, cutouts, np.array(origins).reshape(-1, 2))
    total = sources.total()
    noise = scene_noise(total, sigma, params, noise_rng)
    image = total + noise
    if saturation is not None:
        flat = SourceImages(shape, saturated, sources.origins).total() > 0
        image = np.where(flat, saturation, np.minimum(image, saturation))
        if flat.any() and bright_rng is not None and (
                bright_rng.random() < params.masked_core_probability):
            from scipy import ndimage
            mask = ndimage.binary_dilation(flat, iterations=1)
            image = np.where(mask, 0.0, image)

    catalog = Table()
    catalog['id'] = np.arange(1, n_sources + 1, dtype=np.int64)
    for name in ('x', 'y', 'flux', 'size', 'kind', 'mag', 'g1', 'g2',
                 'group', 'separation'):
        catalog[name] = cols[name]
    catalog['flux_in_image'] = sources.fluxes()
    catalog['snr'] = matched_filter_snr(sources, sigma)
    catalog.meta.update(preset=params.name, seed=seed,
                        pixel_scale=scale, noise_sigma=sigma,
                        psf_fwhm_pixels=fwhm)
    return Scene(image=image, sources=sources, noise=noise,
                 noise_sigma=sigma, catalog=catalog, psf=psf_image,
                 psf_fwhm_pixels=fwhm, pixel_scale=scale, preset=params.name,
                 parameters=params, seed=seed, mask=mask,
                 saturation=saturation)


def _saturate_stars(cutouts, kinds, level):
    """Saturate and bleed every star that reaches ``level``."""
    out, flags = [], []
    # A loop over sources: only stars above the full-well level change.
    for cutout, kind in zip(cutouts, kinds):
        if kind == 'star' and cutout.max() >= level:
            bled, saturated = saturate(cutout, level)
            out.append(bled)
            flags.append(saturated.astype(float))
        else:
            out.append(cutout)
            flags.append(np.zeros_like(cutout))
    return out, flags
