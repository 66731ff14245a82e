"""The same .keras file predicts identically under every installed backend.

The backend of the test process builds, saves and predicts in process;
every other installed backend runs in a subprocess (``KERAS_BACKEND`` set
there), loads that model, predicts, and saves its own model, which the
test process then loads.  Predictions must agree to 1e-4.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip('keras')

CURRENT = keras.backend.backend()
OTHERS = [name for name in ('jax', 'tensorflow', 'torch')
          if name != CURRENT and importlib.util.find_spec(name) is not None]
KEYS = ('heatmap', 'vectors', 'fractions')

SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path
    import numpy as np
    import keras
    from astropais.model import build_network, load_model, save_model
    backend = keras.backend.backend()
    directory, source = Path(sys.argv[1]), sys.argv[2]
    x = np.load(directory / 'input.npy')
    out = load_model(directory / f'{source}.keras').predict(x)
    np.savez(directory / f'{source}_by_{backend}.npz', **out)
    keras.utils.set_random_seed(11)
    model = build_network(n_bands=1, n=3, depth=3, base_filters=4)
    path = directory / f'{backend}.keras'
    save_model(model, path, n=3, sigma=2.0, vector_scale=16.0)
    out = load_model(path).predict(x)
    np.savez(directory / f'{backend}_by_{backend}.npz', **out)
''')


def _assert_close(got, expected, what):
    for key in KEYS:
        assert got[key].shape == expected[key].shape, what
        np.testing.assert_allclose(got[key], expected[key], atol=1e-4, rtol=0,
                                   err_msg=f'{key}: {what}')


@pytest.mark.skipif(not OTHERS, reason='needs a second Keras backend')
@pytest.mark.parametrize('other', OTHERS)
def test_models_load_and_predict_equally_across_backends(tmp_path, other):
    from astropais.model import build_network, load_model, save_model
    x = np.random.default_rng(0).normal(size=(2, 24, 24, 1)).astype('f4')
    np.save(tmp_path / 'input.npy', x)
    keras.utils.set_random_seed(7)
    model = build_network(n_bands=1, n=3, depth=3, base_filters=4)
    save_model(model, tmp_path / f'{CURRENT}.keras', n=3, sigma=2.0,
               vector_scale=16.0)
    here = load_model(tmp_path / f'{CURRENT}.keras').predict(x)
    assert np.ptp(here['vectors']) > 0  # a non-trivial function

    env = {**os.environ, 'KERAS_BACKEND': other, 'TF_CPP_MIN_LOG_LEVEL': '3'}
    result = subprocess.run([sys.executable, '-c', SCRIPT, str(tmp_path),
                             CURRENT], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]

    there = np.load(tmp_path / f'{CURRENT}_by_{other}.npz')
    _assert_close(there, here, f'saved by {CURRENT}, loaded by {other}')
    theirs = np.load(tmp_path / f'{other}_by_{other}.npz')
    mine = load_model(tmp_path / f'{other}.keras').predict(x)
    _assert_close(mine, theirs, f'saved by {other}, loaded by {CURRENT}')
