"""
Fit a scarlet2 scene at given source positions and return each source's
noise-free model image (PSF-convolved, on the image grid) in sparse form.

scarlet2 (0.5.x) and JAX are imported inside the functions, never at
import time.
"""

import contextlib
import io
import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning

from ..pcr.sparse import SourceImages

__all__ = ['SceneFit', 'fit_scene', 'MORPHOLOGIES']

#: Morphology models `fit_scene` knows.
MORPHOLOGIES = ('sersic', 'free')

#: Width (pixels) of scarlet2's default Gaussian model PSF.
MODEL_PSF_SIGMA = 0.7

#: Cut-outs keep the pixels where a source's model exceeds this fraction
#: of the noise sigma (in any band); fainter tails are set to zero.
MODEL_FLOOR_SIGMA = 1e-3

# Adam step sizes in the unconstrained parameter space.  For positive
# (log-transformed) parameters a constant step is a constant relative
# change, whatever the flux units of the image.
_STEPS = {'spectrum': 0.05, 'size': 0.03, 'n': 0.05, 'ellipticity': 0.03,
          'center': 0.05, 'morph': 0.1}


def _empty_report():
    return Table(names=('index', 'x', 'y', 'reason'),
                 dtype=(np.int64, np.float64, np.float64, 'U64'))


@dataclass
class SceneFit:
    """
    The outcome of a scarlet2 fit.

    Attributes
    ----------
    sources : `~astropais.pcr.SourceImages`
        The fitted, PSF-convolved model of every kept source on the image
        grid (one cut-out each), in the order of ``index``.
    index : `~numpy.ndarray` of int
        For each kept source, its row in the input positions.
    centres : `~numpy.ndarray`, shape (N_kept, 2)
        The ``(y, x)`` model centres of the kept sources.
    dropped : `~astropy.table.Table`
        One row per source that could not be initialised or fitted:
        ``index`` (row in the input positions), ``x``, ``y`` and
        ``reason``.
    losses : `~numpy.ndarray`
        The loss (negative log-posterior) after each optimiser step.
    initial_loss : float
        The loss of the initial scene.
    morphology : str
        The morphology model used.
    initialisation : `~numpy.ndarray` of str
        For each kept source, ``'moments'`` (from
        ``scarlet2.init.from_gaussian_moments``) or ``'compact'`` (the
        fallback: pixel spectrum and model-PSF shape).
    """

    sources: SourceImages
    index: np.ndarray
    centres: np.ndarray
    dropped: Table = field(default_factory=_empty_report)
    losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    initial_loss: float = np.nan
    morphology: str = 'sersic'
    initialisation: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype='U8'))

    @property
    def n_iterations(self):
        """The number of optimiser steps taken."""
        return len(self.losses)

    @property
    def fluxes(self):
        """The model flux of each kept source inside the image."""
        return self.sources.fluxes()


@contextlib.contextmanager
def _quiet_scarlet2():
    """Silence scarlet2's prints and its automatic validation checks."""
    from scarlet2 import validation_utils
    previous = validation_utils.VALIDATION_SWITCH
    validation_utils.VALIDATION_SWITCH = False
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        validation_utils.VALIDATION_SWITCH = previous


def _f32(value):
    import jax.numpy as jnp
    # Strongly typed float32 leaves: weakly typed ones make the jitted
    # optimiser step compile again after its first update.
    return jnp.asarray(np.asarray(value, dtype=np.float32))


def _local_flux(inputs, yx):
    """Mean of the 3x3 pixels around a position, per band."""
    y, x = np.round(yx).astype(int)
    ny, nx = inputs.shape
    sl = (slice(None), slice(max(y - 1, 0), min(y + 2, ny)),
          slice(max(x - 1, 0), min(x + 2, nx)))
    w = inputs.weights[sl] > 0
    values = np.where(w, inputs.image[sl], 0.0).sum(axis=(1, 2))
    return values / np.maximum(w.sum(axis=(1, 2)), 1)


