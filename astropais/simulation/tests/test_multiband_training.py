"""A multi-band simulated dataset trains a multi-band network."""

import csv
import json

import numpy as np
import pytest

pytest.importorskip('keras')


@pytest.mark.slow
def test_grizy_dataset_trains_a_five_band_model(tmp_path):
    from astropais.cli.train import main
    from astropais.model import load_model
    from astropais.simulation import simulate_dataset

    simulate_dataset(tmp_path / 'data', 6, preset='grizy', crop_size=16,
                     seed=2, shard_size=3)
    out = tmp_path / 'model'
    assert main([str(tmp_path / 'data'), '--out', str(out), '--epochs', '2',
                 '--batch-size', '3', '--depth', '2', '--base-filters', '4',
                 '--val-fraction', '0.34', '--no-augment',
                 '--no-progress']) == 0
    sidecar = json.loads((out / 'model.json').read_text())
    assert sidecar['n_bands'] == 5
    assert sidecar['bands'] == ['g', 'r', 'i', 'z', 'y']
    with open(out / 'metrics.csv') as handle:
        losses = [float(row['loss']) for row in csv.DictReader(handle)]
    assert len(losses) == 2 and np.all(np.isfinite(losses))
    network = load_model(out / 'model.keras')
    pred = network.predict(np.zeros((1, 16, 16, 5), np.float32))
    assert pred['fractions'].shape == (1, 16, 16, 5, 3)
