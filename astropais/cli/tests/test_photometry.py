"""``astropais deblend``: background, uncertainty maps, HDUs, output
names and provenance."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable

from astropais.cli.fitsinput import output_stem, parse_hdu
from astropais.cli.main import main
from astropais.io import read_weighted_segmentation
from astropais.segmentation.tests.helpers import (gaussian_scene,
                                                  tiny_model_file)

SOURCES = [(20, 20, 2.0, 900.0), (22, 26, 2.0, 500.0),
           (44, 50, 2.5, 1500.0), (12, 58, 1.5, 400.0)]


@pytest.fixture(scope='module')
def model_path():
    return str(tiny_model_file())


@pytest.fixture
def field(tmp_path):
    """An image (sky 50) with an ERR extension and a variance file."""
    image, _ = gaussian_scene((64, 72), SOURCES, noise=1.0, seed=3)
    error = np.full(image.shape, 1.0) + 0.01 * np.arange(image.size
                                                        ).reshape(image.shape) / image.size
    path = tmp_path / 'obs.r.fits'
    fits.HDUList([fits.PrimaryHDU(),
                  fits.ImageHDU(image + 50.0, name='SCI'),
                  fits.ImageHDU(error, name='ERR')]).writeto(path)
    fits.PrimaryHDU(error ** 2).writeto(tmp_path / 'var.fits')
    fits.PrimaryHDU(error ** -2).writeto(tmp_path / 'weight.fits')
    return path, image, error


def _run(path, out, model_path, *options):
    return main(['deblend', str(path), '-o', str(out), '--model', model_path,
                 '--threshold', '3', *options])


def test_error_map_gives_photutils_errors_where_no_pixel_is_shared(
        field, tmp_path, model_path):
    from photutils.segmentation import SegmentationImage, SourceCatalog

    path, image, error = field
    out = tmp_path / 'out'
    assert _run(path, out, model_path, '--error', 'ERR') == 0
    segm, _ = read_weighted_segmentation(out / 'obs.r_segm.fits')
    table = QTable.read(out / 'obs.r_catalog.ecsv')
    assert np.all(np.isfinite(table['segment_flux_err']))
    # photutils on the same (disjoint) segmentation and background.
    background = table.meta['APBKGVAL']
    reference = SourceCatalog(fits.getdata(path, 'SCI') - background,
                              SegmentationImage(segm.data), error=error)
    attr = segm.attribution
    shared = np.unique(attr.labels[(attr.weights < 1) & (attr.labels > 0)])
    alone = np.setdiff1d(segm.labels, shared)
    assert alone.size > 0
    rows = np.searchsorted(np.asarray(table['label']), alone)
    ref_rows = np.searchsorted(reference.labels, alone)
    np.testing.assert_allclose(
        np.asarray(table['segment_flux_err'])[rows],
        reference.segment_flux_err[ref_rows], rtol=1e-10)
    np.testing.assert_allclose(np.asarray(table['segment_flux'])[rows],
                               reference.segment_flux[ref_rows], rtol=1e-10)
    # Without a map the errors are unknown (NaN), as in photutils.
    assert _run(path, tmp_path / 'none', model_path) == 0
    table = QTable.read(tmp_path / 'none' / 'obs.r_catalog.ecsv')
    assert np.all(np.isnan(table['segment_flux_err']))


def test_variance_and_weight_maps_match_the_error_map(field, tmp_path,
                                                      model_path):
    path, _, _ = field
    errors = []
    for option, spec in (('--error', f'{path}[ERR]'),
                         ('--variance', str(tmp_path / 'var.fits')),
                         ('--weight', f'{tmp_path / "weight.fits"}[0]')):
        out = tmp_path / option.strip('-')
        assert _run(path, out, model_path, option, spec) == 0
        table = QTable.read(out / 'obs.r_catalog.ecsv')
        assert option.strip('-') in table.meta['APERRMAP']
        errors.append(np.asarray(table['segment_flux_err']))
    np.testing.assert_allclose(errors[1], errors[0], rtol=1e-12)
    np.testing.assert_allclose(errors[2], errors[0], rtol=1e-12)


def test_bad_uncertainty_maps_are_clear_errors(field, tmp_path, model_path,
                                               capsys):
    path, image, _ = field
    fits.PrimaryHDU(np.ones((5, 5))).writeto(tmp_path / 'small.fits')
    fits.PrimaryHDU(-np.ones(image.shape)).writeto(tmp_path / 'neg.fits')
    for option, spec, words in (
            ('--error', str(tmp_path / 'small.fits'), 'shape'),
            ('--variance', str(tmp_path / 'neg.fits'), 'negative'),
            ('--error', 'NOPE', 'no HDU')):
        assert _run(path, tmp_path / 'bad', model_path, option, spec) == 2
        assert words in capsys.readouterr().err
    with pytest.raises(SystemExit):      # one map at a time
        main(['deblend', str(path), '--error', 'ERR', '--weight', 'ERR'])
    assert 'not allowed' in capsys.readouterr().err


@pytest.mark.parametrize('method', ['constant', '2d'])
def test_background_methods_remove_the_sky(field, tmp_path, model_path,
                                           capsys, method):
    path, _, _ = field
    out = tmp_path / method
    assert _run(path, out, model_path, '--background', method,
                '--box-size', '16', '--filter-size', '3') == 0
    text = capsys.readouterr().out
    assert f'({method})' in text
    table = QTable.read(out / 'obs.r_catalog.ecsv')
    assert table.meta['APBKGVAL'] == pytest.approx(50.0, abs=0.5)
    assert method in table.meta['APBKG']
    assert table.meta['APNOISE'] == pytest.approx(1.0, rel=0.25)
    # No background subtracted: the sky stays in the image.
    assert _run(path, tmp_path / 'raw', model_path, '--no-background') in (0, 1)
    assert 'background 0 (none)' in capsys.readouterr().out
    assert _run(path, tmp_path / 'x', model_path, '--background', '2d',
                '--box-size', '0') == 2
    assert 'box size' in capsys.readouterr().err


@pytest.mark.parametrize('hdu', ['NOPE', '99', '-1', 'SCI,2', 'SCI,x'])
def test_bad_hdu_is_a_clear_error_with_exit_2(field, tmp_path, model_path,
                                              capsys, hdu):
    path, _, _ = field
    assert _run(path, tmp_path, model_path, '--hdu', hdu) == 2
    err = capsys.readouterr().err
    assert err.startswith('astropais deblend: error:')
    assert 'Traceback' not in err and 'HDU' in err


def test_hdu_by_index_name_and_extname_extver(field, tmp_path, model_path):
    path, _, _ = field
    for hdu in ('1', 'SCI', 'sci,1'):
        out = tmp_path / hdu.replace(',', '_')
        assert _run(path, out, model_path, '--hdu', hdu) == 0
        header = fits.getheader(out / 'obs.r_segm.fits')
        assert header['APHDU'] == '1 (SCI,1)'


def test_output_stems_and_provenance(field, tmp_path, model_path):
    from astropais import __version__
    from astropais.model import sha256_file

    path, image, _ = field
    green = tmp_path / 'obs.g.fits'
    fits.PrimaryHDU(image).writeto(green)
    out = tmp_path / 'out'
    assert _run(path, out, model_path) == 0
    assert _run(green, out, model_path, '--background', 'none') == 0
    red = fits.getheader(out / 'obs.r_segm.fits')
    table = QTable.read(out / 'obs.g_catalog.ecsv')
    assert red['APINPUT'] == str(path)
    assert table.meta['APINPUT'] == str(green)
    assert red['APMODSHA'] == table.meta['APMODSHA'] == sha256_file(
        model_path)
    assert red['APVERS'] == table.meta['APVERS'] == __version__
    assert red['APNSIGMA'] == table.meta['APNSIGMA'] == 3.0
    assert red['APPRECIS'] in ('float32', 'bfloat16')
    assert red['APTHRESH'] == pytest.approx(3.0 * red['APNOISE'])
    assert table.meta['APBKG'] == 'none'


def test_fits_input_helpers():
    assert output_stem('a/obs.r.fits') != output_stem('a/obs.g.fits')
    assert output_stem('m13.fits.fz') == 'm13'
    assert output_stem('image.FITS') == 'image'
    assert parse_hdu(' 3 ') == 3
    with pytest.raises(ValueError, match='0 or more'):
        parse_hdu('-2')
    with pytest.raises(ValueError, match='EXTVER'):
        parse_hdu('SCI,')
