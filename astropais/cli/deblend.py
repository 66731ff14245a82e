"""
The ``astropais deblend`` command: deblend a FITS image with
`~astropais.segmentation.deblend_field`.
"""

import argparse
import sys

import numpy as np

# Images above _MOSAIC_SIDE**2 pixels run on Dask (pipeline.MOSAIC_PIXELS).
_MOSAIC_SIDE = 8192

__all__ = ['add_parser', 'add_common_options', 'common_deblender', 'run',
           'provenance', 'band_provenance', 'report']


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


def _names(text):
    """``g,r,i`` -> ``('g', 'r', 'i')`` (for ``--bands``)."""
    names = tuple(name.strip() for name in text.split(','))
    if not all(names):
        raise argparse.ArgumentTypeError(f'empty band name in {text!r}')
    return names


def _numbers(text):
    """``27,27.5`` -> ``(27.0, 27.5)`` (for ``--zero-points``)."""
    try:
        return tuple(float(value) for value in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected comma-separated numbers, got {text!r}') from None


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
                    'SHA-256, precision, astropais version).  Several bands '
                    '(several files, one per band, or one file holding a '
                    '(bands, ny, nx) cube) need a model of that many bands: '
                    'the sources are detected once, on the S/N-weighted sum '
                    'of the bands (or --detection-image), every band gets '
                    'its own fractions, and the catalog lists per-band '
                    'fluxes and colours.  Exit status: 0 sources found, 1 '
                    'no source found, 2 error.')
    p.add_argument('image', nargs='+', metavar='IMAGE',
                   help='the FITS image; or one file per band; or one file '
                        'holding a cube of bands')
    p.add_argument('--hdu', default=None, metavar='HDU',
                   help='HDU index, EXTNAME or EXTNAME,EXTVER, of every '
                        'file (default: the first 2-D image; with several '
                        'bands, the first 2-D or 3-D one)')
    band = p.add_argument_group(
        'several bands',
        'The bands must share one pixel grid, one celestial WCS and one '
        'unit (BUNIT); each gets its own background and noise estimate.')
    band.add_argument('--bands', default=None, metavar='NAMES',
                      type=_names,
                      help='comma-separated band names of the files (or '
                           'cube planes), in order, e.g. g,r,i,z,y; they '
                           "are put in the model's order (default: each "
                           "file's FILTER keyword, else the model's order)")
    band.add_argument('--detection-image', default=None, metavar='FILE',
                      help='a 2-D FITS image to detect on (its background '
                           'subtracted; --threshold in units of its noise) '
                           'in place of the S/N-weighted sum of the bands')
    band.add_argument('--zero-points', default=None, metavar='ZP',
                      type=_numbers,
                      help='comma-separated AB zero point of each band, in '
                           'the order of --bands: adds mag_<band> columns '
                           'and makes the colours differences of them')
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
        **_deblender_cards(deblender, kernel_fwhm),
    }


