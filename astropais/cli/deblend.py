"""The ``astropais deblend`` command: deblend a FITS image."""

import sys
from pathlib import Path

__all__ = ['add_parser', 'run']


def add_common_options(parser):
    """
    Add the options shared by ``deblend`` and ``demo``.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The subcommand parser.
    """
    parser.add_argument('--threshold', type=float, default=2.0,
                        metavar='NSIGMA',
                        help='detection threshold in units of the background '
                             'noise (default: %(default)s)')
    parser.add_argument('--n-pixels', type=int, default=5, metavar='N',
                        help='minimum connected pixels of a detection '
                             '(default: %(default)s)')
    parser.add_argument('-o', '--output', default='.', metavar='DIR',
                        help='output directory (default: the current one)')
    parser.add_argument('--model', default=None, metavar='PATH',
                        help='a .keras model with its .json sidecar '
                             '(default: the model shipped with astropais)')
    from astropais.model.precision import PRECISIONS

    parser.add_argument('--precision', default='auto', choices=PRECISIONS,
                        help="the network's arithmetic: 'auto' is bfloat16 "
                             'on CPUs with native bfloat16 instructions, '
                             'float32 elsewhere; float32 gives results that '
                             'do not depend on the CPU (default: '
                             '%(default)s)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing output files')
    parser.add_argument('--progress', action='store_true',
                        help='show progress bars')


def add_parser(subparsers):
    """
    Register the ``deblend`` subcommand.

    Parameters
    ----------
    subparsers : argparse subparsers action
        From `argparse.ArgumentParser.add_subparsers`.
    """
    p = subparsers.add_parser(
        'deblend', help='detect and deblend the sources of a FITS image',
        description='Detect and deblend the sources of a FITS image; write '
                    'the weighted segmentation (FITS), the catalog (ECSV) '
                    'and a PNG overview.')
    p.add_argument('image', help='the FITS image')
    p.add_argument('--hdu', default=None,
                   help='HDU index or name (default: the first 2-D image)')
    p.add_argument('--no-background', action='store_true',
                   help='the image is already background-subtracted')
    p.add_argument('--kernel-fwhm', type=float, default=None,
                   metavar='PIXELS',
                   help='detect on the image smoothed with a Gaussian of this '
                        'FWHM (ideally the PSF FWHM), as photutils recommends '
                        '(default: no smoothing)')
    add_common_options(p)
    p.set_defaults(func=run)


def _read_image(path, hdu):
    """The 2-D data and WCS of a FITS image."""
    import numpy as np
    from astropy.io import fits
    from astropy.wcs import WCS

    with fits.open(path) as hdul:
        if hdu is None:
            candidates = [h for h in hdul if h.is_image and h.data is not None
                          and h.data.ndim == 2]
            if not candidates:
                raise ValueError(f'{path} has no 2-D image HDU')
            selected = candidates[0]
        else:
            selected = hdul[int(hdu) if str(hdu).isdigit() else hdu]
        data = np.array(selected.data, dtype=float)
        wcs = WCS(selected.header) if 'CTYPE1' in selected.header else None
    if wcs is not None and not wcs.has_celestial:
        wcs = None
    return data, wcs


def report(result, paths, stream=None):
    """
    Print a short summary of a run.

    Parameters
    ----------
    result : `~astropais.segmentation.DeblendResult`
        The run.
    paths : dict of path-like
        The files written.
    stream : file-like, optional
        Where to print (default: standard output).
    """
    stream = sys.stdout if stream is None else stream
    print(f'background {result.background:.4g}, noise sigma '
          f'{result.noise_sigma:.4g}, threshold {result.threshold:.4g}',
          file=stream)
    if result.segmentation is None:
        print('no sources found', file=stream)
        return
    print(f'{result.segmentation.n_labels} sources', file=stream)
    for kind, path in paths.items():
        print(f'{kind}: {path}', file=stream)


def run(args):
    """
    Run ``astropais deblend``.

    Parameters
    ----------
    args : `argparse.Namespace`
        The parsed arguments.

    Returns
    -------
    status : int
        0 on success, 1 if no source was found, 2 on an error.
    """
    from astropais.io import write_products
    from astropais.segmentation import deblend_field

    try:
        data, wcs = _read_image(args.image, args.hdu)
        result = deblend_field(data, nsigma=args.threshold,
                               n_pixels=args.n_pixels, model=args.model,
                               subtract_background=not args.no_background,
                               wcs=wcs, kernel_fwhm=args.kernel_fwhm,
                               precision=args.precision,
                               progress_bar=args.progress)
        paths = {}
        if result.segmentation is not None:
            paths = write_products(args.output, Path(args.image).name.split(
                '.')[0], result.data, result.segmentation, result.catalog,
                wcs=wcs, overwrite=args.overwrite)
    except (OSError, ValueError, TypeError) as exc:
        print(f'astropais deblend: error: {exc}', file=sys.stderr)
        return 2
    report(result, paths)
    return 0 if result.segmentation is not None else 1
