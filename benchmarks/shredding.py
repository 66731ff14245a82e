#!/usr/bin/env python
"""
Shredding: do large galaxies and bright stars come out as one source?

Two parts, astropais beside photutils and SEP in one run:

* ``truth`` -- simulated fields, each holding one object with known truth:
  an isolated galaxy (half-light radius 10-200 px, Sérsic index 0.5-4 or a
  disk galaxy with bulge, knots, bar and arms; alone or with the preset's
  population of small sources on top of it) or a bright star (optical PSF
  with diffraction spikes, or ground-based seeing; saturated cores with
  bleed trails, some of them masked as users pass them).  For every
  object: the share of its true light in the method's footprint that each
  label receives (`astropais.metrics.label_shares` with the object's true
  share of each pixel, so that a neighbour's correct share of an
  overlapped pixel is not counted as taken from the object); it is *whole*
  when exactly one label holds more than 2 per cent and that label holds
  at least 95 per cent.
* ``real`` -- real pixels that ship with astropy and scikit-image
  (NGC 1316 from ``comp.fits``, M13 from ``m13.fits``, and the Hubble
  Deep Field in grey), all methods on the same footprint (2 sigma,
  ``make_2dgaussian_kernel(3, size=5)``, ``n_pixels=5``).  For the 20
  brightest objects of each image (photutils' detection segments before
  deblending, by flux: the 'parent' footprint, where every method is
  measured alike) and of photutils' deblended segments ('segment', which
  photutils holds whole by construction), and for three named objects:
  the labels holding more than 2 per cent of the object's footprint
  flux, and the largest share.  Overview PNGs show the segmentations side by side.

Example::

    python benchmarks/shredding.py --galaxies 60 --stars 40 \\
        --out benchmarks/results/shredding

Writes ``summary.md``, ``summary.json``, ``objects_truth.ecsv``,
``objects_real.ecsv`` and
``real_<image>.png`` to ``--out``.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from peers import (astropais_peer, pcr_oracle, photutils_peer,  # noqa: E402
                   sep_peer)
from peers.base import Unavailable  # noqa: E402

#: Objects named in the issue, ``(image, name, x, y)`` (0-based pixels).
NAMED_OBJECTS = (('ngc1316', 'NGC 1316 nucleus', 224, 145),
                 ('hdf', 'HDF spiked star', 755, 578),
                 ('hdf', 'HDF elliptical', 727, 473))
#: The three preset families the truth part cycles through.
TRUTH_PRESETS = ('hst', 'ground', 'hst_drizzled')
METHODS = ('photutils', 'sep', 'astropais', 'pcr_oracle_nearest',
           'pcr_oracle_brightest')


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--part', choices=('truth', 'real', 'both'),
                   default='both')
    p.add_argument('--galaxies', type=int, default=60,
                   help='simulated galaxy fields (default: %(default)s)')
    p.add_argument('--stars', type=int, default=40,
                   help='simulated bright-star fields (default: %(default)s)')
    p.add_argument('--seed', type=int, default=7000,
                   help='first seed (never used for training or choices)')
    p.add_argument('--model', default=None,
                   help='astropais model file (default: the shipped one)')
    p.add_argument('--n-top', type=int, default=20,
                   help='brightest objects per real image')
    p.add_argument('--out', default=os.path.join(_HERE, 'results',
                                                 'shredding'))
    p.add_argument('--no-plots', action='store_true')
    p.add_argument('--oracle', action='store_true',
                   help='truth part: also the PCR oracle under each slot '
                        'rule (nearest, brightest), the bound a perfect '
                        'network reaches')
    return p


def _loguniform(rng, lo, hi):
    from astropais.simulation.catalog import sample_loguniform
    return float(sample_loguniform(rng, (lo, hi)))


def _field_size(extent):
    """A square field holding most of an object, 256..1024 px, x32."""
    return int(np.clip(np.ceil(2 * extent / 32) * 32, 256, 1024))


def galaxy_field(seed, index):
    """One simulated field with one large galaxy; its truth and notes."""
    import galsim

    from astropais.simulation import get_preset, make_scene
    from astropais.simulation.bright import large_galaxy_profile
    from astropais.simulation.psf import compact_psf, make_psf
    from astropais.simulation.scene import draw_stamp

    rng = np.random.default_rng([seed, index])
    preset = TRUTH_PRESETS[index % len(TRUTH_PRESETS)]
    substructure = bool((index // 3) % 2)
    neighbours = bool((index // 6) % 2)
    hlr = _loguniform(rng, 10.0, 200.0)
    params = get_preset(preset)
    size = _field_size(2.5 * hlr)
    base = make_scene(params, shape=(size, size), seed=seed + index,
                      density=params.density if neighbours else 0.0,
                      large_galaxies=0.0, bright_stars=0.0,
                      saturation_snr=None)
    profile, _, fwhm = make_psf(params)
    kernel = compact_psf(profile, params, fwhm)
    sb = _loguniform(rng, 1.0, 30.0)
    flux = 2 * np.pi * hlr ** 2 * sb * base.noise_sigma
    g = rng.uniform(0, 0.5)
    beta = rng.uniform(0, np.pi)
    g1, g2 = g * np.cos(2 * beta), g * np.sin(2 * beta)
    scale = params.pixel_scale
    if substructure:
        galaxy, extent = large_galaxy_profile(flux, hlr, g1, g2, rng,
                                              int(rng.integers(1, 2 ** 30)),
                                              scale)
        kind = 'disk+substructure'
    else:
        n = np.round(rng.uniform(0.5, 4.0) * 4) / 4
        galaxy = galsim.Sersic(n, half_light_radius=hlr * scale, flux=flux,
                               trunc=5 * hlr * scale).shear(g1=g1, g2=g2)
        extent = 5 * hlr * np.sqrt((1 + g) / (1 - g))
        kind = 'sersic'
    centre = size / 2 - 0.5 + rng.uniform(-0.5, 0.5, 2)
    cutout, origin = draw_stamp(galsim.Convolve(galaxy, kernel), centre[1],
                                centre[0], int(extent + 6 * fwhm) + 1, scale,
                                clip_to=(size, size))
    obj = _paste(cutout, origin, (size, size))
    notes = dict(category='galaxy', preset=preset, kind=kind,
                 neighbours=neighbours, size=hlr, surface_snr=sb,
                 saturated=False, masked=False)
    return (base.image + obj, obj, base.noise_sigma, fwhm, None, notes,
            _truth(obj, centre, base))


def star_field(seed, index):
    """One simulated field with one bright star; its truth and notes."""
    from astropais.simulation import get_preset, make_scene
    from astropais.simulation.bright import bright_star_radius, saturate
    from astropais.simulation.psf import make_psf
    from astropais.simulation.scene import draw_stamp

    rng = np.random.default_rng([seed, 10_000 + index])
    preset = ('hst_drizzled', 'ground')[index % 2]
    params = get_preset(preset)
    base = make_scene(params, shape=(384, 384), seed=seed + 10_000 + index,
                      large_galaxies=0.0, bright_stars=0.0,
                      saturation_snr=None)
    profile, psf_image, fwhm = make_psf(params)
    sigma = base.noise_sigma
    peak = _loguniform(rng, 1e2, 1e5)
    flux = peak * sigma / psf_image.max()
    centre = 191.5 + rng.uniform(-0.5, 0.5, 2)
    cutout, origin = draw_stamp(profile.withFlux(flux), centre[1], centre[0],
                                bright_star_radius(peak, fwhm),
                                params.pixel_scale, clip_to=(384, 384))
    level = params.saturation_snr * sigma
    saturated = cutout.max() >= level
    flat = np.zeros((384, 384), dtype=bool)
    if saturated:
        cutout, flat_cutout = saturate(cutout, level)
        flat = _paste(flat_cutout.astype(float), origin, (384, 384)) > 0
    obj = _paste(cutout, origin, (384, 384))
    image = base.image + obj
    image = np.where(flat, level, np.minimum(image, level)) if saturated \
        else image
    mask = None
    masked = bool(saturated and rng.random() < 0.3)
    if masked:
        from scipy import ndimage
        mask = ndimage.binary_dilation(flat, iterations=1)
        image = np.where(mask, 0.0, image)
    notes = dict(category='star', preset=preset, kind='star',
                 neighbours=True, size=0.0, surface_snr=peak,
                 saturated=bool(saturated), masked=masked)
    return image, obj, sigma, fwhm, mask, notes, _truth(obj, centre, base)


def _truth(obj, centre, base):
    """Every source of a field, the object first: (SourceImages, centres)."""
    from astropais.pcr import SourceImages
    sources = SourceImages(obj.shape, [obj, *base.sources.cutouts],
                           np.vstack([[[0, 0]], base.sources.origins]))
    return sources, np.vstack([[centre], base.centres])


def _paste(cutout, origin, shape):
    from astropais.pcr import SourceImages
    return SourceImages(shape, [cutout], np.array([origin])).total()


def run_methods(image, sigma, kernel, deblender, mask=None, n_sigma=1.5):
    """Every method on one image, on the same footprint definition."""
    results, seconds = {}, {}
    start = time.perf_counter()
    results['photutils'] = photutils_peer.run_photutils(
        image, sigma, None, n_pixels=5, n_sigma=n_sigma, mask=mask,
        kernel=kernel)
    seconds['photutils'] = time.perf_counter() - start
    try:
        start = time.perf_counter()
        results['sep'] = sep_peer.run_sep(image, sigma, kernel, n_pixels=5,
                                          n_sigma=n_sigma, mask=mask)
        seconds['sep'] = time.perf_counter() - start
    except ImportError:
        pass
    if deblender is not None:
        start = time.perf_counter()
        results['astropais'] = astropais_peer.run_astropais(
            deblender, image, sigma, n_sigma=n_sigma, kernel=kernel,
            mask=mask)
        seconds['astropais'] = time.perf_counter() - start
    return results, seconds


def run_oracles(image, truth, photutils_result, seconds):
    """The PCR oracle (truth encoded, then decoded in photutils' footprint)
    under each slot rule: what a perfect network could give."""
    from astropais.pcr import SLOT_RULES
    results = {}
    for rule in SLOT_RULES:
        start = time.perf_counter()
        results[f'pcr_oracle_{rule}'] = pcr_oracle.run_pcr_oracle(
            image, *truth, photutils_result.info['footprint'], slots=rule)
        seconds[f'pcr_oracle_{rule}'] = time.perf_counter() - start
    return results


def truth_part(args, deblender, log):
    """Score every simulated object; one row per object and method."""
    from astropais.metrics import label_shares, shredding_score
    from astropais.segmentation import detection_kernel

    rows = []
    fields = ([('galaxy', i) for i in range(args.galaxies)]
              + [('star', i) for i in range(args.stars)])
    for category, index in fields:
        make = galaxy_field if category == 'galaxy' else star_field
        image, obj, sigma, fwhm, mask, notes, truth = make(args.seed, index)
        kernel = detection_kernel(fwhm)
        results, seconds = run_methods(image, sigma, kernel, deblender, mask)
        if args.oracle:
            results.update(run_oracles(image, truth, results['photutils'],
                                       seconds))
        # The object's true share of each pixel: a method that splits an
        # overlapped pixel as the truth does takes none of its light.
        total = truth[0].total()
        fraction = np.divide(obj, total, out=np.zeros_like(obj),
                             where=total > 0).clip(0, 1)
        for method, result in results.items():
            shares = label_shares(result.attribution, obj,
                                  object_fraction=fraction)
            score = shredding_score(shares)
            rows.append(dict(notes, part='truth', field=index, method=method,
                             n_pieces=score.n_pieces,
                             main_share=score.main_share, whole=score.whole,
                             seconds=seconds[method],
                             megapixels=image.size / 1e6))
        log(f'{category} {index}: ' + ', '.join(
            f'{r["method"]} {r["n_pieces"]}/{r["main_share"]:.2f}'
            for r in rows[-len(results):]))
    return rows


def load_real_image(name):
    """
    One real image that ships with astropy or scikit-image.

    Returns
    -------
    image : `~numpy.ndarray`
        float64, the sigma-clipped median subtracted.
    sigma : float
        The sigma-clipped standard deviation.
    """
    from astropy.stats import sigma_clipped_stats

    if name == 'hdf':
        from skimage import color, data
        image = color.rgb2gray(data.hubble_deep_field()).astype(np.float64)
    else:
        import astropy
        from astropy.io import fits
        path = {'ngc1316': 'io/fits/tests/data/comp.fits',
                'm13': 'io/fits/hdu/compressed/tests/data/m13.fits'}[name]
        with fits.open(os.path.join(os.path.dirname(astropy.__file__),
                                    path)) as hdul:
            image = next(h.data for h in hdul if h.data is not None)
            image = np.asarray(image, dtype=np.float64)
    _, median, std = sigma_clipped_stats(image, sigma=3.0)
    return image - median, float(std)


def real_part(args, deblender, log):
    """Score the brightest and the named objects of the real images."""
    from astropy.convolution import convolve
    from photutils.segmentation import detect_sources, make_2dgaussian_kernel

    from astropais.metrics import label_shares, shredding_score

    rows, figures = [], {}
    kernel = make_2dgaussian_kernel(3.0, size=5).array
    for name in ('ngc1316', 'm13', 'hdf'):
        image, sigma = load_real_image(name)
        convolved = convolve(image, kernel, normalize_kernel=True)
        parents = detect_sources(convolved, 2.0 * sigma, n_pixels=5)
        results, seconds = run_methods(image, sigma, kernel, deblender,
                                       n_sigma=2.0)
        # Two definitions of an object's footprint: photutils' detection
        # segment before deblending ('parent': every method is measured
        # alike) and photutils' deblended segment ('segment': photutils
        # holds 100 per cent of it by construction).
        footprints = {'parent': parents.data,
                      'segment': results['photutils'].attribution.label_map()}
        for footprint_kind, labels in footprints.items():
            flux = np.bincount(labels.ravel(), weights=image.ravel(),
                               minlength=int(labels.max()) + 1)[1:]
            top = np.argsort(flux)[::-1][:args.n_top] + 1
            objects = [(f'top{rank + 1}', int(label))
                       for rank, label in enumerate(top)]
            objects += [(named, int(labels[y, x]))
                        for image_name, named, x, y in NAMED_OBJECTS
                        if image_name == name and labels[y, x] > 0]
            for object_name, label in objects:
                footprint = labels == label
                obj = np.where(footprint, image, 0.0)
                for method, result in results.items():
                    score = shredding_score(label_shares(
                        result.attribution, obj, footprint))
                    rows.append(dict(part='real', image=name,
                                     footprint=footprint_kind,
                                     object=object_name, method=method,
                                     n_pieces=score.n_pieces,
                                     main_share=score.main_share,
                                     whole=score.whole,
                                     seconds=seconds[method],
                                     megapixels=image.size / 1e6))
        log(f'{name}: ' + ', '.join(
            f'{r["object"]} {r["method"]} {r["n_pieces"]}/'
            f'{r["main_share"]:.2f}' for r in rows
            if r['image'] == name and not r['object'].startswith('top')))
        figures[name] = (image, sigma, results)
    return rows, figures


def summarise(rows):
    """Per part, category and method: counts, whole fraction, pieces."""
    from astropy.table import Table

    summary = []
    for part in sorted({r['part'] for r in rows}):
        sub = Table(rows=[r for r in rows if r['part'] == part])
        if part == 'real':
            sub = sub[[o.startswith('top') for o in sub['object']]]
            sub['group'] = [f'{i} ({f})' for i, f in zip(sub['image'],
                                                         sub['footprint'])]
        else:
            sub['group'] = sub['category']
        groups = [(value, sub[sub['group'] == value])
                  for value in sorted(set(sub['group']))]
        if part == 'truth':
            under = sub[(sub['category'] == 'galaxy') & sub['neighbours']]
            if len(under):
                groups.append(('galaxy under neighbours', under))
        for value, group in groups:
            for method in METHODS:
                m = group[group['method'] == method]
                if len(m) == 0:
                    continue
                summary.append(dict(
                    part=part, group=str(value), method=method, n=len(m),
                    whole_fraction=float(np.mean(m['whole'])),
                    mean_pieces=float(np.mean(m['n_pieces'])),
                    median_main_share=float(np.median(m['main_share'])),
                    seconds_per_mpix=float(np.sum(m['seconds'])
                                           / np.sum(m['megapixels']))))
    return summary


def markdown(summary, named):
    lines = ['| part | group | method | N | whole (one label >= 95 %) | '
             'mean labels > 2 % | median main share | s/Mpix |',
             '|---|---|---|---|---|---|---|---|']
    for s in summary:
        lines.append(f'| {s["part"]} | {s["group"]} | {s["method"]} | '
                     f'{s["n"]} | {s["whole_fraction"]:.3f} | '
                     f'{s["mean_pieces"]:.2f} | '
                     f'{s["median_main_share"]:.3f} | '
                     f'{s["seconds_per_mpix"]:.2f} |')
    lines += ['', '| named object | footprint | method | labels > 2 % | '
              'main share |', '|---|---|---|---|---|']
    for r in named:
        lines.append(f'| {r["object"]} | {r["footprint"]} | {r["method"]} | '
                     f'{r["n_pieces"]} | {r["main_share"]:.3f} |')
    return '\n'.join(lines) + '\n'


def plot_real(figures, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from photutils.utils import make_random_cmap

    for name, (image, sigma, results) in figures.items():
        methods = [m for m in METHODS if m in results]
        fig, axes = plt.subplots(1, len(methods) + 1,
                                 figsize=(5 * (len(methods) + 1), 5.2))
        axes[0].imshow(np.arcsinh(image / (3 * sigma)), origin='lower',
                       cmap='gray')
        axes[0].set_title(f'{name} (asinh)')
        for ax, method in zip(axes[1:], methods):
            labels = results[method].attribution.label_map()
            n = int(labels.max())
            cmap = make_random_cmap(n + 1, seed=1)
            cmap.colors[0] = (0, 0, 0, 1)
            ax.imshow(labels, origin='lower', cmap=cmap,
                      interpolation='nearest', vmin=0, vmax=max(n, 1))
            ax.set_title(f'{method}: {n} labels')
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        fig.savefig(os.path.join(out, f'real_{name}.png'), dpi=80)
        plt.close(fig)


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    try:
        deblender = astropais_peer.available(5, model=args.model)
    except Unavailable as exc:
        log(f'astropais skipped: {exc}')
        deblender = None
    rows, figures = [], {}
    if args.part in ('truth', 'both'):
        rows += truth_part(args, deblender, log)
    if args.part in ('real', 'both'):
        real_rows, figures = real_part(args, deblender, log)
        rows += real_rows
    summary = summarise(rows)
    named = [r for r in rows if r['part'] == 'real'
             and not r['object'].startswith('top')]
    with open(os.path.join(args.out, 'summary.md'), 'w') as f:
        f.write(markdown(summary, named))
    meta = dict(command=' '.join(sys.argv), model=args.model or 'shipped',
                configuration=repr(deblender), seed=args.seed)
    with open(os.path.join(args.out, 'summary.json'), 'w') as f:
        json.dump(dict(meta=meta, summary=summary, named=named), f,
                  indent=1, default=str)
    from astropy.table import Table
    for part in sorted({r['part'] for r in rows}):
        Table(rows=[r for r in rows if r['part'] == part]).write(
            os.path.join(args.out, f'objects_{part}.ecsv'), overwrite=True)
    if figures and not args.no_plots:
        plot_real(figures, args.out)
    print(markdown(summary, named))
    return 0


if __name__ == '__main__':
    sys.exit(main())
