"""Tests of the shredding scores."""

import numpy as np
import pytest

from astropais.metrics import label_shares, shredding_score
from astropais.pcr import PixelAttribution


def test_shares_of_a_disjoint_cut():
    labels = np.zeros((10, 10), dtype=int)
    labels[2:8, 2:5] = 1
    labels[2:8, 5:8] = 2
    att = PixelAttribution.from_label_map(labels)
    obj = np.zeros((10, 10))
    obj[2:8, 2:8] = 1.0
    obj[2:8, 7] = 3.0
    shares = label_shares(att, obj)
    assert shares.sum() == pytest.approx(1.0)
    assert shares.tolist() == pytest.approx([18 / 48, 30 / 48])
    score = shredding_score(shares)
    assert score.n_pieces == 2 and not score.whole


def test_light_outside_the_footprint_is_lost():
    labels = np.zeros((4, 4), dtype=int)
    labels[1, 1] = 1
    att = PixelAttribution.from_label_map(labels)
    obj = np.zeros((4, 4))
    obj[1, 1] = 1.0
    obj[3, 3] = 1.0
    assert label_shares(att, obj).tolist() == [1.0]
    full = np.ones((4, 4), dtype=bool)
    assert label_shares(att, obj, footprint=full).tolist() == [0.5]
    with pytest.raises(ValueError, match='footprint'):
        label_shares(att, obj, footprint=np.ones((2, 2), bool))


def test_score_thresholds():
    assert shredding_score([0.96, 0.03]).n_pieces == 2
    assert not shredding_score([0.96, 0.03]).whole
    assert shredding_score([0.96, 0.019]).whole
    assert shredding_score([0.90]).whole is False
    empty = shredding_score([])
    assert empty.n_pieces == 0 and not empty.whole
    assert np.isnan(label_shares(PixelAttribution.from_label_map(
        np.ones((2, 2), int)), np.zeros((2, 2)))).all()


def _two_overlapping_sources():
    yy, xx = np.indices((20, 30))
    obj = 10.0 * np.exp(-((yy - 10) ** 2 + (xx - 10) ** 2) / 30.0)
    other = 10.0 * np.exp(-((yy - 10) ** 2 + (xx - 17) ** 2) / 30.0)
    return obj, other


def _soft(weight_obj, footprint):
    """Attribution of a footprint to labels 1 (object) and 2 by weights."""
    pixels = np.flatnonzero(footprint)
    w = weight_obj.ravel()[pixels]
    return PixelAttribution(footprint.shape, pixels,
                            np.tile([1, 2], (pixels.size, 1)),
                            np.column_stack([w, 1 - w]),
                            [[10.0, 10.0], [10.0, 17.0]])


def test_object_fraction_scores_a_perfect_soft_split_whole():
    obj, other = _two_overlapping_sources()
    total = obj + other
    footprint = total > 0.05
    truth = obj / total
    att = _soft(truth, footprint)
    plain = label_shares(att, obj)
    # Without the truth fractions the neighbour's correct share of the
    # overlap counts as light taken from the object.
    assert not shredding_score(plain).whole
    shares = label_shares(att, obj, object_fraction=truth)
    assert shares.tolist() == pytest.approx([1.0, 0.0])
    assert shredding_score(shares).whole
    # Half the object's claim on its left wing: half of the wing's light
    # moves to the neighbour's label.
    left = np.indices(obj.shape)[1] < 7
    cut = label_shares(_soft(np.where(left, truth / 2, truth), footprint),
                       obj, object_fraction=truth)
    moved = 0.5 * obj[left & footprint].sum() / obj[footprint].sum()
    assert cut.tolist() == pytest.approx([1 - moved, moved])
    assert 0.05 < moved < 0.5
    # A label that claims the whole blend holds the object whole (merged
    # with its neighbour, not shredded).
    merged = label_shares(_soft(np.full(obj.shape, 0.01), footprint), obj,
                          object_fraction=truth)
    assert merged[1] == pytest.approx(1.0, abs=1e-3)


def test_object_fraction_leaves_a_disjoint_cut_unchanged():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, (12, 12))
    att = PixelAttribution.from_label_map(labels)
    obj = rng.uniform(0, 2, (12, 12))
    fraction = rng.uniform(0.05, 1, (12, 12))
    np.testing.assert_allclose(
        label_shares(att, obj, object_fraction=fraction),
        label_shares(att, obj))
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        label_shares(att, obj, object_fraction=fraction + 1)
    with pytest.raises(ValueError, match='object_fraction has shape'):
        label_shares(att, obj, object_fraction=fraction[:3])
