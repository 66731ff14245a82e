#!/usr/bin/env python
"""
Scaling benchmark: wall time and peak memory against image size and
source density, astropais beside photutils.

Every point runs in its own child process, so that its peak resident
memory (``ru_maxrss`` of the child) is its own.  Three stages can be
measured:

``catalog``
    A catalog of a fixed segmentation: photutils'
    `~photutils.segmentation.SourceCatalog` and
    `~astropais.segmentation.WeightedSourceCatalog` on a weighted
    segmentation of photutils' detection footprint (each footprint pixel shared between its three
    nearest sources in proportion to their Gaussian profiles), both
    ``to_table()`` (the default columns, Kron included) on the same
    segmentation (photutils gets its disjoint label map).  No network.
``deblend``
    Detection + deblending + catalog: photutils' ``SourceFinder`` and
    ``SourceCatalog`` beside `~astropais.segmentation.PAISDeblender` (the
    shipped model) and ``WeightedSourceCatalog``.
``background``
    The constant background and noise of the field: astropy's
    `~astropy.stats.sigma_clipped_stats` on every pixel in float64 (what
    photutils' users write, and what astropais did before; ``photutils``
    rows) beside `~astropais.segmentation.estimate_background` (its
    `~astropais.segmentation.background.sample_grid` of at most 2**22
    pixels).  ``background`` and ``noise`` are recorded.
``phases``
    Where the deblender and the catalog hold memory: each phase of a
    ``PAISDeblender`` call and of ``WeightedSourceCatalog(...).to_table()``
    on the field, with the NumPy memory (``tracemalloc``: not
    TensorFlow's, not the field's) live before it, at its peak and after
    it, in bytes a pixel.
``construct``
    The time to construct a ``PAISDeblender`` with the shipped model
    (``seconds``: the Keras import and the model load; no network pass),
    and to its first result on the field (``first_result_seconds``).
``dask``
    `~astropais.segmentation.mosaic.DaskDeblender` on a
    ``LocalCluster(n_workers=n, threads_per_worker=1)`` for each ``n`` of
    ``--workers``: a warm-up call on the field's corner (each worker
    loads and traces the network), then two timed calls on the field
    (``seconds``: the faster; ``calls``: both) and their network passes
    (``predict_sparse_pcr``, the part on the workers: ``network``).

The fields are Gaussian sources (sigma 1.5-3 px) at a given density
(sources per 1000 x 1000 pixels) on unit Gaussian noise.

Usage::

    python benchmarks/scaling.py --stage catalog --sizes 1024 2048 \\
        --densities 500 --out scaling.json

Writes one JSON record per point (size, density, stage, method, seconds,
peak RSS in MiB, bytes per pixel, number of sources) and prints a table.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))


def make_field(size, density, seed=0):
    """
    A ``size x size`` float32 field of Gaussian sources on unit noise.

    Returns the image and the ``(y, x, sigma, flux)`` of every source.
    """
    rng = np.random.default_rng(seed)
    n = max(1, int(round(density * size * size / 1e6)))
    y = rng.uniform(0, size, n)
    x = rng.uniform(0, size, n)
    sigma = rng.uniform(1.5, 3.0, n)
    flux = 10 ** rng.uniform(2.0, 3.5, n)
    # Drawn in float32 (no float64 copy of the field in the peak memory).
    image = rng.standard_normal((size, size), dtype=np.float32)
    half = 12
    ky, kx = np.mgrid[-half:half + 1, -half:half + 1]
    # A loop over sources: each adds its stamp in place.
    for yi, xi, si, fi in zip(y, x, sigma, flux):
        iy, ix = int(yi), int(xi)
        y0, y1 = max(iy - half, 0), min(iy + half + 1, size)
        x0, x1 = max(ix - half, 0), min(ix + half + 1, size)
        gy = ky[y0 - iy + half:y1 - iy + half, x0 - ix + half:x1 - ix + half]
        gx = kx[y0 - iy + half:y1 - iy + half, x0 - ix + half:x1 - ix + half]
        stamp = np.exp(-((gy + iy - yi) ** 2 + (gx + ix - xi) ** 2)
                       / (2 * si * si)) * fi / (2 * np.pi * si * si)
        image[y0:y1, x0:x1] += stamp.astype(np.float32)
    return image, np.column_stack([y, x, sigma, flux])


def soft_segmentation(image, sources, threshold=1.5, n_pixels=5, n=3):
    """
    photutils' detection segmentation and a weighted one on the same
    footprint: each footprint pixel shared between its ``n`` nearest
    sources (inside its detection segment) in proportion to their
    Gaussian profiles.
    """
    from photutils.segmentation import detect_sources
    from scipy import ndimage
    from scipy.spatial import cKDTree

    from astropais.pcr.sparse import PixelAttribution
    from astropais.segmentation import WeightedSegmentationImage

    detection = detect_sources(image, threshold, n_pixels)
    pixels = np.flatnonzero(detection.data)
    yy, xx = np.unravel_index(pixels, image.shape)
    centre_pix = np.clip(sources[:, :2].astype(int), 0, image.shape[0] - 1)
    parent = detection.data[centre_pix[:, 0], centre_pix[:, 1]]
    src, parent = sources[parent > 0], parent[parent > 0]
    # Segments without a source (noise peaks): one source at the centroid.
    empty = np.setdiff1d(detection.labels, parent)
    if empty.size:
        extra = np.asarray(ndimage.center_of_mass(
            detection.data > 0, detection.data, empty)).reshape(-1, 2)
        src = np.vstack([src, np.column_stack(
            [extra, np.full(len(empty), 2.0), np.ones(len(empty))])])
        parent = np.concatenate([parent, empty])
    k = min(n, len(src))
    dist, idx = cKDTree(src[:, :2]).query(np.column_stack([yy, xx]), k=k)
    dist, idx = dist.reshape(len(pixels), k), idx.reshape(len(pixels), k)
    sigma, flux = src[idx, 2], src[idx, 3]
    weights = flux / sigma ** 2 * np.exp(-dist ** 2 / (2 * sigma ** 2))
    # Sources of other detection segments take no share; a pixel left
    # without one goes to a source of its own segment.
    segment = detection.data.ravel()[pixels]
    weights[parent[idx] != segment[:, None]] = 0.0
    orphan = ~(weights.sum(axis=1) > 0)
    representative = np.zeros(detection.max_label + 1, dtype=np.int64)
    representative[parent[::-1]] = np.arange(len(src))[::-1]
    idx[orphan, 0] = representative[segment[orphan]]
    weights[orphan] = 0.0
    weights[orphan, 0] = 1.0
    labels = idx + 1
    weights /= weights.sum(axis=1, keepdims=True)
    attribution = PixelAttribution(image.shape, pixels, labels, weights,
                                   src[:, :2])
    # Sources without pixels: drop and renumber through the segmentation.
    segm = WeightedSegmentationImage(attribution)
    segm.relabel_consecutive()
    return detection, segm


def _traced_phases(deblender, image, threshold):
    """Each phase's traced memory (bytes a pixel) and time, as a list."""
    import functools
    import tracemalloc

    import astropais.pcr as pcr
    import astropais.segmentation.deblender as module
    from astropais.pcr.sparse import SparsePCR
    from astropais.segmentation import (PAISDeblender,
                                        WeightedSegmentationImage,
                                        WeightedSourceCatalog)

    phases, depth, pixels = [], [0], image.size

    def traced(owner, name, label):
        function = getattr(owner, name)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if depth[0]:
                return function(*args, **kwargs)
            depth[0] += 1
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                after, peak = tracemalloc.get_traced_memory()
                phases.append({'phase': label, 'before': before / pixels,
                               'peak': peak / pixels,
                               'after': after / pixels,
                               'seconds': time.perf_counter() - start})
                depth[0] -= 1
        setattr(owner, name, wrapper)
        return owner, name, function

    patched = [traced(*spec) for spec in (
        (module, 'prepare_image', 'prepare_image'),
        (PAISDeblender, '_detect', 'detection'),
        (module, 'estimate_noise', 'estimate_noise'),
        (PAISDeblender, 'predict_sparse_pcr', 'network (sparse PCR)'),
        (SparsePCR, 'find_centres', 'find_centres'),
        (pcr, 'missing_peaks', 'missing_peaks'),
        (SparsePCR, 'decode', 'decode'),
        (pcr, 'prune_centres', 'prune_centres'),
        (module, 'WeightedSegmentationImage', 'label map'),
        (WeightedSegmentationImage, 'relabel_consecutive',
         'relabel_consecutive'),
        (WeightedSourceCatalog, '__init__', 'catalog'),
        (WeightedSourceCatalog, 'to_table', 'to_table'))]
    tracemalloc.start()
    try:
        segm = deblender(image, threshold)
        WeightedSourceCatalog(image, segm, progress_bar=False).to_table()
    finally:
        tracemalloc.stop()
        # A loop over the (few) patched functions: put back.
        for owner, name, function in patched:
            setattr(owner, name, function)
    return phases, int(segm.n_labels)


