#!/usr/bin/env python
"""
Which part of a network's PCR costs accuracy: decode hybrids of the
network's and the oracle's maps.

The oracle is the truth encoded (`astropais.pcr.encode`, the model's slot
rule); each row decodes in photutils' footprint a heatmap, vectors and
fractions taken from the network or the oracle.  Reported: the median
deblend error (|F - F_fp| / F_fp against the true flux in the footprint,
S/N >= 10) of the blended sources (blendedness >= 0.1) every row detects,
of all sources every row detects, and each row's recall.

Example::

    python benchmarks/pcr_hybrid.py --model b2/model.keras --fields 12
"""

import argparse
import os
import sys

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from peers import photutils_peer  # noqa: E402

#: Row name -> where (heatmap, vectors, fractions) come from.
HYBRIDS = {'network': ('net', 'net', 'net'),
           'oracle': ('oracle', 'oracle', 'oracle'),
           'oracle centres': ('oracle', 'net', 'net'),
           'oracle vectors': ('net', 'oracle', 'net'),
           'oracle fractions': ('net', 'net', 'oracle'),
           'oracle centres + vectors': ('oracle', 'oracle', 'net'),
           'oracle centres + fractions': ('oracle', 'net', 'oracle')}

#: Blendedness from which a source counts as blended (as in run.py).
BLENDED = 0.1

#: Sources below this S/N are not scored (as in run.py).
MEASURABLE_SNR = 10.0


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', required=True, help='the PCR model file')
    p.add_argument('--preset', default='hst')
    p.add_argument('--density', type=float, default=1500.0,
                   help='sources per square arcmin (default: %(default)s)')
    p.add_argument('--fields', type=int, default=12)
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--seed', type=int, default=8300,
                   help='first field seed (default %(default)s: seeds 8300+ '
                        'are for model choices, never for reported '
                        'benchmarks)')
    p.add_argument('--n-pixels', type=int, default=5)
    p.add_argument('--n-sigma', type=float, default=1.5)
    return p


def field_rows(deblender, scene, n_pixels, n_sigma):
    """Deblend errors and detections of every hybrid on one field."""
    from astropais.metrics import flux_errors, footprint_fluxes, score_field
    from astropais.pcr import decode, encode

    image, sigma = scene.image, float(scene.noise_sigma)
    fwhm = float(scene.psf_fwhm_pixels)
    footprint = photutils_peer.run_photutils(
        image, sigma, fwhm, n_pixels=n_pixels,
        n_sigma=n_sigma).info['footprint']
    model = deblender.model
    oracle = encode(scene.sources, np.asarray(scene.centres, float),
                    n=model.n, sigma=model.sigma, slots=model.slots)
    maps = {'net': deblender.predict_pcr(image, sigma),
            'oracle': {'heatmap': oracle.heatmap, 'vectors': oracle.vectors,
                       'fractions': oracle.fractions}}
    truth = footprint_fluxes(scene.sources, footprint)
    rows = {}
    for name, (h, v, f) in HYBRIDS.items():
        att = decode(maps[h]['heatmap'], maps[v]['vectors'],
                     maps[f]['fractions'], footprint)
        fluxes = att.fluxes(image)
        scores = score_field(scene.sources, scene.centres,
                             np.asarray(att.centres, float).reshape(-1, 2),
                             noise_sigma=sigma, max_separation=fwhm,
                             image=image, fluxes=fluxes, attribution=att)
        errors = flux_errors(truth, fluxes, scores.match)
        errors[scores.true['snr'] < MEASURABLE_SNR] = np.nan
        rows[name] = (errors, scores.true['detected'])
    return rows, scores.true['blendedness']


def main(argv=None):
    args = build_parser().parse_args(argv)
    from astropais import PAISDeblender
    from astropais.simulation import make_scene

    deblender = PAISDeblender(n_pixels=args.n_pixels, model=args.model,
                              progress_bar=False)
    errors = {name: [] for name in HYBRIDS}
    detected = {name: [] for name in HYBRIDS}
    blendedness = []
    for index in range(args.fields):
        scene = make_scene(args.preset, shape=(args.size, args.size),
                           seed=args.seed + index, density=args.density)
        rows, blend = field_rows(deblender, scene, args.n_pixels,
                                 args.n_sigma)
        for name, (err, det) in rows.items():
            errors[name].append(err)
            detected[name].append(det)
        blendedness.append(blend)
    blended = np.concatenate(blendedness) >= BLENDED
    common = np.all([np.concatenate(detected[name]) for name in HYBRIDS],
                    axis=0)
    print(f'{args.fields} {args.preset} fields ({args.size}^2, density '
          f'{args.density:g}, seeds {args.seed}+), model {args.model} '
          f'(slots {deblender.model.slots}); sources every row detects: '
          f'{int(common.sum())}, blended {int((blended & common).sum())}')
    print('| decoded from | deblend error, blended common | all common | '
          'recall |\n|---|---|---|---|')
    for name in HYBRIDS:
        err = np.concatenate(errors[name])
        print(f'| {name} | {np.nanmedian(err[blended & common]):.3f} | '
              f'{np.nanmedian(err[common]):.3f} | '
              f'{np.concatenate(detected[name]).mean():.3f} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
