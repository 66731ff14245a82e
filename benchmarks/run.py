#!/usr/bin/env python
"""
Benchmark astropais against photutils, SEP and scarlet2 on simulated
fields with known truth, all methods on the same fields in one run.

Example::

    python benchmarks/run.py --preset hst --fields 20 --size 256 \\
        --out benchmarks/results/hst

Writes to ``--out``:

* ``summary.ecsv`` and ``summary.md`` -- one row per method: detection
  precision/recall/F1, flux errors, reconstruction and fraction errors,
  wall time per megapixel (and its ratio to photutils), peak memory;
* ``curves.ecsv`` -- the binned scores (recall and precision against
  separation, recall against S/N, flux error against blendedness);
* ``recall_vs_separation.png`` and ``flux_error_vs_blendedness.png``.

With a multi-band preset (``--preset grizy`` or ``hst_multi``, see
`astropais.simulation.MULTIBAND_PRESETS`) photutils and SEP detect on the
S/N-weighted sum of the bands and measure every band on that one
segmentation, scarlet2 fits all bands at once, astropais needs a
``--model`` of those bands; the summary then lists F1, each band's
median flux error and the colour errors on the blended sources every
detecting method matched (see ``peers/multiband.py``).

A peer that is not installed (or, for astropais, not built yet) is
reported as skipped; no row is ever invented for it.
"""

import argparse
import ast
import functools
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

from astropais.utils import package_versions

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from peers import astropais_peer, multiband, pcr_oracle, photutils_peer, scarlet2_peer, sep_peer  # noqa: E402
from peers.base import Unavailable  # noqa: E402

# Modules whose versions a run records.
_VERSIONED = ('astropais', 'numpy', 'scipy', 'photutils', 'sep', 'scarlet2',
              'jax')

METHODS = ('photutils', 'sep', 'scarlet2_true', 'scarlet2_photutils',
           'pcr_oracle', 'astropais')
METHOD_NOTES = {
    'photutils': 'SourceFinder(deblend=True), segment_flux; kron = '
                 'SourceCatalog.kron_flux',
    'sep': 'sep.extract(deblend), segmentation-sum flux; native = sep flux',
    'scarlet2_true': 'scarlet2 at true positions (upper bound); '
                     'native = model flux',
    'scarlet2_photutils': 'scarlet2 at photutils positions; '
                          'native = model flux',
    'pcr_oracle': 'truth -> PCR encode -> decode (peaks from heatmap) on '
                  'the photutils footprint',
    'astropais': 'PAISDeblender; kron = WeightedSourceCatalog.kron_flux',
}
#: The notes of the multi-band mode (``--preset grizy``, ``hst_multi``).
MULTIBAND_NOTES = {
    'photutils': 'SourceFinder(deblend=True) on the smoothed S/N-weighted '
                 'sum of the bands; each band: segment sum',
    'sep': 'sep.extract(deblend) on the smoothed S/N-weighted sum; each '
           'band: segmentation sum',
    'scarlet2_true': 'scarlet2, all bands at once, at the true positions '
                     '(upper bound); each band: flux re-distributed by '
                     "that band's models",
    'scarlet2_photutils': 'scarlet2, all bands at once, at photutils '
                          "positions; each band: flux re-distributed by that "
                          "band's models",
    'astropais': 'PAISDeblender on the bands, detecting on the smoothed '
                 "S/N-weighted sum; each band: its own fractions",
}
# Bins: separation to the nearest true neighbour in PSF FWHM, S/N, and
# blendedness.
SEPARATION_BINS_FWHM = np.array([0, 1, 1.5, 2, 3, 5, np.inf])
SNR_BINS = np.array([0, 5, 10, 20, 50, 100, np.inf])
# Flux and reconstruction errors are summarised over true sources with a
# matched-filter S/N at least this high, the same population for every
# method (a method given the true positions would otherwise be scored on
# sources no detector can see).
MEASURABLE_SNR = 10.0
#: Methods placed at the true positions: left out of the common set.
TRUTH_POSITIONED = ('scarlet2_true', 'pcr_oracle')
BLENDEDNESS_BINS = np.array([0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0])
#: A true source is *blended* (the ``*_blended`` columns) from this
#: blendedness up.
BLENDED = 0.1


@dataclass
class MethodRecord:
    """Everything collected for one method over the run."""

    name: str
    scores: list = field(default_factory=list)
    native_errors: list = field(default_factory=list)
    total_errors: list = field(default_factory=list)
    seconds: float = 0.0
    first_call_seconds: float = 0.0
    megapixels: float = 0.0
    peak_bytes: float = float('nan')
    info: dict = field(default_factory=dict)
    failed: str = ''


def _deblender_option(text):
    """``'name=value'`` -> ``(name, value)``, the value a Python literal."""
    name, sep, value = text.partition('=')
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(
            f'expected NAME=VALUE with a keyword name, got {text!r}')
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(
            f'the value of {name} is not a Python literal: {value!r}') from None


