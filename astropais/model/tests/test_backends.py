"""The same .keras file predicts identically under every installed backend."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

BACKENDS = [name for name in ('jax', 'tensorflow', 'torch')
            if importlib.util.find_spec(name) is not None]

# Each run: load (and predict with) every model saved so far by another
# backend, then, if asked, build, save and predict with its own model.
SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path
    import numpy as np
    import keras
    from astropais.model import build_network, load_model, save_model
    backend = keras.backend.backend()
    directory, build = Path(sys.argv[1]), sys.argv[2] == 'build'
    x = np.load(directory / 'input.npy')
    for path in sorted(directory.glob('*.keras')):
        if path.stem != backend:
            out = load_model(path).predict(x)
            np.savez(directory / f'{path.stem}_by_{backend}.npz', **out)
    if build:
        keras.utils.set_random_seed(7)
        model = build_network(n_bands=1, n=3, depth=3, base_filters=4)
        path = directory / f'{backend}.keras'
        save_model(model, path, n=3, sigma=2.0, vector_scale=16.0)
        out = load_model(path).predict(x)
        np.savez(directory / f'{backend}_by_{backend}.npz', **out)
''')


def _run(backend, directory, build):
    env = {**os.environ, 'KERAS_BACKEND': backend,
           'TF_CPP_MIN_LOG_LEVEL': '3'}
    result = subprocess.run([sys.executable, '-c', SCRIPT, str(directory),
                             'build' if build else 'load'],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.skipif(len(BACKENDS) < 2, reason='needs two Keras backends')
def test_models_load_and_predict_equally_across_backends(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / 'input.npy',
            rng.normal(size=(2, 24, 24, 1)).astype(np.float32))
    for backend in BACKENDS:
        _run(backend, tmp_path, build=True)
    # The first backend has not yet seen the models saved after it.
    _run(BACKENDS[0], tmp_path, build=False)
    for saver in BACKENDS:
        reference = np.load(tmp_path / f'{saver}_by_{saver}.npz')
        for loader in BACKENDS:
            if loader == saver:
                continue
            other = np.load(tmp_path / f'{saver}_by_{loader}.npz')
            for key in ('heatmap', 'vectors', 'fractions'):
                assert other[key].shape == reference[key].shape
                np.testing.assert_allclose(
                    other[key], reference[key], atol=1e-4, rtol=0,
                    err_msg=f'{key}: saved by {saver}, loaded by {loader}')
            # The model does something non-trivial (not all constant).
            assert np.ptp(reference['vectors']) > 0
