"""Tests of cropping and of the simulated-dataset writer."""

import numpy as np
import pytest

from astropais.datasets import read_dataset, truth_source_mask
from astropais.pcr import SourceImages
from astropais.simulation import make_scene
from astropais.simulation.dataset import crop_seed, simulate_crop, simulate_dataset

pcr = pytest.importorskip('astropais.pcr')
if not hasattr(pcr, 'encode'):  # pragma: no cover
    pytest.skip('astropais.pcr.encode is not available', allow_module_level=True)


def test_crop_keeps_truth_exact():
    scene = make_scene('lsst', shape=(80, 90), seed=5, density=600)
    crop = scene.crop(10, 20, (40, 50))
    assert crop.image.shape == (40, 50)
    assert np.array_equal(crop.sources.total() + crop.noise, crop.image)
    np.testing.assert_array_equal(crop.image, scene.image[10:50, 20:70])
    assert np.all(crop.catalog['flux_in_image'] > 0)
    assert np.array_equal(crop.catalog['id'], np.arange(1, len(crop.catalog) + 1))
    # positions move with the crop; some sources are centred outside it
    inside = ((crop.catalog['x'] >= -0.5) & (crop.catalog['x'] < 49.5)
              & (crop.catalog['y'] >= -0.5) & (crop.catalog['y'] < 39.5))
    assert inside.sum() < len(crop.catalog)
    with pytest.raises(ValueError, match='leaves the image'):
        scene.crop(50, 0, (40, 50))


def test_simulate_crop_shape_and_validation():
    crop = simulate_crop('hst', 32, seed=3, density=3000)
    assert crop.image.shape == (32, 32)
    with pytest.raises(ValueError, match='crop_size'):
        simulate_crop('hst', 0, seed=3)
    with pytest.raises(ValueError, match='margin'):
        simulate_crop('hst', 16, seed=3, margin=-1)
    assert crop_seed(0, 1) != crop_seed(0, 2) != crop_seed(1, 1)


def test_simulate_dataset_round_trip_and_bytes(tmp_path):
    kwargs = dict(preset='lsst', crop_size=24, seed=3, shard_size=4,
                  density=600)
    ds = simulate_dataset(tmp_path / 'a', 6, **kwargs)
    simulate_dataset(tmp_path / 'b', 6, **kwargs)
    for name in ('manifest.json', 'shard-00000.npz', 'shard-00001.npz'):
        assert ((tmp_path / 'a' / name).read_bytes()
                == (tmp_path / 'b' / name).read_bytes())
    assert len(ds) == 6
    assert ds.manifest['source_mask']['threshold_sigma'] > 0
    assert ds.manifest['parameters']['pixel_scale'] == 0.2
    sample = ds[2]
    scene = simulate_crop('lsst', 24, crop_seed(3, 2), density=600)
    np.testing.assert_array_equal(sample.image[..., 0],
                                  scene.image.astype(np.float32))
    np.testing.assert_allclose(sample.catalog['x'], scene.catalog['x'])
    labelled = np.asarray(sample.catalog['labelled'])
    np.testing.assert_array_equal(labelled, scene.catalog['snr'] >= 5)
    assert 0 < labelled.sum() < len(labelled)
    keep = np.flatnonzero(labelled)
    sources = SourceImages(scene.sources.shape,
                           [scene.sources.cutouts[i] for i in keep],
                           scene.sources.origins[keep])
    assert np.array_equal(sample.source_mask, truth_source_mask(
        sources.total(), scene.noise_sigma))
    labels = pcr.encode(sources, scene.centres[keep], n=3, sigma=2.0,
                        source_mask=sample.source_mask)
    np.testing.assert_array_equal(sample.fractions, labels.fractions)
    np.testing.assert_array_equal(sample.vectors, labels.vectors)
    # fractions sum to one on source pixels and vanish elsewhere
    sums = sample.fractions[..., 0, :].sum(-1)
    np.testing.assert_allclose(sums[sample.source_mask], 1, atol=1e-5)
    assert np.all(sums[~sample.source_mask] == 0)


def test_label_min_snr_zero_labels_every_source(tmp_path):
    ds = simulate_dataset(tmp_path / 'all', 2, preset='lsst', crop_size=24,
                          seed=3, density=600, label_min_snr=0)
    for sample in ds:
        assert np.all(sample.catalog['labelled'])
    assert ds.manifest['label_min_snr'] == 0