def build_parser():
    """The command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--preset', default='hst',
                   help='simulation preset; a multi-band one (grizy, '
                        'hst_multi) runs the multi-band mode')
    p.add_argument('--colour', default=None, metavar='A-B',
                   help='multi-band mode: the headline colour, e.g. g-i '
                        '(default: first band minus third); the colours of '
                        'consecutive bands are listed too')
    p.add_argument('--fields', type=int, default=20, help='number of fields')
    p.add_argument('--size', type=int, default=256, help='field side, pixels')
    p.add_argument('--density', type=float, default=None,
                   help='override the preset source density (per arcmin^2)')
    p.add_argument('--seed', type=int, default=1000,
                   help='seed of the first field (field i uses seed + i)')
    p.add_argument('--out', default=os.path.join(_HERE, 'results', 'hst'),
                   help='output directory')
    p.add_argument('--model', default=None,
                   help='astropais model file (default: the shipped one)')
    p.add_argument('--astropais-option', action='append', default=[],
                   metavar='NAME=VALUE', type=_deblender_option,
                   help='a PAISDeblender keyword, e.g. peak_threshold=0.3 '
                        '(repeatable; values as Python literals)')
    p.add_argument('--methods', default=','.join(METHODS),
                   help=f'comma-separated subset of {",".join(METHODS)}')
    p.add_argument('--skip-scarlet2', action='store_true',
                   help='leave out both scarlet2 rows')
    p.add_argument('--scarlet2-iter', type=int, default=50,
                   help='scarlet2 optimiser iterations per field')
    p.add_argument('--scarlet2-morphology', choices=('free', 'sersic'),
                   default='free',
                   help='scarlet2 morphology (used through astropais.labels '
                        'when that exists; otherwise free-form)')
    p.add_argument('--scarlet2-clear-every', type=int, default=4,
                   help='clear JAX caches every this many scarlet2 fits')
    p.add_argument('--n-pixels', type=int, default=5,
                   help='minimum source area (photutils n_pixels, SEP '
                        'minarea, PAISDeblender n_pixels)')
    p.add_argument('--n-sigma', type=float, default=1.5,
                   help='detection threshold in noise sigma')
    p.add_argument('--match-radius', type=float, default=1.5,
                   help='matching radius in PSF FWHM')
    p.add_argument('--pcr-n', type=int, default=3, help='PCR slots n (oracle)')
    p.add_argument('--pcr-slots', choices=('nearest', 'brightest'),
                   default='nearest',
                   help="PCR slot rule of the oracle (see astropais.pcr."
                        "SLOT_RULES; default: %(default)s)")
    p.add_argument('--pcr-sigma', type=float, default=2.0,
                   help='PCR heatmap sigma in pixels (oracle)')
    p.add_argument('--memory', choices=('rss', 'tracemalloc', 'none'),
                   default='rss',
                   help='peak memory of each method: rss = growth of the '
                        "process' peak RSS during its call on the second "
                        'field (the first when there is one; every allocation '
                        'counts, JAX/TensorFlow included); tracemalloc = '
                        'Python and numpy allocations only, on the first '
                        'field; none')
    p.add_argument('--no-warmup', dest='warmup', action='store_false',
                   help='time the first call of each method too (by '
                        'default one untimed call on the first field '
                        'absorbs model loading, tracing and JIT '
                        'compilation; its time is recorded as '
                        'warmup_seconds in meta.json)')
    p.add_argument('--timing-repeats', type=int, default=3,
                   help='time each method up to this many times per field '
                        'and record the median (the same rule for every '
                        'method: a single call is sensitive to what ran '
                        'just before it); the first call, which is the one '
                        'scored, is also reported on its own')
    p.add_argument('--timing-budget', type=float, default=1.0,
                   help='seconds: no further timed call of a method on a '
                        'field once its calls there have taken this long '
                        '(so the slow peers are timed once)')
    p.add_argument('--no-plots', action='store_true', help='skip the PNGs')
    p.add_argument('--replot', metavar='DIR', default=None,
                   help='only redraw the PNGs of a finished run in DIR from '
                        'its curves.ecsv')
    p.add_argument('--quiet', action='store_true', help='less progress output')
    return p


def _log(args, message):
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


def bands_of(args):
    """The band names of a multi-band ``--preset``, or None."""
    from astropais.simulation.bands import MULTIBAND_PRESETS

    preset = MULTIBAND_PRESETS.get(args.preset)
    return None if preset is None else tuple(preset.band_names)


def colour_pairs(bands, headline=None):
    """
    The colours the multi-band summary lists: ``headline`` (``'a-b'``;
    default first band minus third, or minus the last with fewer bands)
    first, then those of consecutive bands.

    Returns
    -------
    pairs : list of tuple of int
        Band index pairs ``(a, b)`` for the colour ``a - b``.
    """
    if headline is None:
        pairs = [(0, min(2, len(bands) - 1))]
    else:
        names = headline.split('-')
        if len(names) != 2 or not set(names) <= set(bands):
            raise ValueError(f'--colour must be A-B with bands of '
                             f'{bands}, got {headline!r}')
        pairs = [(bands.index(names[0]), bands.index(names[1]))]
    pairs += [(k, k + 1) for k in range(len(bands) - 1)]
    return list(dict.fromkeys(pair for pair in pairs if pair[0] != pair[1]))


def make_field(args, index):
    """The seeded simulated field ``index``."""
    from astropais.simulation import make_scene
    overrides = {} if args.density is None else {'density': args.density}
    return make_scene(args.preset, shape=(args.size, args.size),
                      seed=args.seed + index, **overrides)


def check_peers(args, methods):
    """
    Which methods can run here.

    Returns
    -------
    ready : dict
        method -> object the runner needs (None, or the deblender).
    skipped : dict
        method -> reason.
    """
    ready, skipped = {}, {}
    checks = {'photutils': photutils_peer.available,
              'sep': sep_peer.available,
              'scarlet2_true': scarlet2_peer.available,
              'scarlet2_photutils': scarlet2_peer.available,
              'pcr_oracle': pcr_oracle.available,
              'astropais': lambda: astropais_peer.available(
                  args.n_pixels, model=args.model,
                  **dict(args.astropais_option))}
    bands = bands_of(args)
    if bands is not None:
        def astropais_bands():
            deblender = astropais_peer.available(
                args.n_pixels, model=args.model,
                **dict(args.astropais_option))
            multiband.check_astropais_bands(deblender, bands)
            return deblender

        checks['astropais'] = astropais_bands
        checks['pcr_oracle'] = _single_band_only
    for name in methods:
        if args.skip_scarlet2 and name.startswith('scarlet2'):
            skipped[name] = 'skipped by --skip-scarlet2'
            continue
        try:
            ready[name] = checks[name]()
        except Unavailable as exc:
            skipped[name] = str(exc)
    needs_photutils = ('scarlet2_true', 'scarlet2_photutils', 'pcr_oracle')
    if 'photutils' not in ready:
        for name in needs_photutils:
            if name in ready:
                del ready[name]
                skipped[name] = 'needs photutils (footprint, positions)'
    return ready, skipped


def detection_n_sigma(args, kernel):
    """
    The detection threshold in per-pixel noise sigma for ``args.preset``.

    Every method detects on the image smoothed by ``kernel`` with a
    threshold of ``n_sigma`` times the per-pixel noise.  Smoothing white
    noise lowers it by the kernel's norm; smoothing correlated noise (a
    drizzled image) lowers it much less, so at the same ``n_sigma`` noise
    peaks pass the threshold in droves (photutils' precision on
    ``hst_drizzled`` was 0.10 at 1.5 sigma).  For a preset with correlated
    sky noise the threshold is raised by ``std(k * n) / (sigma ||k||)``,
    measured on a seeded 512 x 512 realisation ``n`` of the preset's sky
    noise: the smoothed noise then crosses the threshold as often as
    smoothed white noise crosses ``n_sigma``.  For white sky noise the
    factor is 1 by definition and ``args.n_sigma`` is returned unchanged.

    Parameters
    ----------
    args : `argparse.Namespace`
        The run's options (``preset``, ``n_sigma``).
    kernel : `~numpy.ndarray` or `~astropy.convolution.Kernel2D`
        The detection kernel of the field.

    Returns
    -------
    n_sigma : float
        The threshold every method uses, in per-pixel noise sigma.
    """
    array = np.asarray(getattr(kernel, 'array', kernel), dtype=float)
    return args.n_sigma * _correlation_factor(args.preset, array.tobytes(),
                                              array.shape)


@functools.lru_cache(maxsize=None)
def _correlation_factor(preset, kernel_bytes, kernel_shape):
    """``std(k * n) / (sigma ||k||)`` of the preset's sky noise (cached)."""
    from scipy import ndimage

    from astropais.simulation import get_preset
    from astropais.simulation.noise import sky_noise
    params = get_preset(preset)
    kind = getattr(params, 'noise_kernel', 'gaussian')
    correlation = getattr(params, 'noise_correlation', 0.0)
    if kind == 'gaussian' and correlation == 0:
        return 1.0
    kernel = np.frombuffer(kernel_bytes).reshape(kernel_shape)
    kernel = kernel / kernel.sum()
    noise = sky_noise((512, 512), 1.0, np.random.default_rng(0),
                      correlation, kind)
    smoothed = ndimage.convolve(noise, kernel, mode='wrap')
    return float(smoothed.std() / np.sqrt(np.sum(kernel ** 2)))


