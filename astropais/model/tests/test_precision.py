"""Inference precision: resolving 'auto' and casting a network."""

import numpy as np
import pytest

from astropais.model import precision as precision_module
from astropais.model import (load_model, native_bfloat16, resolve_precision,
                             save_model)

keras = pytest.importorskip('keras')


@pytest.fixture(scope='module')
def network(tmp_path_factory):
    from astropais.model import build_network
    keras.utils.set_random_seed(5)
    model = build_network(n_bands=1, n=3, depth=3, base_filters=4)
    path = tmp_path_factory.mktemp('model') / 'net.keras'
    save_model(model, path, n=3, sigma=2.0, vector_scale=16.0, tile_size=32)
    return load_model(path)


def test_native_bfloat16_reads_the_cpu_flags(tmp_path):
    with_flag = tmp_path / 'with'
    with_flag.write_text('processor\t: 0\nflags\t\t: fpu sse2 avx512f '
                         'avx512_bf16 avx512_vnni\n')
    without = tmp_path / 'without'
    without.write_text('processor\t: 0\nflags\t\t: fpu sse2 avx2\n')
    assert native_bfloat16(str(with_flag)) is True
    assert native_bfloat16(str(without)) is False
    assert native_bfloat16(str(tmp_path / 'missing')) is False


@pytest.mark.parametrize('native', [True, False])
def test_auto_is_bfloat16_only_on_native_hardware(monkeypatch, native):
    monkeypatch.setattr(precision_module, 'native_bfloat16', lambda: native)
    expected = ('bfloat16' if native and keras.backend.backend()
                == 'tensorflow' else 'float32')
    assert resolve_precision('auto') == expected
    assert resolve_precision('float32') == 'float32'
    assert resolve_precision('bfloat16') == 'bfloat16'
    with pytest.raises(ValueError, match='precision must be one of'):
        resolve_precision('float16')


def test_bfloat16_network_is_close_and_outputs_float32(network):
    x = np.random.default_rng(1).normal(size=(2, 32, 40, 1)).astype('f4')
    cast = network.cast('bfloat16')
    assert cast.precision == 'bfloat16' and network.precision == 'float32'
    assert cast.metadata == network.metadata
    policies = {layer.name: layer.dtype_policy.name
                for layer in cast.model.layers}
    # Hidden layers compute in bfloat16, the heads in float32; the float32
    # network is left as it was.
    assert policies['enc0_conv0'] == 'mixed_bfloat16'
    for name in ('heatmap', 'vectors', 'fractions', 'heatmap_logits',
                 'vector_units', 'fraction_logits'):
        assert policies[name] == 'float32', name
    assert all(layer.dtype_policy.name == 'float32'
               for layer in network.model.layers)
    full, half = network.predict(x), cast.predict(x)
    for key in full:
        assert half[key].dtype == np.float32 and half[key].shape == \
            full[key].shape
    np.testing.assert_allclose(half['fractions'].sum(axis=-1), 1.0,
                               rtol=1e-5)
    np.testing.assert_allclose(half['fractions'], full['fractions'],
                               atol=0.02)
    np.testing.assert_allclose(half['heatmap'], full['heatmap'], atol=0.02)
    np.testing.assert_allclose(half['vectors'], full['vectors'], atol=0.5)
    assert not np.array_equal(half['vectors'], full['vectors'])


def test_cast_returns_itself_or_refuses(network):
    assert network.cast('float32') is network
    cast = network.cast('bfloat16')
    assert cast.cast('bfloat16') is cast
    with pytest.raises(ValueError, match='cannot cast a bfloat16'):
        cast.cast('float32')
    with pytest.raises(ValueError, match='precision must be one of'):
        network.cast('half')
