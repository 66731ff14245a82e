"""Tests of the PCR decoder: round trips, flux conservation, bad input."""

import warnings

import numpy as np
import pytest
from astropy.utils.exceptions import AstropyUserWarning
from hypothesis import given, settings, strategies as st

from astropais.pcr import (PixelAttribution, SourceImages, decode, encode,
                           find_centres)

from .helpers import dense_attribution, dense_sources, scenes, truncated_truth

SETTINGS = settings(max_examples=40, deadline=None)


def _check_structure(att, n):
    assert att.n_slots == n
    assert np.all(np.diff(att.pixels) > 0)
    np.testing.assert_allclose(att.weights.sum(axis=1), 1, rtol=0,
                               atol=1e-12)
    assert np.all((att.weights > 0) == (att.labels > 0))
    # Largest weight first, at most n distinct labels per pixel.
    assert np.all(np.diff(att.weights, axis=1) <= 0)
    for k in range(1, n):
        used = att.labels[:, k] > 0
        assert not np.any(att.labels[used, :k] == att.labels[used, k, None])


def _match(found, truth):
    """Index of the true centre nearest to each found one (a permutation)."""
    if len(truth) == 0:
        return np.zeros(0, dtype=int)
    d2 = ((found[:, None] - truth[None]) ** 2).sum(axis=-1)
    order = np.argmin(d2, axis=1)
    assert len(set(order.tolist())) == len(truth) == len(found)
    return order


@SETTINGS
@given(scene=st.one_of(scenes(), scenes(coincident=True)),
       n=st.integers(1, 4))
def test_round_trip_with_known_centres(scene, n):
    """decode(encode(truth)) gives the n-truncated truth fractions (with
    coincident centres merged into the lowest label)."""
    sources, centres = scene
    pcr = encode(sources, centres, n=n)
    att = decode(pcr.heatmap, pcr.vectors, pcr.fractions, pcr.source_mask,
                 centres=centres, vote_tolerance=0.01)
    _check_structure(att, n)
    np.testing.assert_array_equal(att.footprint, pcr.source_mask)
    np.testing.assert_array_equal(att.centres, centres)
    expected = truncated_truth(sources, centres, n, pcr.source_mask)
    np.testing.assert_allclose(dense_attribution(att), expected, atol=1e-6)


@SETTINGS
@given(scene=scenes(min_separation=3), n=st.integers(1, 4),
       sigma=st.sampled_from([1.0, 2.0, 4.0]))
def test_round_trip_with_peak_finding(scene, n, sigma):
    """Peaks + sub-pixel refinement give the centres back exactly (float32
    rounding), and then the same fractions as with known centres."""
    sources, centres = scene
    pcr = encode(sources, centres, n=n, sigma=sigma)
    att = decode(pcr.heatmap, pcr.vectors, pcr.fractions, pcr.source_mask)
    _check_structure(att, n)
    assert att.n_sources == len(centres)
    order = _match(att.centres, centres)
    np.testing.assert_allclose(att.centres, centres[order], atol=1e-6)
    expected = truncated_truth(sources, centres, n, pcr.source_mask)[order]
    np.testing.assert_allclose(dense_attribution(att), expected, atol=1e-6)


@SETTINGS
@given(scene=scenes(min_separation=3, max_sources=5))
def test_exact_truth_where_at_most_n_nearest_sources_contribute(scene):
    sources, centres = scene
    n = 2
    pcr = encode(sources, centres, n=n)
    att = decode(pcr.heatmap, pcr.vectors, pcr.fractions, pcr.source_mask)
    cube = dense_sources(sources)[:, 0]
    total = cube.sum(axis=0)
    if len(centres) == 0:
        assert att.pixels.size == 0
        return
    yy, xx = np.indices(sources.shape)
    d2 = (yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None]
                                                  - centres[:, 1]) ** 2
    rank = np.argsort(np.argsort(d2, axis=-1, kind='stable'), axis=-1)
    contributing = np.moveaxis(cube > 0, 0, -1)
    ok = (total > 0) & ~np.any(contributing & (rank >= n), axis=-1)
    truth = np.divide(cube, total, out=np.zeros_like(cube), where=total > 0)
    order = _match(att.centres, centres)
    decoded = dense_attribution(att)
    np.testing.assert_allclose(decoded[:, ok], truth[order][:, ok],
                               atol=1e-6)


@SETTINGS
@given(scene=st.one_of(scenes(max_sources=8), scenes(coincident=True)),
       n=st.integers(1, 3),
       seed=st.integers(0, 2 ** 16), tolerance=st.floats(0.1, 5.0))
