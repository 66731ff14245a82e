"""
Reading the command line's FITS inputs: the image HDU (by index, name or
``EXTNAME,EXTVER``), its uncertainty map (an error, weight or variance
map from another file or an extension of the same file), the bands of a
multi-band field (several files or one cube, checked to share one pixel
grid, WCS and unit) and the output stem of an input file.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ['FitsImage', 'FitsBands', 'parse_hdu', 'read_image',
           'read_bands', 'holds_cube', 'check_same_grid', 'read_error_map',
           'output_stem', 'bands_stem']


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


def _select(hdul, path, hdu, ndims=(2,)):
    """The HDU of ``hdul`` that ``hdu`` names (by default the first image
    of ``ndims`` dimensions), or a clear ValueError."""
    kind = ' or '.join(f'{n}-D' for n in ndims)
    key = parse_hdu(hdu)
    if key is None:
        for index, candidate in enumerate(hdul):
            if (candidate.is_image and candidate.data is not None
                    and candidate.data.ndim in ndims):
                return index, candidate
        raise ValueError(f'{path} has no {kind} image HDU (it has: '
                         f'{_describe(hdul)})')
    try:
        index = hdul.index_of(key)
        selected = hdul[index]
    except (KeyError, IndexError):
        raise ValueError(f'{path} has no HDU {hdu!r} (it has: '
                         f'{_describe(hdul)})') from None
    if not selected.is_image or selected.data is None:
        raise ValueError(f'HDU {hdu!r} of {path} holds no image data')
    if selected.data.ndim not in ndims:
        raise ValueError(f'HDU {hdu!r} of {path} is not a {kind} image '
                         f'(shape {selected.data.shape})')
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


@dataclass
class FitsBands:
    """
    The bands of one field, read from several FITS files or one cube.

    Parameters
    ----------
    data : list of `~numpy.ndarray`
        One 2-D image per band (memory-mapped where the file allows), of
        one shape.
    wcs : `~astropy.wcs.WCS` or `None`
        The celestial WCS they share, if they have one.
    unit : `~astropy.units.UnitBase` or `None`
        The unit they share (``BUNIT``), if they have one that astropy
        recognises.
    bunit : str or `None`
        That ``BUNIT`` as written.
    bands : tuple of str or `None`
        The band names, in the order of ``data``: ``--bands``, else the
        ``FILTER`` keywords, else `None`.
    sources : list of str
        Where each band came from, ``FILE[HDU]`` (``FILE[HDU][PLANE]``
        for a cube).
    """

    data: list
    wcs: object
    unit: object
    bunit: object
    bands: object
    sources: list

    @property
    def shape(self):
        """The ``(ny, nx)`` image shape."""
        return self.data[0].shape


def _filter_name(header, primary):
    """The ``FILTER`` keyword of an HDU (or of the primary HDU)."""
    for hdr in (header, primary):
        value = hdr.get('FILTER')
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _unit(bunit, where):
    """The astropy unit of a ``BUNIT`` (None if absent or unknown)."""
    from astropy import units as u

    if bunit is None or not str(bunit).strip():
        return None
    unit = u.Unit(str(bunit).strip(), format='fits', parse_strict='silent')
    return None if isinstance(unit, u.UnrecognizedUnit) else unit


def _read_planes(path, hdu):
    """The 2-D images of one file: its 2-D image (one band) or the planes
    of its 3-D cube, with their WCS, ``BUNIT`` and ``FILTER``."""
    from astropy.wcs import WCS

    with _open(path, memmap=True) as hdul:
        index, selected = _select(hdul, path, hdu, ndims=(2, 3))
        data, header = selected.data, selected.header
        label = f'{path}[{index}]'
        wcs = WCS(header) if 'CTYPE1' in header else None
        filter_name = _filter_name(header, hdul[0].header)
        bunit = header.get('BUNIT', hdul[0].header.get('BUNIT'))
    if wcs is not None:
        wcs = wcs.celestial if wcs.has_celestial else None
    if data.ndim == 2:
        return [data], [label], wcs, bunit, [filter_name]
    return ([data[k] for k in range(data.shape[0])],
            [f'{label}[{k}]' for k in range(data.shape[0])], wcs, bunit,
            [None] * data.shape[0])


def _same_wcs(wcs, other, shape):
    """Whether two celestial WCS map the corners and centre of an image of
    ``shape`` to the same sky positions, within a hundredth of a pixel."""
    ny, nx = shape
    x = np.array([0, nx - 1, 0, nx - 1, (nx - 1) / 2])
    y = np.array([0, 0, ny - 1, ny - 1, (ny - 1) / 2])
    from astropy.wcs.utils import proj_plane_pixel_scales

    try:
        separation = wcs.pixel_to_world(x, y).separation(
            other.pixel_to_world(x, y)).to_value('deg')
    except (ValueError, TypeError):  # e.g. other celestial frames
        return False
    scale = float(np.min(proj_plane_pixel_scales(wcs)))
    return bool(np.all(separation <= 0.01 * scale))


def read_bands(paths, hdu=None, bands=None):
    """
    Read the bands of one field: several FITS files (one 2-D image each)
    or one file holding a cube.

    Parameters
    ----------
    paths : sequence of str or path-like
        The files: one per band, or a single file whose HDU is a 3-D cube
        ``(bands, ny, nx)`` (or a 2-D image: one band).
    hdu : str, optional
        The HDU of every file: index, EXTNAME or ``EXTNAME,EXTVER``
        (default: the first 2-D or 3-D image).
    bands : sequence of str, optional
        The band names, in the order of the files (or of the cube's
        planes).  Default: every file's ``FILTER`` keyword (of its HDU or
        primary HDU) when all have one, else `None` (the bands are then
        taken to be in the model's order).

    Returns
    -------
    bands : `FitsBands`

    Raises
    ------
    ValueError
        If the number of band names is not the number of bands, the names
        repeat, only some files name their filter, the bands differ in
        shape, in unit (``BUNIT``) or in their celestial WCS (or only some
        have one); each message names the files concerned.
    OSError
        If a file cannot be read.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from astropais.cli.fitsinput import read_bands
    >>> path = os.path.join(tempfile.mkdtemp(), 'cube.fits')
    >>> fits.PrimaryHDU(np.zeros((3, 4, 5))).writeto(path)
    >>> field = read_bands([path], bands=['g', 'r', 'i'])
    >>> field.bands, field.shape
    (('g', 'r', 'i'), (4, 5))
    >>> read_bands([path], bands=['g', 'r'])
    Traceback (most recent call last):
    ...
    ValueError: --bands names 2 bands (g, r) but the input holds 3 (a cube
    of 3 planes in ...cube.fits[0])
    """
    paths = [os.fspath(path) for path in paths]
    if not paths:
        raise ValueError('give at least one FITS file')
    planes, sources, wcses, bunits, filters = [], [], [], [], []
    for path in paths:
        data, labels, wcs, bunit, names = _read_planes(path, hdu)
        if len(paths) > 1 and len(data) > 1:
            raise ValueError(f'{labels[0].rsplit("[", 1)[0]} holds a cube of '
                             f'{len(data)} planes: give one 2-D image per '
                             'file, or the cube alone')
        planes += data
        sources += labels
        wcses += [wcs] * len(data)
        bunits += [bunit] * len(data)
        filters += names
    if bands is not None:
        bands = tuple(bands)
        if len(bands) != len(planes):
            held = (f'a cube of {len(planes)} planes in '
                    f'{sources[0].rsplit("[", 1)[0]}' if len(paths) == 1
                    else f'{len(paths)} files')
            raise ValueError(f'--bands names {len(bands)} bands '
                             f'({", ".join(bands)}) but the input holds '
                             f'{len(planes)} ({held})')
    elif all(name is not None for name in filters):
        bands = tuple(filters)
    elif any(name is not None for name in filters):
        missing = [src for src, name in zip(sources, filters) if name is None]
        raise ValueError(f'only some inputs name their FILTER (none in '
                         f'{", ".join(missing)}): give --bands')
    if bands is not None and len(set(bands)) != len(bands):
        raise ValueError(f'the band names repeat: {", ".join(bands)} (give '
                         '--bands)')
    for src, data in zip(sources[1:], planes[1:]):
        if data.shape != planes[0].shape:
            raise ValueError(f'{src} has shape {data.shape}, {sources[0]} '
                             f'{planes[0].shape}: the bands must share one '
                             'pixel grid')
    units = [_unit(bunit, src) for bunit, src in zip(bunits, sources)]
    for src, bunit, unit in zip(sources[1:], bunits[1:], units[1:]):
        if unit != units[0] or (unit is None and bunit != bunits[0]):
            raise ValueError(f'{src} has BUNIT {bunit!r}, {sources[0]} '
                             f'{bunits[0]!r}: the bands must share one unit')
    wcs = wcses[0]
    for src, other in zip(sources[1:], wcses[1:]):
        if (other is None) != (wcs is None):
            with_wcs, without = ((sources[0], src) if other is None
                                 else (src, sources[0]))
            raise ValueError(f'{with_wcs} has a celestial WCS and {without} '
                             'none: the bands must share one WCS')
        if wcs is not None and not _same_wcs(wcs, other, planes[0].shape):
            raise ValueError(f'the celestial WCS of {src} differs from that '
                             f'of {sources[0]} (by more than 0.01 pixel at '
                             'the image corners): resample the bands onto '
                             'one pixel grid first')
    return FitsBands(planes, wcs, units[0], bunits[0], bands, sources)


def holds_cube(path, hdu=None):
    """
    Whether a FITS file's image is a cube of bands.

    Parameters
    ----------
    path : str or path-like
        The file.
    hdu : str, optional
        The HDU; by default the file holds a cube when it has no 2-D
        image HDU and a 3-D one.

    Returns
    -------
    cube : bool

    Raises
    ------
    OSError
        If the file cannot be read.
    ValueError
        If the HDU does not exist or is neither 2-D nor 3-D.
    """
    path = os.fspath(path)
    with _open(path, memmap=True) as hdul:
        if hdu is None:
            try:
                _select(hdul, path, None)
                return False
            except ValueError:
                pass
        _, selected = _select(hdul, path, hdu, ndims=(2, 3))
        return selected.data.ndim == 3


def check_same_grid(field, image):
    """
    Check that an image (e.g. a detection image) lies on the pixel grid
    of a field's bands.

    Parameters
    ----------
    field : `FitsBands`
        The bands.
    image : `FitsImage`
        The image.

    Raises
    ------
    ValueError
        If its shape or celestial WCS differ from the bands' (or only one
        of them has a WCS).
    """
    where = f'{image.path}[{image.hdu}]'
    if image.data.shape != field.shape:
        raise ValueError(f'{where} has shape {image.data.shape}, the bands '
                         f'{field.shape}')
    if (image.wcs is None) != (field.wcs is None):
        raise ValueError(f'{where} has {"no" if image.wcs is None else "a"} '
                         f'celestial WCS, the bands '
                         f'{"one" if field.wcs is not None else "none"}')
    if image.wcs is not None and not _same_wcs(field.wcs, image.wcs,
                                               field.shape):
        raise ValueError(f'the celestial WCS of {where} differs from the '
                         "bands' (by more than 0.01 pixel at the image "
                         'corners)')


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


def bands_stem(paths):
    """
    The output file stem of several input files (one per band): the part
    their stems share, without trailing ``.``, ``_`` or ``-``.

    Parameters
    ----------
    paths : sequence of str or path-like
        The input files.

    Returns
    -------
    stem : str
        E.g. ``'obs'`` for ``obs.g.fits`` and ``obs.r.fits``; the first
        file's stem if the stems share nothing.

    Examples
    --------
    >>> from astropais.cli.fitsinput import bands_stem
    >>> bands_stem(['d/obs.g.fits', 'd/obs.r.fits']), bands_stem(['a.fits'])
    ('obs', 'a')
    """
    stems = [output_stem(path) for path in paths]
    shared = os.path.commonprefix(stems).rstrip('._-')
    return shared or stems[0]
