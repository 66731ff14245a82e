"""Entry point of the ``astropais`` command."""

import argparse
import importlib
import pkgutil
import sys

from astropais import __version__

__all__ = ['build_parser', 'main']


def _subcommand_modules():
    """Yield the CLI modules that define a subcommand, in name order."""
    package = importlib.import_module('astropais.cli')
    for info in sorted(pkgutil.iter_modules(package.__path__),
                       key=lambda info: info.name):
        if info.name == 'main' or info.name.startswith('_'):
            continue
        module = importlib.import_module(f'astropais.cli.{info.name}')
        if hasattr(module, 'add_parser'):
            yield module


def build_parser():
    """
    Build the ``astropais`` argument parser with every subcommand.

    Returns
    -------
    parser : `argparse.ArgumentParser`
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog='astropais',
        description='Detect and deblend astronomical sources with '
                    'Partial-Attribution Instance Segmentation.')
    parser.add_argument('--version', action='version',
                        version=f'astropais {__version__}')
    subparsers = parser.add_subparsers(title='commands', metavar='COMMAND')
    for module in _subcommand_modules():
        module.add_parser(subparsers)
    return parser


def main(argv=None):
    """
    Run the ``astropais`` command.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, 'func'):
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
