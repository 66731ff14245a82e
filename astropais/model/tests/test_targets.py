"""Loss targets: the packed layout and the per-pixel weights."""

import numpy as np
import pytest

from astropais.model.targets import pack_targets, pixel_weights


def _batch(rng, b=1, n=3):
    shape = (2, 8, 8)
    fractions = rng.dirichlet(np.ones(n), size=(*shape, b)).astype(np.float32)
    return {'heatmap': rng.random(shape).astype(np.float32),
            'vectors': rng.normal(size=(*shape, n, 2)).astype(np.float32),
            'slot_mask': np.ones((*shape, n), bool),
            'fractions': fractions,
            'source_mask': rng.random(shape) > 0.3,
            'image': rng.normal(0, 1, (*shape, b)).astype(np.float32) * 50,
            'noise_sigma': np.full((2, b), 2.0, np.float32)}


def test_signal_weights_follow_pixel_snr():
    image = np.array([-5.0, 0.0, 2.0, 8.0, 1e6]).reshape(1, 1, 5, 1)
    w = pixel_weights(image, np.array([[2.0]]), 'signal')[0, 0, :, 0]
    np.testing.assert_allclose(w, [1, 1, 2, 3, 21], rtol=1e-6)
    np.testing.assert_array_equal(
        pixel_weights(image, np.array([[2.0]]), 'uniform'), 1.0)


def test_pack_targets_weights_only_source_pixels_and_valid_slots():
    rng = np.random.default_rng(3)
    batch = _batch(rng, b=2)
    batch['slot_mask'][..., 2] = False
    uniform = pack_targets(batch)
    signal = pack_targets(batch, 'signal')
    n = 3
    w_u = uniform['fractions'][..., n:]
    w_s = signal['fractions'][..., n:]
    off = ~batch['source_mask']
    assert np.all(w_s[off] == 0) and np.all(w_s[..., 2] == 0)
    on = batch['source_mask'][..., None, None] & (w_u > 0)
    expected = pixel_weights(batch['image'], batch['noise_sigma'], 'signal')
    np.testing.assert_allclose(
        w_s, w_u * expected[..., None], rtol=1e-6)
    assert np.all(w_s[on] >= 1)
    # Vector weights use the band-mean pixel weight.
    np.testing.assert_allclose(
        signal['vectors'][..., 2],
        uniform['vectors'][..., 2] * expected.mean(axis=-1)[..., None],
        rtol=1e-6)
    with pytest.raises(ValueError, match='pixel_weighting'):
        pack_targets(batch, 'flux')
    with pytest.raises(ValueError, match='do not match'):
        pixel_weights(batch['image'], np.ones(3), 'signal')


def test_fraction_vector_weighting_follows_the_target_fractions():
    rng = np.random.default_rng(5)
    batch = _batch(rng, b=2)
    batch['slot_mask'][..., 2] = False
    uniform = pack_targets(batch)
    weighted = pack_targets(batch, vector_weighting='fraction')
    w_u, w_f = uniform['vectors'][..., 2], weighted['vectors'][..., 2]
    # Invalid slots and background pixels stay at 0; valid ones count
    # their band-mean fraction plus the floor.
    np.testing.assert_array_equal(w_f[w_u == 0], 0)
    expected = batch['fractions'].mean(axis=3) + 0.05
    np.testing.assert_allclose(w_f[w_u > 0], expected[w_u > 0], rtol=1e-6)
    # The fractions' weights are untouched.
    np.testing.assert_array_equal(weighted['fractions'], uniform['fractions'])
    with pytest.raises(ValueError, match='vector_weighting'):
        pack_targets(batch, vector_weighting='distance')
