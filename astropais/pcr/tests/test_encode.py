"""Tests of the PCR encoder against dense brute-force references."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from astropais.pcr import PCR, SourceImages, encode, nearest_centres

from .helpers import (dense_sources, reference_fractions, reference_heatmap,
                      reference_nearest, reference_slots, scenes)

SETTINGS = settings(max_examples=40, deadline=None)


@SETTINGS
@given(scene=st.one_of(scenes(), scenes(coincident=True)),
       n=st.integers(1, 4), sigma=st.sampled_from([0.7, 1.5, 3.0]))
def test_encode_matches_dense_reference(scene, n, sigma):
    sources, centres = scene
    pcr = encode(sources, centres, n=n, sigma=sigma)
    shape = sources.shape
    mask = sources.total() > 0
    np.testing.assert_array_equal(pcr.source_mask, mask)
    n_real = min(n, len(centres))
    assert pcr.n == n and pcr.sigma == sigma
    np.testing.assert_array_equal(pcr.slot_mask[..., :n_real], True)
    np.testing.assert_array_equal(pcr.slot_mask[..., n_real:], False)
    np.testing.assert_allclose(pcr.heatmap,
                               reference_heatmap(shape, centres, sigma),
                               rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(
        pcr.fractions, reference_fractions(sources, centres, n, mask),
        atol=1e-7)
    if n_real:
        near = reference_nearest(shape, centres, n)
        yy, xx = np.indices(shape)
        expected = centres[near] - np.stack([yy, xx], -1)[:, :, None]
        np.testing.assert_allclose(pcr.vectors[..., :n_real, :], expected,
                                   atol=1e-5)
        # Padding repeats the farthest real vector.
        np.testing.assert_array_equal(
            pcr.vectors[..., n_real:, :],
            np.broadcast_to(pcr.vectors[..., n_real - 1:n_real, :],
                            pcr.vectors[..., n_real:, :].shape))
    else:
        assert not pcr.vectors.any() and not pcr.heatmap.any()


@SETTINGS
@given(scene=st.one_of(scenes(), scenes(coincident=True), scenes(n_bands=2)),
       n=st.integers(1, 4))
def test_brightest_slots_match_dense_reference(scene, n):
    sources, centres = scene
    pcr = encode(sources, centres, n=n, slots='brightest')
    mask = pcr.source_mask
    np.testing.assert_array_equal(mask, encode(sources, centres,
                                               n=n).source_mask)
    n_real = min(n, len(centres))
    np.testing.assert_array_equal(pcr.slot_mask[..., :n_real], True)
    np.testing.assert_array_equal(pcr.slot_mask[..., n_real:], False)
    # The heatmap does not depend on the slot rule.
    np.testing.assert_array_equal(pcr.heatmap,
                                  encode(sources, centres, n=n).heatmap)
    np.testing.assert_allclose(
        pcr.fractions,
        reference_fractions(sources, centres, n, mask, slots='brightest'),
        atol=1e-7)
    if n_real:
        slots = reference_slots(sources, centres, n, 'brightest')
        yy, xx = np.indices(sources.shape)
        expected = centres[slots] - np.stack([yy, xx], -1)[:, :, None]
        np.testing.assert_allclose(pcr.vectors[..., :n_real, :], expected,
                                   atol=1e-5)


def test_brightest_slots_keep_a_large_source_under_small_neighbours():
    # A broad source with many compact neighbours on top: with the nearest
    # rule its outskirts name only neighbours and its light there is lost;
    # with the brightest rule every pixel where it dominates names it.
    size = 64
    yy, xx = np.indices((size, size))
    big = 100.0 * np.exp(-np.hypot(yy - 32, xx - 32) / 12.0)
    rng = np.random.default_rng(3)
    small_centres = rng.uniform(4, size - 4, (25, 2))
    cutouts, origins = [big], [(0, 0)]
    for cy, cx in small_centres:
        y0, x0 = int(cy) - 3, int(cx) - 3
        gy, gx = np.indices((7, 7))
        cutouts.append(5.0 * np.exp(-((gy + y0 - cy) ** 2
                                      + (gx + x0 - cx) ** 2) / 2.0))
        origins.append((y0, x0))
    sources = SourceImages((size, size), cutouts, origins)
    centres = np.vstack([[32.0, 32.0], small_centres])
    share = {}
    for rule in ('nearest', 'brightest'):
        pcr = encode(sources, centres, n=3, slots=rule)
        named = np.abs(pcr.vectors[..., 0] - (32 - yy[..., None])) < 1e-4
        named &= np.abs(pcr.vectors[..., 1] - (32 - xx[..., None])) < 1e-4
        # The big source's attributed light over its true light.
        given = (pcr.fractions[:, :, 0] * named).sum(axis=-1)
        total = dense_sources(sources)[:, 0].sum(axis=0)
        share[rule] = (given * total).sum() / big.sum()
    assert share['nearest'] < 0.6
    assert share['brightest'] > 0.95


def test_unknown_slot_rule_raises():
    sources = SourceImages((3, 3), [np.ones((3, 3))], [(0, 0)])
    with pytest.raises(ValueError, match='slots must be one of'):
        encode(sources, [(1, 1)], slots='farthest')


@SETTINGS
@given(scene=scenes(n_bands=2), n=st.integers(1, 3))
def test_encode_multiband_rows_sum_to_one(scene, n):
    sources, centres = scene
    pcr = encode(sources, centres, n=n)
    b = sources.n_bands             # 1 for an empty scene
    assert b == (2 if len(sources) else 1)
    assert pcr.fractions.shape == (*sources.shape, b, n)
    assert pcr.n_bands == b
    sums = pcr.fractions.sum(axis=-1)
    np.testing.assert_allclose(sums[pcr.source_mask], 1, atol=1e-6)
    assert not pcr.fractions[~pcr.source_mask].any()
    assert not pcr.fractions[~pcr.slot_mask[:, :, None, :].repeat(b, 2)
                             ].any()
    np.testing.assert_allclose(
        pcr.fractions, reference_fractions(sources, centres, n,
                                           pcr.source_mask), atol=1e-7)


@SETTINGS
@given(scene=scenes(max_sources=5), sigma=st.floats(0.5, 4.0))
def test_heatmap_peaks_exactly_one_at_nearest_pixel(scene, sigma):
    sources, centres = scene
    pcr = encode(sources, centres, n=2, sigma=sigma)
    assert pcr.heatmap.min() >= 0 and pcr.heatmap.max() <= 1
    peaks = np.floor(centres + 0.5).astype(int)
    if len(centres):
        np.testing.assert_array_equal(pcr.heatmap[peaks[:, 0], peaks[:, 1]],
                                      1.0)
    # The nearest-centre vector leads each peak pixel back to its centre,
    # unless another centre is so close that it is nearer to that pixel.
    for (py, px), c in zip(peaks, centres):
        found = (py, px) + pcr.vectors[py, px, 0].astype(float)
        others = np.abs(centres - c).max(axis=1)
        if np.count_nonzero(others < 1.5) == 1:
            np.testing.assert_allclose(found, c, atol=1e-6)


def test_ties_are_ordered_by_source_index():
    # Pixel (2, 2) is at distance 1 from all four centres.
    centres = np.array([[2, 3], [1, 2], [3, 2], [2, 1]], dtype=float)
    sources = SourceImages((5, 5), [np.ones((1, 1))] * 4,
                           centres.astype(int))
    pcr = encode(sources, centres, n=3)
    expected = centres[:3] - (2, 2)
    np.testing.assert_array_equal(pcr.vectors[2, 2], expected)
    index, dist2, next_dist2 = nearest_centres([[2, 2]], centres[::-1], 3)
    np.testing.assert_array_equal(index, [[0, 1, 2]])
    np.testing.assert_array_equal(dist2, [[1, 1, 1]])
    np.testing.assert_array_equal(next_dist2, [1])


def test_many_ties_are_resolved_beyond_the_first_query():
    # 12 centres all at distance 5 from pixel (10, 10): the stable order
    # must hold even though the first tree query sees only n + 1 of them.
    angles = [(3, 4), (4, 3), (5, 0), (0, 5), (-3, 4), (-4, 3), (-5, 0),
              (0, -5), (3, -4), (-4, -3), (-3, -4), (4, -3)]
    centres = 10.0 + np.array(angles, dtype=float)
    index, dist2, _ = nearest_centres([[10, 10]], centres, 3)
    np.testing.assert_array_equal(index, [[0, 1, 2]])
    index, _, _ = nearest_centres([[10, 10]], centres[::-1], 3)
    np.testing.assert_array_equal(index, [[0, 1, 2]])


def test_zero_sources_gives_empty_encoding():
    pcr = encode(SourceImages((6, 7), []), np.zeros((0, 2)), n=3)
    assert pcr.heatmap.shape == (6, 7) and not pcr.heatmap.any()
    assert pcr.vectors.shape == (6, 7, 3, 2) and not pcr.slot_mask.any()
    assert pcr.fractions.shape == (6, 7, 1, 3) and not pcr.fractions.any()
    assert not pcr.source_mask.any()


def test_fewer_sources_than_n_pads_and_masks():
    sources = SourceImages((6, 6), [np.ones((2, 2))], [(1, 1)])
    pcr = encode(sources, [(1.5, 1.5)], n=3)
    assert pcr.slot_mask[..., 0].all() and not pcr.slot_mask[..., 1:].any()
    np.testing.assert_array_equal(pcr.vectors[..., 1, :],
                                  pcr.vectors[..., 0, :])
    np.testing.assert_array_equal(pcr.fractions[..., 0, 0],
                                  pcr.source_mask.astype(np.float32))
    assert not pcr.fractions[..., 1:].any()


def test_coincident_centres_share_vectors_keep_separate_fractions():
    cut = np.ones((3, 3))
    sources = SourceImages((7, 7), [cut, 3 * cut], [(2, 2), (2, 2)])
    pcr = encode(sources, [(3, 3), (3, 3)], n=2)
    np.testing.assert_array_equal(pcr.vectors[..., 0, :],
                                  pcr.vectors[..., 1, :])
    np.testing.assert_allclose(pcr.fractions[3, 3, 0], [0.25, 0.75])
    assert np.count_nonzero(pcr.heatmap == 1) == 1


def test_truncation_drops_far_sources_and_renormalises():
    # Four sources overlap at (2, 2); with n = 3 the farthest is dropped.
    centres = np.array([[2, 1], [2, 3.5], [0, 2], [4.9, 2]])
    sources = SourceImages((5, 5), [np.ones((5, 5))] * 4, [(0, 0)] * 4)
    pcr = encode(sources, centres, n=3)
    np.testing.assert_allclose(pcr.fractions[2, 2, 0], [1 / 3] * 3)
    np.testing.assert_allclose(pcr.vectors[2, 2, 2], [-2, 0])


def test_explicit_source_mask_and_empty_kept_sources():
    sources = SourceImages((4, 4), [np.ones((1, 1))], [(0, 0)])
    mask = np.zeros((4, 4), dtype=bool)
    mask[3, 3] = True   # no model flux there: all to the nearest source
    pcr = encode(sources, [(0, 0)], n=2, source_mask=mask)
    np.testing.assert_array_equal(pcr.source_mask, mask)
    assert pcr.fractions[3, 3, 0, 0] == 1 and pcr.fractions.sum() == 1


def test_centres_outside_the_image_are_allowed():
    sources = SourceImages((5, 5), [np.ones((3, 3))], [(-1, -1)])
    pcr = encode(sources, [(-2.0, 0.0)], n=1, sigma=1.0)
    assert pcr.heatmap.max() < 1
    np.testing.assert_allclose(pcr.vectors[0, 0, 0], [-2, 0])


@pytest.mark.parametrize('kwargs, match', [
    ({'n': 0}, 'n must be at least 1'),
    ({'n': -2}, 'n must be at least 1'),
    ({'sigma': 0}, 'sigma'),
    ({'sigma': np.nan}, 'sigma'),
    ({'source_mask': np.ones((3, 3), bool)}, 'source_mask has shape'),
])
def test_bad_parameters_raise(kwargs, match):
    sources = SourceImages((5, 5), [np.ones((2, 2))], [(1, 1)])
    with pytest.raises(ValueError, match=match):
        encode(sources, [(1, 1)], **kwargs)


def test_bad_inputs_raise():
    sources = SourceImages((5, 5), [np.ones((2, 2)), -np.ones((2, 2))],
                           [(1, 1), (2, 2)])
    with pytest.raises(ValueError, match='negative model fluxes'):
        encode(sources, [(1, 1), (2, 2)])
    good = SourceImages((5, 5), [np.ones((2, 2))], [(1, 1)])
    with pytest.raises(ValueError, match='1 sources'):
        encode(good, [(1, 1), (2, 2)])
    with pytest.raises(ValueError, match='NaN'):
        encode(good, [(np.nan, 1)])
    with pytest.raises(ValueError, match=r'shape \(N, 2\)'):
        encode(good, [(1, 1, 1)])
    with pytest.raises(TypeError, match='SourceImages'):
        encode(np.ones((5, 5)), [(1, 1)])
    with pytest.raises(TypeError, match='integer'):
        encode(good, [(1, 1)], n=2.5)


def test_pcr_validates_shapes():
    pcr = encode(SourceImages((4, 5), [np.ones((2, 2))], [(1, 1)]),
                 [(1, 1)], n=2)
    with pytest.raises(ValueError, match='vectors has shape'):
        PCR(pcr.heatmap, pcr.vectors[..., :1, :], pcr.slot_mask,
            pcr.fractions, pcr.source_mask, 2, 2.0)
    with pytest.raises(ValueError, match='fractions has shape'):
        PCR(pcr.heatmap, pcr.vectors, pcr.slot_mask, pcr.fractions[..., 0],
            pcr.source_mask, 2, 2.0)
    assert pcr.shape == (4, 5)