def _single_band_only():
    raise Unavailable('single-band only (the truth PCR oracle)')


def run_method_bands(name, ready, scene, photutils_result, args, kernel):
    """Run one method on one multi-band field; its `PeerResult` carries
    ``band_fluxes``."""
    image, sigma = scene.image, np.asarray(scene.noise_sigma, dtype=float)
    n_sigma = detection_n_sigma(args, kernel)
    if name == 'photutils':
        return multiband.run_photutils_bands(image, sigma, kernel,
                                             n_pixels=args.n_pixels,
                                             n_sigma=n_sigma)
    if name == 'sep':
        return multiband.run_sep_bands(image, sigma, kernel,
                                       n_pixels=args.n_pixels,
                                       n_sigma=n_sigma)
    if name in ('scarlet2_true', 'scarlet2_photutils'):
        positions = (scene.centres if name == 'scarlet2_true'
                     else photutils_result.positions)
        return multiband.run_scarlet2_bands(
            image, sigma, scene.psf, positions,
            photutils_result.info['footprint'], max_iter=args.scarlet2_iter,
            morphology=args.scarlet2_morphology)
    if name == 'astropais':
        return multiband.run_astropais_bands(ready['astropais'], image, sigma,
                                             tuple(scene.bands), kernel,
                                             n_sigma=n_sigma)
    raise ValueError(f'method {name!r} has no multi-band mode')


def run_method(name, ready, scene, photutils_result, args, kernel):
    """Run one method on one field; return its `PeerResult`."""
    if getattr(scene, 'bands', None):
        return run_method_bands(name, ready, scene, photutils_result, args,
                                kernel)
    image, sigma = scene.image, float(scene.noise_sigma)
    fwhm = float(scene.psf_fwhm_pixels)
    n_sigma = detection_n_sigma(args, kernel)
    if name == 'photutils':
        return photutils_peer.run_photutils(image, sigma, fwhm,
                                            n_pixels=args.n_pixels,
                                            n_sigma=n_sigma)
    if name == 'sep':
        return sep_peer.run_sep(image, sigma, kernel, n_pixels=args.n_pixels,
                                n_sigma=n_sigma)
    footprint = photutils_result.info['footprint']
    if name in ('scarlet2_true', 'scarlet2_photutils'):
        positions = (scene.centres if name == 'scarlet2_true'
                     else photutils_result.positions)
        return scarlet2_peer.run_scarlet2(image, sigma, scene.psf, positions,
                                          footprint,
                                          max_iter=args.scarlet2_iter,
                                          morphology=args.scarlet2_morphology)
    if name == 'pcr_oracle':
        return pcr_oracle.run_pcr_oracle(image, scene.sources, scene.centres,
                                         footprint, n=args.pcr_n,
                                         sigma=args.pcr_sigma,
                                         slots=args.pcr_slots)
    if name == 'astropais':
        return astropais_peer.run_astropais(ready['astropais'], image, sigma,
                                            n_sigma=n_sigma,
                                            kernel=kernel)
    raise ValueError(f'unknown method {name!r}')


