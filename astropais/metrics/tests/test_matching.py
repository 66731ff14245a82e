import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from astropais.metrics import match_sources, SourceMatch


def test_perfect_match():
    pos = np.array([[5.0, 5.0], [20.0, 10.0], [12.0, 30.0]])
    m = match_sources(pos, pos[::-1] + 0.1, 2.0)
    assert m.n_matched == 3
    np.testing.assert_array_equal(m.true_index, [0, 1, 2])
    np.testing.assert_array_equal(m.detected_index, [2, 1, 0])
    np.testing.assert_allclose(m.separation, np.hypot(0.1, 0.1))


def test_radius_excludes_far_pairs():
    m = match_sources([[0.0, 0.0]], [[0.0, 3.0]], 2.0)
    assert m.n_matched == 0
    assert m.true_matched.tolist() == [False]
    assert m.detected_matched.tolist() == [False]


def test_hungarian_beats_greedy():
    # Greedy nearest-first would pair true 0 with detection 0 (distance
    # 0.9) and leave true 1 unmatched; the optimal matching pairs both.
    true = np.array([[0.0, 0.0], [0.0, 1.8]])
    det = np.array([[0.0, 0.9], [0.0, -0.9]])
    m = match_sources(true, det, 1.0)
    assert m.n_matched == 2
    np.testing.assert_array_equal(m.detected_for_true(), [1, 0])
    np.testing.assert_array_equal(m.true_for_detected(), [1, 0])


def test_missed_and_spurious():
    true = np.array([[0.0, 0.0], [10.0, 10.0]])
    det = np.array([[0.5, 0.0], [30.0, 30.0]])
    m = match_sources(true, det, 1.5)
    np.testing.assert_array_equal(m.detected_for_true(), [0, -1])
    np.testing.assert_array_equal(m.true_for_detected(), [0, -1])


def test_empty_inputs():
    m = match_sources(np.zeros((0, 2)), [[1.0, 1.0]], 1.0)
    assert m.n_true == 0 and m.n_detected == 1 and m.n_matched == 0
    m = match_sources([[1.0, 1.0]], [], 1.0)
    assert m.n_detected == 0 and m.n_matched == 0


def test_coincident_positions_match():
    m = match_sources([[3.0, 4.0]], [[3.0, 4.0]], 1.0)
    assert m.n_matched == 1 and m.separation[0] == 0


@pytest.mark.parametrize('bad', [0, -1, np.nan, np.inf])
def test_bad_radius(bad):
    with pytest.raises(ValueError, match='max_separation'):
        match_sources([[0, 0]], [[0, 0]], bad)


def test_bad_positions():
    with pytest.raises(ValueError, match='true_positions'):
        match_sources([1, 2, 3], [[0, 0]], 1.0)
    with pytest.raises(ValueError, match='NaN'):
        match_sources([[0, np.nan]], [[0, 0]], 1.0)


coords = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)),
                  max_size=12)


@settings(max_examples=60, deadline=None)
@given(coords, coords)
def test_matching_properties(true, det):
    true = np.array(true, dtype=float).reshape(-1, 2)
    det = np.array(det, dtype=float).reshape(-1, 2)
    m = match_sources(true, det, 2.5)
    assert isinstance(m, SourceMatch)
    # One-to-one and within the radius.
    assert len(set(m.true_index)) == m.n_matched
    assert len(set(m.detected_index)) == m.n_matched
    assert np.all(m.separation <= 2.5)
    # Maximal: no unmatched true source has an unmatched detection in reach.
    free_t = true[~m.true_matched]
    free_d = det[~m.detected_matched]
    if len(free_t) and len(free_d):
        d = np.hypot(*(free_t[:, None, :] - free_d[None, :, :]).transpose(2, 0, 1))
        assert d.min() > 2.5
