"""The ``astropais deblend`` and ``astropais demo`` commands."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable
from astropy.wcs import WCS

from astropais.cli.main import main
from astropais.io import read_weighted_segmentation
from astropais.segmentation.tests.helpers import (gaussian_scene,
                                                  tiny_model_file)

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


@pytest.fixture(scope='module')
def model_path():
    return str(tiny_model_file())


def check_products(directory, stem, n_labels=None):
    segm, wcs = read_weighted_segmentation(directory / f'{stem}_segm.fits')
    table = QTable.read(directory / f'{stem}_catalog.ecsv')
    assert len(table) == segm.n_labels > 0
    np.testing.assert_array_equal(table['label'], segm.labels)
    assert (directory / f'{stem}_overview.png').read_bytes()[:8] == PNG_MAGIC
    return segm, wcs, table


def test_deblend_writes_segmentation_catalog_and_png(tmp_path, model_path,
                                                     capsys):
    image, _ = gaussian_scene((64, 80), [(30, 30, 2.5, 900.0),
                                         (34, 36, 2.0, 400.0)], noise=1.0)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    wcs.wcs.crval = [53.1, -27.8]
    wcs.wcs.crpix = [40, 32]
    wcs.wcs.cdelt = [-1.7e-5, 1.7e-5]
    path = tmp_path / 'field.fits'
    fits.HDUList([fits.PrimaryHDU(),
                  fits.ImageHDU(image + 10.0, header=wcs.to_header())]
                 ).writeto(path)
    out = tmp_path / 'out'
    status = main(['deblend', str(path), '--threshold', '3', '-o', str(out),
                   '--model', model_path])
    assert status == 0
    text = capsys.readouterr().out
    segm, wcs_back, table = check_products(out, 'field')
    assert f'{segm.n_labels} sources' in text
    assert 'background 10' in text            # the sky level was removed
    assert wcs_back is not None and 'sky_centroid' in table.colnames
    # Running again refuses to overwrite, unless asked.
    assert main(['deblend', str(path), '-o', str(out), '--threshold', '3',
                 '--model', model_path]) == 2
    err = capsys.readouterr().err
    assert 'exists' in err and '--overwrite' in err
    assert main(['deblend', str(path), '-o', str(out), '--threshold', '3',
                 '--model', model_path, '--overwrite']) == 0


def test_deblend_reports_errors(tmp_path, model_path, capsys):
    assert main(['deblend', str(tmp_path / 'missing.fits'),
                 '--model', model_path]) == 2
    assert 'error' in capsys.readouterr().err
    cube = tmp_path / 'cube.fits'
    fits.PrimaryHDU(np.zeros((2, 3, 4))).writeto(cube)
    assert main(['deblend', str(cube), '--model', model_path]) == 2
    assert '2-D' in capsys.readouterr().err
    flat = tmp_path / 'flat.fits'
    fits.PrimaryHDU(np.zeros((20, 20))).writeto(flat)
    assert main(['deblend', str(flat), '--model', model_path,
                 '-o', str(tmp_path)]) == 2
    assert 'noise' in capsys.readouterr().err
    image = tmp_path / 'image.fits'
    fits.PrimaryHDU(np.random.default_rng(0).normal(size=(20, 20))
                    ).writeto(image)
    assert main(['deblend', str(image), '--model',
                 str(tmp_path / 'nomodel.keras')]) == 2


def test_demo_is_deterministic(tmp_path, model_path, capsys):
    runs = []
    for name in ('a', 'b'):
        out = tmp_path / name
        assert main(['demo', '--size', '128', '--threshold', '1.5', '-o',
                     str(out), '--model', model_path]) == 0
        text = capsys.readouterr().out
        assert 'example field (shipped)' in text
        segm, _, table = check_products(out, 'example_field')
        truth = QTable.read(out / 'example_field.fits', hdu='TRUTH')
        assert f'{len(truth)} simulated sources' in text
        assert np.all((truth['x'] < 127.5) & (truth['y'] < 127.5))
        if 'blended pair' in text:
            assert (out / 'example_field_pair.png').read_bytes()[:8] \
                == PNG_MAGIC
        runs.append((fits.getdata(out / 'example_field.fits'), segm.data))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_demo_refuses_a_size_beyond_the_shipped_field(tmp_path, capsys):
    assert main(['demo', '--size', '300', '-o', str(tmp_path)]) == 2
    assert '--simulate' in capsys.readouterr().err


def test_demo_without_shipped_model_explains(tmp_path, capsys, monkeypatch):
    from astropais.model import io as model_io
    monkeypatch.setattr(model_io, 'default_model_path',
                        lambda: tmp_path / 'absent.keras')
    status = main(['demo', '--size', '64', '-o', str(tmp_path)])
    assert status == 2
    assert 'model' in capsys.readouterr().err


def test_precision_option(tmp_path, model_path, capsys):
    image, _ = gaussian_scene((48, 56), [(24, 22, 2.5, 900.0),
                                         (26, 29, 2.0, 400.0)], noise=1.0)
    path = tmp_path / 'pair.fits'
    fits.PrimaryHDU(image).writeto(path)
    fluxes = []
    for precision in ('float32', 'bfloat16'):
        out = tmp_path / precision
        assert main(['deblend', str(path), '--threshold', '3', '-o', str(out),
                     '--model', model_path, '--precision', precision]) == 0
        segm, _, table = check_products(out, 'pair')
        fluxes.append(float(np.sum(table['segment_flux'])))
    # Either way every footprint pixel's flux is handed out once.
    np.testing.assert_allclose(fluxes[0], fluxes[1], rtol=1e-9)
    with pytest.raises(SystemExit):
        main(['deblend', str(path), '--precision', 'float64'])
    assert 'invalid choice' in capsys.readouterr().err


def test_dask_option_gives_the_in_memory_products(tmp_path, model_path,
                                                  capsys):
    pytest.importorskip('dask')
    image, _ = gaussian_scene((64, 80), [(30, 30, 2.5, 900.0),
                                         (34, 36, 2.0, 400.0),
                                         (12, 60, 2.0, 600.0)], noise=1.0)
    path = tmp_path / 'field.fits'
    # float32, as a mosaic usually is: read memory-mapped.
    fits.PrimaryHDU(image.astype(np.float32)).writeto(path)
    products = []
    for extra in ([], ['--dask']):
        out = tmp_path / f'out{len(extra)}'
        assert main(['deblend', str(path), '--threshold', '3', '-o',
                     str(out), '--model', model_path] + extra) == 0
        products.append(check_products(out, 'field'))
    (segm, _, table), (segm_dask, _, table_dask) = products
    np.testing.assert_array_equal(segm_dask.data, segm.data)
    np.testing.assert_array_equal(segm_dask.attribution.weights,
                                  segm.attribution.weights)
    np.testing.assert_array_equal(table_dask['segment_flux'],
                                  table['segment_flux'])


def test_stated_mosaic_size_is_the_pipeline_rule(capsys):
    from astropais.cli.deblend import _MOSAIC_SIDE
    from astropais.segmentation.pipeline import MOSAIC_PIXELS

    assert _MOSAIC_SIDE ** 2 == MOSAIC_PIXELS
    with pytest.raises(SystemExit):
        main(['deblend', '--help'])
    text = ' '.join(capsys.readouterr().out.split())
    assert f'{_MOSAIC_SIDE} x {_MOSAIC_SIDE} pixels' in text
