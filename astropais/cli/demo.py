"""
The ``astropais demo`` command: deblend the example field shipped with
astropais (or, with ``--simulate`` and GalSim, a freshly simulated one).
"""

import sys
from pathlib import Path

import numpy as np

from .deblend import add_common_options, report

__all__ = ['add_parser', 'run', 'EXAMPLE_FIELD', 'EXAMPLE_FIELD_FILE',
           'simulate_example_field', 'read_example_field',
           'write_example_field', 'DETECTABLE_SNR']

#: The example field: `astropais.simulation.make_scene` arguments.  The
#: same arguments give the same image bit for bit; the shipped
#: `EXAMPLE_FIELD_FILE` was written by ``astropais demo --simulate``.
EXAMPLE_FIELD = {'preset': 'hst', 'shape': (256, 256), 'seed': 2021,
                 'density': 1500.0}

#: The example field shipped in ``astropais/data/`` (image and truth).
EXAMPLE_FIELD_FILE = Path(__file__).resolve().parent.parent / 'data' / \
    'example_field.fits'

#: Simulated sources at least this bright (total S/N) are counted as
#: detectable in the demo's summary.
DETECTABLE_SNR = 5.0

_TRUTH_COLUMNS = ('id', 'x', 'y', 'flux', 'flux_in_image', 'snr')


def add_parser(subparsers):
    """
    Register the ``demo`` subcommand.

    Parameters
    ----------
    subparsers : argparse subparsers action
        From `argparse.ArgumentParser.add_subparsers`.
    """
    p = subparsers.add_parser(
        'demo', help='deblend the example field shipped with astropais',
        description='Deblend the HST-like example field shipped with '
                    'astropais (simulated with GalSim; --simulate makes a '
                    'new one, which needs the simulation extra) and write '
                    'the image with its true sources (FITS), the weighted '
                    'segmentation (FITS), the catalog (ECSV), a PNG '
                    'overview and a PNG of the most blended pair: its '
                    'fraction maps and deblended images.')
    p.add_argument('--size', type=int, default=EXAMPLE_FIELD['shape'][0],
                   metavar='PIXELS',
                   help='side of the square field; the shipped field is cut '
                        'to it (default: %(default)s)')
    p.add_argument('--simulate', action='store_true',
                   help='simulate the field with GalSim instead of reading '
                        'the shipped one (pip install "astropais[simulation]")')
    add_common_options(p)
    p.set_defaults(func=run)


def simulate_example_field(size=EXAMPLE_FIELD['shape'][0]):
    """
    Simulate the example field (needs GalSim).

    Parameters
    ----------
    size : int, optional
        Side of the square field in pixels.

    Returns
    -------
    image : `~numpy.ndarray`
        The image (float32, background-free).
    header : `~astropy.io.fits.Header`
        How it was made, its noise sigma and PSF FWHM.
    truth : `~astropy.table.Table`
        The simulated sources (`_TRUTH_COLUMNS`).

    Raises
    ------
    ImportError
        Without GalSim, naming the extra to install.
    """
    from astropy.io import fits
    from astropy.table import Table
    try:
        from astropais.simulation import make_scene
        import galsim  # noqa: F401
    except ImportError as exc:
        raise ImportError('simulating needs GalSim: pip install '
                          '"astropais[simulation]"') from exc
    field = dict(EXAMPLE_FIELD, shape=(size, size))
    scene = make_scene(**field)
    header = fits.Header([
        ('PRESET', field['preset'], 'astropais.simulation preset'),
        ('SEED', field['seed'], 'random seed'),
        ('DENSITY', field['density'], 'sources per square arcminute'),
        ('NOISE', float(scene.noise_sigma), 'noise sigma'),
        ('PSFFWHM', float(scene.psf_fwhm_pixels), 'PSF FWHM (pixels)'),
        ('NSOURCES', len(scene.catalog), 'simulated sources')])
    truth = Table({name: np.asarray(scene.catalog[name])
                   for name in _TRUTH_COLUMNS})
    return scene.image.astype(np.float32), header, truth