def _initial_guess(sc2, obs, inputs, yx, psf_peak):
    """Flux per band and Gaussian sigma (pixels) of one source."""
    centre = _f32(yx)
    try:
        spectrum, morph = sc2.init.from_gaussian_moments(obs, centre,
                                                         min_corr=0.99)
        spectrum = np.asarray(spectrum, dtype=np.float64)
        morph = np.asarray(morph, dtype=np.float64)
        flux = spectrum * morph.sum()
        yy, xx = np.indices(morph.shape)
        weight = morph / morph.sum()
        cy, cx = (weight * yy).sum(), (weight * xx).sum()
        var = (weight * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum() / 2
        sigma = float(np.sqrt(var))
        if (np.all(np.isfinite(flux)) and np.all(flux > 0)
                and np.isfinite(sigma) and sigma > 0):
            return flux, sigma, morph, 'moments'
    except Exception:  # noqa: BLE001 -- scarlet2 raises many kinds here
        pass
    spectrum = np.asarray(sc2.init.pixel_spectrum(obs, centre),
                          dtype=np.float64)
    flux = np.maximum(spectrum, 0) / psf_peak
    morph = np.asarray(sc2.init.compact_morphology(), dtype=np.float64)
    return flux, 0.7, morph, 'compact'


#: Sérsic model boxes are drawn from these sides only, so that scarlet2's
#: per-operation JAX compilations are shared between sources and fits.
SERSIC_BOX_SIZES = (15, 21, 31, 45, 61, 91, 121)


def _sersic_box(sigma, psf_size, max_box):
    need = int(np.ceil(2 * 4 * 1.18 * sigma + psf_size))
    sizes = [b for b in SERSIC_BOX_SIZES if b <= max_box] or [max_box]
    box = next((b for b in sizes if b >= need), sizes[-1])
    return box + 1 - box % 2


def _build_scene(sc2, obs, frame, inputs, candidates, morphology, max_box,
                 dropped, kinds):
    """Initialise every source; return the scene and the kept indices."""
    psf = inputs.psf
    psf_peak = psf.max(axis=(1, 2))
    psf_size = psf.shape[-1]
    kept = []
    with sc2.Scene(frame) as scene:
        # A loop over sources: scarlet2 initialises them one by one.
        for i in candidates:
            yx = inputs.positions[i]
            iy, ix = np.round(yx).astype(int)
            iy = min(max(iy, 0), inputs.shape[0] - 1)
            ix = min(max(ix, 0), inputs.shape[1] - 1)
            if not np.any(inputs.weights[:, iy, ix] > 0):
                dropped.append((i, 'position is masked'))
                continue
            if not np.any(_local_flux(inputs, yx) > 0):
                dropped.append((i, 'no positive flux at the position'))
                continue
            try:
                flux, sigma, morph, kind = _initial_guess(sc2, obs, inputs,
                                                          yx, psf_peak)
            except Exception as exc:  # noqa: BLE001
                dropped.append((i, f'initialisation failed: '
                                   f'{type(exc).__name__}'))
                continue
            flux = np.where(flux > 0, flux, flux[flux > 0].min()
                            if np.any(flux > 0) else 0.0)
            if not np.any(flux > 0):
                dropped.append((i, 'initialisation gave no positive flux'))
                continue
            if morphology == 'sersic':
                box = _sersic_box(sigma, psf_size, max_box)
                shape_model = sc2.SersicMorphology(
                    _f32(1.0), _f32(max(1.18 * sigma, 0.5)),
                    ellipticity=_f32([0.0, 0.0]), shape=(box, box))
                unit_sum = float(np.asarray(shape_model()).sum())
                sc2.Source(_f32(yx), _f32(flux / unit_sum), shape_model)
            else:
                morph = np.clip(morph / morph.max(), 1e-6, 1 - 1e-6)
                if max(morph.shape) > max_box:
                    cut = (max(morph.shape) - max_box) // 2
                    morph = morph[cut:cut + max_box, cut:cut + max_box]
                scale = float(morph.sum())
                sc2.Source(_f32(yx), _f32(flux / scale), _f32(morph))
            kept.append(i)
            kinds[i] = kind
    return scene, kept


def _declare_parameters(sc2, scene, morphology):
    from numpyro.distributions import constraints
    with sc2.Parameters(scene):
        # A loop over sources: each declares its own parameters.
        for i, source in enumerate(scene.sources):
            sc2.Parameter(source.spectrum, name=f'spectrum:{i}',
                          constraint=constraints.positive,
                          stepsize=_STEPS['spectrum'])
            if morphology == 'sersic':
                m = source.morphology
                sc2.Parameter(m.size, name=f'size:{i}',
                              constraint=constraints.positive,
                              stepsize=_STEPS['size'])
                sc2.Parameter(m.n, name=f'n:{i}',
                              constraint=constraints.interval(0.5, 6.0),
                              stepsize=_STEPS['n'])
                sc2.Parameter(m.ellipticity, name=f'ellipticity:{i}',
                              constraint=sc2.constraint.unit_disk,
                              stepsize=_STEPS['ellipticity'])
                sc2.Parameter(source.center, name=f'center:{i}',
                              stepsize=_STEPS['center'])
            else:
                sc2.Parameter(source.morphology, name=f'morph:{i}',
                              constraint=constraints.unit_interval,
                              stepsize=_STEPS['morph'])


def _difference_kernel(obs, frame, psf_size):
    """
    The kernel that takes a model-frame image to the observed frame.

    Found by rendering a point at the frame centre with the observation's
    own renderer (so it is exactly scarlet2's), cropped to the PSF size;
    shape (b, k, k) with k odd.
    """
    import jax.numpy as jnp
    shape = frame.bbox.shape
    cy, cx = shape[1] // 2, shape[2] // 2
    delta = jnp.zeros(shape).at[:, cy, cx].set(1.0)
    image = np.asarray(obs.render(delta), dtype=np.float64)
    half = min(psf_size // 2 + 2, cy, cx, shape[1] - 1 - cy, shape[2] - 1 - cx)
    return image[:, cy - half:cy + half + 1, cx - half:cx + half + 1]


def _render(source, kernel):
    """
    One source's PSF-convolved model on the image grid, as a cut-out.

    Returns the (b, h, w) cut-out and its (y0, x0) origin in the image
    (possibly outside it).  The model box is convolved in numpy: scarlet2's
    op-by-op rendering would compile for every box shape.
    """
    from scipy.signal import fftconvolve
    model = np.asarray(source(), dtype=np.float64)
    image = fftconvolve(model, kernel, mode='full', axes=(-2, -1))
    half = kernel.shape[-1] // 2
    origin = np.asarray(source.bbox.spatial.origin, dtype=np.int64) - half
    return image, origin


def _cutout(model, floor):
    """The bounding box of the significant part of a (b, H, W) model."""
    significant = np.any(model > floor[:, None, None], axis=0)
    if not significant.any():
        return None, None
    ys = np.flatnonzero(significant.any(axis=1))
    xs = np.flatnonzero(significant.any(axis=0))
    box = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
    cut = np.where(model[(slice(None), *box)] > floor[:, None, None],
                   model[(slice(None), *box)], 0.0)
    return cut, (ys[0], xs[0])


def fit_scene(inputs, *, morphology='sersic', max_iter=200, e_rel=1e-4,
              max_centre_shift=None, max_box=61, candidates=None,
              warn=True):
    """
    Fit a scarlet2 scene to an image at given source positions.

    Every source is initialised from its Gaussian moments
    (``scarlet2.init.from_gaussian_moments``), falling back to its pixel
    spectrum and a compact (model-PSF) shape where that fails.  Sources
    that cannot be initialised, or whose fit fails (non-finite or
    non-positive flux, a centre that wanders off), are dropped and listed
    in `SceneFit.dropped`, with an `~astropy.utils.exceptions.AstropyUserWarning`;
    a diverging fit (non-finite or growing loss) drops every source.

    Parameters
    ----------
    inputs : `~astropais.labels.LabelInputs`
        The validated image, weights, PSF and positions
        (see `~astropais.labels.prepare_inputs`).
    morphology : {'sersic', 'free'}, optional
        ``'sersic'``: a parametric elliptical Sérsic profile per source
        (centre, size, index, ellipticity and flux per band fitted);
        ``'free'``: a free-form non-negative pixel morphology per source
        (no monotonicity or symmetry constraint exists in scarlet2 0.5).
    max_iter : int, optional
        Maximum number of optimiser (Adam) steps.
    e_rel : float, optional
        Relative parameter change below which the fit stops.
    max_centre_shift : float, optional
        A Sérsic source whose centre moves farther than this (pixels) from
        its input position is dropped.  Default: the larger of 2 pixels and
        the PSF FWHM.
    max_box : int, optional
        Largest model box side (pixels).
    candidates : array_like of int, optional
        Indices of the positions to fit (default: all).
    warn : bool, optional
        Emit an `~astropy.utils.exceptions.AstropyUserWarning` listing
        dropped sources.

    Returns
    -------
    fit : `SceneFit`
        Per-source models (sparse), kept indices, centres and the report.

    Raises
    ------
    ValueError
        For an unknown ``morphology`` or bad numeric options.
    """
    if morphology not in MORPHOLOGIES:
        raise ValueError(f'morphology must be one of {MORPHOLOGIES}, got '
                         f'{morphology!r}')
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f'max_iter must be a positive integer, got '
                         f'{max_iter!r}')
    if not (isinstance(max_box, (int, np.integer)) and max_box >= 5):
        raise ValueError(f'max_box must be an integer >= 5, got {max_box!r}')
    n_pos = len(inputs.positions)
    candidates = (np.arange(n_pos) if candidates is None
                  else np.asarray(candidates, dtype=np.int64).ravel())
    _check_psf_resolved(inputs.psf)
    if max_centre_shift is None:
        max_centre_shift = max(2.0, _psf_fwhm(inputs.psf))
    max_box = min(int(max_box), max(inputs.shape) * 2 + 1)
    dropped = []
    shape = inputs.shape
    n_bands = inputs.n_bands
    empty = SceneFit(SourceImages(shape, [], np.zeros((0, 2))),
                     np.zeros(0, np.int64), np.zeros((0, 2)),
                     morphology=morphology)
    if candidates.size == 0:
        return empty

    import scarlet2 as sc2

    with _quiet_scarlet2():
        obs = sc2.Observation(_f32(inputs.image), _f32(inputs.weights),
                              psf=sc2.ArrayPSF(_f32(inputs.psf)),
                              channels=list(range(n_bands)))
        # The model frame Frame.from_observations would build for one
        # observation (same grid, Gaussian model PSF of 0.7 pixels), made
        # directly: from_observations costs seconds of per-op compilation.
        frame = sc2.Frame(sc2.Box(obs.data.shape),
                          psf=sc2.GaussianPSF(MODEL_PSF_SIGMA),
                          wcs=obs.frame.wcs.deepcopy(),
                          channels=list(range(n_bands)))
        kinds = {}
        scene, kept = _build_scene(sc2, obs, frame, inputs, candidates,
                                   morphology, max_box, dropped, kinds)
        losses = []
        initial_loss = np.nan
        fitted = None
        if kept:
            _declare_parameters(sc2, scene, morphology)
            obs.match(frame)
            initial_loss = float(-obs.log_likelihood(scene()))
            try:
                fitted = scene.fit(
                    obs, max_iter=int(max_iter), e_rel=float(e_rel),
                    progress_bar=False,
                    callback=lambda s, c, loss: losses.append(float(loss)))
            except (FloatingPointError, ValueError, RuntimeError) as exc:
                reason = f'fit failed: {type(exc).__name__}'
                dropped.extend((i, reason) for i in kept)
                kept = []
    losses = np.asarray(losses, dtype=np.float64)
    if kept:
        reason = _divergence(losses, initial_loss)
        if reason:
            dropped.extend((i, reason) for i in kept)
            kept = []
    cutouts, origins, centres, index = [], [], [], []
    floor = MODEL_FLOOR_SIGMA * inputs.noise_sigma
    if kept:
        with _quiet_scarlet2():
            kernel = _difference_kernel(obs, frame, inputs.psf.shape[-1])
    # A loop over sources: each model is rendered (PSF-convolved) alone.
    for k, i in enumerate(kept):
        source = fitted.sources[k]
        centre = np.asarray(source.center, dtype=np.float64)
        reason = None
        if not np.all(np.isfinite(centre)):
            reason = 'fit diverged: non-finite centre'
        elif np.hypot(*(centre - inputs.positions[i])) > max_centre_shift:
            reason = (f'centre moved more than {max_centre_shift:.3g} '
                      f'pixels')
        if reason is None:
            model, origin = _render(source, kernel)
            flux = model.sum(axis=(1, 2))
            if not np.all(np.isfinite(model)):
                reason = 'fit diverged: non-finite model'
            elif np.any(flux < 0) or not np.any(flux > 0):
                reason = 'model has negative or zero flux'
        if reason is None:
            model = np.clip(model, 0.0, None)
            cut, offset = _cutout(model, floor)
            if cut is not None:
                origin = np.asarray(origin) + offset
            else:
                reason = 'model has no significant flux'
        if reason is not None:
            dropped.append((i, reason))
            continue
        cutouts.append(cut if n_bands > 1 else cut[0])
        origins.append(origin)
        centres.append(centre)
        index.append(i)
    report = _report(dropped, inputs.positions)
    if warn and len(report):
        reasons = ', '.join(sorted(set(report['reason'])))
        warnings.warn(f'scarlet2 labels: dropped {len(report)} of '
                      f'{candidates.size} source(s) ({reasons}); see the '
                      f'report', AstropyUserWarning)
    return SceneFit(SourceImages(shape, cutouts, np.reshape(origins, (-1, 2))),
                    np.asarray(index, dtype=np.int64),
                    np.reshape(centres, (-1, 2)).astype(np.float64),
                    report, losses, initial_loss, morphology,
                    np.array([kinds[i] for i in index], dtype='U8'))


def _divergence(losses, initial_loss):
    """A reason string when the loss history shows a diverging fit."""
    if losses.size == 0:
        return None
    if not np.all(np.isfinite(losses)) or not np.isfinite(initial_loss):
        return 'fit diverged: non-finite loss'
    scale = max(abs(initial_loss), 1e-30)
    if losses.max() > initial_loss + 10 * scale:
        return 'fit diverged: exploding loss'
    if losses[-1] > initial_loss + 1e-3 * scale:
        return 'fit diverged: loss increased'
    return None


def _report(dropped, positions):
    report = _empty_report()
    # A loop over dropped sources (few): one report row each.
    for i, reason in sorted(dropped):
        report.add_row((i, positions[i, 1], positions[i, 0], reason))
    return report


def _check_psf_resolved(psf):
    """scarlet2's condition for its default model PSF (sigma 0.7 px)."""
    # As scarlet2.frame.get_psf_size: 3-sigma radius from the FWHM area.
    for band in np.asarray(psf):
        area = np.count_nonzero(band / band.max() > 0.5)
        sigma3 = 3 * (2 * np.sqrt(area / np.pi)) / 2.3548
        if not sigma3 > MODEL_PSF_SIGMA:
            raise ValueError(f'psf is too narrow for scarlet2 (FWHM area '
                             f'{area} pixel(s)); it must be resolved')


def _psf_fwhm(psf):
    """A PSF's FWHM in pixels from its second moments (Gaussian equivalent)."""
    image = np.asarray(psf, dtype=np.float64).sum(axis=0)
    image = image / image.sum()
    yy, xx = np.indices(image.shape)
    cy, cx = (image * yy).sum(), (image * xx).sum()
    var = (image * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum() / 2
    return float(2.3548 * np.sqrt(max(var, 0.0)))