def score_result(scene, result, photutils_result, args):
    """
    Score one method's result on one field.

    Detections are matched to the true sources within ``args.match_radius``
    PSF FWHM (`astropais.metrics.score_field`); ``deblend_error`` is the
    relative flux error against the true flux inside photutils' detection
    footprint (the split alone: the light every footprint-limited method
    misses does not hide the deblending); the flux, reconstruction and
    deblend errors of sources below `MEASURABLE_SNR` are NaN (all kept
    under ``<key>_all``).  Separations are in pixels.

    Returns
    -------
    scores : `astropais.metrics.FieldScores`
    """
    from astropais.metrics import flux_errors, footprint_fluxes, score_field

    if getattr(scene, 'bands', None):
        return score_result_bands(scene, result, args)
    fwhm = float(scene.psf_fwhm_pixels)
    scores = score_field(
        scene.sources, scene.centres, result.positions,
        noise_sigma=scene.noise_sigma,
        max_separation=args.match_radius * fwhm, image=scene.image,
        fluxes=result.fluxes, attribution=result.attribution)
    scores.true['deblend_error'] = flux_errors(
        footprint_fluxes(scene.sources, photutils_result.info['footprint']),
        result.fluxes, scores.match)
    faint = _faint(scores)
    for key in ('flux_error', 'reconstruction_error', 'deblend_error'):
        scores.true[key + '_all'] = scores.true[key].copy()
        scores.true[key][faint] = np.nan
    return scores


def score_result_bands(scene, result, args):
    """
    Score one method's result on one multi-band field.

    Detections are matched within ``args.match_radius`` times the
    detection image's FWHM (`peers.multiband.detection_fwhm`); the S/N is
    the bands' combined matched-filter S/N and the blendedness that of
    the band-summed light (its footprint: above the noise of the band
    sum).  Per band ``<b>``, ``flux_error_<b>`` is the relative error
    against the true flux in the image, NaN where the source's S/N in
    that band (``snr_<b>``) is below `MEASURABLE_SNR`; per colour
    ``<a>-<b>``, ``colour_error_<a>-<b>`` is ``|delta(a - b)|`` in
    magnitudes, NaN unless both bands reach `MEASURABLE_SNR` (so that
    the scores show the split of the light, not the noise of faint
    bands).  ``flux_error`` is the reference band's (for the flux-error
    curve).

    Returns
    -------
    scores : `astropais.metrics.FieldScores`
    """
    from astropais.metrics import (colour_errors, flux_errors, score_field,
                                   signal_to_noise)
    from astropais.simulation.multiband import band_sources

    sigma = np.asarray(scene.noise_sigma, dtype=float)
    scores = score_field(
        scene.sources, scene.centres, result.positions, noise_sigma=sigma,
        max_separation=args.match_radius * multiband.detection_fwhm(scene),
        footprint_threshold=float(np.sqrt(np.sum(sigma ** 2))))
    true = scene.sources.fluxes()
    bands = tuple(scene.bands)
    faint = np.column_stack([
        signal_to_noise(band_sources(scene.sources, k), sigma[k])
        < MEASURABLE_SNR for k in range(len(bands))])
    # Loops over the bands and colours (few): one score each.
    for k, name in enumerate(bands):
        errors = flux_errors(true[:, k], result.band_fluxes[:, k],
                             scores.match)
        errors[faint[:, k]] = np.nan
        scores.true[f'flux_error_{name}'] = errors
    for a, b in colour_pairs(bands, args.colour):
        errors = colour_errors(true[:, [a, b]], result.band_fluxes[:, [a, b]],
                               scores.match)
        errors[faint[:, a] | faint[:, b]] = np.nan
        scores.true[f'colour_error_{bands[a]}-{bands[b]}'] = errors
    reference = scene.parameters.reference_band
    scores.true['flux_error'] = scores.true[f'flux_error_{reference}'].copy()
    return scores


def _faint(scores):
    """True sources below `MEASURABLE_SNR`, whose errors are not scored."""
    return scores.true['snr'] < MEASURABLE_SNR


def _total_flux_errors(scores, fluxes):
    """Errors against the total true flux, NaN for `_faint` sources."""
    from astropais.metrics import flux_errors
    errors = flux_errors(scores.true['flux'], fluxes, scores.match)
    errors[_faint(scores)] = np.nan
    return errors


def _timed(func):
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def _median_seconds(func, first, repeats, budget):
    """
    The median wall time of ``func`` over up to ``repeats`` calls.

    ``first`` is the time of a call already made; further calls are made
    while fewer than ``repeats`` have been timed and together they have
    taken less than ``budget`` seconds.
    """
    times = [first]
    while len(times) < repeats and sum(times) < budget:
        times.append(_timed(func)[1])
    return float(np.median(times))


def _proc_status_bytes(key):
    """A ``/proc/self/status`` memory field (e.g. ``VmRSS``) in bytes."""
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    raise OSError(f'{key} not in /proc/self/status')


def _release_free_heap():
    """Give freed heap memory back to the OS (glibc), so that memory an
    earlier call freed is not silently reused and missed by the RSS peak."""
    import ctypes
    import ctypes.util
    try:
        ctypes.CDLL(ctypes.util.find_library('c')).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


def _reset_peak_rss():
    """
    Reset the kernel's peak-RSS mark (Linux >= 4.0) and return the current
    RSS in bytes, or None where that is not possible.
    """
    _release_free_heap()
    try:
        with open('/proc/self/clear_refs', 'w') as fh:
            fh.write('5')
        return _proc_status_bytes('VmRSS')
    except OSError:
        return None


def _peak_rss_growth(before):
    """Peak RSS since `_reset_peak_rss` minus the RSS then, in bytes."""
    if before is None:
        return float('nan')
    try:
        return float(_proc_status_bytes('VmHWM') - before)
    except OSError:
        return float('nan')


