"""The ``astropais-train`` command: train a PCR network on a dataset."""

import argparse
import sys

from astropais import __version__

__all__ = ['build_parser', 'main']


def build_parser():
    """
    Build the ``astropais-train`` argument parser.

    Returns
    -------
    parser : `argparse.ArgumentParser`
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog='astropais-train',
        description='Train a PCR network on a dataset written by '
                    '`astropais simulate` or `astropais labels`.')
    parser.add_argument('--version', action='version',
                        version=f'astropais {__version__}')
    return parser


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
    build_parser().parse_args(argv)
    print('astropais-train: the training loop is not part of this release '
          'yet (see the training issue).', file=sys.stderr)
    return 2


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
