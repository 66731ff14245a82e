"""
Benchmark of scarlet2 labels (`astropais.labels`): accuracy against
simulated truth and speed.

Accuracy: for each simulated scene (`astropais.simulation.make_scene`),
scarlet2 is fitted at the true positions and its fractions are compared
with the true fractions (median per-pixel total-variation error over the
truth's source pixels, and over blended pixels only) and its fluxes with
the true fluxes (median relative error), for each morphology model.

Speed: one larger scene is labelled tile by tile (`fit_tiled`) and the
wall time is reported per source and per megapixel, with peak memory.

Usage::

    python benchmarks/labels_speed.py --scenes 6 --shape 64 \\
        --big 256 --morphologies sersic free --out labels_bench.json
"""

import argparse
import json
import os
import resource
import sys
import time
import warnings

import numpy as np


def _median(arrays, percentile=50):
    values = np.concatenate([np.zeros(0), *arrays])
    return float(np.percentile(values, percentile)) if values.size else None


def _accuracy(preset, shape, seeds, morphology, max_iter):
    from astropais.labels import fit_scene, label_accuracy, prepare_inputs
    from astropais.labels.tiles import clear_jax_caches
    from astropais.simulation import make_scene

    pixel_errors, blended_errors, flux_errors = [], [], []
    n_sources = n_dropped = n_fallback = 0
    seconds, cpu_seconds = [], []
    for seed in seeds:
        scene = make_scene(preset, shape=(shape, shape), seed=seed)
        if len(scene.catalog) == 0:
            continue
        inputs = prepare_inputs(scene.image, scene.psf, scene.catalog,
                                noise_sigma=scene.noise_sigma)
        start, cpu_start = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            fit = fit_scene(inputs, morphology=morphology, max_iter=max_iter)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
        scores = label_accuracy(fit, scene.sources, scene.noise_sigma)
        # Per-pixel errors of every scene, pooled.
        pixel_errors.append(scores['fraction_errors'])
        blended_errors.append(scores['fraction_errors'][scores['blended']])
        flux_errors.extend(scores['flux_errors'][np.isfinite(
            scores['flux_errors'])])
        n_sources += scores['n_sources']
        n_dropped += scores['n_dropped']
        n_fallback += int(np.sum(fit.initialisation == 'compact'))
        clear_jax_caches()
    return {
        'preset': preset, 'shape': shape, 'morphology': morphology,
        'max_iter': max_iter, 'n_scenes': len(seconds),
        'n_sources': n_sources, 'n_dropped': n_dropped,
        'n_fallback_initialisation': n_fallback,
        'n_pixels': int(sum(e.size for e in pixel_errors)),
        'n_blended_pixels': int(sum(e.size for e in blended_errors)),
        'median_fraction_error': _median(pixel_errors),
        'median_fraction_error_blended': _median(blended_errors),
        'p90_fraction_error_blended': _median(blended_errors, 90),
        'median_flux_error': _median([flux_errors]),
        'p90_flux_error': _median([flux_errors], 90),
        'seconds_per_scene_median': float(np.median(seconds)),
        'seconds_per_source': float(np.sum(seconds) / max(n_sources, 1)),
        'cpu_seconds_per_source': float(np.sum(cpu_seconds)
                                        / max(n_sources, 1)),
        'load_average_1min': os.getloadavg()[0],
    }


def _speed(preset, shape, seed, morphology, max_iter, tile, margin):
    from astropais.labels import fit_tiled, prepare_inputs
    from astropais.simulation import make_scene

    scene = make_scene(preset, shape=(shape, shape), seed=seed)
    inputs = prepare_inputs(scene.image, scene.psf, scene.catalog,
                            noise_sigma=scene.noise_sigma)
    start, cpu_start = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        fit = fit_tiled(inputs, tile_shape=(tile, tile), margin=margin,
                        morphology=morphology, max_iter=max_iter)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    n = len(scene.catalog)
    return {
        'preset': preset, 'shape': shape, 'morphology': morphology,
        'max_iter': max_iter, 'tile': tile, 'margin': margin,
        'n_sources': n, 'n_kept': int(len(fit.index)),
        'n_dropped': int(len(fit.dropped)), 'seconds': seconds,
        'seconds_per_source': seconds / max(n, 1),
        'seconds_per_megapixel': seconds / (shape * shape / 1e6),
        'cpu_seconds': cpu_seconds,
        'cpu_seconds_per_source': cpu_seconds / max(n, 1),
        'cpu_seconds_per_megapixel': cpu_seconds / (shape * shape / 1e6),
        'load_average_1min': os.getloadavg()[0],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--presets', nargs='+', default=['lsst', 'hst'])
    parser.add_argument('--scenes', type=int, default=6)
    parser.add_argument('--shape', type=int, default=64)
    parser.add_argument('--seed0', type=int, default=0,
                        help='first scene seed')
    parser.add_argument('--morphologies', nargs='+',
                        default=['sersic', 'free'])
    parser.add_argument('--max-iter', type=int, default=200)
    parser.add_argument('--big', type=int, default=256,
                        help='side of the speed scene (0: skip)')
    parser.add_argument('--tile', type=int, default=64)
    parser.add_argument('--margin', type=int, default=16)
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args(argv)

    results = {'accuracy': [], 'speed': []}
    for preset in args.presets:
        for morphology in args.morphologies:
            row = _accuracy(preset, args.shape,
                            range(args.seed0, args.seed0 + args.scenes),
                            morphology, args.max_iter)
            results['accuracy'].append(row)
            print(json.dumps(row), flush=True)
    if args.big:
        for morphology in args.morphologies:
            row = _speed(args.presets[0], args.big, 100, morphology,
                         args.max_iter, args.tile, args.margin)
            results['speed'].append(row)
            print(json.dumps(row), flush=True)
    results['peak_rss_mib'] = resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'peak RSS {results["peak_rss_mib"]:.0f} MiB')
    if args.out:
        with open(args.out, 'w') as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