def _peak_memory(func):
    """Peak bytes allocated (Python and numpy, via tracemalloc) by ``func``."""
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run_benchmark(args):
    """
    Run every available method on every field and score it.

    Parameters
    ----------
    args : `argparse.Namespace`
        From `build_parser`.

    Returns
    -------
    records : dict
        method -> `MethodRecord`, in `METHODS` order.
    skipped : dict
        method -> reason it did not run.
    meta : dict
        Run description (configuration, time, versions).
    """
    methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f'unknown methods {sorted(unknown)}; choose from '
                         f'{METHODS}')
    if 'photutils' not in methods:
        raise ValueError('--methods must include photutils: every method '
                         "is scored (deblend error) in photutils' detection "
                         'footprint')
    if args.fields < 1 or args.size < 16:
        raise ValueError('need --fields >= 1 and --size >= 16')
    if args.timing_repeats < 1 or not args.timing_budget >= 0:
        raise ValueError('need --timing-repeats >= 1 and --timing-budget '
                         '>= 0')
    bands = bands_of(args)
    if bands is not None:
        colour_pairs(bands, args.colour)  # a bad --colour fails here
    ready, skipped = check_peers(args, methods)
    for name, why in skipped.items():
        _log(args, f'[skip] {name}: {why}')
    records = {name: MethodRecord(name) for name in METHODS if name in ready}
    run_start = time.perf_counter()
    n_scarlet2_fits = 0
    for index in range(args.fields):
        scene = make_field(args, index)
        fwhm = multiband.detection_fwhm(scene)
        kernel = photutils_peer.detection_kernel(fwhm)
        mpix = int(np.prod(scene.image.shape[-2:])) / 1e6
        _log(args, f'field {index + 1}/{args.fields} (seed {args.seed + index}'
             f', {len(scene.sources)} sources)')
        photutils_result, photutils_seconds = None, (0.0, 0.0)
        for name, record in records.items():
            if record.failed:
                continue
            if name != 'photutils' and 'photutils' in records \
                    and photutils_result is None and name in (
                        'scarlet2_true', 'scarlet2_photutils', 'pcr_oracle'):
                continue  # photutils failed on this field
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')
                    if index == 0 and args.warmup:
                        # One untimed call first: model loading, graph
                        # tracing and JIT compilation happen once per
                        # session, not per image (reported apart).
                        _, record.info['warmup_seconds'] = _timed(
                            lambda: run_method(name, ready, scene,
                                               photutils_result, args,
                                               kernel))
                    measure_rss = (args.memory == 'rss'
                                   and index == min(1, args.fields - 1))
                    rss_before = _reset_peak_rss() if measure_rss else None

                    def call():
                        return run_method(name, ready, scene,
                                          photutils_result, args, kernel)

                    result, first_seconds = _timed(call)
                    if measure_rss:
                        record.peak_bytes = _peak_rss_growth(rss_before)
                    # The first call is the one scored; the time is the
                    # median of it and its repeats (the same rule for all).
                    seconds = _median_seconds(call, first_seconds,
                                              args.timing_repeats,
                                              args.timing_budget)
                    if index == 0 and args.memory == 'tracemalloc':
                        record.peak_bytes = _peak_memory(lambda: run_method(
                            name, ready, scene, photutils_result, args,
                            kernel))
            except Exception as exc:  # a peer bug must not kill the run
                record.failed = f'{type(exc).__name__}: {exc}'
                _log(args, f'[fail] {name}: {record.failed}')
                _log(args, traceback.format_exc(limit=3))
                continue
            if name == 'photutils':
                photutils_result = result
                photutils_seconds = (seconds, first_seconds)
            elif name in ('scarlet2_true', 'scarlet2_photutils',
                          'pcr_oracle'):
                # These need photutils' footprint (and positions): its
                # time is part of theirs.
                seconds += photutils_seconds[0]
                first_seconds += photutils_seconds[1]
            if name.startswith('scarlet2'):
                n_scarlet2_fits += 1
                if n_scarlet2_fits % max(args.scarlet2_clear_every, 1) == 0:
                    scarlet2_peer.clear_caches()
            for key, value in result.info.items():
                if key == 'footprint':
                    continue
                if isinstance(value, (int, float)):
                    record.info[key] = record.info.get(key, 0) + value
                else:
                    record.info[key] = value
            record.seconds += seconds
            record.first_call_seconds += first_seconds
            record.megapixels += mpix
            scores = score_result(scene, result, photutils_result, args)
            if result.native_fluxes is not None:
                record.native_errors.append(
                    _total_flux_errors(scores, result.native_fluxes))
            if result.total_fluxes is not None:
                # Untimed: total (Kron) fluxes, against the total flux.
                record.total_errors.append(
                    _total_flux_errors(scores, result.total_fluxes()))
            # Separations in PSF FWHM from here on (bins and plots use them).
            scores.true['separation'] = scores.true['separation'] / fwhm
            scores.detected['separation'] = (scores.detected['separation']
                                             / fwhm)
            record.scores.append(scores)
            _log(args, f'  {name:<19s} {seconds:7.2f} s  '
                 f'{len(result.positions):4d} detections')
    for name, record in records.items():
        if record.failed:
            skipped[name] = f'failed: {record.failed}'
    records = {n: r for n, r in records.items() if not r.failed}
    method_info = {n: r.info for n, r in records.items() if r.info}
    meta = {
        'command': ' '.join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
        'preset': args.preset, 'fields': args.fields, 'size': args.size,
        'seed': args.seed, 'density': args.density, 'n_pixels': args.n_pixels,
        'n_sigma': args.n_sigma, 'match_radius_fwhm': args.match_radius,
        'scarlet2_iter': args.scarlet2_iter,
        'scarlet2_morphology': args.scarlet2_morphology, 'pcr_n': args.pcr_n,
        'pcr_sigma': args.pcr_sigma, 'pcr_slots': args.pcr_slots,
        'memory': args.memory,
        'astropais_options': dict(args.astropais_option),
        'detection_n_sigma': (round(detection_n_sigma(args, kernel), 4)
                              if args.fields else args.n_sigma),
        'warmup': args.warmup, 'timing_repeats': args.timing_repeats,
        'timing_budget': args.timing_budget,
        'wall_seconds': round(time.perf_counter() - run_start, 1),
        'max_rss_mib': round(resource.getrusage(resource.RUSAGE_SELF)
                             .ru_maxrss / 1024, 1),
        'skipped': dict(skipped), 'method_info': method_info, 'machine': platform.platform(),
        'cpu_count': os.cpu_count(), 'versions': package_versions(_VERSIONED),
        'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
    }
    bands = bands_of(args)
    if bands is not None:
        meta['bands'] = list(bands)
        meta['colours'] = [f'{bands[a]}-{bands[b]}'
                           for a, b in colour_pairs(bands, args.colour)]
    return records, skipped, meta


