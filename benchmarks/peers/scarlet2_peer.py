"""
scarlet2 (0.5.x) as a benchmark peer: fit a free-form single-band scene
at given positions and return per-source models in the image frame.

Follows the pitfalls measured for scarlet2 0.5.1 (DESIGN.md section 8):
``init.from_gaussian_moments`` raises for some sources, so those fall
back to ``init.pixel_spectrum`` + ``init.compact_morphology``; every fit
leaks JAX memory maps, so `clear_caches` should be called every few fits.
"""

import contextlib
import io

import numpy as np

__all__ = ['fit_scarlet2', 'clear_caches']


def clear_caches():
    """Free JAX's compilation caches (call every few fits in long loops)."""
    import jax
    jax.clear_caches()


def fit_scarlet2(image, noise_sigma, psf, positions, *, max_iter=50,
                 e_rel=1e-4):
    """
    Fit scarlet2 sources at fixed initial positions.

    Parameters
    ----------
    image : `~numpy.ndarray`, shape (H, W)
        Background-subtracted image.
    noise_sigma : float
        Noise standard deviation (weights are ``1 / sigma**2``).
    psf : `~numpy.ndarray`, shape (h, w)
        The image PSF, odd-sized and centred.
    positions : array_like, shape (N, 2)
        ``(y, x)`` initial source positions.
    max_iter : int
        Optimiser iterations.
    e_rel : float
        Relative convergence tolerance.

    Returns
    -------
    models : `~astropais.pcr.SourceImages`
        The fitted, PSF-convolved model of each source on the image grid
        (full-frame cut-outs).
    n_fallback : int
        How many sources needed the fallback initialisation.
    """
    from functools import partial

    import scarlet2 as sc2
    from numpyro.distributions import constraints

    from astropais.pcr import SourceImages

    image = np.asarray(image, dtype=np.float32)
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    shape = image.shape
    if len(positions) == 0:
        return SourceImages(shape, [], np.zeros((0, 2))), 0
    data = image[None]
    weights = np.full_like(data, 1.0 / float(noise_sigma) ** 2)
    psf = np.asarray(psf, dtype=np.float32)
    psf = psf / psf.sum()
    n_fallback = 0
    # scarlet2 prints validation reports and notes (e.g. negative spectra);
    # keep the runner's output readable.
    with contextlib.redirect_stdout(io.StringIO()):
        obs = sc2.Observation(data, weights, psf=sc2.ArrayPSF(psf[None]),
                              channels=[0])
        frame = sc2.Frame.from_observations(obs)
        with sc2.Scene(frame) as scene:
            # A loop over sources: scarlet2 initialises them one by one.
            for yx in positions:
                centre = np.asarray(yx, dtype=np.float32)
                try:
                    spectrum, morph = sc2.init.from_gaussian_moments(
                        obs, centre, min_corr=0.99)
                except Exception:  # scarlet2 raises several kinds here
                    spectrum = sc2.init.pixel_spectrum(obs, centre)
                    morph = sc2.init.compact_morphology()
                    n_fallback += 1
                sc2.Source(centre, spectrum, morph)
        spec_step = partial(sc2.relative_step, factor=0.05)
        morph_step = partial(sc2.relative_step, factor=1e-3)
        with sc2.Parameters(scene):
            for i, source in enumerate(scene.sources):
                sc2.Parameter(source.spectrum, name=f'spectrum:{i}',
                              constraint=constraints.positive,
                              stepsize=spec_step)
                sc2.Parameter(source.morphology, name=f'morph:{i}',
                              constraint=constraints.unit_interval,
                              stepsize=morph_step)
        fitted = scene.fit(obs, max_iter=max_iter, e_rel=e_rel,
                           progress_bar=False)
    cutouts, origins = [], []
    # A loop over sources: each is rendered (PSF-convolved) on its own.
    for source in fitted.sources:
        model = np.asarray(obs.render(fitted.evaluate_source(source)))[0]
        ys, xs = np.nonzero(model > 0)
        if ys.size == 0:
            cutouts.append(np.zeros((1, 1)))
            origins.append((0, 0))
            continue
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        cutouts.append(model[y0:y1, x0:x1].astype(np.float64))
        origins.append((y0, x0))
    return SourceImages(shape, cutouts, origins), n_fallback


def available():
    """Raise `Unavailable` unless scarlet2 (and numpyro) can be imported."""
    from .base import Unavailable
    try:
        import numpyro  # noqa: F401
        import scarlet2  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f'scarlet2 is not installed ({exc})') from exc


def _fit_with_labels(image, noise_sigma, psf, positions, morphology,
                     max_iter):
    """Fit with `astropais.labels.fit_scene` when that module exists.

    Returns None when `astropais.labels` is not importable.
    """
    try:
        from astropais.labels import fit_scene, prepare_inputs
    except ImportError:
        return None
    inputs = prepare_inputs(image, psf, positions[:, ::-1],
                            noise_sigma=noise_sigma)
    fit = fit_scene(inputs, morphology=morphology, max_iter=max_iter,
                    warn=False)
    return (fit.sources, np.asarray(fit.centres, dtype=float).reshape(-1, 2),
            {'fitter': f'astropais.labels.fit_scene({morphology})',
             'n_dropped': len(fit.dropped)})


def run_scarlet2(image, noise_sigma, psf, positions, footprint, *,
                 max_iter=50, morphology='free'):
    """
    Fit scarlet2 at ``positions`` and share each footprint pixel's light in
    proportion to the source models (scarlet's flux re-distribution).

    Uses `astropais.labels.fit_scene` when it exists (so the benchmark
    measures the same fit that makes training labels), else the free-form
    fit of `fit_scarlet2`.

    Parameters
    ----------
    image : `~numpy.ndarray`
        Background-subtracted image.
    noise_sigma : float
        Noise standard deviation.
    psf : `~numpy.ndarray`
        The PSF image.
    positions : array_like, shape (N, 2)
        ``(y, x)`` initial positions (true, or photutils' detections).
    footprint : `~numpy.ndarray` of bool
        The pixels to attribute (photutils' detection footprint).
    max_iter : int
        Optimiser iterations.
    morphology : {'free', 'sersic'}
        Morphology model (with `astropais.labels` only; the fallback fit
        is free-form).

    Returns
    -------
    result : `PeerResult`
        One detection per kept source at its fitted centre; ``fluxes``
        from the re-distributed image, ``native_fluxes`` the model fluxes.
    """
    from astropais.metrics import attribution_from_source_images

    from .base import PeerResult

    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    fitted = None
    if len(positions):
        fitted = _fit_with_labels(image, noise_sigma, psf, positions,
                                  morphology, max_iter)
    if fitted is None:
        models, n_fallback = fit_scarlet2(image, noise_sigma, psf, positions,
                                          max_iter=max_iter)
        fitted = (models, positions, {'fitter': 'benchmarks fit_scarlet2(free)',
                                      'n_fallback_init': n_fallback})
    models, centres, info = fitted
    att = attribution_from_source_images(models, footprint, centres)
    return PeerResult(centres, att.fluxes(image), att,
                      native_fluxes=models.fluxes(), info=info)
