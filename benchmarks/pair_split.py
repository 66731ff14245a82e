"""
The shipped model's acceptance pair, for any model: the median relative
flux errors of a bright source and one 8 times fainter 7 px away, over ten
noise realisations, beside photutils' (``inf``: the pair was not split).
A model ships only with both medians below 0.05 (the test
``test_shipped_model_pair_fluxes_beat_photutils``); this script scores a
candidate before it ships.

Usage::

    python benchmarks/pair_split.py --model rK/model.keras [--out pair.json]
"""

import argparse
import json
import sys

import numpy as np

__all__ = []


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default=None,
                        help='model file (default: the shipped one)')
    parser.add_argument('--precision', default='float32',
                        choices=('float32', 'bfloat16'))
    parser.add_argument('--out', default=None, help='JSON file to write')
    args = parser.parse_args(argv)

    from astropais import PAISDeblender
    from astropais.segmentation.tests.helpers import (PAIR_MAX_ERROR,
                                                      pair_flux_errors)
    deblender = PAISDeblender(n_pixels=5, model=args.model,
                              precision=args.precision, progress_bar=False)
    ours, theirs = pair_flux_errors(deblender)
    result = {'model': args.model or 'shipped', 'precision': args.precision,
              'n_seeds': len(ours),
              'astropais_median': np.median(ours, axis=0).tolist(),
              'photutils_median': np.median(theirs, axis=0).tolist(),
              'passes': bool(np.all(np.isfinite(ours))
                             and np.all(np.median(ours, axis=0)
                                        < PAIR_MAX_ERROR))}
    print(f"median |flux error| bright, faint: astropais "
          f"{result['astropais_median'][0]:.3f}, "
          f"{result['astropais_median'][1]:.3f}; photutils "
          f"{result['photutils_median'][0]:.3f}, "
          f"{result['photutils_median'][1]:.3f}; passes: {result['passes']}")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