def _per_mpix(seconds, record):
    """Seconds per megapixel of ``record``'s fields (NaN without any)."""
    return seconds / record.megapixels if record.megapixels else np.nan


def _cost_columns(rec, base_rate, base_first):
    """
    A method's cost columns of the summary: its wall time, seconds per
    megapixel, their ratios to photutils' (``base_rate`` and
    ``base_first``, seconds per megapixel of all calls and of the first
    call) and its peak memory in MiB.
    """
    rate = _per_mpix(rec.seconds, rec)
    return {'seconds': rec.seconds, 's_per_mpix': rate,
            'time_ratio_photutils': rate / base_rate,
            'first_call_time_ratio_photutils': (
                _per_mpix(rec.first_call_seconds, rec) / base_first),
            'peak_mem_mib': rec.peak_bytes / 2 ** 20}


def _summary_table(rows, meta, columns):
    """The summary table of ``rows`` with the run's ``meta`` and the
    descriptions of its ``columns``."""
    from astropy.table import Table

    names = list(rows[0]) if rows else ['method']
    table = Table(rows=rows, names=names) if rows else Table(names=names,
                                                             dtype=[str])
    table.meta.update(meta)
    table.meta['columns'] = columns
    return table


def summary_table(records, meta):
    """
    One row per method.

    Parameters
    ----------
    records : dict
        From `run_benchmark`.
    meta : dict
        Run description; stored in the table's ``meta``.

    Returns
    -------
    table : `~astropy.table.Table`
    """
    from astropais.metrics import summarise_scores

    if meta.get('bands'):
        return multiband_summary_table(records, meta)
    rows = []
    common = _common_detected(records)
    base = records.get('photutils')
    base_rate = _per_mpix(base.seconds, base) if base else np.nan
    base_first = _per_mpix(base.first_call_seconds, base) if base else np.nan
    for name, rec in records.items():
        summary = summarise_scores(rec.scores,
                                   separation_bins=SEPARATION_BINS_FWHM,
                                   snr_bins=SNR_BINS,
                                   blendedness_bins=BLENDEDNESS_BINS)
        rec.summary = summary
        rec.summary.update(_bright_recall_by_separation(rec))
        true_sep = np.concatenate([s.true['separation'] for s in rec.scores])
        flux_err = np.concatenate([s.true['flux_error'] for s in rec.scores])
        flux_err_all = np.concatenate([s.true['flux_error_all']
                                       for s in rec.scores])
        deblend_err = np.concatenate([s.true['deblend_error']
                                      for s in rec.scores])
        blend = np.concatenate([s.true['blendedness'] for s in rec.scores])
        detected = np.concatenate([s.true['detected'] for s in rec.scores])
        close = true_sep < 2
        snr = np.concatenate([s.true['snr'] for s in rec.scores])
        bright = snr >= 10
        blended = blend >= BLENDED
        # Without a common set (see _common_detected) these medians are NaN.
        blended_common = blended & (common if common is not None
                                    else np.zeros_like(blended))
        native = (np.concatenate(rec.native_errors) if rec.native_errors
                  else np.full(flux_err.shape, np.nan))
        kron = (np.concatenate(rec.total_errors)
                if len(rec.total_errors) == len(rec.scores)
                else np.full(flux_err.shape, np.nan))
        rows.append({
            'method': name,
            'n_fields': len(rec.scores),
            'n_true': summary['n_true'],
            'n_detected': summary['n_detected'],
            'n_matched': summary['n_matched'],
            'precision': summary['precision'],
            'recall': summary['recall'],
            'f1': summary['f1'],
            'recall_sep_lt_2fwhm': (detected[close].mean() if close.any()
                                    else np.nan),
            'recall_snr_ge_10': (detected[bright].mean() if bright.any()
                                 else np.nan),
            'flux_err_median': summary['flux_error_median'],
            'flux_err_mean': summary['flux_error_mean'],
            'flux_err_median_blended': _nanmedian(flux_err[blended]),
            'flux_err_median_all': _nanmedian(flux_err_all),
            'native_flux_err_median': _nanmedian(native),
            'kron_flux_err_median_blended': _nanmedian(kron[blended]),
            'kron_flux_err_median_blended_common': _nanmedian(
                kron[blended_common]),
            'deblend_err_median': _nanmedian(deblend_err),
            'deblend_err_median_blended': _nanmedian(deblend_err[blended]),
            'deblend_err_median_blended_common': _nanmedian(
                deblend_err[blended_common]),
            'flux_err_median_blended_common': _nanmedian(
                flux_err[blended_common]),
            'n_blended_common': int(np.sum(blended_common & bright)),
            'recon_err_median': summary['reconstruction_error_median'],
            'frac_err_mean': summary['fraction_error_mean'],
            **_cost_columns(rec, base_rate, base_first),
            'note': METHOD_NOTES[name],
        })
    return _summary_table(rows, meta, {
        'recall_sep_lt_2fwhm': 'recall of true sources whose nearest true '
                               'neighbour is closer than 2 PSF FWHM',
        'recall_snr_ge_10': 'recall of true sources with matched-filter '
                            'S/N >= 10',
        'flux_err_*': '|F - F_true| / F_true of matched true sources with '
                      'S/N >= 10 (_all: every matched source); _blended: '
                      'blendedness >= 0.1',
        'deblend_err_*': '|F - F_fp| / F_fp of matched S/N >= 10 sources, '
                         'F_fp = true flux inside the photutils detection '
                         'footprint (the split alone, without the light '
                         'the footprint misses); _blended: blendedness '
                         '>= 0.1',
        '*_blended_common': 'the same, over the blended true sources that '
                            'every detecting method (all but '
                            f'{", ".join(TRUTH_POSITIONED)}) matched, so '
                            'the methods are compared on the same sources '
                            '(n_blended_common of them)',
        'kron_flux_err_*': 'total-flux error |F_kron - F_true| / F_true '
                           '(photutils SourceCatalog.kron_flux; astropais '
                           'WeightedSourceCatalog.kron_flux, measured on '
                           'the image minus the neighbours\' shares); '
                           'computed outside the timed section',
        'native_flux_err_median': "with the method's own flux (SEP flux, "
                                  'scarlet2 model flux) where it has one',
        'recon_err_median': 'median over matched S/N >= 10 sources of '
                            'sum|M_i I - S_i| / sum S_i',
        'frac_err_mean': 'mean over scored pixels of 0.5 sum_i |M_i - F_i|',
        's_per_mpix': 'wall seconds per megapixel (includes photutils for '
                      'methods that use its footprint or positions); each '
                      "field's time is the median of up to timing_repeats "
                      'calls (fewer once they took timing_budget seconds)',
        'first_call_time_ratio_photutils': 'the same ratio from the first '
                                           'call on each field alone',
        'peak_mem_mib': 'memory=rss: growth of the peak RSS during the '
                        'call on the second field (all allocations, '
                        'JAX/TensorFlow included); memory=tracemalloc: '
                        'Python + numpy allocations only, first field',
    })


