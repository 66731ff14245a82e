#!/usr/bin/env python
"""
Equivariance: does flipping or transposing an image change the answer?

Every method runs on each field and on its up-down flip, left-right flip
and transpose; the detections of a transformed image are mapped back and
matched to those of the original (within 1.5 px).  Reported per method:
the fraction of fields whose label count changes under any transform, and
the fraction of matched sources whose flux changes by more than 5 per
cent (photutils and SEP are exactly equivariant up to ties).

Example::

    python benchmarks/equivariance.py --preset hst --fields 12 \\
        --out benchmarks/results/equivariance_hst
"""

import argparse
import json
import os
import sys

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from peers import astropais_peer, photutils_peer, sep_peer  # noqa: E402
from peers.base import Unavailable  # noqa: E402

#: ``(name, forward, inverse on (y, x) positions)``; each transform is its
#: own inverse on the image.
TRANSFORMS = (
    ('flipud', np.flipud, lambda p, shape: np.column_stack(
        [shape[0] - 1 - p[:, 0], p[:, 1]])),
    ('fliplr', np.fliplr, lambda p, shape: np.column_stack(
        [p[:, 0], shape[1] - 1 - p[:, 1]])),
    ('transpose', np.transpose, lambda p, shape: p[:, ::-1]),
)
#: Relative flux change counted as a change.
FLUX_CHANGE = 0.05
#: Match radius between original and mapped-back detections (pixels).
MATCH_RADIUS = 1.5


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--preset', default='hst')
    p.add_argument('--fields', type=int, default=12)
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--seed', type=int, default=8000)
    p.add_argument('--model', default=None)
    p.add_argument('--n-sigma', type=float, default=1.5)
    p.add_argument('--out', default=os.path.join(_HERE, 'results',
                                                 'equivariance'))
    return p


def _run(method, image, sigma, fwhm, kernel, deblender, n_sigma):
    if method == 'photutils':
        return photutils_peer.run_photutils(image, sigma, fwhm,
                                            n_sigma=n_sigma)
    if method == 'sep':
        return sep_peer.run_sep(image, sigma, kernel, n_sigma=n_sigma)
    return astropais_peer.run_astropais(deblender, image, sigma,
                                        n_sigma=n_sigma, kernel=kernel)


def compare(reference, other):
    """Label-count change and the flux changes of matched detections."""
    from astropais.metrics import match_sources

    match = match_sources(reference.positions, other.positions, MATCH_RADIUS)
    ref = reference.fluxes[match.true_index]
    new = other.fluxes[match.detected_index]
    with np.errstate(divide='ignore', invalid='ignore'):
        change = np.abs(new / ref - 1)
    return (len(reference.positions) != len(other.positions),
            change[np.isfinite(change)], len(reference.positions))


def main(argv=None):
    from astropais.segmentation import detection_kernel
    from astropais.simulation import make_scene

    args = build_parser().parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    methods = ['photutils']
    deblender = None
    try:
        import sep  # noqa: F401
        methods.append('sep')
    except ImportError:
        pass
    try:
        deblender = astropais_peer.available(5, model=args.model)
        methods.append('astropais')
    except Unavailable as exc:
        print(f'astropais skipped: {exc}', file=sys.stderr)
    changed = {m: [] for m in methods}
    flux_changes = {m: [] for m in methods}
    n_sources = {m: 0 for m in methods}
    for index in range(args.fields):
        scene = make_scene(args.preset, shape=(args.size, args.size),
                           seed=args.seed + index)
        fwhm = scene.psf_fwhm_pixels
        kernel = detection_kernel(fwhm)
        for method in methods:
            base = _run(method, scene.image, scene.noise_sigma, fwhm, kernel,
                        deblender, args.n_sigma)
            any_change = False
            for _, forward, inverse in TRANSFORMS:
                result = _run(method, np.ascontiguousarray(
                    forward(scene.image)), scene.noise_sigma, fwhm,
                    forward(kernel), deblender, args.n_sigma)
                result.positions = inverse(result.positions.reshape(-1, 2),
                                           scene.image.shape)
                count_changed, changes, n = compare(base, result)
                any_change |= count_changed
                flux_changes[method].append(changes)
            changed[method].append(any_change)
            n_sources[method] += len(base.positions)
        print(f'field {index}: ' + ', '.join(
            f'{m} {"changed" if changed[m][-1] else "same"}'
            for m in methods), file=sys.stderr, flush=True)
    summary = []
    for method in methods:
        changes = np.concatenate(flux_changes[method]) if flux_changes[
            method] else np.zeros(0)
        summary.append(dict(
            method=method, fields=args.fields,
            fields_label_count_changed=float(np.mean(changed[method])),
            matched_pairs=int(changes.size), sources=n_sources[method],
            flux_changed_over_5pc=float(np.mean(changes > FLUX_CHANGE))
            if changes.size else float('nan')))
    lines = ['| method | fields | label count changed (fraction of fields) '
             '| matched source pairs | flux changed > 5 % |',
             '|---|---|---|---|---|']
    lines += [f'| {s["method"]} | {s["fields"]} | '
              f'{s["fields_label_count_changed"]:.3f} | '
              f'{s["matched_pairs"]} | {s["flux_changed_over_5pc"]:.3f} |'
              for s in summary]
    text = '\n'.join(lines) + '\n'
    with open(os.path.join(args.out, 'summary.md'), 'w') as f:
        f.write(text)
    with open(os.path.join(args.out, 'summary.json'), 'w') as f:
        json.dump(dict(command=' '.join(sys.argv), preset=args.preset,
                       model=args.model or 'shipped', summary=summary), f,
                  indent=1)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
