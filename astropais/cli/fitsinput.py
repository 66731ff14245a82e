"""
Reading the command line's FITS inputs: the image HDU (by index, name or
``EXTNAME,EXTVER``), its uncertainty map (an error, weight or variance
map from another file or an extension of the same file) and the output
stem of an input file.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ['FitsImage', 'parse_hdu', 'read_image', 'read_error_map',
           'output_stem']


_FITS_SUFFIX = re.compile(r'\.(fits|fit|fts)(\.(gz|fz|bz2))?$', re.IGNORECASE)
_BRACKETED = re.compile(r'^(?P<path>.+)\[(?P<hdu>[^\[\]]+)\]$')


@dataclass
class FitsImage:
    """
    A 2-D image read from one HDU of a FITS file.

    Parameters
    ----------
    data : `~numpy.ndarray`
        The image: the HDU's data memory-mapped (float32 stays float32
        and is read as it is used); scaled (``BSCALE``/``BZERO``) data
        are read whole by astropy.
    wcs : `~astropy.wcs.WCS` or `None`
        Its celestial WCS, if the header has one.
    path : str
        The file.
    hdu : str
        The HDU read, as ``INDEX`` or ``INDEX (EXTNAME,EXTVER)``.
    """

    data: np.ndarray
    wcs: object
    path: str
    hdu: str


def parse_hdu(text):
    """
    An HDU selector as astropy's ``HDUList`` indexes it.

    Parameters
    ----------
    text : str or None
        ``'1'`` (index), ``'SCI'`` (EXTNAME) or ``'SCI,2'``
        (EXTNAME,EXTVER).

    Returns
    -------
    key : None, int, str or tuple of (str, int)
        The key (`None` for `None`).

    Raises
    ------
    ValueError
        For a negative index, an empty name or a non-integer EXTVER.

    Examples
    --------
    >>> from astropais.cli.fitsinput import parse_hdu
    >>> parse_hdu('2'), parse_hdu('sci'), parse_hdu('SCI,2')
    (2, 'sci', ('SCI', 2))
    """
    if text is None:
        return None
    text = str(text).strip()
    if re.fullmatch(r'[+-]?\d+', text):
        index = int(text)
        if index < 0:
            raise ValueError(f'HDU index must be 0 or more, got {text!r}')
        return index
    name, comma, version = text.rpartition(',')
    if comma:
        if not re.fullmatch(r'\s*\d+\s*', version) or not name.strip():
            raise ValueError(f'HDU {text!r}: give EXTNAME,EXTVER with an '
                             'integer EXTVER, e.g. SCI,1')
        return name.strip(), int(version)
    if not text:
        raise ValueError('HDU name is empty')
    return text


def _describe(hdul):
    """``0 PRIMARY, 1 SCI,1 ...``: the HDUs of a file, for messages."""
    return ', '.join(f'{i} {h.name},{h.ver}' for i, h in enumerate(hdul))


def _select(hdul, path, hdu):
    """The HDU of ``hdul`` that ``hdu`` names, or a clear ValueError."""
    key = parse_hdu(hdu)
    if key is None:
        for index, candidate in enumerate(hdul):
            if (candidate.is_image and candidate.data is not None
                    and candidate.data.ndim == 2):
                return index, candidate
        raise ValueError(f'{path} has no 2-D image HDU (it has: '
                         f'{_describe(hdul)})')
    try:
        index = hdul.index_of(key)
        selected = hdul[index]
    except (KeyError, IndexError):
        raise ValueError(f'{path} has no HDU {hdu!r} (it has: '
                         f'{_describe(hdul)})') from None
    if not selected.is_image or selected.data is None:
        raise ValueError(f'HDU {hdu!r} of {path} holds no image data')
    if selected.data.ndim != 2:
        raise ValueError(f'HDU {hdu!r} of {path} is not a 2-D image (shape '
                         f'{selected.data.shape})')
    return index, selected


def _open(path, memmap=None):
    from astropy.io import fits
    try:
        return fits.open(path, memmap=memmap)
    except OSError as exc:
        raise OSError(f'cannot read {path} as FITS: {exc}') from exc


def read_image(path, hdu=None):
    """
    Read a 2-D image and its celestial WCS from a FITS file.

    Parameters
    ----------
    path : str or path-like
        The file.
    hdu : str, optional
        Index, EXTNAME or ``EXTNAME,EXTVER`` (default: the first HDU with a
        2-D image).

    Returns
    -------
    image : `FitsImage`
        The data, WCS and where they came from.

    Raises
    ------
    OSError
        If the file cannot be read.
    ValueError
        If the HDU does not exist or is not a 2-D image.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from astropais.cli.fitsinput import read_image
    >>> path = os.path.join(tempfile.mkdtemp(), 'example.fits')
    >>> fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((3, 4)),
    ...               name='SCI')]).writeto(path)
    >>> read_image(path, 'SCI,1').hdu
    '1 (SCI,1)'
    """
    from astropy.wcs import WCS

    path = os.fspath(path)
    # The data stay memory-mapped after the file is closed.
    with _open(path, memmap=True) as hdul:
        index, selected = _select(hdul, path, hdu)
        data = selected.data
        wcs = (WCS(selected.header) if 'CTYPE1' in selected.header
               else None)
        label = f'{index} ({selected.name},{selected.ver})'
    if wcs is not None and not wcs.has_celestial:
        wcs = None
    return FitsImage(data, wcs, path, label)


def read_error_map(spec, kind, image):
    """
    Read an uncertainty map and convert it to a 1-sigma error.

    Parameters
    ----------
    spec : str
        ``FILE`` (its first 2-D image), ``FILE[HDU]``, or ``HDU`` (an
        extension of the image's own file) where HDU is an index, EXTNAME
        or ``EXTNAME,EXTVER``.
    kind : {'error', 'variance', 'weight'}
        What the map holds (see
        `~astropais.segmentation.error_from_map`).
    image : `FitsImage`
        The image it belongs to.

    Returns
    -------
    error : `~numpy.ndarray`
        The error of every pixel, NaN where the map has no data
        (non-finite values, weight 0).
    source : str
        Where it came from, for the provenance.

    Raises
    ------
    ValueError
        For an unknown kind, a map whose shape differs from the image's
        or that holds negative values (or, for a weight map, infinite
        ones).
    OSError
        If its file cannot be read.
    """
    from astropais.segmentation.uncertainty import error_from_map

    match = _BRACKETED.match(spec)
    if match:
        path, hdu = match['path'], match['hdu']
    elif os.path.exists(spec):
        path, hdu = spec, None
    else:
        path, hdu = image.path, spec
    with _open(path) as hdul:
        index, selected = _select(hdul, path, hdu)
        values = np.array(selected.data, dtype=float)
        source = f'{path}[{index}] ({selected.name},{selected.ver})'
    if values.shape != image.data.shape:
        raise ValueError(f'the {kind} map {source} has shape {values.shape} '
                         f'but the image has shape {image.data.shape}')
    return (error_from_map(values, kind, name=f'the {kind} map {source}'),
            f'{kind} {source}')


def output_stem(path):
    """
    The output file stem of an input image: its name without the FITS
    suffix (so ``obs.r.fits`` and ``obs.g.fits`` stay apart).

    Parameters
    ----------
    path : str or path-like
        The input file.

    Returns
    -------
    stem : str
        E.g. ``'obs.r'`` for ``data/obs.r.fits.gz``.

    Examples
    --------
    >>> from astropais.cli.fitsinput import output_stem
    >>> output_stem('data/obs.r.fits'), output_stem('m13.fits.gz')
    ('obs.r', 'm13')
    """
    name = Path(path).name
    stem = _FITS_SUFFIX.sub('', name)
    return stem or name