def multiband_summary_table(records, meta):
    """
    One row per method of a multi-band run (`summary_table` of the
    multi-band mode).

    Parameters
    ----------
    records : dict
        From `run_benchmark`.
    meta : dict
        Run description with ``bands`` and ``colours``.

    Returns
    -------
    table : `~astropy.table.Table`
        Detection scores, per band ``flux_err_<b>`` and per colour
        ``colour_err_<a>-<b>`` (medians over the blended, S/N >= 10 true
        sources every detecting method matched, with their counts), time
        and memory.
    """
    from astropais.metrics import summarise_scores

    common = _common_detected(records)
    base = records.get('photutils')
    base_rate = _per_mpix(base.seconds, base) if base else np.nan
    base_first = _per_mpix(base.first_call_seconds, base) if base else np.nan
    rows = []
    for name, rec in records.items():
        rec.summary = summarise_scores(rec.scores,
                                       separation_bins=SEPARATION_BINS_FWHM,
                                       snr_bins=SNR_BINS,
                                       blendedness_bins=BLENDEDNESS_BINS)
        rec.summary.update(_bright_recall_by_separation(rec))

        def pooled(key):
            return np.concatenate([s.true[key] for s in rec.scores])

        blended = pooled('blendedness') >= BLENDED
        chosen = blended & (common if common is not None
                            else np.zeros_like(blended))
        row = {'method': name, 'n_fields': len(rec.scores),
               'n_true': rec.summary['n_true'],
               'n_detected': rec.summary['n_detected'],
               'n_matched': rec.summary['n_matched'],
               'precision': rec.summary['precision'],
               'recall': rec.summary['recall'], 'f1': rec.summary['f1'],
               'n_blended_common': int(np.sum(
                   chosen & (pooled('snr') >= MEASURABLE_SNR)))}
        for band in meta['bands']:
            errors = pooled(f'flux_error_{band}')[chosen]
            row[f'flux_err_{band}'] = _nanmedian(errors)
            row[f'n_flux_{band}'] = int(np.sum(np.isfinite(errors)))
        for colour in meta['colours']:
            errors = pooled(f'colour_error_{colour}')[chosen]
            row[f'colour_err_{colour}'] = _nanmedian(errors)
            row[f'n_colour_{colour}'] = int(np.sum(np.isfinite(errors)))
        row.update({**_cost_columns(rec, base_rate, base_first),
                    'note': MULTIBAND_NOTES[name]})
        rows.append(row)
    return _summary_table(rows, meta, {
        'n_blended_common': 'blended (blendedness of the band sum >= 0.1) '
                            'true sources of combined S/N >= 10 that every '
                            'detecting method (all but '
                            f'{", ".join(TRUTH_POSITIONED)}) matched',
        'flux_err_<band>': 'median |F - F_true| / F_true in that band '
                           '(F_true: the true flux in the image) over the '
                           'blended true sources every detecting method '
                           'matched whose S/N in that band is >= 10 '
                           '(n_flux_<band> of them)',
        'colour_err_<a>-<b>': 'median |delta(a - b)| in magnitudes, '
                              'a - b = -2.5 log10(F_a / F_b), over the '
                              'blended true sources every detecting method '
                              'matched with S/N >= 10 in both bands and '
                              'both measured fluxes positive '
                              '(n_colour_<a>-<b> of them)',
        's_per_mpix': 'wall seconds per megapixel of one field (all its '
                      'bands; includes photutils for the methods that use '
                      'its footprint or positions); the median of up to '
                      'timing_repeats calls per field',
        'peak_mem_mib': 'growth of the peak RSS during the call on the '
                        'second field (memory=rss)',
    })


def _common_detected(records):
    """
    True sources matched by every method that finds its own sources.

    Parameters
    ----------
    records : dict
        From `run_benchmark`.

    Returns
    -------
    common : `~numpy.ndarray` of bool or `None`
        One entry per true source of all fields (in field order); `None`
        if no method detects its own sources or the methods scored
        different fields.
    """
    detecting = [rec for name, rec in records.items()
                 if name not in TRUTH_POSITIONED]
    if not detecting or len({len(rec.scores) for rec in records.values()}) > 1:
        return None
    common = None
    for rec in detecting:
        detected = np.concatenate([s.true['detected'] for s in rec.scores])
        common = detected if common is None else common & detected
    return common


def _bright_recall_by_separation(rec):
    """Recall against separation for true sources with S/N >= MEASURABLE_SNR
    (so the curve shows deblending, not the faint-source limit)."""
    from astropais.metrics import bin_index
    sep = np.concatenate([s.true['separation'] for s in rec.scores])
    snr = np.concatenate([s.true['snr'] for s in rec.scores])
    found = np.concatenate([s.true['detected'] for s in rec.scores])
    index = bin_index(np.where(snr >= MEASURABLE_SNR, sep, np.nan),
                      SEPARATION_BINS_FWHM)
    n_bins = SEPARATION_BINS_FWHM.size - 1
    n = np.bincount(index[index >= 0], minlength=n_bins)
    hit = np.bincount(index[(index >= 0) & found], minlength=n_bins)
    with np.errstate(divide='ignore', invalid='ignore'):
        recall = np.where(n > 0, hit / np.maximum(n, 1), np.nan)
    return {'recall_by_separation_snr_ge_10': recall,
            'n_by_separation_snr_ge_10': n}


