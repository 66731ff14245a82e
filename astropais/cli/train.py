"""The ``astropais-train`` command (and ``astropais train``): train a PCR network."""

import argparse
import sys

from astropais import __version__

__all__ = ['build_parser', 'add_arguments', 'add_parser', 'run', 'main']

_DESCRIPTION = (
    'Train a PCR network on a dataset written by `astropais simulate` (or '
    'the scarlet2 label module).  Writes OUT/checkpoints/last.keras (+ .json) '
    'after every epoch, OUT/metrics.csv, and the final OUT/model.keras with '
    'its OUT/model.json sidecar (SHA-256, normalisation, n, sigma, vector '
    'scale, dataset manifest, metrics).  Defaults follow the paper: Adam '
    'lr 5e-5, betas (0.9, 0.9999), eps 1e-7; loss weights 15, 0.06, 4, 2.')


def add_arguments(parser):
    """
    Add the training options to a parser.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The parser to extend.
    """
    parser.add_argument('dataset', metavar='DATASET', nargs='+',
                        help='dataset directory (holding manifest.json); '
                             'several are read as one training set')
    parser.add_argument('--out', required=True, metavar='DIR',
                        help='output directory for checkpoints, log and model')
    run = parser.add_argument_group('run')
    run.add_argument('--epochs', type=int, default=10,
                     help='total number of epochs (default: %(default)s)')
    run.add_argument('--batch-size', type=int, default=16,
                     help='samples per step (default: %(default)s)')
    run.add_argument('--steps-per-epoch', type=int, default=None,
                     help='at most this many steps per epoch (default: one '
                          'pass over the training split)')
    run.add_argument('--max-minutes', type=float, default=None,
                     help='time budget; when exceeded, checkpoint, export '
                          'and stop (default: none)')
    run.add_argument('--resume', action='store_true',
                     help='continue from OUT/checkpoints (same model, '
                          'optimizer state, step count and data order; the '
                          'run settings come from the checkpoint)')
    run.add_argument('--val-fraction', type=float, default=0.1,
                     help='fraction of samples held out for validation '
                          '(default: %(default)s)')
    run.add_argument('--seed', type=int, default=0,
                     help='seed of weights, split, data order and '
                          'augmentation (default: %(default)s)')
    run.add_argument('--no-augment', dest='augment', action='store_false',
                     help='disable random flips and 90-degree rotations')
    run.add_argument('--in-memory', action='store_true',
                     help='keep the decoded datasets in memory after the '
                          'first epoch (faster epochs; needs ~190 kB of RAM '
                          'per 64x64 sample)')
    run.add_argument('--no-progress', dest='progress_bar',
                     action='store_false', help='hide the progress bar')
    opt = parser.add_argument_group('optimizer (Adam)')
    opt.add_argument('--lr', '--learning-rate', dest='learning_rate',
                     type=float, default=5e-5,
                     help='learning rate (default: %(default)s)')
    opt.add_argument('--lr-schedule', default='constant',
                     choices=('constant', 'cosine'),
                     help="learning-rate schedule: 'constant' or 'cosine' "
                          "(decays to 5 %% of --lr over --epochs) "
                          "(default: %(default)s)")
    opt.add_argument('--init-model', default=None, metavar='MODEL',
                     help='warm start: initialise the network with the '
                          'weights of this saved model (.keras with its '
                          'sidecar; same architecture)')
    opt.add_argument('--beta-1', type=float, default=0.9,
                     help='Adam beta_1 (default: %(default)s)')
    opt.add_argument('--beta-2', type=float, default=0.9999,
                     help='Adam beta_2 (default: %(default)s)')
    opt.add_argument('--epsilon', type=float, default=1e-7,
                     help='Adam epsilon (default: %(default)s)')
    loss = parser.add_argument_group('loss (paper eq. 3)')
    loss.add_argument('--heatmap-weight', type=float, default=15.0,
                      help='lambda_c, MSE of the heatmap (default: %(default)s)')
    loss.add_argument('--vector-weight', type=float, default=0.06,
                      help='lambda_v, masked MAE of the vectors in pixels '
                           '(default: %(default)s)')
    loss.add_argument('--cross-entropy-weight', type=float, default=4.0,
                      help='lambda_m, masked cross-entropy of the fractions '
                           '(default: %(default)s)')
    loss.add_argument('--entropy-weight', type=float, default=2.0,
                      help='lambda_S, entropy term (default: %(default)s)')
    loss.add_argument('--entropy-mode', default='match',
                      choices=('match', 'minimise', 'maximise'),
                      help="entropy term: 'match' penalises |H(p)-H(target)| "
                           "(unbiased, default); 'minimise' adds H(p) (the "
                           "paper's plus sign, pushes to one-hot); "
                           "'maximise' subtracts it (pushes to uniform)")
    loss.add_argument('--pixel-weighting', default='uniform',
                      choices=('uniform', 'signal'),
                      help="per-pixel weights of the vector and fraction "
                           "losses: 'uniform' (paper) or 'signal' "
                           "(1 + sqrt(pixel S/N), capped) "
                           "(default: %(default)s)")
    loss.add_argument('--vector-weighting', default='uniform',
                      choices=('uniform', 'fraction'),
                      help="per-slot weights of the vector loss: 'uniform' "
                           "(paper) or 'fraction' (a slot counts its target "
                           "fraction + 0.05: the votes that carry light are "
                           "learned first) (default: %(default)s)")
    net = parser.add_argument_group('network and input')
    net.add_argument('--depth', type=int, default=3,
                     help='U-Net resolution levels (default: %(default)s)')
    net.add_argument('--base-filters', type=int, default=8,
                     help='filters at full resolution (default: %(default)s)')
    net.add_argument('--vector-scale', type=float, default=16.0,
                     help='pixels per network unit of the vector output '
                          '(default: %(default)s)')
    net.add_argument('--softening', type=float, default=1.0,
                     help='asinh softening in noise sigmas: the input is '
                          'asinh(image / (softening * noise_sigma)) '
                          '(default: %(default)s)')


