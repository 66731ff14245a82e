"""Tests of the dataset writer and reader."""

import json
import tempfile
from dataclasses import dataclass

import numpy as np
import pytest
from astropy import units as u
from hypothesis import given, settings
from hypothesis import strategies as st
from astropy.table import Table

from astropais.datasets import (DatasetWriter, Sample, read_dataset,
                                truth_source_mask)


@dataclass
class FakePCR:
    """Stands in for astropais.pcr.PCR (same fields)."""

    heatmap: np.ndarray
    vectors: np.ndarray
    slot_mask: np.ndarray
    fractions: np.ndarray
    source_mask: np.ndarray
    n: int
    sigma: float


def make_sample(rng, shape=(12, 10), n=3, bands=1, n_sources=None):
    h, w = shape
    k = int(rng.integers(0, 5)) if n_sources is None else n_sources
    fractions = rng.random((h, w, bands, n)).astype(np.float32)
    fractions /= fractions.sum(axis=-1, keepdims=True)
    pcr = FakePCR(heatmap=rng.random((h, w), dtype=np.float32),
                  vectors=rng.normal(size=(h, w, n, 2)).astype(np.float32),
                  slot_mask=rng.random((h, w, n)) > 0.2,
                  fractions=fractions,
                  source_mask=rng.random((h, w)) > 0.5, n=n, sigma=1.5)
    image = rng.normal(size=(h, w) if bands == 1 else (h, w, bands))
    catalog = Table({'id': np.arange(1, k + 1),
                     'x': rng.random(k) * w, 'y': rng.random(k) * h,
                     'flux': rng.random(k),
                     'kind': np.array(['star', 'sersic'])[
                         rng.integers(0, 2, k)].astype('<U10')})
    catalog['flux'].unit = u.nJy
    catalog.meta['seed'] = int(rng.integers(100))
    return image, pcr, catalog, float(rng.random() + 0.5)


def write(directory, samples, shard_size=4, **kwargs):
    with DatasetWriter(directory, {'generator': 'test', 'seed': 1},
                       shard_size=shard_size, **kwargs) as writer:
        for sample in samples:
            writer.add(*sample)
    return writer


def assert_sample_equal(got, want):
    image, pcr, catalog, sigma = want
    assert isinstance(got, Sample)
    expected_image = np.asarray(image, np.float32)
    if expected_image.ndim == 2:
        expected_image = expected_image[..., None]
    np.testing.assert_array_equal(got.image, expected_image)
    assert got.image.dtype == np.float32
    np.testing.assert_array_equal(got.noise_sigma,
                                  np.full(got.image.shape[-1], sigma,
                                          np.float32))
    for name in ('heatmap', 'vectors', 'slot_mask', 'fractions',
                 'source_mask'):
        np.testing.assert_array_equal(getattr(got, name), getattr(pcr, name))
        assert getattr(got, name).dtype == getattr(pcr, name).dtype
    assert got.catalog.colnames == catalog.colnames
    for name in catalog.colnames:
        np.testing.assert_array_equal(got.catalog[name], catalog[name])
    assert got.catalog['flux'].unit == u.nJy
    assert got.catalog.meta == catalog.meta


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    samples = [make_sample(rng) for _ in range(10)]
    samples.append(make_sample(rng, n_sources=0))  # a crop with no source
    write(tmp_path / 'ds', samples)
    ds = read_dataset(tmp_path / 'ds')
    assert len(ds) == 11 and ds.n_shards == 3
    assert ds.n == 3 and ds.sigma == 1.5 and ds.crop_shape == (12, 10)
    assert ds.n_bands == 1
    assert ds.manifest['generator'] == 'test'
    assert ds.manifest['format'] == 'astropais-dataset'
    for i, want in enumerate(samples):
        assert_sample_equal(ds[i], want)
        assert ds[i].index == i
    assert_sample_equal(ds[-1], samples[-1])
    assert [s.index for s in ds] == list(range(11))


def test_multiband_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    samples = [make_sample(rng, bands=2) for _ in range(3)]
    write(tmp_path / 'ds', samples)
    ds = read_dataset(tmp_path / 'ds')
    assert ds[0].image.shape == (12, 10, 2)
    assert ds[0].fractions.shape == (12, 10, 2, 3)
    for i, want in enumerate(samples):
        assert_sample_equal(ds[i], want)


def test_same_input_same_bytes(tmp_path):
    for name in ('a', 'b'):
        write(tmp_path / name, [make_sample(np.random.default_rng(5))
                                for _ in range(6)])
    files = sorted(p.name for p in (tmp_path / 'a').iterdir())
    assert files == ['manifest.json', 'shard-00000.npz', 'shard-00001.npz']
    for name in files:
        assert ((tmp_path / 'a' / name).read_bytes()
                == (tmp_path / 'b' / name).read_bytes())