def test_simulate_dataset_resume_matches_one_run(tmp_path):
    kwargs = dict(preset='hst', crop_size=16, seed=1, shard_size=2,
                  density=3000)
    simulate_dataset(tmp_path / 'once', 5, **kwargs)
    simulate_dataset(tmp_path / 'twice', 3, **kwargs)
    with pytest.raises(ValueError, match='differ'):
        simulate_dataset(tmp_path / 'twice', 5, resume=True,
                         **{**kwargs, 'seed': 2})
    ds = simulate_dataset(tmp_path / 'twice', 5, resume=True, **kwargs)
    once = read_dataset(tmp_path / 'once')
    assert len(ds) == len(once) == 5
    for a, b in zip(ds, once):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.fractions, b.fractions)


def test_simulate_dataset_processes_give_the_same_bytes(tmp_path):
    kwargs = dict(preset='hst', crop_size=16, seed=2, shard_size=3,
                  density=3000)
    simulate_dataset(tmp_path / 'one', 4, **kwargs)
    simulate_dataset(tmp_path / 'two', 4, n_processes=2, **kwargs)
    for name in ('manifest.json', 'shard-00000.npz', 'shard-00001.npz'):
        assert ((tmp_path / 'one' / name).read_bytes()
                == (tmp_path / 'two' / name).read_bytes())


def test_simulate_dataset_bad_input(tmp_path):
    with pytest.raises(ValueError, match='n_crops'):
        simulate_dataset(tmp_path / 'x', -1)
    with pytest.raises(ValueError, match='unknown preset'):
        simulate_dataset(tmp_path / 'x', 1, preset='sdss')
    with pytest.raises(ValueError, match='crop_size'):
        simulate_dataset(tmp_path / 'x', 1, crop_size=0)
    with pytest.raises(ValueError, match='n must'):
        simulate_dataset(tmp_path / 'x', 1, n=0)
    with pytest.raises(ValueError, match='sigma'):
        simulate_dataset(tmp_path / 'x', 1, sigma=0.0)
    with pytest.raises(ValueError, match='dilation'):
        simulate_dataset(tmp_path / 'x', 1, mask_dilation=-2)
    with pytest.raises(ValueError, match='label_min_snr'):
        simulate_dataset(tmp_path / 'x', 1, label_min_snr=-1)
    with pytest.raises(ValueError, match='n_processes'):
        simulate_dataset(tmp_path / 'x', 1, n_processes=0)
    with pytest.raises(ValueError, match='pair_separation'):
        simulate_dataset(tmp_path / 'x', 1, crop_size=8, margin=0,
                         pair_separation=(1.0, 5.0))
    assert not (tmp_path / 'x').exists()  # nothing written on bad input


def test_simulate_dataset_brightest_slots(tmp_path):
    from astropais.datasets import read_datasets
    kwargs = dict(preset='lsst', crop_size=24, seed=3, shard_size=4,
                  density=3000)
    nearest = simulate_dataset(tmp_path / 'nearest', 2, **kwargs)
    brightest = simulate_dataset(tmp_path / 'brightest', 2,
                                 slots='brightest', **kwargs)
    assert 'slots' not in nearest.manifest       # as before the option
    assert brightest.manifest['slots'] == 'brightest'
    sample = brightest[1]
    scene = simulate_crop('lsst', 24, crop_seed(3, 1), density=3000)
    keep = np.flatnonzero(sample.catalog['labelled'])
    sources = SourceImages(scene.sources.shape,
                           [scene.sources.cutouts[i] for i in keep],
                           scene.sources.origins[keep])
    labels = pcr.encode(sources, scene.centres[keep], n=3, sigma=2.0,
                        source_mask=sample.source_mask, slots='brightest')
    np.testing.assert_array_equal(sample.vectors, labels.vectors)
    np.testing.assert_array_equal(sample.fractions, labels.fractions)
    # Same images, other labels.
    np.testing.assert_array_equal(sample.image, nearest[1].image)
    assert any(not np.array_equal(a.vectors, b.vectors)
               for a, b in zip(brightest, nearest))
    with pytest.raises(ValueError, match="disagree on 'slots'"):
        read_datasets([tmp_path / 'nearest', tmp_path / 'brightest'])
    with pytest.raises(ValueError, match='slots must be one of'):
        simulate_dataset(tmp_path / 'x', 1, slots='farthest')
