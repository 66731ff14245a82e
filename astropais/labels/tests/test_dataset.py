"""A dataset written from scarlet2 labels: format, resume, and training on
it with ``astropais-train`` (slow: scarlet2 fits and a network)."""

import numpy as np
import pytest

from astropais.labels import dataset as label_dataset
from astropais.labels import write_label_dataset
from astropais.labels.tests.helpers import blended_pair

SETTINGS = dict(crop_shape=(32, 32), margin=8, morphology='free',
                max_iter=30, shard_size=1, progress_bar=False)


@pytest.mark.slow
def test_interrupted_dataset_resumes_and_trains(tmp_path, monkeypatch):
    from astropais.cli.train import main as train_main
    from astropais.datasets import read_dataset

    # The pair straddles the crop corners at the image centre.
    image, psf, positions, _, sigma = blended_pair(shape=(64, 64))
    directory = tmp_path / 'labels'
    calls = []
    real_fit = label_dataset.fit_scene

    def interrupted_fit(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(label_dataset, 'fit_scene', interrupted_fit)
    with pytest.raises(KeyboardInterrupt):
        write_label_dataset(directory, image, psf, positions,
                            noise_sigma=sigma, **SETTINGS)
    assert len(read_dataset(directory)) == 2
    monkeypatch.setattr(label_dataset, 'fit_scene', real_fit)
    summary = write_label_dataset(directory, image, psf, positions,
                                  noise_sigma=sigma, resume=True, **SETTINGS)
    assert summary['first_crop'] == 2 and summary['n_crops'] == 4
    assert summary['n_written'] + summary['n_skipped'] == 2
    data = read_dataset(directory)
    assert len(data) == 4 - summary['n_skipped']
    assert data.manifest['generator'] == label_dataset.LABELS_GENERATOR
    crops = [s.catalog.meta['crop_index'] for s in data]
    assert crops == sorted(set(crops))
    for sample in data:
        assert sample.image.shape == (32, 32, 1)
        assert sample.fractions.shape == (32, 32, 1, 3)
        origin = sample.catalog.meta['crop_origin']
        crop = image[origin[0]:origin[0] + 32, origin[1]:origin[1] + 32]
        assert np.allclose(sample.image[..., 0], crop, atol=1e-4)
        # Both sources reach every crop: their labels are present.
        assert len(sample.catalog) == 2 and sample.source_mask.any()
        on = sample.source_mask
        assert np.allclose(sample.fractions[on].sum(axis=-1), 1, atol=1e-5)
    out = tmp_path / 'model'
    assert train_main([str(directory), '--out', str(out), '--epochs', '1',
                       '--batch-size', '2', '--depth', '2',
                       '--base-filters', '4', '--val-fraction', '0.25',
                       '--no-augment', '--no-progress']) == 0
    assert (out / 'model.keras').exists()


def test_bad_slot_rule_is_refused_before_any_fit(tmp_path, monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError('fitted before checking slots')

    monkeypatch.setattr(label_dataset, 'fit_scene', no_fit)
    image, psf, positions, _, sigma = blended_pair(shape=(64, 64))
    with pytest.raises(ValueError, match='slots must be one of'):
        write_label_dataset(tmp_path / 'x', image, psf, positions,
                            noise_sigma=sigma, slots='farthest', **SETTINGS)
    assert not (tmp_path / 'x').exists()


@pytest.mark.slow
def test_brightest_slot_labels_are_recorded(tmp_path):
    from astropais.datasets import read_dataset

    image, psf, positions, _, sigma = blended_pair(shape=(32, 32))
    write_label_dataset(tmp_path / 'b', image, psf, positions,
                        noise_sigma=sigma, slots='brightest', **SETTINGS)
    data = read_dataset(tmp_path / 'b')
    assert data.manifest['slots'] == 'brightest'
    on = data[0].source_mask
    assert np.allclose(data[0].fractions[on].sum(axis=-1), 1, atol=1e-5)