def test_flux_is_conserved_for_any_pcr(scene, n, seed, tolerance):
    """Random (network-like) vectors and fractions: every footprint pixel's
    flux is handed out exactly once."""
    sources, centres = scene
    rng = np.random.default_rng(seed)
    ny, nx = sources.shape
    image = rng.normal(10.0, 30.0, size=(ny, nx)) * 1e3
    footprint = rng.random((ny, nx)) < 0.6
    vectors = rng.normal(0, 4, size=(ny, nx, n, 2))
    fractions = rng.random((ny, nx, n))
    fractions[rng.random((ny, nx, n)) < 0.2] = 0
    att = decode(np.zeros((ny, nx)), vectors, fractions, footprint,
                 centres=centres if len(centres) else [(1.0, 1.0)],
                 vote_tolerance=tolerance)
    _check_structure(att, n)
    fluxes = att.fluxes(image)
    expected = np.sum(image[footprint])
    assert np.isclose(fluxes.sum(), expected,
                      rtol=1e-13, atol=1e-12 * np.abs(image).sum())
    deblended = att.to_source_images(image)
    np.testing.assert_allclose(deblended.fluxes(), fluxes, rtol=1e-12,
                               atol=1e-9)
    np.testing.assert_allclose(deblended.total(),
                               np.where(footprint, image, 0), atol=1e-9)


def test_failed_votes_go_to_the_centre_nearest_their_target():
    # Every vote misses (tolerance 2 px): a pixel goes wholly to the centre
    # nearest to where its first slot points...
    vectors = np.zeros((5, 5, 2, 2))
    vectors[..., 0, :] = 1.5 * np.array([1.0, 1.0]) / np.sqrt(2)
    vectors[..., 1, :] = 100.0
    fractions = np.full((5, 5, 2), 0.5)
    footprint = np.ones((5, 5), bool)
    att = decode(np.zeros((5, 5)), vectors, fractions, footprint,
                 centres=[(0, 0), (4, 4)], vote_tolerance=0.5)
    labels = att.label_map()
    # (0, 3), nearer (0, 0), points to (1.1, 4.1), nearer (4, 4).
    assert labels[0, 0] == 1 and labels[4, 4] == 2 and labels[0, 3] == 2
    assert np.all(att.weights[:, 0] == 1) and np.all(att.labels[:, 1] == 0)
    # ...which, for vectors of zero length, is the pixel's nearest centre.
    att = decode(np.zeros((5, 5)), np.where(vectors > 50, 100.0, 0.0),
                 fractions, footprint, centres=[(0, 0), (4, 4)],
                 vote_tolerance=0.5)
    labels = att.label_map()
    assert labels[0, 3] == 1 and labels[4, 3] == 2


def test_coincident_centres_merge_into_lowest_label():
    cut = np.ones((3, 3))
    sources = SourceImages((7, 7), [cut, 3 * cut, cut],
                           [(2, 2), (2, 2), (2, 3)])
    centres = np.array([(3, 3), (3, 3), (3, 4.0)])
    pcr = encode(sources, centres, n=3)
    image = sources.total()
    # Known centres: label 2 duplicates label 1 and gets nothing.
    att = decode(pcr.heatmap, pcr.vectors, pcr.fractions, pcr.source_mask,
                 centres=centres)
    fluxes = att.fluxes(image)
    assert fluxes[1] == 0
    np.testing.assert_allclose(fluxes[0], 4 * 9)
    np.testing.assert_allclose(fluxes.sum(), image.sum())
    # Peak finding sees one peak for the pair.
    found = decode(pcr.heatmap, pcr.vectors, pcr.fractions, pcr.source_mask,
                   min_distance=1)
    assert len(found.centres) == 1     # (3, 3) and (3, 4) touch as well
    np.testing.assert_allclose(found.fluxes(image), [image.sum()])


def test_zero_sources_and_empty_footprint():
    pcr = encode(SourceImages((6, 6), []), np.zeros((0, 2)), n=2)
    att = decode(pcr.heatmap, pcr.vectors, pcr.fractions, pcr.source_mask)
    assert att.pixels.size == 0 and att.n_sources == 0
    assert not att.label_map().any()
    with pytest.warns(AstropyUserWarning, match='unattributed'):
        att = decode(pcr.heatmap, pcr.vectors, pcr.fractions,
                     np.ones((6, 6), bool))
    assert att.pixels.size == 0


