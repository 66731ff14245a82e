#!/usr/bin/env python
"""
Speed of the scene generator and size of simulated datasets.

Measures, for one preset:

1. scenes per second for ``--crop-size`` crops (``make_scene``), with one
   process and with ``--processes`` worker processes (one scene per task);
2. the wall time and peak memory of one ``--field-size`` field with about
   ``--field-sources`` sources (the density is set to give that mean);
3. the size on disk of a dataset written by ``simulate_dataset`` with
   ``--dataset-crops`` crops of ``--dataset-crop-size`` pixels (PCR labels
   included), and that size extrapolated linearly to 1000 crops.

Example::

    python benchmarks/simulation_speed.py --preset hst --processes 2

Prints a JSON record (and writes it to ``--out`` if given).  No number is
ever invented: every value is measured in this run (wall and, where one
process does the work, CPU seconds: on a shared machine the CPU time is
the fairer measure), except the
"per 1000 crops" size, which is the measured size scaled by
1000 / dataset-crops and labelled as such.
"""

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor


def _one_scene(task):
    from astropais.simulation import make_scene
    preset, size, seed = task
    scene = make_scene(preset, shape=(size, size), seed=seed)
    return len(scene.catalog)


def scenes_per_second(preset, size, n_scenes, processes):
    """Time ``n_scenes`` scenes with ``processes`` workers (1 = in process)."""
    tasks = [(preset, size, seed) for seed in range(n_scenes)]
    _one_scene((preset, size, 10 ** 6))  # warm up GalSim caches and imports
    cpu = None
    if processes == 1:
        start, cpu_start = time.perf_counter(), time.process_time()
        counts = [_one_scene(t) for t in tasks]
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    else:
        with ProcessPoolExecutor(processes) as pool:
            list(pool.map(_one_scene, [(preset, size, 10 ** 6 + i)
                                       for i in range(processes)]))
            start = time.perf_counter()
            counts = list(pool.map(_one_scene, tasks))
            elapsed = time.perf_counter() - start
    return {'processes': processes, 'scenes': n_scenes,
            'seconds': round(elapsed, 3),
            'cpu_seconds_this_process': None if cpu is None else round(cpu, 3),
            'scenes_per_second': round(n_scenes / elapsed, 3),
            'mean_sources_per_scene': round(sum(counts) / n_scenes, 2)}


def big_field(preset, size, n_sources):
    """Time one large field with about ``n_sources`` sources."""
    from astropais.simulation import get_preset, make_scene
    params = get_preset(preset)
    area = (size * params.pixel_scale / 60.0) ** 2
    density = n_sources / area
    tracemalloc.start()
    start, cpu_start = time.perf_counter(), time.process_time()
    scene = make_scene(preset, shape=(size, size), seed=1, density=density)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    stamp_pixels = sum(c.size for c in scene.sources.cutouts)
    return {'shape': [size, size], 'density_per_arcmin2': round(density, 1),
            'sources': len(scene.catalog), 'seconds': round(elapsed, 3),
            'cpu_seconds': round(cpu, 3),
            'sources_per_second': round(len(scene.catalog) / elapsed, 1),
            'tracemalloc_peak_mib': round(peak / 2 ** 20, 1),
            'truth_stamp_pixels_per_source': round(
                stamp_pixels / max(len(scene.catalog), 1), 1)}


def dataset_size(preset, crop_size, n_crops):
    """Write a dataset and measure its size on disk."""
    from astropais.simulation import simulate_dataset
    directory = tempfile.mkdtemp(prefix='astropais-sim-bench-')
    try:
        start = time.perf_counter()
        ds = simulate_dataset(os.path.join(directory, 'ds'), n_crops,
                              preset=preset, crop_size=crop_size, seed=0)
        elapsed = time.perf_counter() - start
        total = sum(os.path.getsize(os.path.join(directory, 'ds', f))
                    for f in os.listdir(os.path.join(directory, 'ds')))
        n_sources = sum(len(s.catalog) for s in ds)
    finally:
        shutil.rmtree(directory)
    return {'crops_written': n_crops, 'crop_size': crop_size,
            'write_seconds': round(elapsed, 2),
            'crops_per_second': round(n_crops / elapsed, 2),
            'mean_sources_per_crop': round(n_sources / n_crops, 2),
            'measured_bytes': total,
            'mib_per_1000_crops_extrapolated': round(
                total * 1000 / n_crops / 2 ** 20, 1)}


def main(argv=None):
    """Run the benchmark; print and optionally save a JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--preset', default='hst')
    parser.add_argument('--crop-size', type=int, default=256)
    parser.add_argument('--scenes', type=int, default=40)
    parser.add_argument('--processes', type=int, default=2)
    parser.add_argument('--field-size', type=int, default=2048)
    parser.add_argument('--field-sources', type=int, default=2000)
    parser.add_argument('--dataset-crops', type=int, default=100)
    parser.add_argument('--dataset-crop-size', type=int, default=64)
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)

    import galsim
    import numpy as np
    from astropais import __version__
    record = {'preset': args.preset, 'astropais': __version__,
              'galsim': galsim.__version__, 'numpy': np.__version__,
              'python': platform.python_version(),
              'cpu_count': os.cpu_count(), 'machine': platform.machine()}
    record['crops_1_process'] = scenes_per_second(
        args.preset, args.crop_size, args.scenes, 1)
    if args.processes > 1:
        record[f'crops_{args.processes}_processes'] = scenes_per_second(
            args.preset, args.crop_size, args.scenes, args.processes)
    record['field'] = big_field(args.preset, args.field_size,
                                args.field_sources)
    record['dataset'] = dataset_size(args.preset, args.dataset_crop_size,
                                     args.dataset_crops)
    record['ru_maxrss_mib'] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    text = json.dumps(record, indent=1)
    print(text)
    if args.out:
        with open(args.out, 'w') as fh:
            fh.write(text + '\n')


if __name__ == '__main__':
    main()
