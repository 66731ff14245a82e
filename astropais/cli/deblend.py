"""
The ``astropais deblend`` command: deblend a FITS image with
`~astropais.segmentation.deblend_field`.
"""

import sys

import numpy as np

# Images above _MOSAIC_SIDE**2 pixels run on Dask (pipeline.MOSAIC_PIXELS).
_MOSAIC_SIDE = 8192

__all__ = ['add_parser', 'add_common_options', 'common_deblender', 'run',
           'provenance', 'report']


def add_common_options(parser):
    """
    Add the options shared by ``deblend`` and ``demo``.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The subcommand parser.
    """
    from astropais.segmentation.background import DEFAULT_N_SIGMA

    parser.add_argument('--threshold', type=float, default=DEFAULT_N_SIGMA,
                        metavar='NSIGMA',
                        help='detection threshold in units of the background '
                             'noise, or of the error map when one is given '
                             '(default: %(default)s)')
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


def common_deblender(args, shape=None, client=None):
    """
    The deblender that the options of `add_common_options` configure.

    Parameters
    ----------
    args : `argparse.Namespace`
        The parsed arguments.
    shape : tuple of int, optional
        The image shape: above
        `~astropais.segmentation.pipeline.MOSAIC_PIXELS` pixels, or with
        ``--dask``, the deblender runs on Dask (see
        `~astropais.segmentation.pipeline.make_deblender`).
    client : `distributed.Client`, optional
        The cluster of ``--dask ADDRESS``.

    Returns
    -------
    deblender : `~astropais.PAISDeblender`
        With ``--n-pixels``, ``--model``, ``--precision`` and
        ``--progress`` (a `~astropais.segmentation.mosaic.DaskDeblender`
        on Dask).
    """
    from astropais.segmentation.pipeline import make_deblender

    dask = getattr(args, 'dask', None)
    if client is not None:
        dask = client
    elif dask is not None:
        dask = True
    return make_deblender((0, 0) if shape is None else shape, args.n_pixels,
                          model=args.model, precision=args.precision,
                          progress_bar=args.progress,
                          dask=False if shape is None and dask is None
                          else dask)


def add_parser(subparsers):
    """
    Register the ``deblend`` subcommand.

    Parameters
    ----------
    subparsers : argparse subparsers action
        From `argparse.ArgumentParser.add_subparsers`.
    """
    from astropais.segmentation.background import BACKGROUND_METHODS

    p = subparsers.add_parser(
        'deblend', help='detect and deblend the sources of a FITS image',
        description='Detect and deblend the sources of a FITS image; write '
                    'the weighted segmentation (FITS), the catalog (ECSV) '
                    'and a PNG overview, each with the provenance of the '
                    'run (input file and HDU, background, threshold, model '
                    'SHA-256, precision, astropais version).  Exit status: '
                    '0 sources found, 1 no source found, 2 error.')
    p.add_argument('image', help='the FITS image')
    p.add_argument('--hdu', default=None, metavar='HDU',
                   help='HDU index, EXTNAME or EXTNAME,EXTVER (default: the '
                        'first 2-D image)')
    sky = p.add_argument_group(
        'background and noise',
        'The background is subtracted before detection; the noise (1 '
        'sigma) sets the threshold.  Without an uncertainty map the noise '
        'is the sigma-clipped (3 sigma) standard deviation of the image, or '
        "Background2D's background_rms with --background 2d.")
    sky.add_argument('--background', default='constant',
                     choices=BACKGROUND_METHODS,
                     help="'constant': one sigma-clipped median; '2d': "
                          "photutils' Background2D (sigma-clipped median "
                          'in boxes, median-filtered, interpolated); '
                          "'none': the image is already background-"
                          'subtracted (default: %(default)s)')
    sky.add_argument('--no-background', dest='background',
                     action='store_const', const='none',
                     help='same as --background none')
    sky.add_argument('--box-size', type=int, default=64, metavar='PIXELS',
                     help='Background2D box size (default: %(default)s)')
    sky.add_argument('--filter-size', type=int, default=3, metavar='BOXES',
                     help='Background2D median filter size, odd '
                          '(default: %(default)s)')
    maps = sky.add_mutually_exclusive_group()
    for kind, meaning in (('error', '1-sigma errors'),
                          ('variance', 'variances'),
                          ('weight', 'inverse variances; 0 = no data')):
        maps.add_argument(
            f'--{kind}', default=None, metavar='MAP',
            help=f'a map of {meaning}: FILE, FILE[HDU] or HDU (an extension '
                 'of the image file); it sets the per-pixel threshold and '
                 'the catalog errors (segment_flux_err, kron_flux_err, ...; '
                 'NaN without a map).  Give the total error (background '
                 'and source Poisson noise), as photutils expects')
    p.add_argument('--kernel-fwhm', type=float, default=None,
                   metavar='PIXELS',
                   help='detect on the image smoothed with a Gaussian of this '
                        'FWHM (ideally the PSF FWHM), as photutils recommends '
                        '(default: no smoothing)')
    # (the size is pipeline.MOSAIC_PIXELS, which would import photutils
    # here; a test checks that they agree)
    p.add_argument('--dask', nargs='?', const='', default=None,
                   metavar='ADDRESS',
                   help='deblend on Dask (extra mosaic): on the '
                        'dask.distributed scheduler at ADDRESS, or without '
                        "one on Dask's local scheduler.  Images of more "
                        f'than {_MOSAIC_SIDE} x {_MOSAIC_SIDE} pixels use '
                        'Dask by themselves when the extra is installed')
    add_common_options(p)
    p.set_defaults(func=run)