def test_find_centres_plateaus_borders_and_spacing():
    heat = np.zeros((9, 9))
    heat[0, 0] = 1.0                     # corner
    heat[8, 3:5] = 0.9                   # two-pixel plateau on the border
    heat[4, 8] = 0.7                     # right edge
    heat[4, 5] = 0.6                     # 3 px from (4, 8): suppressed if
    found = find_centres(heat, threshold=0.5)       # min_distance >= 3
    assert found.tolist() == [[0, 0], [4, 5], [4, 8], [8, 3]]
    found = find_centres(heat, threshold=0.5, min_distance=3)
    assert found.tolist() == [[0, 0], [4, 8], [8, 3]]
    assert find_centres(heat, threshold=0.95).tolist() == [[0, 0]]
    # Equal peaks within min_distance: the first in raster order wins.
    heat = np.zeros((5, 9))
    heat[2, 2] = heat[2, 4] = 1.0
    assert find_centres(heat, min_distance=2).tolist() == [[2, 2]]
    assert find_centres(np.zeros((4, 4))).shape == (0, 2)


def test_refinement_ignores_long_vectors():
    heat = np.zeros((5, 5))
    heat[2, 2] = 1
    vectors = np.zeros((5, 5, 1, 2))
    vectors[2, 2, 0] = (0.25, -0.5)
    assert find_centres(heat, vectors=vectors).tolist() == [[2.25, 1.5]]
    assert find_centres(heat, vectors=vectors,
                        refine=False).tolist() == [[2, 2]]
    vectors[2, 2, 0] = (3, 0)
    assert find_centres(heat, vectors=vectors).tolist() == [[2, 2]]


@pytest.fixture
def good():
    sources = SourceImages((6, 7), [np.ones((3, 3))], [(1, 1)])
    pcr = encode(sources, [(2, 2)], n=2)
    return pcr


@pytest.mark.parametrize('change, match', [
    (lambda a: a.update(fractions=np.where(a['fractions'] > 0, np.nan, 0)),
     'fractions has NaN'),
    (lambda a: a.update(fractions=-a['fractions']), 'negative'),
    (lambda a: a.update(fractions=a['fractions'][..., :1]),
     'fractions has shape'),
    (lambda a: a.update(fractions=np.repeat(a['fractions'], 2, axis=2)),
     'one band'),
    (lambda a: a.update(vectors=a['vectors'][:5]), 'vectors has shape'),
    (lambda a: a.update(vectors=np.where(a['vectors'] > 0, np.inf,
                                         -np.inf)), 'vectors has NaN'),
    (lambda a: a.update(heatmap=a['heatmap'][None]), 'heatmap must be 2-D'),
    (lambda a: a.update(footprint=a['footprint'].T), 'footprint has shape'),
    (lambda a: a.update(vote_tolerance=0), 'vote_tolerance'),
    (lambda a: a.update(min_distance=0), 'min_distance'),
    (lambda a: a.update(centres=[(1, 2, 3)]), r'shape \(N, 2\)'),
    (lambda a: a.update(centres=[(np.nan, 2)]), 'NaN'),
])
def test_bad_input_raises(good, change, match):
    args = dict(heatmap=good.heatmap, vectors=good.vectors,
                fractions=good.fractions, footprint=good.source_mask)
    change(args)
    with pytest.raises(ValueError, match=match):
        decode(**args)


def test_pcr_decode_method_and_label_map(good):
    att = good.decode()
    assert isinstance(att, PixelAttribution)
    np.testing.assert_array_equal(att.label_map(), good.source_mask * 1)
    frac = att.to_source_images()
    np.testing.assert_array_equal(frac.cutouts[0], np.ones((3, 3)))
    np.testing.assert_array_equal(frac.origins, [[1, 1]])


@pytest.mark.parametrize('tolerance', [0.3, 3.0, 5000.0])
def test_vote_lookup_matches_kdtree(tolerance):
    """The cell table (and its KD-tree fallbacks) give the nearest centre
    within the tolerance, exactly as a KD-tree query does."""
    from scipy.spatial import cKDTree
    from astropais.pcr.decode import _assign_votes
    rng = np.random.default_rng(3)
    points = np.vstack([rng.uniform(0, 60, (40, 2)),
                        30 + rng.uniform(0, 0.5, (20, 2))])  # a crowded cell
    targets = np.vstack([points + rng.normal(0, 1.0, points.shape),
                         rng.uniform(-10, 70, (2000, 2))])
    got = _assign_votes(targets, points, tolerance, max_per_cell=4)
    dist, want = cKDTree(points).query(targets,
                                       distance_upper_bound=tolerance)
    np.testing.assert_array_equal(got, want)
    assert np.any(got < len(points)) and (tolerance > 100
                                           or np.any(got == len(points)))