def _nanmedian(values):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float('nan')


def curves_table(records):
    """The binned scores of every method (long format)."""
    from astropy.table import Table

    rows = []
    spec = [('recall_by_separation', 'n_by_separation', 'separation_fwhm',
             SEPARATION_BINS_FWHM),
            ('recall_by_separation_snr_ge_10', 'n_by_separation_snr_ge_10',
             'separation_fwhm', SEPARATION_BINS_FWHM),
            ('precision_by_separation', 'n_by_separation', 'separation_fwhm',
             SEPARATION_BINS_FWHM),
            ('recall_by_snr', 'n_by_snr', 'snr', SNR_BINS),
            ('flux_error_by_blendedness', 'n_by_blendedness', 'blendedness',
             BLENDEDNESS_BINS)]
    nan = np.full(max(b.size for *_, b in spec), np.nan)
    for name, rec in records.items():
        for key, count_key, by, bins in spec:
            # The median's one-sigma interval where the summary has one.
            low = rec.summary.get(key + '_low', nan)
            high = rec.summary.get(key + '_high', nan)
            for k in range(bins.size - 1):
                rows.append((name, key, by, bins[k], bins[k + 1],
                             rec.summary[key][k],
                             int(rec.summary[count_key][k]), low[k],
                             high[k]))
    return Table(rows=rows or None, names=('method', 'quantity', 'binned_by',
                                           'bin_lo', 'bin_hi', 'value',
                                           'count', 'value_low',
                                           'value_high'),
                 dtype=(str, str, str, float, float, float, int, float,
                        float))


def markdown(table):
    """The summary table as GitHub Markdown."""
    cols = [c for c in table.colnames if c != 'note']

    def fmt(value):
        if isinstance(value, (float, np.floating)):
            if not np.isfinite(value):
                return '--'
            return f'{value:.3g}' if abs(value) < 1e4 else f'{value:.0f}'
        return str(value)

    lines = ['| ' + ' | '.join(cols) + ' |',
             '|' + '|'.join('---' for _ in cols) + '|']
    for row in table:
        lines.append('| ' + ' | '.join(fmt(row[c]) for c in cols) + ' |')
    return '\n'.join(lines) + '\n'


def plot_curves(curves, out):
    """
    Write the two PNG plots from a `curves_table`; returns their paths.

    Recall carries binomial one-sigma error bars,
    ``sqrt(p (1 - p) / n)``, the flux-error medians their order-statistic
    one-sigma interval (`astropais.metrics.binning.binned_median`; runs
    made before 2026-12-03 did not keep it and are drawn without); every
    point is labelled with its bin count ``n``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    paths = []
    for key, xlabel, ylabel, fname in [
            ('recall_by_separation_snr_ge_10',
             'separation to nearest true neighbour [PSF FWHM]',
             'recall (true sources with S/N >= 10)',
             'recall_vs_separation.png'),
            ('flux_error_by_blendedness', 'blendedness',
             r'median $|\Delta F|/F$', 'flux_error_vs_blendedness.png')]:
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        rows = curves[curves['quantity'] == key]
        methods = list(dict.fromkeys(rows['method']))
        for offset, name in enumerate(methods):
            m = rows[rows['method'] == name]
            lo, hi = np.asarray(m['bin_lo']), np.asarray(m['bin_hi'])
            finite_hi = np.where(np.isfinite(hi), hi, lo + (lo[-1] - lo[-2]))
            # Methods side by side within a bin, so the bars do not overlap.
            x = lo + (finite_hi - lo) * (0.3 + 0.4 * offset
                                         / max(len(methods) - 1, 1))
            value = np.asarray(m['value'], dtype=float)
            count = np.asarray(m['count'])
            err = None
            if key.startswith('recall'):
                with np.errstate(divide='ignore', invalid='ignore'):
                    err = np.sqrt(value * (1 - value) / count)
            elif 'value_low' in m.colnames:
                # Runs written before the interval was kept have none.
                err = np.vstack([value - np.asarray(m['value_low']),
                                 np.asarray(m['value_high']) - value])
            line = ax.errorbar(x, value, yerr=err, marker='o', capsize=2,
                               label=name)
            for xi, vi, ni in zip(x, value, count):
                if np.isfinite(vi):
                    ax.annotate(str(ni), (xi, vi), fontsize=6,
                                textcoords='offset points', xytext=(2, 3),
                                color=line[0].get_color())
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if key.startswith('flux'):
            ax.set_yscale('log')
        ax.set_title('numbers: sources per bin', fontsize=8)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = os.path.join(out, fname)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def main(argv=None):
    """Run the benchmark from the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.replot:
        from astropy.table import Table
        plot_curves(Table.read(os.path.join(args.replot, 'curves.ecsv')),
                    args.replot)
        return 0
    records, skipped, meta = run_benchmark(args)
    os.makedirs(args.out, exist_ok=True)
    table = summary_table(records, meta)
    table.write(os.path.join(args.out, 'summary.ecsv'), overwrite=True)
    curves = curves_table(records)
    curves.write(os.path.join(args.out, 'curves.ecsv'), overwrite=True)
    text = markdown(table)
    if skipped:
        text += '\nSkipped: ' + '; '.join(f'{k} ({v})'
                                          for k, v in skipped.items()) + '\n'
    text += (f'\n{meta["fields"]} {meta["preset"]} fields of '
             f'{meta["size"]}x{meta["size"]}, wall time '
             f'{meta["wall_seconds"]} s, max RSS {meta["max_rss_mib"]} MiB.\n')
    with open(os.path.join(args.out, 'summary.md'), 'w') as fh:
        fh.write(text)
    with open(os.path.join(args.out, 'meta.json'), 'w') as fh:
        json.dump(meta, fh, indent=1, default=str)
    if not args.no_plots and records:
        plot_curves(curves, args.out)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