def _peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _dask_calls(image, threshold, workers):
    """Two timed DaskDeblender calls (and their network passes) on
    ``workers`` local worker processes of one thread, after a warm-up."""
    from distributed import Client, LocalCluster

    from astropais.segmentation.mosaic import DaskDeblender

    network = []
    predict = DaskDeblender.predict_sparse_pcr

    def timed(self, *args):
        start = time.perf_counter()
        try:
            return predict(self, *args)
        finally:
            network.append(time.perf_counter() - start)

    # (patched on the class in this process only: the workers get the
    # deblender by reference to its class and never call it)
    DaskDeblender.predict_sparse_pcr = timed
    try:
        with LocalCluster(n_workers=workers, threads_per_worker=1,
                          dashboard_address=None) as cluster, \
                Client(cluster) as client:
            deblender = DaskDeblender(5, client=client, progress_bar=False)
            deblender(np.array(image[:2048, :2048]), threshold)
            calls = []
            # Two calls, after the network was loaded and traced on every
            # worker.
            for _ in range(2):
                start = time.perf_counter()
                segm = deblender(image, threshold)
                calls.append(time.perf_counter() - start)
    finally:
        DaskDeblender.predict_sparse_pcr = predict
    return calls, network[1:], int(segm.n_labels)


def run_point(stage, method, size, density, seed, threshold=3.0,
              repeat=False, workers=1):
    """Measure one point in this process; return its record."""
    warnings.simplefilter('ignore')
    image, sources = make_field(size, density, seed)
    record = {'stage': stage, 'method': method, 'size': size,
              'density': density, 'threshold': threshold}
    if stage == 'dask':
        calls, network, record['n_sources'] = _dask_calls(image, threshold,
                                                          workers)
        record.update(workers=workers, calls=calls, seconds=min(calls),
                      network=network)
    elif stage == 'construct':
        start = time.perf_counter()
        from astropais.segmentation import PAISDeblender
        deblender = PAISDeblender(5, progress_bar=False)
        record['seconds'] = time.perf_counter() - start
        segm = deblender(image, threshold)
        # Time to first result: import, construction and the first call.
        record['first_result_seconds'] = time.perf_counter() - start
        record['n_sources'] = 0 if segm is None else int(segm.n_labels)
    elif stage == 'phases':
        from astropais.segmentation import PAISDeblender
        deblender = PAISDeblender(5, progress_bar=False)
        start = time.perf_counter()
        record['phases'], record['n_sources'] = _traced_phases(
            deblender, image, threshold)
        record['seconds'] = time.perf_counter() - start
    elif stage == 'background':
        from astropy.stats import sigma_clipped_stats

        from astropais.segmentation import estimate_background
        base_mib = _peak_mib()
        start = time.perf_counter()
        if method == 'photutils':
            _, background, noise = sigma_clipped_stats(
                image.astype(np.float64), sigma=3.0, maxiters=10)
        else:
            sky = estimate_background(image)
            background, noise = sky.background, sky.background_rms
        record['seconds'] = time.perf_counter() - start
        record['background'] = float(background)
        record['noise'] = float(noise)
        record['setup_peak_mib'] = base_mib
    elif stage == 'catalog':
        from photutils.segmentation import SegmentationImage, SourceCatalog

        from astropais.segmentation import WeightedSourceCatalog
        _, segm = soft_segmentation(image, sources, threshold)
        base_mib = _peak_mib()
        start = time.perf_counter()
        if method == 'photutils':
            table = SourceCatalog(image, SegmentationImage(segm.data),
                                  progress_bar=False).to_table()
        else:
            table = WeightedSourceCatalog(image, segm,
                                          progress_bar=False).to_table()
        record['seconds'] = time.perf_counter() - start
        record['n_sources'] = len(table)
        record['setup_peak_mib'] = base_mib
    elif stage == 'deblend':
        from photutils.segmentation import SourceCatalog, SourceFinder
        if method == 'astropais':
            from astropais.segmentation import (PAISDeblender,
                                                WeightedSourceCatalog)
            deblender = PAISDeblender(5, progress_bar=False)
        base_mib = _peak_mib()
        start = time.perf_counter()
        if method == 'photutils':
            segm = SourceFinder(5, progress_bar=False)(image, threshold)
            table = SourceCatalog(image, segm, progress_bar=False).to_table()
        else:
            segm = deblender(image, threshold)
            table = WeightedSourceCatalog(image, segm,
                                          progress_bar=False).to_table()
        record['seconds'] = time.perf_counter() - start
        record['n_sources'] = len(table)
        record['setup_peak_mib'] = base_mib
        if repeat:
            # A second call on the same field: no TensorFlow tracing, as
            # for every image after the first in one process.
            start = time.perf_counter()
            if method == 'photutils':
                segm = SourceFinder(5, progress_bar=False)(image, threshold)
                SourceCatalog(image, segm, progress_bar=False).to_table()
            else:
                segm = deblender(image, threshold)
                WeightedSourceCatalog(image, segm,
                                      progress_bar=False).to_table()
            record['second_call_seconds'] = time.perf_counter() - start
    else:
        raise ValueError(f'unknown stage {stage!r}')
    record['peak_rss_mib'] = _peak_mib()
    record['bytes_per_pixel'] = record['peak_rss_mib'] * 2 ** 20 / size ** 2
    if 'setup_peak_mib' in record:
        # What the measured call added to the peak (above the field, the
        # interpreter and, for astropais, TensorFlow and the model).
        record['added_bytes_per_pixel'] = (
            (record['peak_rss_mib'] - record['setup_peak_mib'])
            * 2 ** 20 / size ** 2)
    return record


