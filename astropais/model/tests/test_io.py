"""Saving and safe loading of PCR networks (current Keras backend)."""

import json

import numpy as np
import pytest

from astropais.model import (PCRNetwork, default_model_path, load_model,
                             save_model, sha256_file, sidecar_path)

pytest.importorskip('keras')


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
    import keras

    from astropais.model import build_network
    keras.utils.set_random_seed(3)
    model = build_network(n_bands=2, n=3, depth=2, base_filters=4,
                          vector_scale=8.0)
    path = tmp_path_factory.mktemp('model') / 'net.keras'
    save_model(model, path, n=3, sigma=1.5, vector_scale=8.0, tile_size=32,
               bands=['g', 'r'], architecture={'depth': 2, 'base_filters': 4},
               metrics={'loss': 1.0})
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 2)).astype('f4')
    return path, model, x


def _copy(saved, tmp_path):
    path = saved[0]
    new = tmp_path / path.name
    new.write_bytes(path.read_bytes())
    sidecar_path(new).write_text(sidecar_path(path).read_text())
    return new


def test_round_trip_predictions_and_metadata(saved):
    path, model, x = saved
    network = load_model(path)
    assert isinstance(network, PCRNetwork)
    assert (network.n, network.n_bands, network.sigma, network.tile_size,
            network.vector_scale) == (3, 2, 1.5, 32, 8.0)
    assert network.metadata['sha256'] == sha256_file(path)
    assert network.metadata['versions']['keras']
    out = network.predict(x)
    expected = model.predict(x, verbose=0)
    for key in ('heatmap', 'vectors', 'fractions'):
        np.testing.assert_allclose(out[key], expected[key], atol=1e-6)
    assert out['heatmap'].shape == (2, 16, 16)
    assert out['vectors'].shape == (2, 16, 16, 3, 2)
    assert out['fractions'].shape == (2, 16, 16, 2, 3)
    np.testing.assert_allclose(out['fractions'].sum(-1), 1.0, atol=1e-5)
    assert np.all((out['heatmap'] >= 0) & (out['heatmap'] <= 1))


def test_load_from_sidecar_path_and_odd_sizes(saved):
    path, _, x = saved
    network = load_model(sidecar_path(path))
    out = network.predict(x[:, :15, :13])
    assert out['fractions'].shape == (2, 15, 13, 2, 3)
    assert network.predict(x[:0])['vectors'].shape == (0, 16, 16, 3, 2)
    with pytest.raises(ValueError, match='2-band model'):
        network.predict(x[..., :1])
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match='non-finite'):
        network.predict(bad)


def test_normalise_uses_recorded_transform(saved):
    network = load_model(saved[0])
    image = np.full((4, 4, 2), 3.0)
    np.testing.assert_allclose(network.normalise(image, [1.0, 3.0])[0, 0],
                               np.arcsinh([3.0, 1.0]), rtol=1e-6)


def test_missing_files(saved, tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_model(tmp_path / 'absent.keras')
    new = _copy(saved, tmp_path)
    sidecar_path(new).unlink()
    with pytest.raises(FileNotFoundError, match='sidecar'):
        load_model(new)
    with pytest.raises(ValueError, match='.keras or .json'):
        load_model(tmp_path / 'model.h5')


def test_default_model_not_shipped_yet():
    if default_model_path().exists():
        pytest.skip('a default model is shipped')
    with pytest.raises(FileNotFoundError, match='no default model'):
        load_model()


def test_checksum_mismatch(saved, tmp_path):
    new = _copy(saved, tmp_path)
    meta = json.loads(sidecar_path(new).read_text())
    meta['sha256'] = '0' * 64
    sidecar_path(new).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match='checksum mismatch'):
        load_model(new)


def test_tampered_file_fails_checksum(saved, tmp_path):
    new = _copy(saved, tmp_path)
    data = bytearray(new.read_bytes())
    data[len(data) // 2] ^= 0xFF
    new.write_bytes(bytes(data))
    with pytest.raises(ValueError, match='checksum mismatch'):
        load_model(new)


def test_corrupt_file_with_matching_checksum(saved, tmp_path):
    new = _copy(saved, tmp_path)
    new.write_bytes(b'this is not a zip archive' * 10)
    meta = json.loads(sidecar_path(new).read_text())
    meta['sha256'] = sha256_file(new)
    sidecar_path(new).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match='corrupt'):
        load_model(new)


def test_corrupt_sidecar(saved, tmp_path):
    new = _copy(saved, tmp_path)
    sidecar_path(new).write_text('{not json')
    with pytest.raises(ValueError, match='not valid JSON'):
        load_model(new)
    sidecar_path(new).write_text('{"format": 1}')
    with pytest.raises(ValueError, match='lacks'):
        load_model(new)


@pytest.mark.parametrize('key, value', [('n', 4), ('n_bands', 1)])
def test_wrong_output_shapes(saved, tmp_path, key, value):
    new = _copy(saved, tmp_path)
    meta = json.loads(sidecar_path(new).read_text())
    meta[key] = value
    sidecar_path(new).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match='wrong output shapes'):
        load_model(new)


def test_model_with_wrong_outputs(tmp_path):
    import keras
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, {'heatmap': keras.layers.Conv2D(1, 1)(inputs)})
    path = tmp_path / 'other.keras'
    save_model(model, path, n=3, sigma=2.0, vector_scale=1.0)
    with pytest.raises(ValueError, match='wrong outputs'):
        load_model(path)


def test_save_rejects_bad_arguments(saved, tmp_path):
    model = saved[1]
    with pytest.raises(ValueError, match='.keras'):
        save_model(model, tmp_path / 'm.h5', n=3, sigma=1, vector_scale=1)
    with pytest.raises(ValueError, match='band names'):
        save_model(model, tmp_path / 'm.keras', n=3, sigma=1, vector_scale=1,
                   bands=['g'])
