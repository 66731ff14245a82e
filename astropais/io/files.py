"""
Lossless FITS and ASDF files for `~astropais.WeightedSegmentationImage`.

Both formats store the sparse attribution exactly (flat pixel indices,
``(P, n)`` labels and float64 weights, the ``(N, 2)`` centres), the
disjoint label map (with its dtype) for tools that only read images, and
the deblending record (``deblended_labels`` and their parents; FITS
extension ``DEBLEND``, absent from files of older writers).  On reading,
the label map is rebuilt from the attribution and compared with the
stored one: a mismatch means a damaged or hand-edited file and raises.

A multi-band segmentation also stores each band's attribution (FITS
extensions ``BANDATTR`` with ``EXTVER`` 1..b and the band's name in
``BANDNAME``; ASDF list ``bands``) and has layout version 2, so that a
reader of version 1 refuses it rather than drop the bands; single-band
files keep version 1.
"""

import os

import numpy as np
from astropy.io import fits

from astropais.pcr.sparse import PixelAttribution
from astropais.version import __version__

__all__ = ['write_weighted_segmentation', 'read_weighted_segmentation',
           'FORMAT_NAME', 'FORMAT_VERSION']

#: Name recorded in every file, checked on reading.
FORMAT_NAME = 'astropais-weighted-segmentation'
#: Version of the on-disk layout, checked on reading (2: per-band
#: attributions; single-band files are still written as version 1).
FORMAT_VERSION = 2

_FITS_SUFFIXES = ('.fits', '.fit', '.fts', '.fits.gz')
_ASDF_SUFFIXES = ('.asdf',)


def _format_of(path, format):
    if format is not None:
        if format not in ('fits', 'asdf'):
            raise ValueError(f"format must be 'fits' or 'asdf', got "
                             f'{format!r}')
        return format
    name = os.fspath(path).lower()
    if name.endswith(_FITS_SUFFIXES):
        return 'fits'
    if name.endswith(_ASDF_SUFFIXES):
        return 'asdf'
    raise ValueError(f'cannot tell the format of {os.fspath(path)!r} from its '
                     'suffix (.fits or .asdf); pass format=')


def _segmentation_class():
    from astropais.segmentation.weighted import WeightedSegmentationImage
    return WeightedSegmentationImage


def write_weighted_segmentation(segmentation, path, *, format=None,
                                wcs=None, overwrite=False):
    """
    Write a weighted segmentation losslessly to FITS or ASDF.

    Parameters
    ----------
    segmentation : `~astropais.WeightedSegmentationImage`
        The segmentation to write (with each band's fractions for a
        multi-band one).
    path : str or path-like
        The output file; ``.fits`` or ``.asdf`` unless ``format`` is given.
    format : {'fits', 'asdf'}, optional
        The file format (default: from the suffix).
    wcs : `~astropy.wcs.WCS`, optional
        A celestial WCS stored with the label map (FITS header; ASDF
        tree as a FITS header dictionary).
    overwrite : bool, optional
        Overwrite an existing file.
    """
    cls = _segmentation_class()
    if not isinstance(segmentation, cls):
        raise TypeError('segmentation must be a WeightedSegmentationImage, '
                        f'got {type(segmentation).__name__}')
    if os.path.exists(path) and not overwrite:
        raise OSError(f'{os.fspath(path)!r} exists; pass overwrite=True')
    if _format_of(path, format) == 'fits':
        _write_fits(segmentation, path, wcs)
    else:
        _write_asdf(segmentation, path, wcs)


def read_weighted_segmentation(path, *, format=None):
    """
    Read a weighted segmentation written by `write_weighted_segmentation`.

    Parameters
    ----------
    path : str or path-like
        The file.
    format : {'fits', 'asdf'}, optional
        The file format (default: from the suffix).

    Returns
    -------
    segmentation : `~astropais.WeightedSegmentationImage`
        The segmentation; identical labels, fractions and centres (and
        per-band fractions and band names for a multi-band one).
    wcs : `~astropy.wcs.WCS` or `None`
        The stored WCS, if any.
    """
    if _format_of(path, format) == 'fits':
        attribution, label_map, wcs, deblend, bands = _read_fits(path)
    else:
        attribution, label_map, wcs, deblend, bands = _read_asdf(path)
    if not np.array_equal(attribution.label_map(), label_map):
        raise ValueError(f'{os.fspath(path)!r}: the stored label map does not '
                         'match the stored attribution (damaged file?)')
    multi = None
    if bands is not None:
        from astropais.segmentation.bands import MultiBandAttribution
        attributions, names = bands
        multi = MultiBandAttribution(attributions, bands=names,
                                     detection=attribution)
    segmentation = _segmentation_class()._from_parts(label_map, attribution,
                                                     multi)
    children, parents = deblend
    record = {}
    # A loop over the (few) deblended parents.
    for parent in np.unique(parents):
        record[int(parent)] = children[parents == parent].astype(
            label_map.dtype)
    segmentation._deblend_label_map = record
    return segmentation, wcs