def _child(stage, method, size, density, seed, threshold, timeout,
           repeat=False, workers=1):
    cmd = [sys.executable, os.path.abspath(__file__), '--child', stage,
           method, str(size), str(density), str(seed), str(threshold),
           str(int(repeat)), str(workers)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {'stage': stage, 'method': method, 'size': size,
                'density': density, 'error': f'timeout {timeout} s'}
    lines = [line for line in out.stdout.splitlines() if line.startswith('{')]
    if out.returncode or not lines:
        return {'stage': stage, 'method': method, 'size': size,
                'density': density,
                'error': (out.stderr.strip().splitlines() or ['?'])[-1]}
    return json.loads(lines[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--stage', choices=('catalog', 'deblend',
                                            'construct', 'background',
                                            'phases', 'dask'),
                        default='catalog')
    parser.add_argument('--sizes', type=int, nargs='+', default=[512, 1024])
    parser.add_argument('--densities', type=float, nargs='+',
                        default=[500.0])
    parser.add_argument('--methods', nargs='+',
                        default=['photutils', 'astropais'])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threshold', type=float, default=3.0,
                        help='detection threshold in units of the noise '
                             '(1.5 on unsmoothed unit noise detects '
                             'thousands of noise peaks per 1000 x 1000)')
    parser.add_argument('--timeout', type=float, default=1800.0)
    parser.add_argument('--out', default=None)
    parser.add_argument('--repeat', action='store_true',
                        help='deblend stage: also time a second call on '
                             'the same field (second_call_seconds; its '
                             'memory counts in the peak)')
    parser.add_argument('--workers', type=int, nargs='+', default=[1, 2],
                        help='dask stage: the numbers of local worker '
                             'processes (one thread each)')
    parser.add_argument('--child', nargs=8, default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        (stage, method, size, density, seed, threshold, repeat,
         workers) = args.child
        print(json.dumps(run_point(stage, method, int(size), float(density),
                                   int(seed), float(threshold),
                                   repeat=bool(int(repeat)),
                                   workers=int(workers))))
        return
    records = []
    for size in args.sizes:
        for density in args.densities:
            methods = ['astropais'] if args.stage in ('construct',
                                                      'phases', 'dask') \
                else args.methods
            # (the dask stage: one point a number of workers)
            for method, workers in [(m, n) for m in methods for n in (
                    args.workers if args.stage == 'dask' else [1])]:
                record = _child(args.stage, method, size, density, args.seed,
                                args.threshold, args.timeout, args.repeat,
                                workers)
                records.append(record)
                print(json.dumps(record), flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(records, f, indent=1)
    print(f"\n{'stage':9} {'method':10} {'size':>6} {'density':>7} "
          f"{'N':>7} {'seconds':>8} {'peak MiB':>9} {'B/px':>7} "
          f"{'added':>7} {'2nd call':>8}")
    for r in records:
        if 'error' in r:
            print(f"{r['stage']:9} {r['method']:10} {r['size']:6d} "
                  f"{r['density']:7.0f}  error: {r['error']}")
            continue
        print(f"{r['stage']:9} {r['method']:10} {r['size']:6d} "
              f"{r['density']:7.0f} {r.get('n_sources', 0):7d} "
              f"{r['seconds']:8.2f} {r['peak_rss_mib']:9.0f} "
              f"{r['bytes_per_pixel']:7.1f} "
              f"{r.get('added_bytes_per_pixel', float('nan')):7.1f} "
              f"{r.get('second_call_seconds', float('nan')):8.2f}")
        if 'workers' in r:
            print(f"    {r['workers']} worker(s): calls "
                  + ', '.join(f'{t:.2f}' for t in r['calls'])
                  + ' s, network passes '
                  + ', '.join(f'{t:.2f}' for t in r['network']) + ' s')
        for phase in r.get('phases', ()):
            print(f"    {phase['phase']:24} live before "
                  f"{phase['before']:5.1f}  peak {phase['peak']:5.1f}  "
                  f"after {phase['after']:5.1f} B/px  "
                  f"{phase['seconds']:6.1f} s")


if __name__ == '__main__':
    main()
