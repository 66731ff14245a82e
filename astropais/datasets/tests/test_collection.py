"""Tests of reading several datasets as one."""

import numpy as np
import pytest

from astropais.datasets import DatasetCollection, read_dataset, read_datasets

from .test_datasets import make_sample, write


def _two_datasets(tmp_path, sizes=(5, 7), **kwargs):
    rng = np.random.default_rng(3)
    parts = []
    for k, size in enumerate(sizes):
        samples = [make_sample(rng, **kwargs) for _ in range(size)]
        write(tmp_path / f'part{k}', samples, shard_size=3)
        parts.append(samples)
    return parts


def test_collection_indexes_parts_in_order(tmp_path):
    parts = _two_datasets(tmp_path)
    coll = read_datasets([tmp_path / 'part0', tmp_path / 'part1'])
    assert isinstance(coll, DatasetCollection)
    assert len(coll) == 12
    assert coll.manifest['n_samples'] == 12
    flat = parts[0] + parts[1]
    for i in (0, 4, 5, 11, -1):
        np.testing.assert_array_equal(coll[i].image[..., 0],
                                      np.float32(flat[i][0]))


def test_collection_batches_cover_every_sample_once(tmp_path):
    _two_datasets(tmp_path)
    coll = read_datasets([tmp_path / 'part0', tmp_path / 'part1'])
    seen = []
    for batch in coll.iter_batches(4, shuffle=True, seed=1):
        # A batch never mixes parts, and its images are those it names.
        assert len({int(i >= 5) for i in batch['index']}) == 1
        for i, image in zip(batch['index'], batch['image']):
            np.testing.assert_array_equal(image, coll[int(i)].image)
        seen.extend(batch['index'].tolist())
    assert sorted(seen) == list(range(12))
    subset = [1, 6, 11]
    got = np.concatenate([b['index'] for b in
                          coll.iter_batches(2, indices=subset, seed=2)])
    assert sorted(got.tolist()) == subset


def test_single_directory_gives_the_dataset(tmp_path):
    _two_datasets(tmp_path, sizes=(3,))
    ds = read_datasets(tmp_path / 'part0')
    assert type(ds) is type(read_dataset(tmp_path / 'part0'))


def test_collection_rejects_incompatible_parts(tmp_path):
    rng = np.random.default_rng(0)
    write(tmp_path / 'a', [make_sample(rng, n=3)])
    write(tmp_path / 'b', [make_sample(rng, n=2)])
    with pytest.raises(ValueError, match="disagree on 'n'"):
        read_datasets([tmp_path / 'a', tmp_path / 'b'])
    with pytest.raises(ValueError, match='at least one'):
        DatasetCollection([])
    coll = read_datasets([tmp_path / 'a', tmp_path / 'a'])
    with pytest.raises(IndexError):
        next(coll.iter_batches(1, indices=[5]))