def _deblender_cards(deblender, kernel_fwhm):
    """The provenance cards of the deblender and detection kernel."""
    from astropais.model.io import DEFAULT_MODEL_NAME

    network = deblender.model
    return {
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


def band_provenance(*, field, result, nsigma, deblender, detection=None,
                    kernel_fwhm=None):
    """
    The provenance of a multi-band run, as FITS header cards.

    Parameters
    ----------
    field : `~astropais.cli.fitsinput.FitsBands`
        The bands read.
    result : `~astropais.segmentation.BandDeblendResult`
        The run.
    nsigma : float
        The threshold in units of the detection image's noise.
    deblender : `~astropais.PAISDeblender`
        The deblender.
    detection : str, optional
        The detection image's file, if one was given.
    kernel_fwhm : float, optional
        The detection kernel's FWHM.

    Returns
    -------
    cards : dict
        As `provenance`'s, with ``APINPUT`` listing every band's
        ``FILE[HDU]`` (and plane), ``APBANDS`` (the band names in the
        model's order), ``APBUNIT``, ``APBKG`` (the method), per band
        ``k`` (1, 2, ..., in the model's order) ``APBKGk`` and ``APNOISk``
        (background and noise, medians over the image), ``APDETECT``
        (the detection image) and ``APTHRESH`` (the threshold on it).
    """
    from astropais import __version__

    cards = {
        'APVERS': (__version__, 'astropais version'),
        'APINPUT': (', '.join(field.sources), ''),
        'APBANDS': (','.join(result.bands) if result.bands else 'unnamed',
                    "band names, in the model's order"),
        'APBUNIT': (str(field.bunit or 'none'), 'unit of the bands'),
        'APBKG': (result.skies[0].description, ''),
    }
    # A loop over the bands (few): two cards each.
    for k, (sky, sigma) in enumerate(zip(result.skies, result.noise_sigma),
                                     start=1):
        cards[f'APBKG{k}'] = (float(np.median(sky.background)),
                              f'band {k} background (median)')
        cards[f'APNOIS{k}'] = (float(sigma), f'band {k} noise sigma (median)')
    cards.update({
        'APDETECT': (detection or 'S/N-weighted sum of the bands', ''),
        'APNSIGMA': (float(nsigma), 'threshold in units of the noise'),
        'APTHRESH': (float(np.median(result.threshold)),
                     'threshold on the detection image (median)'),
        **_deblender_cards(deblender, kernel_fwhm),
    })
    return cards


def report(result, paths, stream=None):
    """
    Print a short summary of a run.

    Parameters
    ----------
    result : `~astropais.segmentation.DeblendResult` or `~astropais.segmentation.BandDeblendResult`
        The run (of one band, or of several: then each band's background
        and noise).
    paths : dict of path-like
        The files written.
    stream : file-like, optional
        Where to print (default: standard output).
    """
    stream = sys.stdout if stream is None else stream
    if hasattr(result, 'skies'):
        names = result.bands or [str(k) for k in range(len(result.skies))]
        for name, sky, sigma in zip(names, result.skies,
                                    result.noise_sigma):
            print(f'band {name}: background {np.median(sky.background):.4g}'
                  f' ({sky.method}), noise sigma {sigma:.4g}', file=stream)
        print(f'threshold {np.median(result.threshold):.4g} on the '
              'detection image', file=stream)
        _report_products(result.segmentation, paths, stream,
                         f' in {len(names)} bands')
        return
    print(f'background {np.median(result.sky.background):.4g} '
          f'({result.sky.method}), noise sigma '
          f'{np.median(result.noise_sigma):.4g}'
          f', threshold {np.median(result.threshold):.4g}'
          + (' (medians over the image)'
             if np.ndim(result.threshold) else ''), file=stream)
    _report_products(result.segmentation, paths, stream)


def _report_products(segmentation, paths, stream, where=''):
    """Print the number of sources found (``where``: e.g. ' in 5 bands')
    and the files written."""
    if segmentation is None:
        print('no sources found', file=stream)
        return
    print(f'{segmentation.n_labels} sources{where}', file=stream)
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
    from .fitsinput import holds_cube

    try:
        paths = list(args.image)
        several = len(paths) > 1 or holds_cube(paths[0], args.hdu)
        if not several:
            if args.detection_image is not None:
                raise ValueError('--detection-image is for several bands; '
                                 'with one image use --kernel-fwhm to '
                                 'smooth the detection')
            if args.bands is not None and len(args.bands) != 1:
                raise ValueError(f'--bands names {len(args.bands)} bands '
                                 f'({", ".join(args.bands)}) but the input '
                                 f'holds 1 ({paths[0]})')
            if args.zero_points is not None:
                raise ValueError('--zero-points is for several bands (the '
                                 'colours)')
    except (OSError, ValueError) as exc:
        print(f'astropais deblend: error: {exc}', file=sys.stderr)
        return 2
    return (_run_bands if several else _run_image)(args)


def _run_image(args):
    """``astropais deblend`` on one 2-D image."""
    from astropais.io import write_products
    from astropais.segmentation import deblend_field

    from .fitsinput import output_stem, read_error_map, read_image

    client = None
    path = args.image[0]
    try:
        image = read_image(path, args.hdu)
        # Non-finite pixels (and pixels without an error) are masked
        # silently, as documented.
        error = error_source = None
        kind, spec = _error_option(args)
        if kind is not None:
            error, error_source = read_error_map(spec, kind, image)
        mask = _non_finite(image.data, error)
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
            paths = write_products(args.output, output_stem(path),
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


def _non_finite(data, error=None):
    """
    The mask of the non-finite pixels of ``data`` (or ``error``), made a
    block of rows at a time (a memory-mapped image is read and let go
    block by block), or `None` where there are none (no whole-image
    mask held).
    """
    from astropais.segmentation.inputs import scan_rows

    mask = np.zeros(data.shape, dtype=bool)
    found = False
    for rows in scan_rows(data):
        bad = ~np.isfinite(data[rows])
        if error is not None:
            bad |= ~np.isfinite(error[rows])
        if bad.any():
            # (written only where needed: an all-False mask's pages stay
            # unallocated)
            mask[rows] = bad
            found = True
    return mask if found else None


def _run_bands(args):
    """``astropais deblend`` on several bands (files or a cube)."""
    from astropais.io import write_products
    from astropais.segmentation import deblend_bands
    from astropais.segmentation.band_pipeline import band_count_message

    from .fitsinput import (bands_stem, check_same_grid, read_bands,
                            read_image)

    try:
        kind, _ = _error_option(args)
        if kind is not None:
            raise ValueError(f'--{kind} takes one map: it is not supported '
                             'with several bands (each band\'s noise is '
                             'estimated from its own background)')
        if args.dask is not None:
            raise ValueError('--dask deblends one band; several bands are '
                             'deblended in memory')
        field = read_bands(args.image, args.hdu, bands=args.bands)
        deblender = common_deblender(args)
        if len(field.data) != deblender.model.n_bands:
            raise ValueError(band_count_message(len(field.data), field.bands,
                                                deblender.model))
        detection = None
        if args.detection_image is not None:
            image = read_image(args.detection_image)
            check_same_grid(field, image)
            detection = image.data
        data = (field.data if field.unit is None
                else [d * field.unit for d in field.data])
        result = deblend_bands(
            data, bands=field.bands, n_sigma=args.threshold,
            background=args.background, box_size=args.box_size,
            filter_size=args.filter_size, wcs=field.wcs,
            deblender=deblender, detection_image=detection,
            kernel_fwhm=args.kernel_fwhm,
            zero_points=_in_model_order(args.zero_points, field.bands,
                                        deblender.model),
            progress_bar=args.progress)
        paths = {}
        if result.segmentation is not None:
            cards = band_provenance(field=field, result=result,
                                    nsigma=args.threshold,
                                    deblender=deblender,
                                    detection=args.detection_image,
                                    kernel_fwhm=args.kernel_fwhm)
            paths = write_products(args.output, bands_stem(args.image),
                                   result.detection,
                                   result.segmentation, result.catalog,
                                   wcs=field.wcs, overwrite=args.overwrite,
                                   provenance=cards)
    except (OSError, ValueError, TypeError, ImportError) as exc:
        print(f'astropais deblend: error: {exc}', file=sys.stderr)
        return 2
    report(result, paths)
    return 0 if result.segmentation is not None else 1


def _in_model_order(zero_points, bands, network):
    """``--zero-points`` (in the order of the inputs) in the model's band
    order, as `~astropais.segmentation.deblend_bands` lists the bands."""
    if zero_points is None:
        return None
    if len(zero_points) != network.n_bands:
        raise ValueError(f'--zero-points gives {len(zero_points)} values '
                         f'for {network.n_bands} bands')
    model_bands = network.metadata.get('bands')
    if bands is None or model_bands is None or set(bands) != set(model_bands):
        # (other names: deblend_bands says which)
        return zero_points
    return tuple(zero_points[list(bands).index(name)]
                 for name in model_bands)