def test_iter_batches_streams_every_sample_once(tmp_path):
    rng = np.random.default_rng(2)
    samples = [make_sample(rng) for _ in range(13)]
    write(tmp_path / 'ds', samples, shard_size=5)
    ds = read_dataset(tmp_path / 'ds')
    batches = list(ds.iter_batches(4, seed=3))
    assert [len(b['index']) for b in batches] == [4, 4, 4, 1]
    order = np.concatenate([b['index'] for b in batches])
    assert sorted(order) == list(range(13))
    assert not np.array_equal(order, np.arange(13))  # shuffled
    again = np.concatenate([b['index'] for b in ds.iter_batches(4, seed=3)])
    assert np.array_equal(order, again)
    batch = batches[0]
    assert batch['image'].shape == (4, 12, 10, 1)
    assert batch['vectors'].shape == (4, 12, 10, 3, 2)
    assert batch['fractions'].shape == (4, 12, 10, 1, 3)
    for row, i in enumerate(batch['index']):
        np.testing.assert_array_equal(batch['vectors'][row],
                                      samples[i][1].vectors)
        np.testing.assert_array_equal(batch['noise_sigma'][row],
                                      [np.float32(samples[i][3])])
    ordered = list(ds.iter_batches(5, shuffle=False, indices=[7, 2, 11],
                                   drop_last=False))
    assert [b['index'].tolist() for b in ordered] == [[2, 7, 11]]
    assert list(ds.iter_batches(5, indices=[1, 2], drop_last=True)) == []


def test_iter_batches_holds_one_shard_at_a_time(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    write(tmp_path / 'ds', [make_sample(rng) for _ in range(9)], shard_size=3)
    ds = read_dataset(tmp_path / 'ds')
    loads = []
    original = ds._load_shard

    def spy(index):
        loads.append(index)
        return original(index)
    monkeypatch.setattr(ds, '_load_shard', spy)
    list(ds.iter_batches(2, seed=0))
    assert sorted(loads) == [0, 1, 2]  # each shard decoded exactly once


def test_in_memory_decodes_each_shard_once_over_epochs(
        tmp_path, monkeypatch):
    from astropais.datasets import _format as fmt
    rng = np.random.default_rng(3)
    samples = [make_sample(rng) for _ in range(9)]
    write(tmp_path / 'ds', samples, shard_size=3)
    reads = []
    original = fmt.read_npz

    def spy(path):
        reads.append(path.name)
        return original(path)
    monkeypatch.setattr(fmt, 'read_npz', spy)
    cached = read_dataset(tmp_path / 'ds', in_memory=True)
    epochs = [list(cached.iter_batches(2, seed=epoch)) for epoch in range(3)]
    assert sorted(reads) == ['shard-00000.npz', 'shard-00001.npz',
                             'shard-00002.npz']  # decoded once in 3 epochs
    streamed = read_dataset(tmp_path / 'ds')
    for epoch, got in enumerate(epochs):
        want = list(streamed.iter_batches(2, seed=epoch))
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])
    for i, want in enumerate(samples):
        assert_sample_equal(cached[i], want)
    assert len(reads) > 3  # the streamed dataset decodes shards again


def test_resume_appends(tmp_path):
    rng = np.random.default_rng(4)
    samples = [make_sample(rng) for _ in range(7)]
    write(tmp_path / 'ds', samples[:3])
    with pytest.raises(FileExistsError, match='resume'):
        write(tmp_path / 'ds', samples[3:])
    with pytest.raises(ValueError, match='seed'):
        DatasetWriter(tmp_path / 'ds', {'generator': 'test', 'seed': 2},
                      resume=True)
    (tmp_path / 'ds' / 'shard-00001.npz.tmp').write_bytes(b'partial')
    writer = write(tmp_path / 'ds', samples[3:], resume=True)
    assert len(writer) == 7
    assert not list((tmp_path / 'ds').glob('*.tmp'))
    ds = read_dataset(tmp_path / 'ds')
    assert len(ds) == 7
    for i, want in enumerate(samples):
        assert_sample_equal(ds[i], want)


def test_corrupted_shard_is_detected(tmp_path):
    rng = np.random.default_rng(6)
    write(tmp_path / 'ds', [make_sample(rng) for _ in range(2)])
    shard = tmp_path / 'ds' / 'shard-00000.npz'
    data = bytearray(shard.read_bytes())
    data[-30] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match='SHA-256'):
        read_dataset(tmp_path / 'ds')[0]


