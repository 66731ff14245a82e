"""``astropais deblend`` on several bands: files, a cube, their checks."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable
from astropy.wcs import WCS

from astropais.cli.main import main
from astropais.io import read_weighted_segmentation
from astropais.segmentation.tests.helpers import untrained_band_model

pytest.importorskip('galsim')
pytest.importorskip('astropais.model')

BANDS = ('g', 'r', 'i', 'z', 'y')
SKY = (10.0, 20.0, 30.0, 40.0, 50.0)


@pytest.fixture(scope='module')
def model_path(tmp_path_factory):
    """An untrained grizy network: the plumbing only."""
    return untrained_band_model(
        tmp_path_factory.mktemp('grizy') / 'grizy.keras', BANDS)


@pytest.fixture(scope='module')
def scene():
    from astropais.simulation import make_scene

    return make_scene('grizy', shape=(64, 80), seed=4, density=900,
                      pair_fraction=0.6)


def celestial_wcs(crval=(53.1, -27.8)):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    wcs.wcs.crval = list(crval)
    wcs.wcs.crpix = [40, 32]
    wcs.wcs.cdelt = [-5e-5, 5e-5]
    return wcs


def write_band(path, image, *, band=None, wcs=None, bunit='nJy'):
    header = fits.Header() if wcs is None else wcs.to_header()
    if band is not None:
        header['FILTER'] = band
    if bunit is not None:
        header['BUNIT'] = bunit
    fits.PrimaryHDU(image.astype(np.float32), header=header).writeto(path)
    return str(path)


@pytest.fixture(scope='module')
def band_files(tmp_path_factory, scene):
    """One file per band, with a sky level, FILTER, BUNIT and a WCS; in
    the order i, g, y, r, z (the FILTER keywords give the model's)."""
    directory = tmp_path_factory.mktemp('bands')
    order = (2, 0, 4, 1, 3)
    return [write_band(directory / f'field.{BANDS[k]}.fits',
                       scene.image[k] + SKY[k], band=BANDS[k],
                       wcs=celestial_wcs())
            for k in order]


def test_band_files_give_per_band_products(tmp_path, model_path, scene,
                                           band_files, capsys):
    out = tmp_path / 'out'
    status = main(['deblend', *band_files, '--threshold', '3', '-o',
                   str(out), '--model', model_path])
    assert status == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert 'band g: background' in text and 'sources in 5 bands' in text
    segm, wcs = read_weighted_segmentation(out / 'field_segm.fits')
    assert segm.n_bands == 5 and segm.bands == BANDS
    assert wcs is not None
    table = QTable.read(out / 'field_catalog.ecsv')
    assert len(table) == segm.n_labels > 0
    np.testing.assert_array_equal(table['label'], segm.labels)
    assert 'sky_centroid' in table.colnames
    header = fits.getheader(out / 'field_segm.fits')
    assert header['APBANDS'] == 'g,r,i,z,y'
    assert header['APBUNIT'] == 'nJy'
    assert table['segment_flux_g'].unit == 'nJy'
    for k, name in enumerate(BANDS):
        background = header[f'APBKG{k + 1}']
        # The sky level of each band was found and removed.
        assert background == pytest.approx(SKY[k], abs=3 * scene.noise_sigma[k])
        # Per band, the catalog's fluxes add up to that band's
        # background-subtracted image over the footprint.
        image = scene.image[k].astype(np.float32) + np.float32(SKY[k])
        total = np.sum(image[segm.footprint] - background, dtype=np.float64)
        assert np.sum(table[f'segment_flux_{name}'].value) == pytest.approx(
            total, rel=1e-6)
        # and each band's fractions are its own segmentation's.
        assert segm.band(name).n_bands == 1
    # The colours are the magnitudes' differences.
    with np.errstate(invalid='ignore', divide='ignore'):
        colour = -2.5 * np.log10(table['segment_flux_g'].value
                                 / table['segment_flux_r'].value)
    good = np.isfinite(table['g-r'])
    assert good.any()
    np.testing.assert_allclose(table['g-r'][good], colour[good], rtol=1e-10)


def test_cube_equals_band_files(tmp_path, model_path, scene, band_files,
                                capsys):
    files = tmp_path / 'files'
    assert main(['deblend', *band_files, '-o', str(files), '--model',
                 model_path, '--threshold', '3']) == 0
    header = celestial_wcs().to_header()
    header['BUNIT'] = 'nJy'
    cube = tmp_path / 'cube.fits'
    fits.PrimaryHDU((scene.image + np.array(SKY)[:, None, None]).astype(
        np.float32), header=header).writeto(cube)
    out = tmp_path / 'cube'
    # A cube's bands are named by --bands (here in the model's order).
    assert main(['deblend', str(cube), '--bands', ','.join(BANDS), '-o',
                 str(out), '--model', model_path, '--threshold', '3',
                 '--zero-points', '31.4,31.4,31.4,31.4,31.4']) == 0
    capsys.readouterr()
    by_files = QTable.read(files / 'field_catalog.ecsv')
    by_cube = QTable.read(out / 'cube_catalog.ecsv')
    for name in BANDS:
        np.testing.assert_allclose(by_cube[f'segment_flux_{name}'],
                                   by_files[f'segment_flux_{name}'],
                                   rtol=1e-10)
    assert 'mag_g' in by_cube.colnames and 'mag_g' not in by_files.colnames


def test_detection_image(tmp_path, model_path, scene, band_files, capsys):
    detection = write_band(tmp_path / 'detection.fits',
                           scene.image.sum(axis=0), wcs=celestial_wcs())
    out = tmp_path / 'out'
    assert main(['deblend', *band_files, '--detection-image', detection,
                 '-o', str(out), '--model', model_path,
                 '--threshold', '3']) == 0
    capsys.readouterr()
    header = fits.getheader(out / 'field_segm.fits')
    assert header['APDETECT'] == detection
    # The detection image's grid is checked against the bands'.
    small = write_band(tmp_path / 'small.fits', np.zeros((32, 32)))
    assert main(['deblend', *band_files, '--detection-image', small,
                 '-o', str(out), '--model', model_path]) == 2
    err = capsys.readouterr().err
    assert 'small.fits' in err and '(32, 32)' in err and '(64, 80)' in err


def test_shipped_single_band_model_refuses_three_bands(tmp_path, scene,
                                                       capsys):
    cube = tmp_path / 'gri.fits'
    fits.PrimaryHDU(scene.image[:3].astype(np.float32)).writeto(cube)
    assert main(['deblend', str(cube), '--bands', 'g,r,i', '-o',
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert '3 bands (g, r, i)' in err and 'takes 1 band' in err
    assert not list(tmp_path.glob('*_segm.fits'))


def test_band_count_and_names_are_checked(tmp_path, model_path, scene,
                                          band_files, capsys):
    def error(*argv):
        assert main(['deblend', *argv, '-o', str(tmp_path), '--model',
                     model_path]) == 2
        return capsys.readouterr().err

    # Three of the five bands for a five-band model.
    err = error(*band_files[:3])
    assert '3 bands (i, g, y)' in err and 'takes 5 bands' in err
    # --bands must name as many bands as there are files.
    err = error(*band_files, '--bands', 'g,r,i')
    assert '--bands names 3 bands' in err and '5 files' in err
    # Names that are not the model's.
    err = error(*band_files, '--bands', 'u,g,r,i,z')
    assert 'not the model bands' in err
    # Only some files name their filter.
    unnamed = write_band(tmp_path / 'unnamed.fits', scene.image[0],
                         wcs=celestial_wcs())
    err = error(*band_files[:4], unnamed)
    assert 'FILTER' in err and 'unnamed.fits' in err
    # Options of one band.
    err = error(*band_files, '--error', band_files[0])
    assert 'not supported with several bands' in err
    err = error(band_files[0], '--bands', 'g,r')
    assert '--bands names 2 bands' in err


@pytest.mark.parametrize('problem', ['shape', 'wcs', 'no wcs', 'unit'])
def test_bands_must_share_grid_wcs_and_unit(tmp_path, model_path, scene,
                                            band_files, capsys, problem):
    image, kwargs = scene.image[4], {'band': 'y', 'wcs': celestial_wcs()}
    if problem == 'shape':
        image = image[:, :40]
    elif problem == 'wcs':
        kwargs['wcs'] = celestial_wcs(crval=(53.1, -27.79))
    elif problem == 'no wcs':
        kwargs['wcs'] = None
    else:
        kwargs['bunit'] = 'uJy'
    odd = write_band(tmp_path / 'odd.fits', image, **kwargs)
    others = [f for f in band_files if not f.endswith('.y.fits')]
    assert main(['deblend', *others, odd, '-o', str(tmp_path), '--model',
                 model_path]) == 2
    err = capsys.readouterr().err
    assert 'odd.fits' in err
    expected = {'shape': '(64, 40)', 'wcs': 'celestial WCS',
                'no wcs': 'celestial WCS', 'unit': "'uJy'"}[problem]
    assert expected in err
