"""
The single-band presets draw exactly what they drew before multi-band
simulation existed.

``data/single_band_digests.json`` holds SHA-256 digests of scenes (image,
noise, truth, origins and every catalogue column), of a ``'mixed'`` crop
and of a dataset shard, recorded with the code of commit f87f114 (before
`astropais.simulation.bands`).  A change to what an existing preset draws
fails here; the digests may only be re-recorded on purpose (a new GalSim
or numpy that changes the draws, noted in the commit).  Re-recorded on
2026-12-03 for 'ground', 'hst', 'lsst' and the shard on a new machine (AMD
EPYC, AVX2 without AVX-512; numpy 2.4.6, GalSim 2.8.5, SciPy 1.17.1), where
the code of 6b484ca, which passed CI before, gave other digests for them
('hst_drizzled' and the 'mixed' crop unchanged).
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from astropais.simulation import (make_scene, simulate_crop,
                                  simulate_dataset)

DIGESTS = json.loads((Path(__file__).parent / 'data'
                      / 'single_band_digests.json').read_text())


def _digest(scene):
    h = hashlib.sha256()
    for array in (scene.image, scene.noise, scene.sources.total(),
                  scene.sources.origins):
        h.update(np.ascontiguousarray(array).tobytes())
    for name in scene.catalog.colnames:
        h.update(name.encode())
        h.update(np.asarray(scene.catalog[name]).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize('preset', ['ground', 'hst', 'hst_drizzled', 'lsst'])
def test_preset_scene_is_unchanged(preset):
    assert _digest(make_scene(preset, shape=(96, 96), seed=11)) \
        == DIGESTS[preset]


def test_mixed_crop_is_unchanged():
    assert _digest(simulate_crop('mixed', 32, 7)) == DIGESTS['mixed_crop']


def test_dataset_shard_is_unchanged(tmp_path):
    simulate_dataset(tmp_path / 'x', 3, preset='lsst', crop_size=24, seed=3,
                     shard_size=4)
    shard = (tmp_path / 'x' / 'shard-00000.npz').read_bytes()
    assert hashlib.sha256(shard).hexdigest() == DIGESTS['lsst_dataset_shard']
