"""Training: the loss falls, checkpoints resume exactly, the CLI works."""

import csv
import json

import numpy as np
import pytest

from astropais.cli.train import build_parser, main
from astropais.training import split_indices, train
from astropais.training.checkpoint import load_checkpoint

pytest.importorskip('keras')

# Shared tiny settings: 32x32 crops, a 2-level net with 4 filters.
SMALL = ['--batch-size', '3', '--depth', '2', '--base-filters', '4',
         '--val-fraction', '0.25', '--lr', '3e-3', '--no-augment',
         '--no-progress']
SMALL_KW = dict(batch_size=3, depth=2, base_filters=4, val_fraction=0.25,
                learning_rate=3e-3, augment=False, progress_bar=False)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    from astropais.simulation import simulate_dataset
    path = tmp_path_factory.mktemp('data') / 'tiny'
    simulate_dataset(path, 8, crop_size=32, seed=5, shard_size=4)
    return path


@pytest.fixture(scope='module')
def straight_run(dataset, tmp_path_factory):
    """Three uninterrupted epochs through the command line."""
    out = tmp_path_factory.mktemp('straight')
    assert main([str(dataset), '--out', str(out), '--epochs', '3',
                 *SMALL]) == 0
    return out


def _read_log(out):
    with open(out / 'metrics.csv') as handle:
        return list(csv.DictReader(handle))


def test_loss_falls_and_outputs_exported(straight_run):
    rows = _read_log(straight_run)
    assert [int(r['epoch']) for r in rows] == [1, 2, 3]
    assert [int(r['step']) for r in rows] == [2, 4, 6]
    losses = [float(r['loss']) for r in rows]
    assert losses[-1] < losses[0]
    assert all(r['val_loss'] for r in rows)
    sidecar = json.loads((straight_run / 'model.json').read_text())
    assert sidecar['n'] == 3 and sidecar['tile_size'] == 32
    assert sidecar['sigma'] == 2.0
    assert sidecar['dataset_manifest']['n_samples'] == 8
    assert sidecar['metrics']['loss'] == pytest.approx(losses[-1])
    assert sidecar['training']['steps'] == 6
    from astropais.model import load_model
    network = load_model(straight_run / 'model.keras')
    out = network.predict(np.zeros((1, 32, 32, 1), np.float32))
    assert out['vectors'].shape == (1, 32, 32, 3, 2)


def test_budget_stop_and_resume_continue_exactly(dataset, straight_run,
                                                 tmp_path):
    # Stop after the first step (mid-epoch) on a tiny time budget.
    first = train(dataset, tmp_path, epochs=3, max_minutes=1e-9, **SMALL_KW)
    assert first.stopped_by_budget and first.steps == 1
    model, state = load_checkpoint(tmp_path / 'checkpoints')
    assert int(model.optimizer.iterations) == 1 == state['step']
    assert (state['epoch'], state['position']) == (0, 1)
    with pytest.raises(ValueError, match='already holds'):
        train(dataset, tmp_path, epochs=3, **SMALL_KW)
    # Finish epoch 1, then resume again to the end.
    second = train(dataset, tmp_path, epochs=1, resume=True,
                   progress_bar=False)
    assert (second.epochs_completed, second.steps) == (1, 2)
    third = train(dataset, tmp_path, epochs=3, resume=True,
                  progress_bar=False)
    assert (third.epochs_completed, third.steps) == (3, 6)
    assert not third.stopped_by_budget

    resumed, _ = load_checkpoint(tmp_path / 'checkpoints')
    straight, _ = load_checkpoint(straight_run / 'checkpoints')
    assert int(resumed.optimizer.iterations) == int(
        straight.optimizer.iterations) == 6
    for a, b in zip(resumed.optimizer.variables, straight.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4,
                                   atol=1e-6)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    rows = _read_log(tmp_path)
    assert [(int(r['epoch']), int(r['complete'])) for r in rows] == [
        (1, 0), (1, 1), (2, 1), (3, 1)]
    straight_rows = _read_log(straight_run)
    np.testing.assert_allclose(float(rows[-1]['loss']),
                               float(straight_rows[-1]['loss']), rtol=1e-4)


def test_resume_without_checkpoint_and_corrupt_checkpoint(dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match='no checkpoint'):
        train(dataset, tmp_path / 'none', resume=True)
    status = main([str(dataset), '--out', str(tmp_path / 'none'), '--resume',
                   '--no-progress'])
    assert status == 1


def test_bad_settings(dataset, tmp_path):
    with pytest.raises(ValueError, match='epochs'):
        train(dataset, tmp_path, epochs=0)
    with pytest.raises(ValueError, match='val_fraction'):
        train(dataset, tmp_path, val_fraction=1.0)
    with pytest.raises(ValueError, match='entropy_mode'):
        train(dataset, tmp_path / 'e', entropy_mode='plus', progress_bar=False)
    with pytest.raises(TypeError, match='dataset'):
        train(object(), tmp_path)