def test_manifest_records_format(tmp_path):
    rng = np.random.default_rng(7)
    write(tmp_path / 'ds', [make_sample(rng) for _ in range(5)], shard_size=2)
    manifest = json.loads((tmp_path / 'ds' / 'manifest.json').read_text())
    assert manifest['n_samples'] == 5
    assert [s['n_samples'] for s in manifest['shards']] == [2, 2, 1]
    assert manifest['arrays']['vectors']['shape'] == ['H', 'W', 'n', 2]
    assert manifest['seed'] == 1
    # shards hold no pickles
    with np.load(tmp_path / 'ds' / 'shard-00000.npz',
                 allow_pickle=False) as data:
        assert all(data[k].dtype.kind != 'O' for k in data.files)


def test_bad_input(tmp_path):
    rng = np.random.default_rng(8)
    image, pcr, catalog, sigma = make_sample(rng)
    with pytest.raises(TypeError, match='JSON'):
        DatasetWriter(tmp_path / 'a', {'bad': object()})
    with pytest.raises(ValueError, match='set by the writer'):
        DatasetWriter(tmp_path / 'b', {'n_samples': 3})
    with pytest.raises(ValueError, match='shard_size'):
        DatasetWriter(tmp_path / 'c', {}, shard_size=0)
    with DatasetWriter(tmp_path / 'd', {}) as writer:
        with pytest.raises(ValueError, match='image'):
            writer.add(image[:5], pcr, catalog, sigma)
        with pytest.raises(ValueError, match='NaN'):
            writer.add(np.full_like(image, np.nan), pcr, catalog, sigma)
        with pytest.raises(ValueError, match='noise_sigma'):
            writer.add(image, pcr, catalog, [1.0, 2.0])
        with pytest.raises(TypeError, match='PCR'):
            writer.add(image, object(), catalog, sigma)
        with pytest.raises(TypeError, match='Table'):
            writer.add(image, pcr, {'x': [1]}, sigma)
        writer.add(image, pcr, catalog, sigma)
        other = make_sample(rng, shape=(8, 8))
        with pytest.raises(ValueError, match='crop_shape'):
            writer.add(*other)
    with pytest.raises(ValueError, match='closed'):
        writer.add(image, pcr, catalog, sigma)
    with pytest.raises(FileNotFoundError):
        read_dataset(tmp_path / 'nothing')
    ds = read_dataset(tmp_path / 'd')
    with pytest.raises(IndexError):
        ds[1]
    with pytest.raises(TypeError):
        ds['0']
    with pytest.raises(ValueError, match='batch_size'):
        next(ds.iter_batches(0))


def test_truth_source_mask():
    total = np.zeros((9, 9))
    total[4, 4] = 1.0
    total[4, 5] = 0.05
    total[0, 0] = 0.01
    mask = truth_source_mask(total, 1.0, threshold=0.1, dilation=1)
    # significant pixel, dilated, but only where the model is positive
    assert mask[4, 4] and mask[4, 5]
    assert not mask[0, 0] and mask.sum() == 2
    assert truth_source_mask(total, 1.0, dilation=0).sum() == 1
    assert truth_source_mask(total, 0.0).sum() == 3
    with pytest.raises(ValueError, match='noise_sigma'):
        truth_source_mask(total, -1.0)
    with pytest.raises(ValueError, match='dilation'):
        truth_source_mask(total, 1.0, dilation=-1)


@settings(max_examples=15, deadline=None)
@given(height=st.integers(1, 6), width=st.integers(1, 6), n=st.integers(1, 4),
       bands=st.integers(1, 2), n_samples=st.integers(1, 5),
       shard_size=st.integers(1, 3), seed=st.integers(0, 2 ** 32 - 1))
def test_round_trip_property(height, width, n, bands, n_samples, shard_size,
                             seed):
    rng = np.random.default_rng(seed)
    samples = [make_sample(rng, shape=(height, width), n=n, bands=bands)
               for _ in range(n_samples)]
    with tempfile.TemporaryDirectory() as tmp:
        with DatasetWriter(tmp + '/ds', {'seed': seed},
                           shard_size=shard_size) as writer:
            for sample in samples:
                writer.add(*sample)
                assert len(writer._buffer) < shard_size  # memory bounded
        ds = read_dataset(tmp + '/ds')
        assert ds.n_shards == -(-n_samples // shard_size)
        for i, want in enumerate(samples):
            assert_sample_equal(ds[i], want)
        batches = list(ds.iter_batches(2, shuffle=False))
        order = np.concatenate([b['index'] for b in batches])
        assert order.tolist() == list(range(n_samples))
