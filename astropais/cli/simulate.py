"""The ``astropais simulate`` command: write a simulated training dataset."""

import json

from astropais.simulation.presets import PRESETS
from astropais.simulation.randomise import DISTRIBUTIONS

from .pcr_options import add_pcr_arguments

__all__ = ['add_parser', 'run', 'parse_override']


def parse_override(text):
    """
    Parse a ``NAME=VALUE`` scene-parameter override.

    Parameters
    ----------
    text : str
        ``NAME=VALUE``; ``VALUE`` is read as JSON when it parses (numbers,
        lists, ``null``), else as a string.  Lists become tuples.

    Returns
    -------
    name : str
        The parameter name.
    value : object
        The parsed value.
    """
    name, sep, value = text.partition('=')
    if not sep or not name:
        raise ValueError(f'--set expects NAME=VALUE, got {text!r}')
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass
    if isinstance(value, list):
        value = tuple(value)
    return name.strip(), value


def add_parser(subparsers):
    """
    Add the ``simulate`` subcommand.

    Parameters
    ----------
    subparsers : `argparse._SubParsersAction`
        The ``astropais`` subcommand collection.
    """
    p = subparsers.add_parser(
        'simulate', help='write a dataset of simulated crops with PCR labels',
        description='Simulate blended fields with GalSim and write crops, '
                    'their PCR labels and catalogues as a dataset.')
    p.add_argument('output', help='dataset directory')
    p.add_argument('--preset', default='hst',
                   choices=(*PRESETS, *DISTRIBUTIONS),
                   help="survey preset, or 'mixed' for domain-randomised "
                        "crops that each draw their own PSF, noise and "
                        "sampling (default: %(default)s)")
    p.add_argument('--n-crops', type=int, default=1000,
                   help='number of crops (default: %(default)s)')
    p.add_argument('--crop-size', type=int, default=64,
                   help='crop side in pixels (default: %(default)s)')
    p.add_argument('--seed', type=int, default=0,
                   help='dataset seed (default: %(default)s)')
    add_pcr_arguments(p)
    p.add_argument('--label-min-snr', type=float, default=5.0,
                   help='label only sources with a matched-filter S/N in the '
                        'crop of at least this (default: %(default)s)')
    p.add_argument('--shard-size', type=int, default=256,
                   help='crops per shard (default: %(default)s)')
    p.add_argument('--margin', type=int, default=None,
                   help='pixels simulated around each crop (default: three '
                        'PSF FWHM)')
    p.add_argument('--set', dest='overrides', action='append', default=[],
                   metavar='NAME=VALUE',
                   help='change a scene parameter, e.g. --set density=600 '
                        '--set "pair_separation=[0.3, 2]" (repeatable)')
    p.add_argument('--n-processes', type=int, default=1,
                   help='worker processes (default: %(default)s); the '
                        'dataset does not depend on it')
    p.add_argument('--resume', action='store_true',
                   help='append to an existing dataset with the same '
                        'parameters')
    p.add_argument('--no-progress', dest='progress_bar', action='store_false',
                   help='hide the progress bar')
    p.set_defaults(func=run)
    return p


def run(args):
    """
    Run ``astropais simulate``.

    Parameters
    ----------
    args : `argparse.Namespace`
        The parsed arguments.

    Returns
    -------
    status : int
        0 on success, 2 on invalid input.
    """
    import sys

    from astropais.simulation import simulate_dataset

    try:
        overrides = dict(parse_override(item) for item in args.overrides)
        dataset = simulate_dataset(
            args.output, args.n_crops, preset=args.preset,
            crop_size=args.crop_size, seed=args.seed, n=args.n,
            sigma=args.sigma, margin=args.margin,
            label_min_snr=args.label_min_snr, shard_size=args.shard_size,
            resume=args.resume, progress_bar=args.progress_bar,
            n_processes=args.n_processes, slots=args.slots, **overrides)
    except (ValueError, TypeError, FileExistsError) as exc:
        print(f'astropais simulate: error: {exc}', file=sys.stderr)
        return 2
    print(f'wrote {len(dataset)} crops of {dataset.crop_shape} to '
          f'{args.output} ({dataset.n_shards} shards)')
    return 0