def build_parser():
    """
    Build the ``astropais-train`` argument parser.

    Returns
    -------
    parser : `argparse.ArgumentParser`
        The parser.
    """
    parser = argparse.ArgumentParser(prog='astropais-train',
                                     description=_DESCRIPTION)
    parser.add_argument('--version', action='version',
                        version=f'astropais {__version__}')
    add_arguments(parser)
    return parser


def add_parser(subparsers):
    """
    Register ``astropais train``.

    Parameters
    ----------
    subparsers : `argparse._SubParsersAction`
        The subcommand registry of the ``astropais`` parser.
    """
    parser = subparsers.add_parser('train', help='train a PCR network',
                                   description=_DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args):
    """
    Train with parsed arguments and report.

    Parameters
    ----------
    args : `argparse.Namespace`
        Parsed arguments.

    Returns
    -------
    status : int
        0 on success, 1 on a bad input or missing file.
    """
    from astropais.datasets import read_datasets
    from astropais.training import train
    try:
        dataset = read_datasets(args.dataset, in_memory=args.in_memory)
        result = train(
            dataset, args.out, epochs=args.epochs,
            batch_size=args.batch_size, max_minutes=args.max_minutes,
            resume=args.resume, val_fraction=args.val_fraction,
            learning_rate=args.learning_rate, beta_1=args.beta_1,
            beta_2=args.beta_2, epsilon=args.epsilon,
            heatmap_weight=args.heatmap_weight,
            vector_weight=args.vector_weight,
            cross_entropy_weight=args.cross_entropy_weight,
            entropy_weight=args.entropy_weight,
            entropy_mode=args.entropy_mode, depth=args.depth,
            base_filters=args.base_filters, vector_scale=args.vector_scale,
            normalisation={'kind': 'asinh', 'softening': args.softening},
            augment=args.augment, seed=args.seed,
            steps_per_epoch=args.steps_per_epoch,
            pixel_weighting=args.pixel_weighting,
            vector_weighting=args.vector_weighting,
            lr_schedule=args.lr_schedule, init_model=args.init_model,
            progress_bar=args.progress_bar)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f'astropais-train: error: {exc}', file=sys.stderr)
        return 1
    for row in result.history:
        val = row.get('val_loss', '')
        val = f'{val:.5g}' if isinstance(val, float) else 'n/a'
        print(f'epoch {row["epoch"]:>4d}  step {row["step"]:>7d}  '
              f'loss {row["loss"]:.5g}  val_loss {val}'
              + ('' if row['complete'] else '  (stopped by time budget)'))
    state = 'stopped by the time budget' if result.stopped_by_budget else 'done'
    print(f'{state}: {result.epochs_completed} epochs, {result.steps} steps; '
          f'model written to {result.model_path}')
    return 0


def main(argv=None):
    """
    Run the ``astropais-train`` command.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        The exit status.
    """
    return run(build_parser().parse_args(argv))


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
