"""The ``astropais demo`` command: deblend a simulated example field."""

import sys

from .deblend import add_common_options, report

__all__ = ['add_parser', 'run', 'EXAMPLE_FIELD']

#: The example field: `astropais.simulation.make_scene` arguments.  The
#: same arguments give the same image bit for bit.
EXAMPLE_FIELD = {'preset': 'hst', 'shape': (256, 256), 'seed': 2021,
                 'density': 1500.0}


def add_parser(subparsers):
    """
    Register the ``demo`` subcommand.

    Parameters
    ----------
    subparsers : argparse subparsers action
        From `argparse.ArgumentParser.add_subparsers`.
    """
    p = subparsers.add_parser(
        'demo', help='deblend a simulated example field',
        description='Simulate a deterministic HST-like example field, '
                    'deblend it and write the image (FITS), the weighted '
                    'segmentation (FITS), the catalog (ECSV) and a PNG '
                    'overview.')
    p.add_argument('--size', type=int, default=EXAMPLE_FIELD['shape'][0],
                   metavar='PIXELS',
                   help='side of the square field (default: %(default)s)')
    add_common_options(p)
    p.set_defaults(func=run)


def run(args):
    """
    Run ``astropais demo``.

    Parameters
    ----------
    args : `argparse.Namespace`
        The parsed arguments.

    Returns
    -------
    status : int
        0 on success, 1 if no source was found, 2 on an error.
    """
    from pathlib import Path

    from astropy.io import fits

    from astropais.io import write_products
    from astropais.segmentation import deblend_field
    from astropais.simulation import make_scene

    field = dict(EXAMPLE_FIELD, shape=(args.size, args.size))
    try:
        scene = make_scene(**field)
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        image_path = out / 'example_field.fits'
        if image_path.exists() and not args.overwrite:
            raise OSError(f'{image_path} exists; use --overwrite')
        header = fits.Header([('PRESET', field['preset']),
                              ('SEED', field['seed']),
                              ('NOISE', float(scene.noise_sigma),
                               'noise sigma'),
                              ('NSOURCES', len(scene.catalog),
                               'simulated sources')])
        fits.PrimaryHDU(scene.image, header=header).writeto(
            image_path, overwrite=True)
        result = deblend_field(scene.image, nsigma=args.threshold,
                               n_pixels=args.n_pixels, model=args.model,
                               subtract_background=False,
                               kernel_fwhm=float(scene.psf_fwhm_pixels),
                               precision=args.precision,
                               progress_bar=args.progress)
        paths = {'image': image_path}
        if result.segmentation is not None:
            paths.update(write_products(out, 'example_field', result.data,
                                        result.segmentation, result.catalog,
                                        overwrite=args.overwrite))
    except (OSError, ValueError, TypeError) as exc:
        print(f'astropais demo: error: {exc}', file=sys.stderr)
        return 2
    print(f'example field: {field["preset"]} preset, {args.size}x{args.size} '
          f'pixels, seed {field["seed"]}, {len(scene.catalog)} simulated '
          'sources')
    report(result, paths)
    return 0 if result.segmentation is not None else 1
