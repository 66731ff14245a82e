"""
The multi-band mode of the benchmark harness (benchmarks/run.py
``--preset grizy``) in a tiny configuration, with an untrained 5-band
network for the astropais row (plumbing only: no score of it is
asserted).
"""

import os

import numpy as np
import pytest

from astropais.segmentation.tests.helpers import untrained_band_model
from astropais.tests.test_benchmark_harness import RUN_PY, load_runner

pytest.importorskip('galsim')
pytest.importorskip('sep')
pytest.importorskip('astropais.model')

pytestmark = pytest.mark.skipif(not os.path.exists(RUN_PY),
                                reason='benchmarks/ is not in this checkout')

BANDS = ('g', 'r', 'i', 'z', 'y')


@pytest.fixture(scope='module')
def model_path(tmp_path_factory):
    return untrained_band_model(
        tmp_path_factory.mktemp('grizy') / 'grizy.keras', BANDS)


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory, model_path):
    out = tmp_path_factory.mktemp('bench')
    runner = load_runner()
    status = runner.main(['--preset', 'grizy', '--fields', '2', '--size',
                          '64', '--density', '900', '--skip-scarlet2',
                          '--quiet', '--model', model_path, '--out',
                          str(out)])
    return runner, out, status


def test_multiband_summary(tiny_run):
    from astropy.table import Table

    runner, out, status = tiny_run
    assert status == 0
    table = Table.read(out / 'summary.ecsv')
    assert list(table['method']) == ['photutils', 'sep', 'astropais']
    assert table.meta['bands'] == list(BANDS)
    # g-i first (the default headline colour), then consecutive bands.
    assert table.meta['colours'] == ['g-i', 'g-r', 'r-i', 'i-z', 'z-y']
    for band in BANDS:
        assert f'flux_err_{band}' in table.colnames
        assert np.all(table[f'n_flux_{band}'] <= table['n_blended_common'])
    for colour in table.meta['colours']:
        assert f'colour_err_{colour}' in table.colnames
        assert np.all(table[f'n_colour_{colour}']
                      <= table['n_blended_common'])
    assert 'single-band' in table.meta['skipped']['pcr_oracle']
    assert table['time_ratio_photutils'][0] == 1.0
    assert np.all((table['f1'] >= 0) & (table['f1'] <= 1))


def test_shipped_model_is_skipped_naming_the_bands(tmp_path):
    runner = load_runner()
    args = runner.build_parser().parse_args(['--preset', 'grizy'])
    ready, skipped = runner.check_peers(args, ['photutils', 'astropais'])
    assert 'astropais' not in ready
    assert '5 bands (g, r, i, z, y)' in skipped['astropais']
    with pytest.raises(ValueError, match='--colour'):
        runner.colour_pairs(BANDS, 'g-u')


def test_every_method_detects_on_one_image_and_measures_every_band(
        model_path):
    import sys

    from astropais import PAISDeblender
    from astropais.segmentation import detection_kernel
    from astropais.simulation import make_scene

    runner = load_runner()
    sys.path.insert(0, os.path.dirname(RUN_PY))
    from peers import multiband

    scene = make_scene('grizy', shape=(64, 64), seed=7, density=900)
    sigma = scene.noise_sigma
    kernel = detection_kernel(multiband.detection_fwhm(scene))
    photutils = multiband.run_photutils_bands(scene.image, sigma, kernel)
    sep = multiband.run_sep_bands(scene.image, sigma, kernel)
    deblender = PAISDeblender(5, model=model_path, progress_bar=False)
    astropais = multiband.run_astropais_bands(deblender, scene.image, sigma,
                                              BANDS, kernel)
    footprint = photutils.info['footprint']
    assert footprint.any()
    # photutils and astropais threshold the same smoothed S/N sum.
    np.testing.assert_array_equal(
        astropais.attribution.label_map() > 0, footprint)
    for result in (photutils, sep, astropais):
        assert result.band_fluxes.shape == (len(result.positions), 5)
        covered = result.attribution.label_map() > 0
        # Per band the fluxes add up to the band's image over the
        # method's footprint.
        np.testing.assert_allclose(result.band_fluxes.sum(axis=0),
                                   scene.image[:, covered].sum(axis=1),
                                   rtol=1e-9)
    scores = runner.score_result_bands(
        scene, photutils, runner.build_parser().parse_args(
            ['--preset', 'grizy']))
    assert np.nanmax(scores.true['colour_error_g-i']) >= 0
    assert np.array_equal(np.isfinite(scores.true['flux_error']),
                          np.isfinite(scores.true['flux_error_i']))
