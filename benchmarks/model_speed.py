"""
CPU cost of candidate PCR network sizes, compared with photutils.

For each (depth, base filters) candidate: parameters, FLOPs per megapixel
(2 x multiply-adds of every convolution, counted from the layer shapes),
and CPU seconds per megapixel of a forward pass under every installed Keras
backend (TensorFlow and JAX, each in its own subprocess because the backend
is fixed per process).  In the same run, photutils
``SourceFinder(deblend=True)`` is timed on a simulated HST-like field.

Usage::

    python benchmarks/model_speed.py [--size 1024] [--repeats 3]
        [--field-size 2048] [--field-density 477] [--configs 3x8,3x16,4x8]
        [--out results.json]

Timings are the minimum over ``--repeats`` runs after one warm-up run
(which compiles); they depend on the machine and its load, so compare
ratios measured in the same run only.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np

__all__ = []

BACKENDS = [name for name in ('tensorflow', 'jax')
            if importlib.util.find_spec(name) is not None]


def parse_configs(text):
    """Parse ``'3x8,3x16'`` into ``[(3, 8), (3, 16)]``."""
    configs = []
    for item in text.split(','):
        depth, filters = item.lower().split('x')
        configs.append((int(depth), int(filters)))
    return configs


def conv_flops_per_mpix(model, size=256):
    """FLOPs per megapixel of the Conv2D layers (counted at ``size``)."""
    import keras
    sized = keras.models.clone_model(
        model, input_tensors=keras.Input((size, size, model.inputs[0].shape[-1])))
    total = 0
    # A loop over layers (tens of them): read each conv's output shape.
    for layer in sized.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, c_in, c_out = layer.kernel.shape
            _, h_out, w_out, _ = layer.output.shape
            total += 2 * h_out * w_out * kh * kw * c_in * c_out
    return total / (size * size) * 1e6


def worker(backend, configs, size, repeats):
    """Measure every config under the current backend; print JSON."""
    import keras

    from astropais.model import build_network
    assert keras.backend.backend() == backend
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, size, size, 1)).astype(np.float32)
    results = []
    for depth, filters in configs:
        keras.utils.set_random_seed(0)
        model = build_network(1, 3, depth=depth, base_filters=filters)
        start = time.perf_counter()
        model.predict(x, verbose=0)
        warm = time.perf_counter() - start
        times, cpu = [], []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            model.predict(x, verbose=0)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        results.append({
            'backend': backend, 'depth': depth, 'base_filters': filters,
            'params': int(model.count_params()),
            'gflops_per_mpix': conv_flops_per_mpix(model) / 1e9,
            'first_call_s': warm,
            's_per_mpix': min(times) / (size * size / 1e6),
            'cpu_s_per_mpix': min(cpu) / (size * size / 1e6),
        })
    print('RESULT ' + json.dumps(results))


def photutils_speed(field_size, repeats, density=None):
    """Seconds per megapixel of photutils SourceFinder(deblend=True)."""
    from astropy.convolution import convolve
    from photutils.segmentation import SourceFinder, make_2dgaussian_kernel

    from astropais.simulation import make_scene
    start = time.perf_counter()
    overrides = {} if density is None else {'density': density}
    scene = make_scene('hst', shape=(field_size, field_size), seed=1,
                       **overrides)
    simulate_s = time.perf_counter() - start
    kernel = make_2dgaussian_kernel(2.0, size=5)
    start = time.perf_counter()
    data = convolve(scene.image, kernel)
    convolve_s = time.perf_counter() - start
    finder = SourceFinder(n_pixels=5, deblend=True, progress_bar=False)
    times, cpu, segm = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        segm = finder(data, 1.5 * scene.noise_sigma)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    mpix = field_size * field_size / 1e6
    return {'field_size': field_size, 'n_true_sources': len(scene.catalog),
            'n_segments': int(segm.n_labels) if segm is not None else 0,
            'simulate_s': simulate_s, 'convolve_s_per_mpix': convolve_s / mpix,
            's_per_mpix': min(times) / mpix,
            'cpu_s_per_mpix': min(cpu) / mpix}


def main(argv=None):
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, default=1024,
                        help='side of the image fed to the network')
    parser.add_argument('--field-size', type=int, default=2048,
                        help='side of the simulated field for photutils')
    parser.add_argument('--field-density', type=float, default=477.0,
                        help='sources per arcmin^2 of the photutils field '
                             '(477: 2000 sources on 2048^2 hst pixels)')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--configs', default='3x8,3x16,4x8',
                        help='depth x base filters, comma separated')
    parser.add_argument('--out', help='write the results to this JSON file')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    configs = parse_configs(args.configs)
    if args.worker:
        worker(args.worker, configs, args.size, args.repeats)
        return 0

    rows = []
    for backend in BACKENDS:
        env = {**os.environ, 'KERAS_BACKEND': backend,
               'TF_CPP_MIN_LOG_LEVEL': '3'}
        proc = subprocess.run(
            [sys.executable, __file__, '--worker', backend, '--size',
             str(args.size), '--repeats', str(args.repeats), '--configs',
             args.configs], env=env, capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines()
                 if line.startswith('RESULT ')]
        if proc.returncode or not lines:
            print(proc.stderr[-2000:], file=sys.stderr)
            raise RuntimeError(f'{backend} worker failed')
        rows += json.loads(lines[-1][len('RESULT '):])
    phot = photutils_speed(args.field_size, args.repeats, args.field_density)

    print(f'photutils SourceFinder(deblend=True) on a {args.field_size}^2 '
          f'hst field ({phot["n_true_sources"]} sources, '
          f'{phot["n_segments"]} segments): {phot["s_per_mpix"]:.3f} s/Mpix '
          f'wall, {phot["cpu_s_per_mpix"]:.3f} CPU s/Mpix '
          f'(+ {phot["convolve_s_per_mpix"]:.3f} s/Mpix convolution)')
    print(f'network input {args.size}^2, min of {args.repeats} runs\n')
    print('| backend | depth | base filters | params | GFLOP/Mpix | wall s/Mpix '
          '| CPU s/Mpix | wall x photutils | CPU x photutils |')
    print('|---|---|---|---|---|---|---|---|---|')
    for row in rows:
        ratio = row['s_per_mpix'] / phot['s_per_mpix']
        cpu_ratio = row['cpu_s_per_mpix'] / phot['cpu_s_per_mpix']
        print(f'| {row["backend"]} | {row["depth"]} | {row["base_filters"]} '
              f'| {row["params"]:,} | {row["gflops_per_mpix"]:.2f} '
              f'| {row["s_per_mpix"]:.3f} | {row["cpu_s_per_mpix"]:.3f} '
              f'| {ratio:.2f} | {cpu_ratio:.2f} |')
    if args.out:
        with open(args.out, 'w') as handle:
            json.dump({'network': rows, 'photutils': phot,
                       'size': args.size, 'repeats': args.repeats}, handle,
                      indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
