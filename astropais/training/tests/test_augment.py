"""Dihedral augmentation moves the vectors with the image."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astropais.training.augment import (N_DIHEDRAL, dihedral_transform,
                                        random_dihedral)


def _batch(h, w, centres):
    """One image with a marker band per centre and vectors to the centres."""
    n = len(centres)
    image = np.zeros((1, h, w, n), np.float32)
    yy, xx = np.mgrid[:h, :w]
    vectors = np.zeros((1, h, w, n, 2), np.float32)
    for k, (cy, cx) in enumerate(centres):  # a loop over a few centres
        image[0, cy, cx, k] = 1
        vectors[0, ..., k, 0] = cy - yy
        vectors[0, ..., k, 1] = cx - xx
    fractions = np.random.default_rng(0).random((1, h, w, n, n))
    return {'image': image, 'vectors': vectors,
            'heatmap': image.max(-1), 'slot_mask': np.ones((1, h, w, n), bool),
            'fractions': fractions.astype(np.float32),
            'source_mask': image.max(-1) > 0, 'noise_sigma': np.ones((1, n))}


@settings(max_examples=40, deadline=None)
@given(st.integers(0, N_DIHEDRAL - 1), st.integers(5, 12), st.integers(5, 12),
       st.data())
def test_vectors_still_point_at_their_centres(index, h, w, data):
    if h != w and index % 2:
        index -= 1  # quarter turns change the shape; still valid per sample
    centres = [(data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1)))
               for _ in range(2)]
    out = dihedral_transform(_batch(h, w, centres), index)
    hh, ww = out['image'].shape[1:3]
    yy, xx = np.mgrid[:hh, :ww]
    for k in range(2):  # a loop over the two centres
        cy, cx = np.unravel_index(np.argmax(out['image'][0, ..., k]), (hh, ww))
        np.testing.assert_array_equal(yy + out['vectors'][0, ..., k, 0], cy)
        np.testing.assert_array_equal(xx + out['vectors'][0, ..., k, 1], cx)


def test_all_eight_transforms_are_distinct_and_consistent():
    batch = _batch(6, 6, [(1, 2), (4, 0)])
    images = [dihedral_transform(batch, i)['image'].tobytes() for i in range(8)]
    assert len(set(images)) == 8
    ident = dihedral_transform(batch, 0)
    for key in ('image', 'vectors', 'fractions', 'slot_mask'):
        np.testing.assert_array_equal(ident[key], batch[key])
    # Labels move with the image; per-pixel fraction rows are untouched.
    out = dihedral_transform(batch, 5)
    np.testing.assert_array_equal(out['heatmap'], out['image'].max(-1))
    np.testing.assert_array_equal(
        np.sort(out['fractions'].reshape(-1)),
        np.sort(batch['fractions'].reshape(-1)))
    assert out['noise_sigma'] is batch['noise_sigma']


def test_random_dihedral_keeps_non_square_shape():
    batch = _batch(6, 9, [(1, 2)])
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(30):
        out, index = random_dihedral(batch, rng)
        assert out['image'].shape == batch['image'].shape
        seen.add(index)
    assert seen == {0, 2, 4, 6}


@pytest.mark.parametrize('index', [-1, 8, 1.5, True])
def test_bad_index(index):
    with pytest.raises(ValueError, match='0..7'):
        dihedral_transform(_batch(4, 4, [(0, 0)]), index)
