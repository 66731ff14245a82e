"""
The benchmark harness (benchmarks/run.py) in a tiny configuration, so it
cannot rot: two 64x64 fields, every installed peer except scarlet2 (whose
JIT compilation alone takes longer than this test may).
"""

import importlib
import importlib.util
import os

import numpy as np
import pytest

pytest.importorskip('astropais.simulation')
pytest.importorskip('matplotlib')

RUN_PY = os.path.join(os.path.dirname(__file__), '..', '..', 'benchmarks',
                      'run.py')

pytestmark = pytest.mark.skipif(not os.path.exists(RUN_PY),
                                reason='benchmarks/ is not in this checkout')


def load_runner():
    spec = importlib.util.spec_from_file_location('astropais_bench_run',
                                                  RUN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('bench')
    runner = load_runner()
    status = runner.main(['--preset', 'hst', '--fields', '2', '--size', '64',
                          '--density', '3000', '--skip-scarlet2', '--quiet',
                          '--out', str(out)])
    return runner, out, status


def test_writes_all_outputs(tiny_run):
    _, out, status = tiny_run
    assert status == 0
    for name in ('summary.ecsv', 'summary.md', 'curves.ecsv', 'meta.json',
                 'recall_vs_separation.png', 'flux_error_vs_blendedness.png'):
        assert (out / name).stat().st_size > 0, name


def test_summary_rows_and_values(tiny_run):
    from astropy.table import Table
    runner, out, _ = tiny_run
    table = Table.read(out / 'summary.ecsv')
    methods = list(table['method'])
    # photutils always runs (a dependency); every other row is a method
    # that ran, and every method is either a row or reported as skipped.
    assert methods[0] == 'photutils'
    skipped = table.meta['skipped']
    assert set(methods) | set(skipped) == set(runner.METHODS)
    assert not set(methods) & set(skipped)
    assert 'scarlet2_true' in skipped and 'scarlet2_photutils' in skipped
    for col in ('precision', 'recall', 'f1', 'flux_err_median',
                'recon_err_median', 'frac_err_mean', 's_per_mpix',
                'time_ratio_photutils', 'peak_mem_mib'):
        assert col in table.colnames, col
    assert np.all(table['n_fields'] == 2)
    assert len(set(table['n_true'])) == 1 and table['n_true'][0] > 0
    for col in ('precision', 'recall', 'f1', 'frac_err_mean'):
        values = np.asarray(table[col], dtype=float)
        values = values[np.isfinite(values)]
        assert np.all((values >= 0) & (values <= 1)), col
    assert np.all(table['n_matched'] <= table['n_detected'])
    assert np.all(table['n_matched'] <= table['n_true'])
    assert table['time_ratio_photutils'][0] == pytest.approx(1.0)
    assert table['first_call_time_ratio_photutils'][0] == pytest.approx(1.0)
    assert np.all(np.isfinite(table['first_call_time_ratio_photutils']))
    assert table.meta['timing_repeats'] == 3
    assert np.all(np.asarray(table['seconds']) > 0)
    assert np.all(np.isfinite(table['s_per_mpix']))
    assert table.meta['memory'] == 'rss'
    row = table[0]
    # photutils finds something in a dense field, and every matched flux
    # error is finite and non-negative.
    assert row['n_detected'] > 0 and row['flux_err_median'] >= 0


def test_curves_cover_every_method(tiny_run):
    from astropy.table import Table
    runner, out, _ = tiny_run
    curves = Table.read(out / 'curves.ecsv')
    summary = Table.read(out / 'summary.ecsv')
    assert set(curves['method']) == set(summary['method'])
    rec = curves[(curves['method'] == 'photutils')
                 & (curves['quantity'] == 'recall_by_separation')]
    assert len(rec) == runner.SEPARATION_BINS_FWHM.size - 1
    assert rec['count'].sum() == summary['n_true'][0]


def test_median_seconds_repeats_within_the_budget():
    runner = load_runner()
    calls = []

    def func():
        calls.append(1)
    # Fast calls: repeated up to three timings in all; the median of a
    # slow first call and two fast repeats is a fast one.
    median = runner._median_seconds(func, 10.0, 3, budget=100.0)
    assert len(calls) == 2 and median < 1.0
    # A first call over the budget is not repeated.
    calls.clear()
    assert runner._median_seconds(func, 2.0, 3, budget=1.0) == 2.0
    assert not calls
    assert runner._median_seconds(func, 0.5, 1, budget=100.0) == 0.5
    assert not calls


def test_bad_timing_options_are_errors():
    runner = load_runner()
    for bad in (['--timing-repeats', '0'], ['--timing-budget', '-1']):
        with pytest.raises(ValueError, match='timing'):
            runner.run_benchmark(runner.build_parser().parse_args(
                ['--methods', 'photutils', '--fields', '1', *bad]))


def test_unknown_method_is_an_error():
    runner = load_runner()
    with pytest.raises(ValueError, match='unknown methods'):
        runner.run_benchmark(runner.build_parser().parse_args(
            ['--methods', 'photutils,nonsense', '--fields', '1']))


def test_attribution_floor_script(capsys):
    # benchmarks/attribution_floor.py: the ideal split hands out exactly the
    # flux of the method's own footprint, and the script prints one row per
    # method.
    import sys
    sys.path.insert(0, os.path.dirname(RUN_PY))
    try:
        floor = importlib.import_module('attribution_floor')
        runner = floor.run
        args = runner.build_parser().parse_args(
            ['--preset', 'hst', '--size', '64', '--density', '3000'])
        scene = runner.make_field(args, 0)
        # Run and matched as the runner (and the script) run and match.
        result = runner.run_method('photutils', {}, scene, None, args, None)
        scores = runner.score_result(scene, result, result, args)
        assert len(scores.match.true_index) > 1
        ideal = floor.ideal_fluxes(result, scene, scores.match)
        matched = scores.match.detected_index
        np.testing.assert_allclose(
            np.nansum(ideal[matched]),
            scene.image[result.info['footprint']].sum(), rtol=1e-9)
        assert np.all(np.isnan(np.delete(ideal, matched)))
        assert floor.main(['--preset', 'hst', '--fields', '1', '--size', '64',
                           '--density', '3000']) == 0
    finally:
        sys.path.remove(os.path.dirname(RUN_PY))
    out = capsys.readouterr().out
    for name in ('photutils', 'astropais'):       # SEP only if installed
        assert f'{name} ' in out and 'ideal split' in out


def test_methods_without_photutils_is_an_error():
    # Every method is scored in photutils' footprint: running astropais alone
    # used to skip it with "'NoneType' object has no attribute 'info'".
    runner = load_runner()
    with pytest.raises(ValueError, match='must include photutils'):
        runner.run_benchmark(runner.build_parser().parse_args(
            ['--methods', 'sep', '--fields', '1']))


def test_flux_error_medians_carry_their_interval(tiny_run):
    from astropy.table import Table
    _, out, _ = tiny_run
    curves = Table.read(out / 'curves.ecsv')
    rows = curves[(curves['quantity'] == 'flux_error_by_blendedness')
                  & (curves['count'] > 0)]
    assert len(rows) > 0
    low, value, high = (np.asarray(rows[c], float)
                        for c in ('value_low', 'value', 'value_high'))
    assert np.all(low <= value) and np.all(value <= high)
    recall = curves[curves['quantity'] == 'recall_by_snr']
    assert np.all(np.isnan(np.asarray(recall['value_low'], float)))


def test_astropais_options_reach_the_deblender():
    # --astropais-option NAME=VALUE builds the deblender with that keyword
    # (values as Python literals); a malformed option is an argparse error.
    runner = load_runner()
    args = runner.build_parser().parse_args(
        ['--astropais-option', 'peak_threshold=0.3',
         '--astropais-option', 'min_distance=3'])
    assert args.astropais_option == [('peak_threshold', 0.3),
                                     ('min_distance', 3)]
    ready, _ = runner.check_peers(args, ['astropais'])
    assert ready['astropais'].peak_threshold == 0.3
    assert ready['astropais'].min_distance == 3
    for bad in ('peak_threshold', '3=1', 'peak_threshold=abc'):
        with pytest.raises(SystemExit):
            runner.build_parser().parse_args(['--astropais-option', bad])


def test_detection_threshold_follows_the_noise_correlation():
    # White sky noise: the threshold is --n-sigma unchanged.  Drizzled
    # (COSMOS-correlated) sky noise: it is raised so that the smoothed noise
    # crosses it about as often as smoothed white noise crosses --n-sigma.
    import argparse

    from astropy.convolution import convolve

    from astropais.simulation.noise import sky_noise
    runner = load_runner()
    kernel = runner.photutils_peer.detection_kernel(2.0)
    for preset in ('hst', 'lsst', 'ground'):
        args = argparse.Namespace(preset=preset, n_sigma=1.5)
        assert runner.detection_n_sigma(args, kernel) == 1.5
    args = argparse.Namespace(preset='hst_drizzled', n_sigma=1.5)
    assert runner.detection_n_sigma(args, kernel) > 1.5 * 1.3
    # Crossing rates at a threshold low enough to count them on 400^2.
    args.n_sigma = 0.5
    n_sigma = runner.detection_n_sigma(args, kernel)
    rng = np.random.default_rng(5)
    white = convolve(sky_noise((400, 400), 1.0, rng), kernel)
    cosmos = convolve(sky_noise((400, 400), 1.0, rng, kernel='cosmos'),
                      kernel)
    white_rate = np.mean(white > 0.5)
    assert white_rate > 0.01
    assert np.mean(cosmos > 0.5) > 3 * white_rate        # unscaled
    assert 0.67 < np.mean(cosmos > n_sigma) / white_rate < 1.5


def test_pair_split_script_scores_the_shipped_model(tmp_path, capsys):
    # benchmarks/pair_split.py runs the shipped model's acceptance pair for
    # any model; the shipped model passes it and photutils does not split
    # the pair.
    import json
    import sys
    sys.path.insert(0, os.path.dirname(RUN_PY))
    try:
        script = importlib.import_module('pair_split')
        assert script.main(['--out', str(tmp_path / 'pair.json')]) == 0
    finally:
        sys.path.remove(os.path.dirname(RUN_PY))
    result = json.loads((tmp_path / 'pair.json').read_text())
    assert result['n_seeds'] == 10 and result['passes']
    assert max(result['astropais_median']) < 0.05
    assert result['photutils_median'] == [float('inf')] * 2
    assert 'passes: True' in capsys.readouterr().out
