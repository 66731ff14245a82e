"""
Plot the recorded scaling measurements of docs/scaling.rst.

Time and peak memory against the image size, astropais beside
photutils, with the Dask path's points (1 and 2 local workers) and
``astropais deblend`` on the 16384 x 16384 file.  Nothing is measured
here: every number below was copied from docs/scaling.rst, where it
stands with the command that measured it (given beside each group),
and only measured points are drawn.

Usage::

    python benchmarks/plot_scaling.py --out docs/benchmarks/scaling.png

Examples
--------
>>> from plot_scaling import DEBLEND  # doctest: +SKIP
>>> DEBLEND[0]['size']                # doctest: +SKIP
1024
"""

import argparse

# python benchmarks/scaling.py --stage deblend --sizes 1024 2048 4096
#     --densities 500   (and --sizes 8192 --densities 500 --timeout 280,
#     the row at bb2a6b1); detection, deblending and catalog, seconds and
#     peak RSS (MiB) of the process, training and simulation paused.
DEBLEND = [
    dict(size=1024, sources=493, photutils=(1.22, 192),
         astropais=(1.57, 1068)),
    dict(size=2048, sources=1979, photutils=(4.16, 234),
         astropais=(4.57, 1190)),
    dict(size=4096, sources=7936, photutils=(17.26, 434),
         astropais=(26.07, 1647)),
    dict(size=8192, sources=31612, photutils=(82.08, 1235),
         astropais=(109.89, 1787)),
]

# python benchmarks/scaling.py --stage deblend --sizes 4096
#     --densities 2.98 --repeat   (a sparse field: 49 sources)
SPARSE = dict(size=4096, sources=49, photutils=(1.30, 521),
              astropais=(2.42, 1263))

# python benchmarks/scaling.py --stage dask --sizes 4096 --workers 1 2
#     (DaskDeblender, the faster of two calls; deblending only)
DASK = {1: dict(size=4096, seconds=47.46), 2: dict(size=4096,
                                                   seconds=29.50)}

# /usr/bin/time -v astropais deblend big.fits -o out   (16384 x 16384
#     float32 FITS, 1.5 sigma, 117 053 rows; under nice with other jobs
#     running, so only the memory is plotted)
CLI_16384 = dict(size=16384, peak_mib=4057)


def plot(out):
    """Draw the two panels into ``out``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    sizes = [row['size'] for row in DEBLEND]
    fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(10, 4))
    # A loop over the two methods (and their colours).
    for method, colour in (('photutils', 'C0'), ('astropais', 'C1')):
        ax_time.plot(sizes, [row[method][0] for row in DEBLEND], 'o-',
                     color=colour, label=f'{method}, 500 / Mpix')
        ax_mem.plot(sizes, [row[method][1] for row in DEBLEND], 'o-',
                    color=colour, label=f'{method}, 500 / Mpix')
        ax_time.plot(SPARSE['size'], SPARSE[method][0], 's', color=colour,
                     mfc='none', label=f'{method}, 49 sources')
        ax_mem.plot(SPARSE['size'], SPARSE[method][1], 's', color=colour,
                    mfc='none', label=f'{method}, 49 sources')
    for workers, marker in ((1, '^'), (2, 'v')):
        ax_time.plot(DASK[workers]['size'], DASK[workers]['seconds'],
                     marker, color='C2',
                     label=f'Dask, {workers} worker(s), deblend only')
    ax_mem.plot(CLI_16384['size'], CLI_16384['peak_mib'], 'D', color='C3',
                label='astropais deblend (CLI), 1.5 sigma')
    ax_mem.axhline(4096, color='C3', lw=0.8, ls=':')
    for ax, label in ((ax_time, 'seconds'), (ax_mem, 'peak RSS (MiB)')):
        ax.set_xscale('log', base=2)
        ax.set_yscale('log')
        ax.set_xlabel('image side (pixels)')
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.suptitle('Measured on 2 shared CPU cores (docs/scaling.rst)',
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='scaling.png')
    plot(parser.parse_args(argv).out)


if __name__ == '__main__':
    main()
