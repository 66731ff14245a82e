"""
The single-band presets draw exactly what they drew before multi-band
simulation existed.

``data/single_band_fingerprints.json`` holds fingerprints (see
`astropais.simulation.tests.fingerprints`) of scenes (image, noise, truth,
origins and every catalogue column), of ``'mixed'`` crops and parameter
draws and of a dataset shard, recorded with the code of commit c006cfe,
whose SHA-256 digests equalled those recorded with the code of commit
f87f114 (before `astropais.simulation.bands`) and d591a16 (before star
clusters) on the machine they were recorded on.  A change to what an
existing preset draws fails here, a last-bit difference of numpy's
vectorised ``exp`` and ``log`` between CPUs does not (the SHA-256 digests
did: they were re-recorded once, on 2026-12-03, for a machine without
AVX-512).  The fingerprints may only be recorded again on purpose (a
change of what a preset draws, noted in the commit).
"""

import json
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from astropais.simulation import (make_scene, simulate_crop,
                                  simulate_dataset)
from astropais.simulation.dataset import resolve_parameters

from .fingerprints import (REFERENCE_PATH, assert_fingerprint_matches,
                           fingerprint, scene_arrays)


def _scene(preset):
    return scene_arrays(make_scene(preset, shape=(96, 96), seed=11))


def _crop(size, seed):
    return scene_arrays(simulate_crop('mixed', size, seed))


def _shard():
    with tempfile.TemporaryDirectory() as tmp:
        simulate_dataset(Path(tmp) / 'x', 3, preset='lsst', crop_size=24,
                         seed=3, shard_size=4)
        with np.load(Path(tmp) / 'x' / 'shard-00000.npz') as shard:
            return {name: shard[name] for name in shard.files}


def _flatten(value, path=''):
    """(path, leaf) pairs of nested dicts and lists, in sorted key order."""
    if isinstance(value, dict):
        return [pair for key in sorted(value)
                for pair in _flatten(value[key], f'{path}/{key}')]
    if isinstance(value, (list, tuple)):
        return [pair for i, item in enumerate(value)
                for pair in _flatten(item, f'{path}/{i}')]
    return [(path, value)]


def _mixed_parameters():
    """The parameters 'mixed' draws for crop seeds 0..199, as arrays."""
    leaves = [(f'{seed}{path}', value) for seed in range(200)
              for path, value in _flatten(
                  resolve_parameters('mixed', seed).to_dict())]
    is_number = [isinstance(v, (int, float)) and not isinstance(v, bool)
                 for _, v in leaves]
    numbers = [leaf for leaf, number in zip(leaves, is_number) if number]
    others = [leaf for leaf, number in zip(leaves, is_number) if not number]
    return {'number_paths': np.array([p for p, _ in numbers]),
            'numbers': np.array([v for _, v in numbers], dtype=float),
            'others': np.array([f'{p}={v!r}' for p, v in others])}


#: What the reference file fingerprints, by name.
FINGERPRINTED = {
    **{preset: partial(_scene, preset)
       for preset in ('ground', 'hst', 'hst_drizzled', 'lsst')},
    'mixed_crop': partial(_crop, 32, 7),
    'mixed_crop_23': partial(_crop, 64, 23),
    'mixed_parameters': _mixed_parameters,
    'lsst_dataset_shard': _shard,
}

def check_unchanged(name):
    """Assert that ``FINGERPRINTED[name]`` matches its recorded fingerprint."""
    reference = json.loads(REFERENCE_PATH.read_text())[name]
    assert_fingerprint_matches(fingerprint(FINGERPRINTED[name]()), reference)


@pytest.mark.parametrize('preset', ['ground', 'hst', 'hst_drizzled', 'lsst'])
def test_preset_scene_is_unchanged(preset):
    check_unchanged(preset)


def test_mixed_crop_is_unchanged():
    check_unchanged('mixed_crop')


def test_dataset_shard_is_unchanged():
    check_unchanged('lsst_dataset_shard')


def test_fingerprint_catches_a_changed_draw():
    # The tolerance absorbs last-bit differences, not a changed scene.
    reference = fingerprint(_scene('hst'))
    assert_fingerprint_matches(fingerprint(_scene('hst')), reference)
    arrays = _scene('hst')
    arrays['image'] = arrays['image'] * (1 + 1e-12)
    assert_fingerprint_matches(fingerprint(arrays), reference)
    other = scene_arrays(make_scene('hst', shape=(96, 96), seed=12))
    with pytest.raises(AssertionError):
        assert_fingerprint_matches(fingerprint(other), reference)
    arrays['image'] = arrays['image'] + 1e-3 * np.abs(arrays['image']).max()
    with pytest.raises(AssertionError, match='image'):
        assert_fingerprint_matches(fingerprint(arrays), reference)