def test_several_datasets_are_one_training_set(dataset):
    from astropais.training.loop import _open_dataset
    both = _open_dataset([dataset, str(dataset)])
    assert len(both) == 16
    indices = np.concatenate([batch['index'] for batch in
                              both.iter_batches(5, shuffle=False)])
    assert sorted(indices) == list(range(16))


def test_in_memory_training_matches_streamed(dataset, straight_run,
                                             tmp_path):
    # --in-memory changes where decoded shards live, not the run: same
    # batches, same losses, same weights as the streamed straight run.
    out = tmp_path / 'cached'
    assert main([str(dataset), '--out', str(out), '--epochs', '3',
                 '--in-memory', *SMALL]) == 0
    want, got = _read_log(straight_run), _read_log(out)
    for a, b in zip(got, want):
        assert float(a['loss']) == pytest.approx(float(b['loss']), rel=1e-5)
        assert float(a['val_loss']) == pytest.approx(float(b['val_loss']),
                                                     rel=1e-5)
    from astropais.model import load_model
    weights = [load_model(path / 'model.keras').model.get_weights()
               for path in (straight_run, out)]
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert main([str(tmp_path / 'missing'), '--out', str(tmp_path / 'x'),
                 '--in-memory', *SMALL]) == 1


def test_split_indices_is_a_partition():
    train_idx, val_idx = split_indices(10, 0.25, seed=1)
    assert len(val_idx) == 2 or len(val_idx) == 3
    assert sorted([*train_idx, *val_idx]) == list(range(10))
    again = split_indices(10, 0.25, seed=1)
    np.testing.assert_array_equal(again[1], val_idx)
    assert len(split_indices(3, 0.0, 0)[1]) == 0
    with pytest.raises(ValueError, match='nothing to train'):
        split_indices(1, 0.5, 0)


def test_help_documents_every_option():
    parser = build_parser()
    text = parser.format_help()
    for action in parser._actions:
        for option in action.option_strings:
            assert option in text
        if action.dest != 'help':
            assert action.help, f'{action.dest} has no help'
    for option in ('--epochs', '--batch-size', '--max-minutes', '--resume',
                   '--val-fraction', '--lr', '--seed', '--entropy-mode'):
        assert option in text


def test_astropais_train_subcommand_is_registered():
    from astropais.cli.main import build_parser as build_main
    args = build_main().parse_args(['train', 'data', 'more', '--out', 'x',
                                    '--epochs', '2'])
    assert args.epochs == 2 and args.func.__module__ == 'astropais.cli.train'
    assert args.dataset == ['data', 'more']


@pytest.mark.slow
def test_warm_start_signal_weighting_and_cosine_schedule(dataset, straight_run,
                                                         tmp_path):
    # A warm start begins from the saved weights: its first-epoch training
    # loss is far below a cold start's, and the source model is recorded.
    from astropais.model import load_model
    source = straight_run / 'model.keras'
    cold = float(_read_log(straight_run)[0]['loss'])
    warm = train(dataset, tmp_path / 'warm', epochs=1, init_model=source,
                 **SMALL_KW)
    assert warm.history[0]['loss'] < cold
    recorded = warm.sidecar['training']['init_model']
    assert recorded['sha256'] == load_model(source).metadata['sha256']
    # Signal weighting and a cosine schedule: the learning rate decays over
    # the run and a resumed run continues the same schedule.
    out = tmp_path / 'cosine'
    first = train(dataset, out, epochs=3, max_minutes=1e-9,
                  pixel_weighting='signal', vector_weighting='fraction',
                  lr_schedule='cosine', **SMALL_KW)
    assert first.steps == 1
    model, state = load_checkpoint(out / 'checkpoints')
    assert state['config']['pixel_weighting'] == 'signal'
    assert state['config']['vector_weighting'] == 'fraction'
    lr_now = float(model.optimizer.learning_rate)
    assert lr_now < SMALL_KW['learning_rate']
    done = train(dataset, out, epochs=3, resume=True, progress_bar=False)
    assert done.steps == 6
    model, _ = load_checkpoint(out / 'checkpoints')
    lr_end = float(model.optimizer.learning_rate)
    assert lr_end == pytest.approx(0.05 * SMALL_KW['learning_rate'],
                                   rel=1e-3)


def test_warm_start_and_weighting_refuse_bad_settings(dataset, straight_run,
                                                      tmp_path):
    with pytest.raises(ValueError, match='does not match'):
        train(dataset, tmp_path / 'a', epochs=1,
              init_model=straight_run / 'model.keras',
              **{**SMALL_KW, 'base_filters': 6})
    with pytest.raises(FileNotFoundError):
        train(dataset, tmp_path / 'b', epochs=1,
              init_model=tmp_path / 'missing.keras', **SMALL_KW)
    with pytest.raises(ValueError, match='pixel_weighting'):
        train(dataset, tmp_path / 'c', pixel_weighting='flux', **SMALL_KW)
    with pytest.raises(ValueError, match='vector_weighting'):
        train(dataset, tmp_path / 'e', vector_weighting='far', **SMALL_KW)
    with pytest.raises(ValueError, match='lr_schedule'):
        train(dataset, tmp_path / 'd', lr_schedule='step', **SMALL_KW)
