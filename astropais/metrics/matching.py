"""
One-to-one matching of detected sources to true sources.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = ['SourceMatch', 'match_sources']


@dataclass
class SourceMatch:
    """
    The result of `match_sources`: which detection belongs to which true
    source.

    Parameters
    ----------
    true_index : `~numpy.ndarray` of int, shape (M,)
        Index of each matched true source.
    detected_index : `~numpy.ndarray` of int, shape (M,)
        Index of the detection matched to ``true_index`` (same order).
    separation : `~numpy.ndarray` of float, shape (M,)
        Distance between the matched positions, in pixels.
    n_true : int
        The number of true sources.
    n_detected : int
        The number of detections.
    max_separation : float
        The matching radius used, in pixels.
    """

    true_index: np.ndarray
    detected_index: np.ndarray
    separation: np.ndarray
    n_true: int
    n_detected: int
    max_separation: float

    @property
    def n_matched(self):
        """The number of matched pairs (true positives)."""
        return int(self.true_index.size)

    @property
    def true_matched(self):
        """Boolean mask, shape ``(n_true,)``: true source was detected."""
        mask = np.zeros(self.n_true, dtype=bool)
        mask[self.true_index] = True
        return mask

    @property
    def detected_matched(self):
        """Boolean mask, shape ``(n_detected,)``: detection is a real source."""
        mask = np.zeros(self.n_detected, dtype=bool)
        mask[self.detected_index] = True
        return mask

    def detected_for_true(self):
        """
        The detection matched to every true source.

        Returns
        -------
        index : `~numpy.ndarray` of int, shape ``(n_true,)``
            The detection index, or -1 for a missed true source.
        """
        index = np.full(self.n_true, -1, dtype=np.int64)
        index[self.true_index] = self.detected_index
        return index

    def true_for_detected(self):
        """
        The true source matched to every detection.

        Returns
        -------
        index : `~numpy.ndarray` of int, shape ``(n_detected,)``
            The true-source index, or -1 for a spurious detection.
        """
        index = np.full(self.n_detected, -1, dtype=np.int64)
        index[self.detected_index] = self.true_index
        return index


def _positions(values, name):
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.reshape(0, 2)
    if values.ndim != 2 or values.shape[1] != 2:
        raise ValueError(f'{name} must have shape (N, 2) of (y, x) pixel '
                         f'positions, got shape {values.shape}')
    if not np.all(np.isfinite(values)):
        raise ValueError(f'{name} has NaN or inf positions')
    return values


def match_sources(true_positions, detected_positions, max_separation):
    """
    Match detections to true sources one-to-one (Hungarian algorithm).

    Among all one-to-one matchings whose pairs are closer than
    ``max_separation``, this finds one with the largest number of pairs
    and, among those, the smallest total distance.  Pairs farther apart
    than ``max_separation`` are never matched.

    The problem is split into the connected groups of sources that lie
    within ``max_separation`` of each other, and
    `scipy.optimize.linear_sum_assignment` solves each group, so memory
    stays small on crowded fields.

    Parameters
    ----------
    true_positions : array_like, shape (N, 2)
        ``(y, x)`` pixel positions of the true sources.
    detected_positions : array_like, shape (M, 2)
        ``(y, x)`` pixel positions of the detections.
    max_separation : float
        The matching radius, in pixels (> 0).

    Returns
    -------
    match : `SourceMatch`
        Matched index pairs, sorted by true-source index.
    """
    true_positions = _positions(true_positions, 'true_positions')
    detected_positions = _positions(detected_positions, 'detected_positions')
    max_separation = float(max_separation)
    if not np.isfinite(max_separation) or max_separation <= 0:
        raise ValueError(f'max_separation must be a positive number, got '
                         f'{max_separation}')
    n_true, n_det = len(true_positions), len(detected_positions)
    empty = np.zeros(0, dtype=np.int64)
    if n_true == 0 or n_det == 0:
        return SourceMatch(empty, empty, np.zeros(0), n_true, n_det,
                           max_separation)

    pairs = cKDTree(true_positions).sparse_distance_matrix(
        cKDTree(detected_positions), max_separation, output_type='ndarray')
    if pairs.size == 0:
        return SourceMatch(empty, empty, np.zeros(0), n_true, n_det,
                           max_separation)
    rows, cols, dist = pairs['i'], pairs['j'], pairs['v']

    # Connected groups of the bipartite "within radius" graph: true sources
    # are nodes 0..n_true-1, detections n_true..n_true+n_det-1.
    n_nodes = n_true + n_det
    graph = coo_matrix((np.ones(rows.size), (rows, cols + n_true)),
                       shape=(n_nodes, n_nodes))
    _, group = connected_components(graph, directed=False)
    pair_group = group[rows]
    order = np.argsort(pair_group, kind='stable')
    rows, cols, dist, pair_group = (rows[order], cols[order], dist[order],
                                    pair_group[order])
    bounds = np.flatnonzero(np.diff(pair_group)) + 1
    # Any matching uses at most min(n, m) pairs; an infeasible pair costs
    # more than all feasible pairs together, so the optimum first maximises
    # the number of feasible pairs, then minimises their total distance.
    forbidden = 1.0 + max_separation * (min(n_true, n_det) + 1)

    found_true, found_det = [], []
    # A loop over independent groups: each is a small, separate assignment
    # problem (most groups hold one or two sources).
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, rows.size]):
        g_rows, g_cols = rows[start:stop], cols[start:stop]
        if g_rows.size == 1:
            found_true.append(g_rows)
            found_det.append(g_cols)
            continue
        u_rows, r_inv = np.unique(g_rows, return_inverse=True)
        u_cols, c_inv = np.unique(g_cols, return_inverse=True)
        cost = np.full((u_rows.size, u_cols.size), forbidden)
        cost[r_inv, c_inv] = dist[start:stop]
        r, c = linear_sum_assignment(cost)
        keep = cost[r, c] < forbidden
        found_true.append(u_rows[r[keep]])
        found_det.append(u_cols[c[keep]])

    true_index = np.concatenate(found_true).astype(np.int64)
    detected_index = np.concatenate(found_det).astype(np.int64)
    order = np.argsort(true_index, kind='stable')
    true_index, detected_index = true_index[order], detected_index[order]
    separation = np.hypot(*(true_positions[true_index]
                            - detected_positions[detected_index]).T)
    return SourceMatch(true_index, detected_index, separation, n_true, n_det,
                       max_separation)