def provenance(*, image, hdu, result, nsigma, deblender, error_source=None,
               kernel_fwhm=None):
    """
    The provenance of a run, as FITS header cards.

    Parameters
    ----------
    image : str
        The input file.
    hdu : str
        The HDU read.
    result : `~astropais.segmentation.DeblendResult`
        The run.
    nsigma : float
        The threshold in units of the noise.
    deblender : `~astropais.PAISDeblender`
        The deblender (its model's SHA-256 and precision are recorded).
    error_source : str, optional
        Where the uncertainty map came from.
    kernel_fwhm : float, optional
        The detection kernel's FWHM.

    Returns
    -------
    cards : dict
        ``KEYWORD: (value, comment)``, for a FITS header and (as
        ``KEYWORD: value``) the ECSV catalog's meta: ``APVERS`` (astropais
        version), ``APINPUT`` (input file), ``APHDU`` (its HDU),
        ``APBKG`` (background method), ``APBKGVAL`` and ``APNOISE`` (the
        background and noise, medians over the image), ``APERRMAP`` (the
        uncertainty map), ``APNSIGMA`` and ``APTHRESH`` (the threshold in
        noise units and data units), ``APNPIX``, ``APKERNEL`` (detection
        kernel FWHM), ``APMODEL`` and ``APMODSHA`` (network file and its
        SHA-256) and ``APPRECIS`` (network arithmetic).
    """
    from astropais import __version__
    from astropais.model.io import DEFAULT_MODEL_NAME

    network = deblender.model
    return {
        'APVERS': (__version__, 'astropais version'),
        # Free-length strings carry no comment: astropy truncates the
        # comment of some long (CONTINUE) string cards with a warning.
        'APINPUT': (str(image), ''),
        'APHDU': (str(hdu), 'input HDU: index (EXTNAME,EXTVER)'),
        'APBKG': (result.sky.description, ''),
        'APBKGVAL': (float(np.median(result.sky.background)),
                     'background (median over the image)'),
        'APNOISE': (float(np.median(result.noise_sigma)),
                    'noise sigma (median over the image)'),
        'APERRMAP': (error_source or 'none', ''),
        'APNSIGMA': (float(nsigma), 'threshold in units of the noise'),
        'APTHRESH': (float(np.median(result.threshold)),
                     'threshold (median over the image, data units)'),
        'APNPIX': (int(deblender.n_pixels), 'minimum pixels of a source'),
        'APKERNEL': ('none' if kernel_fwhm is None else float(kernel_fwhm),
                     'detection kernel FWHM (pixels)'),
        'APMODEL': (str(network.metadata.get('model_file',
                                              DEFAULT_MODEL_NAME)),
                    'PCR network file'),
        # 64 hex digits leave no room for a comment in an 80-column card.
        'APMODSHA': (str(network.metadata['sha256']), ''),
        'APPRECIS': (network.precision, 'network arithmetic'),
    }


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
    print(f'background {np.median(result.sky.background):.4g} '
          f'({result.sky.method}), noise sigma '
          f'{np.median(result.noise_sigma):.4g}'
          f', threshold {np.median(result.threshold):.4g}'
          + (' (medians over the image)'
             if np.ndim(result.threshold) else ''), file=stream)
    if result.segmentation is None:
        print('no sources found', file=stream)
        return
    print(f'{result.segmentation.n_labels} sources', file=stream)
    for kind, path in paths.items():
        print(f'{kind}: {path}', file=stream)


def _error_option(args):
    """The (kind, spec) of the uncertainty map option given, if any."""
    for kind in ('error', 'variance', 'weight'):
        spec = getattr(args, kind, None)
        if spec is not None:
            return kind, spec
    return None, None


def _dask_client(address):
    """A client of the scheduler at ``address`` (``--dask ADDRESS``), or
    None."""
    if not address:
        return None
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError('--dask ADDRESS needs dask.distributed (pip '
                          'install astropais[mosaic])') from exc
    return Client(address)


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

    from .fitsinput import output_stem, read_error_map, read_image

    client = None
    try:
        image = read_image(args.image, args.hdu)
        # Non-finite pixels (and pixels without an error) are masked
        # silently, as documented.
        mask = ~np.isfinite(image.data)
        error = error_source = None
        kind, spec = _error_option(args)
        if kind is not None:
            error, error_source = read_error_map(spec, kind, image)
            mask |= ~np.isfinite(error)
        client = _dask_client(args.dask)
        deblender = common_deblender(args, image.data.shape, client)
        result = deblend_field(
            image.data, n_sigma=args.threshold, mask=mask, error=error,
            background=args.background, box_size=args.box_size,
            filter_size=args.filter_size, kernel_fwhm=args.kernel_fwhm,
            wcs=image.wcs, deblender=deblender, progress_bar=args.progress)
        paths = {}
        if result.segmentation is not None:
            cards = provenance(image=image.path, hdu=image.hdu,
                               result=result, nsigma=args.threshold,
                               deblender=deblender,
                               error_source=error_source,
                               kernel_fwhm=args.kernel_fwhm)
            paths = write_products(args.output, output_stem(args.image),
                                   result.data, result.segmentation,
                                   result.catalog, wcs=image.wcs,
                                   overwrite=args.overwrite,
                                   provenance=cards)
    except (OSError, ValueError, TypeError, ImportError) as exc:
        print(f'astropais deblend: error: {exc}', file=sys.stderr)
        return 2
    finally:
        if client is not None:
            client.close()
    report(result, paths)
    return 0 if result.segmentation is not None else 1
