"""The PCR label options shared by ``astropais simulate`` and ``astropais labels``."""

from astropais.pcr.encode import SLOT_RULES

__all__ = ['add_pcr_arguments']


def add_pcr_arguments(parser):
    """
    Add ``--n``, ``--sigma`` and ``--slots`` (the PCR encoding) to a parser.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The parser (or argument group) to extend.

    Examples
    --------
    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> add_pcr_arguments(p)
    >>> p.parse_args(['--slots', 'brightest']).slots
    'brightest'
    """
    parser.add_argument('--n', type=int, default=3,
                        help='PCR slots per pixel (default: %(default)s)')
    parser.add_argument('--sigma', type=float, default=2.0,
                        help='PCR heatmap width in pixels '
                             '(default: %(default)s)')
    parser.add_argument('--slots', choices=SLOT_RULES, default='nearest',
                        help="which sources a pixel's slots name: its n "
                             "nearest centres (the paper's PCR) or the n "
                             'brightest contributors there, which keeps '
                             "large galaxies' outskirts under small "
                             'neighbours (default: %(default)s)')