def test_sort_slots_orders_by_weight_then_label():
    from astropais.pcr.decode import _sort_slots
    rng = np.random.default_rng(5)
    labels = rng.integers(1, 9, size=(500, 4))
    weights = rng.choice([0.1, 0.2, 0.3], size=(500, 4))
    empty = rng.random((500, 4)) < 0.3
    labels[empty], weights[empty] = 0, 0.0
    rows = [sorted(zip(-w, np.where(lab > 0, lab, 99)))
            for lab, w in zip(labels, weights)]
    _sort_slots(labels, weights)
    for (lab, w), row in zip(zip(labels, weights), rows):
        assert [(-a, b) for a, b in row] == [
            (x, y if y > 0 else 99) for x, y in zip(w, lab)]


def test_rank_assignment_recovers_slots_with_imprecise_vectors():
    import numpy as np
    from astropais.pcr import SourceImages, decode, encode
    src = SourceImages((9, 16), [np.full((9, 10), 1.0), np.full((9, 10), 3.0)],
                       [(0, 0), (0, 6)])
    centres = [(4.0, 4.0), (4.0, 11.0)]
    pcr = encode(src, centres, n=2)
    exact_vote = decode(pcr.heatmap, pcr.vectors, pcr.fractions,
                        pcr.source_mask, centres=centres)
    exact_rank = decode(pcr.heatmap, pcr.vectors, pcr.fractions,
                        pcr.source_mask, centres=centres, assignment='rank')
    np.testing.assert_array_equal(exact_vote.labels, exact_rank.labels)
    np.testing.assert_array_equal(exact_vote.weights, exact_rank.weights)
    # Second-slot vectors that point nowhere: 'vote' drops those fractions,
    # 'rank' gives them to the second-nearest centre, as the PCR orders it.
    vectors = pcr.vectors.copy()
    vectors[:, :, 1] += 50.0
    vote = decode(pcr.heatmap, vectors, pcr.fractions, pcr.source_mask,
                  centres=centres)
    rank = decode(pcr.heatmap, vectors, pcr.fractions, pcr.source_mask,
                  centres=centres, assignment='rank')
    image = src.total()
    np.testing.assert_allclose(rank.fluxes(image), src.fluxes())
    assert not np.allclose(vote.fluxes(image), src.fluxes())
    with pytest.raises(ValueError, match='assignment'):
        decode(pcr.heatmap, vectors, pcr.fractions, pcr.source_mask,
               assignment='nearest')


def test_relabel_and_label_map_by_chunks_of_rows(monkeypatch):
    # relabel and label_map go a chunk of rows at a time: any chunk size
    # gives the one-chunk result (merged labels, dropped labels, weight
    # ties, sources that win no pixel by their weights).
    import astropais.pcr.sparse as sparse

    rng = np.random.default_rng(5)
    n_pix, n_src = 300, 200
    labels = rng.integers(0, n_src + 1, size=(n_pix, 3))
    weights = np.round(rng.uniform(0, 1, size=(n_pix, 3)) * 4) / 4
    weights[labels == 0] = 0.0
    weights[weights.sum(axis=1) == 0, 0] = 1.0
    labels[labels[:, 0] == 0, 0] = 1
    weights /= weights.sum(axis=1, keepdims=True)
    pixels = np.sort(rng.choice(40 * 40, n_pix, replace=False))
    att = PixelAttribution((40, 40), pixels, labels, weights,
                           rng.uniform(0, 40, size=(n_src, 2)))
    relabel_map = rng.integers(0, 60, size=n_src + 1)
    relabel_map[0] = 0
    results = []
    for chunk in (n_pix, 7, 1):
        monkeypatch.setattr(sparse, '_CHUNK_ROWS', chunk)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', AstropyUserWarning)
            merged = att.relabel(relabel_map, keep_centre=3)
            results.append((att.label_map(), merged.label_map(),
                            merged.pixels, merged.labels, merged.weights,
                            merged.centres))
    for got in results[1:]:
        for a, b in zip(got, results[0]):
            np.testing.assert_array_equal(a, b)
    # Some sources win no pixel by their weights and take one (the loop
    # over them), some cannot (more sources than pixels).
    best = np.argmax(np.where(labels > 0, weights, -1.0), axis=1)
    by_weight = np.unique(labels[np.arange(n_pix), best])
    assert np.setdiff1d(np.unique(results[0][0]), by_weight).size > 10
    with pytest.warns(AstropyUserWarning, match='no pixel of their own'):
        att.label_map()