def write_example_field(path, image, header, truth, overwrite=False):
    """
    Write an example field: the image in the primary HDU, the true sources
    in a ``TRUTH`` table.

    Parameters
    ----------
    path : path-like
        The FITS file.
    image, header, truth
        As returned by `simulate_example_field`.
    overwrite : bool, optional
        Replace an existing file.
    """
    from astropy.io import fits
    fits.HDUList([fits.PrimaryHDU(image, header=header),
                  fits.table_to_hdu(truth)]).writeto(path,
                                                     overwrite=overwrite)
    with fits.open(path, mode='update') as hdul:
        hdul[1].name = 'TRUTH'


def read_example_field(path=EXAMPLE_FIELD_FILE, size=None):
    """
    Read an example field written by `write_example_field`.

    Parameters
    ----------
    path : path-like, optional
        The file (default: the shipped one).
    size : int, optional
        Keep only the ``size x size`` pixels at the origin (and the true
        sources inside them).

    Returns
    -------
    image, header, truth
        As returned by `simulate_example_field`.

    Raises
    ------
    ValueError
        If ``size`` is not between 1 and the field's side.

    Examples
    --------
    >>> from astropais.cli.demo import read_example_field
    >>> image, header, truth = read_example_field(size=64)
    >>> image.shape, header['PRESET']
    ((64, 64), 'hst')
    """
    from astropy.io import fits
    from astropy.table import Table
    with fits.open(path) as hdul:
        image = np.array(hdul[0].data)
        header = hdul[0].header.copy()
        truth = Table(hdul['TRUTH'].data)
    if size is not None:
        if isinstance(size, bool) or int(size) != size \
                or not 1 <= size <= min(image.shape):
            raise ValueError(f'size must be an integer from 1 to '
                             f'{min(image.shape)} for the shipped field, got '
                             f'{size!r}; use --simulate for another size')
        size = int(size)
        image = image[:size, :size]
        inside = (truth['x'] < size - 0.5) & (truth['y'] < size - 0.5)
        truth = truth[inside]
        header['NSOURCES'] = len(truth)
    return image, header, truth


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
    from astropais.io import write_products
    from astropais.segmentation import deblend_field

    from .deblend import common_deblender, provenance
    from .figures import plot_blended_pair

    try:
        if args.simulate:
            image, header, truth = simulate_example_field(args.size)
            origin = 'simulated'
        else:
            image, header, truth = read_example_field(size=args.size)
            origin = 'shipped'
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        image_path = out / 'example_field.fits'
        pair_path = out / 'example_field_pair.png'
        for path in (image_path, pair_path):
            if path.exists() and not args.overwrite:
                raise OSError(f'{path} exists; use --overwrite to replace '
                              'it')
        write_example_field(image_path, image, header, truth,
                            overwrite=True)
        deblender = common_deblender(args)
        kernel_fwhm = float(header['PSFFWHM'])
        result = deblend_field(image, n_sigma=args.threshold,
                               background='none', kernel_fwhm=kernel_fwhm,
                               deblender=deblender,
                               progress_bar=args.progress)
        paths = {'image': image_path}
        if result.segmentation is not None:
            cards = provenance(image=f'{origin} example field',
                               hdu='0 (PRIMARY,1)', result=result,
                               nsigma=args.threshold, deblender=deblender,
                               kernel_fwhm=kernel_fwhm)
            paths.update(write_products(out, 'example_field', result.data,
                                        result.segmentation, result.catalog,
                                        overwrite=args.overwrite,
                                        provenance=cards))
            figure = plot_blended_pair(result.data, result.segmentation,
                                       result.catalog)
            if figure is not None:
                figure.savefig(pair_path, dpi=100)
                paths['blended pair'] = pair_path
    except (OSError, ValueError, TypeError, ImportError) as exc:
        print(f'astropais demo: error: {exc}', file=sys.stderr)
        return 2
    detectable = int(np.count_nonzero(truth['snr'] >= DETECTABLE_SNR))
    print(f'example field ({origin}): {header["PRESET"]} preset, '
          f'{image.shape[1]}x{image.shape[0]} pixels, seed {header["SEED"]}, '
          f'{len(truth)} simulated sources, {detectable} of them with S/N >= '
          f'{DETECTABLE_SNR:g} (most fainter ones are below the detection '
          'threshold; see the TRUTH table of the image file)')
    report(result, paths)
    return 0 if result.segmentation is not None else 1