def _deblend_pairs(segmentation):
    """The deblending record as (child labels, parent labels) arrays."""
    record = segmentation.deblended_label_to_parent
    children = np.array(sorted(record), dtype=np.int64)
    parents = np.array([record[c] for c in children], dtype=np.int64)
    return children, parents


def _fields(segmentation):
    attr = segmentation.attribution
    return {'shape': np.asarray(attr.shape, dtype=np.int64),
            'pixels': attr.pixels, 'labels': attr.labels,
            'weights': attr.weights, 'centres': attr.centres,
            'label_map': np.asarray(segmentation.data)}


def _band_list(segmentation):
    """``[(name or None, attribution), ...]`` per band, or None."""
    multi = segmentation.band_attributions
    if multi is None:
        return None
    names = multi.bands or (None,) * multi.n_bands
    return [(name, multi.band(k)) for k, name in enumerate(names)]


def _layout_version(bands):
    """Version 1 for single-band files (readable by older readers)."""
    return 1 if bands is None else FORMAT_VERSION


def _attribution_hdu(attribution, name, ver=None):
    """The table HDU of one attribution's pixels, labels and weights."""
    n_slots = attribution.labels.shape[1]
    table = fits.BinTableHDU.from_columns([
        fits.Column(name='PIXEL', format='K', array=attribution.pixels),
        fits.Column(name='LABEL', format=f'{n_slots}K',
                    array=attribution.labels),
        fits.Column(name='WEIGHT', format=f'{n_slots}D',
                    array=attribution.weights)], name=name, ver=ver)
    table.header['NY'], table.header['NX'] = map(int, attribution.shape)
    table.header['NSLOTS'] = n_slots
    return table


def _write_fits(segmentation, path, wcs):
    fields = _fields(segmentation)
    bands = _band_list(segmentation)
    children, parents = _deblend_pairs(segmentation)
    primary = fits.PrimaryHDU()
    primary.header['FORMAT'] = (FORMAT_NAME, 'astropais file layout')
    primary.header['FORMATV'] = (_layout_version(bands), 'layout version')
    primary.header['CREATOR'] = f'astropais {__version__}'
    header = wcs.to_header() if wcs is not None else None
    labels = fits.ImageHDU(fields['label_map'], header=header, name='LABELS')
    table = _attribution_hdu(segmentation.attribution, 'ATTRIB')
    centres = fits.BinTableHDU.from_columns([
        fits.Column(name='Y', format='D', array=fields['centres'][:, 0]),
        fits.Column(name='X', format='D', array=fields['centres'][:, 1])],
        name='CENTRES')
    deblend = fits.BinTableHDU.from_columns([
        fits.Column(name='LABEL', format='K', array=children),
        fits.Column(name='PARENT', format='K', array=parents)],
        name='DEBLEND')
    hdus = [primary, labels, table, centres, deblend]
    if bands is not None:
        primary.header['NBANDS'] = (len(bands), 'bands with own fractions')
        # A loop over the bands: one attribution table each.
        for k, (name, attribution) in enumerate(bands):
            hdu = _attribution_hdu(attribution, 'BANDATTR', ver=k + 1)
            if name is not None:
                hdu.header['BANDNAME'] = name
            hdus.append(hdu)
    fits.HDUList(hdus).writeto(path, overwrite=True)


def _check_format(name, version, path):
    if name != FORMAT_NAME:
        raise ValueError(f'{os.fspath(path)!r} is not an astropais weighted '
                         f'segmentation file (format {name!r})')
    if int(version) > FORMAT_VERSION:
        raise ValueError(f'{os.fspath(path)!r} has layout version {version}; '
                         f'this astropais reads up to {FORMAT_VERSION}')


