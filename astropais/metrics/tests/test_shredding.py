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
