"""
Speed and memory of the PCR encoder and decoder against photutils.

One 2048 x 2048 simulated HST-like field with 2000 sources
(`astropais.simulation.make_scene`, trimmed to exactly 2000 sources); in
the same run, interleaved ``--repeat`` times:

* ``encode(sources, centres, n=3, sigma=2)`` of the noise-free truth;
* ``decode`` of that PCR with peak finding (no known centres) on three
  footprints: photutils' detection footprint; the source mask of the
  training labels (`astropais.datasets.truth_source_mask`: model flux above
  a fraction of the noise, dilated); and every pixel where any model is
  > 0 (the encoder's default ``source_mask``, nearly the whole image
  because GalSim stamps have faint wings);
* ``photutils.segmentation.SourceFinder(n_pixels=5, deblend=True)`` on the
  image convolved with a Gaussian of the PSF FWHM, threshold
  1.5 x noise sigma (the convolution is timed separately).

Times are wall-clock (``time.perf_counter``, median and minimum over the
repeats) and process CPU time (``time.process_time``, median; on a shared
machine it is steadier than wall time); ratios are of medians.  Peak
memory of each step is measured in a separate pass with `tracemalloc`
(numpy buffers are traced; scipy's KD-tree internals are not), and the
process's maximum resident set size
is reported at the end.

Usage::

    python benchmarks/pcr_speed.py [--size 2048] [--n-sources 2000]
                                   [--repeat 3] [--seed 1]
"""

import argparse
import resource
import time
import tracemalloc

import numpy as np


def make_field(size, n_sources, seed, **overrides):
    """A simulated field with exactly ``n_sources`` sources."""
    from astropais.pcr import SourceImages
    from astropais.simulation import get_preset, make_scene

    params = get_preset('hst')
    area = (size * params.pixel_scale / 60.0) ** 2
    # Poisson count: ask for 8 % more and keep the first n_sources.
    scene = make_scene('hst', shape=(size, size), seed=seed,
                       density=1.08 * n_sources / area, **overrides)
    if len(scene.sources) < n_sources:
        raise RuntimeError(f'only {len(scene.sources)} sources simulated')
    keep = slice(0, n_sources)
    sources = SourceImages(scene.sources.shape, scene.sources.cutouts[keep],
                           scene.sources.origins[keep])
    image = sources.total() + scene.noise
    return image, sources, scene.centres[keep], scene


def run_photutils(image, scene):
    """Convolve and run SourceFinder; return (segm, t_convolve, t_finder)."""
    from astropy.convolution import convolve
    from photutils.segmentation import SourceFinder, make_2dgaussian_kernel

    t0 = time.perf_counter()
    kernel = make_2dgaussian_kernel(scene.psf_fwhm_pixels, size=5)
    convolved = convolve(image, kernel)
    t1 = time.perf_counter()
    finder = SourceFinder(n_pixels=5, deblend=True, progress_bar=False)
    segm = finder(convolved, threshold=1.5 * scene.noise_sigma)
    t2 = time.perf_counter()
    return segm, t1 - t0, t2 - t1


def peak_memory(func, *args, **kwargs):
    """Peak traced memory (MiB) of one call."""
    tracemalloc.start()
    func(*args, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2 ** 20


def main(argv=None):
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--size', type=int, default=2048)
    parser.add_argument('--n-sources', type=int, default=2000)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--mag-range', type=float, nargs=2, default=None,
                        help='override the preset magnitude range, e.g. '
                             '19 25 for a field photutils mostly detects')
    args = parser.parse_args(argv)
    overrides = {}
    if args.mag_range:
        overrides['mag_range'] = tuple(args.mag_range)

    from astropais.pcr import decode, encode

    t0 = time.perf_counter()
    image, sources, centres, scene = make_field(args.size, args.n_sources,
                                                args.seed, **overrides)
    print(f'simulated {args.size}x{args.size}, {len(sources)} sources in '
          f'{time.perf_counter() - t0:.1f} s')

    from astropais.datasets import truth_source_mask
    label_mask = truth_source_mask(sources.total(), scene.noise_sigma)

    times = {k: [] for k in ('encode', 'decode_footprint', 'decode_label',
                             'decode_mask', 'convolve', 'photutils')}
    cpu = {k: [] for k in times}

    def timed(key, func, *args_, **kwargs):
        wall, proc = time.perf_counter(), time.process_time()
        out = func(*args_, **kwargs)
        times[key].append(time.perf_counter() - wall)
        cpu[key].append(time.process_time() - proc)
        return out

    for _ in range(args.repeat):
        pcr = timed('encode', encode, sources, centres, n=3, sigma=2.0)
        proc = time.process_time()
        segm, t_conv, t_find = run_photutils(image, scene)
        proc = time.process_time() - proc
        times['convolve'].append(t_conv)
        times['photutils'].append(t_find)
        # CPU time of the convolution is not separated; attribute it in
        # proportion to wall time.
        cpu['convolve'].append(proc * t_conv / (t_conv + t_find))
        cpu['photutils'].append(proc * t_find / (t_conv + t_find))
        footprint = segm.data > 0
        att_fp = timed('decode_footprint', decode, pcr.heatmap, pcr.vectors,
                       pcr.fractions, footprint)
        timed('decode_label', decode, pcr.heatmap, pcr.vectors,
              pcr.fractions, label_mask)
        att = timed('decode_mask', decode, pcr.heatmap, pcr.vectors,
                    pcr.fractions, pcr.source_mask)

    memory = {
        'encode': peak_memory(encode, sources, centres, n=3, sigma=2.0),
        'decode_footprint': peak_memory(decode, pcr.heatmap, pcr.vectors,
                                        pcr.fractions, footprint),
        'decode_label': peak_memory(decode, pcr.heatmap, pcr.vectors,
                                    pcr.fractions, label_mask),
        'decode_mask': peak_memory(decode, pcr.heatmap, pcr.vectors,
                                   pcr.fractions, pcr.source_mask),
        'photutils': peak_memory(run_photutils, image, scene),
    }

    ref = np.median(times['photutils'])
    ref_cpu = np.median(cpu['photutils'])
    print(f'\nfootprint pixels: photutils segmentation '
          f'{np.count_nonzero(footprint)}, label source mask '
          f'{np.count_nonzero(label_mask)}, all model pixels '
          f'{np.count_nonzero(pcr.source_mask)} of {args.size ** 2}')
    print(f'photutils sources: {segm.n_labels}; decoded centres: '
          f'{att.n_sources} (mask), {att_fp.n_sources} (footprint); true '
          f'{len(sources)}')
    print(f'\n{"step":<24}{"wall med":>9}{"wall min":>9}{"/ phot":>8}'
          f'{"cpu med":>9}{"/ phot":>8}{"peak MiB":>10}')
    for key, label in [('encode', 'encode'),
                       ('decode_footprint', 'decode (det. footprint)'),
                       ('decode_label', 'decode (label mask)'),
                       ('decode_mask', 'decode (all model px)'),
                       ('convolve', 'photutils convolve'),
                       ('photutils', 'photutils SourceFinder')]:
        med, low = np.median(times[key]), np.min(times[key])
        cmed = np.median(cpu[key])
        mem = memory.get(key)
        mem = f'{mem:10.0f}' if mem is not None else f'{"":>10}'
        print(f'{label:<24}{med:9.2f}{low:9.2f}{med / ref:8.2f}'
              f'{cmed:9.2f}{cmed / ref_cpu:8.2f}{mem}')
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'\nprocess max RSS: {maxrss:.0f} MiB; repeats: {args.repeat}')


if __name__ == '__main__':
    main()