def _read_fits(path):
    from astropy.wcs import WCS

    with fits.open(path) as hdul:
        _check_format(hdul[0].header.get('FORMAT'),
                      hdul[0].header.get('FORMATV', 0), path)
        try:
            label_map = np.array(hdul['LABELS'].data)
            label_map = label_map.astype(label_map.dtype.newbyteorder('='))
            table = hdul['ATTRIB']
            centres_hdu = hdul['CENTRES']
        except KeyError as exc:
            raise ValueError(f'{os.fspath(path)!r} lacks an extension: '
                             f'{exc}') from None
        shape, pixels, labels, weights = _read_attribution_hdu(table)
        cdata = centres_hdu.data
        centres = (np.column_stack([cdata['Y'], cdata['X']]).astype(float)
                   if cdata is not None and len(cdata) else np.zeros((0, 2)))
        header = hdul['LABELS'].header
        wcs = WCS(header) if 'CTYPE1' in header else None
        deblend = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        if 'DEBLEND' in hdul and hdul['DEBLEND'].data is not None:
            rows = hdul['DEBLEND'].data
            deblend = (np.array(rows['LABEL'], dtype=np.int64),
                       np.array(rows['PARENT'], dtype=np.int64))
        bands = None
        n_bands = int(hdul[0].header.get('NBANDS', 0))
        if n_bands:
            bands = ([], [])
            # A loop over the bands: one attribution table each.
            for k in range(n_bands):
                try:
                    hdu = hdul['BANDATTR', k + 1]
                except KeyError:
                    raise ValueError(f'{os.fspath(path)!r} lacks the '
                                     f'attribution of band {k + 1} of '
                                     f'{n_bands}') from None
                bands[0].append(PixelAttribution(
                    *_read_attribution_hdu(hdu), centres))
                bands[1].append(hdu.header.get('BANDNAME'))
    attribution = PixelAttribution(shape, pixels, labels, weights, centres)
    return attribution, label_map, wcs, deblend, _named(bands)


def _named(bands):
    """``(attributions, names or None)``: names only if every band has one."""
    if bands is None:
        return None
    attributions, names = bands
    return attributions, (None if any(n is None for n in names)
                          else list(names))


def _read_attribution_hdu(table):
    """``(shape, pixels, labels, weights)`` of an attribution table HDU."""
    shape = (int(table.header['NY']), int(table.header['NX']))
    n_slots = int(table.header['NSLOTS'])
    data = table.data
    n_rows = 0 if data is None else len(data)
    pixels = (np.array(data['PIXEL'], dtype=np.int64) if n_rows
              else np.zeros(0, dtype=np.int64))
    labels = (np.array(data['LABEL'], dtype=np.int64).reshape(-1, n_slots)
              if n_rows else np.zeros((0, n_slots), dtype=np.int64))
    weights = (np.array(data['WEIGHT'], dtype=np.float64)
               .reshape(-1, n_slots) if n_rows
               else np.zeros((0, n_slots)))
    return shape, pixels, labels, weights


def _write_asdf(segmentation, path, wcs):
    import asdf

    bands = _band_list(segmentation)
    tree = {'format': FORMAT_NAME,
            'format_version': _layout_version(bands),
            'creator': f'astropais {__version__}',
            'segmentation': _fields(segmentation)}
    children, parents = _deblend_pairs(segmentation)
    tree['deblend'] = {'labels': children, 'parents': parents}
    if bands is not None:
        tree['bands'] = [{'name': name, 'pixels': att.pixels,
                          'labels': att.labels, 'weights': att.weights}
                         for name, att in bands]
    if wcs is not None:
        tree['wcs_header'] = dict(wcs.to_header())
    asdf.AsdfFile(tree).write_to(path, all_array_compression='zlib')


def _read_asdf(path):
    import asdf
    from astropy.io.fits import Header
    from astropy.wcs import WCS

    with asdf.open(path, lazy_load=False, memmap=False) as af:
        _check_format(af.tree.get('format'), af.tree.get('format_version', 0),
                      path)
        seg = af.tree['segmentation']
        fields = {key: np.array(seg[key]) for key in
                  ('shape', 'pixels', 'labels', 'weights', 'centres',
                   'label_map')}
        header = af.tree.get('wcs_header')
        wcs = WCS(Header(dict(header))) if header else None
        deblend = af.tree.get('deblend', {})
        deblend = (np.array(deblend.get('labels', []), dtype=np.int64),
                   np.array(deblend.get('parents', []), dtype=np.int64))
        shape = tuple(int(n) for n in fields['shape'])
        bands = None
        if af.tree.get('bands') is not None:
            bands = ([PixelAttribution(shape, np.array(band['pixels']),
                                       np.array(band['labels']),
                                       np.array(band['weights']),
                                       fields['centres'])
                      for band in af.tree['bands']],
                     [band.get('name') for band in af.tree['bands']])
    attribution = PixelAttribution(shape, fields['pixels'],
                                   fields['labels'], fields['weights'],
                                   fields['centres'])
    return attribution, fields['label_map'], wcs, deblend, _named(bands)
