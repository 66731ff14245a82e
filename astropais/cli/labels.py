"""The ``astropais labels`` command: scarlet2 labels of an image as a
training dataset."""

from .pcr_options import add_pcr_arguments

__all__ = ['add_parser', 'run']


def add_parser(subparsers):
    """
    Add the ``labels`` subcommand.

    Parameters
    ----------
    subparsers : `argparse._SubParsersAction`
        The ``astropais`` subcommand collection.
    """
    p = subparsers.add_parser(
        'labels', help='fit scarlet2 to an image at catalogue positions and '
                       'write PCR training labels (resumable)',
        description='Fit scarlet2 to IMAGE crop by crop at the positions of '
                    'a catalogue and write the per-source models as PCR '
                    'labels in the dataset format astropais-train reads.')
    p.add_argument('image', help='FITS image, (H, W) or (bands, H, W), '
                                 'background-subtracted')
    p.add_argument('--psf', required=True,
                   help='FITS PSF image, (h, w) or (bands, h, w), odd, '
                        'centred, unit sum')
    p.add_argument('--catalog', required=True,
                   help='source table readable by astropy (e.g. ECSV) with '
                        'x and y (or xcentroid, ycentroid) columns, 0-based '
                        'pixels')
    p.add_argument('-o', '--output', required=True,
                   help='dataset directory')
    noise = p.add_mutually_exclusive_group()
    noise.add_argument('--noise-sigma', type=float,
                       help='per-pixel noise sigma (default: a sigma-clipped '
                            'MAD estimate from the image)')
    noise.add_argument('--variance', help='FITS variance map like IMAGE')
    noise.add_argument('--weights', help='FITS inverse-variance map like '
                                         'IMAGE')
    p.add_argument('--hdu', type=int, default=0,
                   help='HDU of every FITS input (default 0)')
    p.add_argument('--crop-size', type=int, default=64,
                   help='side of every sample (default 64)')
    p.add_argument('--margin', type=int, default=16,
                   help='context pixels fitted around each crop (default 16)')
    p.add_argument('--morphology', choices=('sersic', 'free'),
                   default='sersic', help='scarlet2 morphology model')
    p.add_argument('--max-iter', type=int, default=200,
                   help='optimiser steps per fit (default 200)')
    add_pcr_arguments(p)
    p.add_argument('--shard-size', type=int, default=64,
                   help='samples per shard (default 64)')
    p.add_argument('--keep-dropped', action='store_true',
                   help='write crops even when a nearby source was dropped')
    p.add_argument('--resume', action='store_true',
                   help='continue a partly written dataset')
    p.add_argument('--no-progress', action='store_true',
                   help='no progress bar')
    p.set_defaults(func=run)
    return p


def _read_fits(path, hdu):
    from astropy.io import fits
    with fits.open(path) as hdul:
        data = hdul[hdu].data
        if data is None:
            raise ValueError(f'{path}: HDU {hdu} holds no data')
        return data.astype(float)


def run(args):
    """
    Run ``astropais labels``.

    Parameters
    ----------
    args : `argparse.Namespace`
        The parsed arguments.

    Returns
    -------
    status : int
        0 on success, 2 on bad input.
    """
    import os
    import sys

    import numpy as np
    from astropy.stats import sigma_clipped_stats
    from astropy.table import Table

    from astropais.labels import write_label_dataset

    try:
        image = _read_fits(args.image, args.hdu)
        psf = _read_fits(args.psf, args.hdu)
        catalog = Table.read(args.catalog)
        noise = {}
        if args.variance:
            noise['variance'] = _read_fits(args.variance, args.hdu)
        elif args.weights:
            noise['weights'] = _read_fits(args.weights, args.hdu)
        elif args.noise_sigma is not None:
            noise['noise_sigma'] = args.noise_sigma
        else:
            cube = image if image.ndim == 3 else image[None]
            sigma = [sigma_clipped_stats(band, stdfunc='mad_std')[2]
                     for band in cube]
            noise['noise_sigma'] = np.asarray(sigma)
            print(f'astropais labels: estimated noise sigma '
                  f'{np.round(sigma, 6).tolist()}', file=sys.stderr)
        summary = write_label_dataset(
            args.output, image, psf, catalog, **noise,
            crop_shape=(args.crop_size, args.crop_size), margin=args.margin,
            n=args.n, sigma=args.sigma, slots=args.slots,
            morphology=args.morphology,
            max_iter=args.max_iter, skip_dropped=not args.keep_dropped,
            shard_size=args.shard_size, resume=args.resume,
            progress_bar=not args.no_progress,
            manifest={'inputs': {'image': os.path.basename(args.image),
                                 'psf': os.path.basename(args.psf),
                                 'catalog': os.path.basename(args.catalog)}})
    except (ValueError, TypeError, OSError) as exc:
        print(f'astropais labels: error: {exc}', file=sys.stderr)
        return 2
    dropped = summary['dropped']
    if summary['first_crop'] >= summary['n_crops']:
        print(f'astropais labels: {args.output} already holds every crop; '
              f'nothing to do')
        return 0
    print(f'astropais labels: wrote {summary["n_written"]} sample(s) to '
          f'{args.output} (crops {summary["first_crop"]}..'
          f'{summary["n_crops"] - 1}, {summary["n_skipped"]} skipped); '
          f'{len(dropped)} source(s) dropped')
    if len(dropped):
        report = os.path.join(args.output, 'dropped_sources.ecsv')
        if args.resume and os.path.exists(report):
            from astropy.table import vstack
            dropped = vstack([Table.read(report), dropped])
        dropped.write(report, overwrite=True)
        print(f'astropais labels: dropped sources listed in {report}')
    return 0
