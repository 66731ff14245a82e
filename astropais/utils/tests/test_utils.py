"""The shared checksum, JSON and version helpers."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from astropais.model.io import default_model_path, sidecar_path
from astropais.utils import (json_default, package_versions, sha256_file,
                             sha256_text)


@pytest.mark.parametrize('chunk_size', [1, 7, 1 << 20])
def test_sha256_file_matches_hashlib(tmp_path, chunk_size):
    payload = np.random.default_rng(0).bytes(10_000)
    path = tmp_path / 'blob'
    path.write_bytes(payload)
    assert sha256_file(path, chunk_size=chunk_size) == \
        hashlib.sha256(payload).hexdigest()
    # FIPS 180-2 test vector.
    path.write_bytes(b'abc')
    assert sha256_file(str(path), chunk_size=chunk_size) == (
        'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')


def test_sha256_file_reproduces_the_shipped_sidecar():
    # Checksums written before the helper moved here still verify.
    model = default_model_path()
    if not model.exists():
        pytest.skip('no shipped model in this checkout')
    recorded = json.loads(sidecar_path(model).read_text())['sha256']
    assert sha256_file(model) == recorded


def test_sha256_text_is_utf8():
    assert sha256_text('abc') == hashlib.sha256(b'abc').hexdigest()
    assert sha256_text('\u00e5') == hashlib.sha256(
        '\u00e5'.encode('utf-8')).hexdigest()


def test_json_default_converts_numpy_and_paths():
    record = {'n': np.int64(3), 'sigma': np.float32(2.5),
              'flag': np.bool_(True), 'xy': np.arange(4).reshape(2, 2),
              'file': Path('a') / 'b.keras'}
    text = json.dumps(record, default=json_default, sort_keys=True)
    assert json.loads(text) == {'n': 3, 'sigma': 2.5, 'flag': True,
                                'xy': [[0, 1], [2, 3]],
                                'file': str(Path('a') / 'b.keras')}
    # Python values are written as json writes them (no default call).
    plain = {'a': [1, 2.5, None, 'x']}
    assert json.dumps(plain, default=json_default) == json.dumps(plain)


def test_json_default_refuses_other_objects():
    with pytest.raises(TypeError, match='set value .* JSON-serialisable'):
        json.dumps({'bad': {1, 2}}, default=json_default)
    with pytest.raises(TypeError, match='object value'):
        json_default(object())


def test_package_versions():
    versions = package_versions(['numpy', 'astropais', 'json',
                                 'astropais_no_such_module'])
    assert list(versions) == ['numpy', 'astropais', 'json',
                              'astropais_no_such_module']
    import astropais
    assert versions['numpy'] == np.__version__
    assert versions['astropais'] == astropais.__version__
    assert versions['json'] == json.__version__
    assert versions['astropais_no_such_module'] is None
    # A module without __version__ has none.
    assert package_versions(['astropais.utils']) == {'astropais.utils': None}


def test_package_versions_of_a_broken_module(tmp_path, monkeypatch):
    (tmp_path / 'astropais_broken_probe.py').write_text(
        "raise RuntimeError('broken install')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert package_versions(['astropais_broken_probe', 'numpy']) == {
        'astropais_broken_probe': None, 'numpy': np.__version__}
