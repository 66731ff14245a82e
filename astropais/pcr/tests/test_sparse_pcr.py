"""SparsePCR: the decoder's answers from the PCR kept at the footprint."""

import numpy as np
import pytest
from scipy import ndimage

from astropais.pcr import SparsePCR, decode, find_centres


def noisy_pcr(seed, shape=(60, 70), n=3, n_sources=12):
    """A network-like PCR: smooth heatmap bumps, noisy vectors and
    fractions, and a footprint of blobs around the bumps."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(3, np.array(shape) - 3, (n_sources, 2))
    yy, xx = np.indices(shape)
    d2 = ((yy[..., None] - centres[:, 0]) ** 2
          + (xx[..., None] - centres[:, 1]) ** 2)
    heatmap = np.exp(-d2 / 4.0).max(axis=-1).astype(np.float32)
    heatmap += rng.normal(0, 0.02, shape).astype(np.float32)
    nearest = np.argsort(d2, axis=-1)[..., :n]
    vectors = np.stack([centres[nearest, 0] - yy[..., None],
                        centres[nearest, 1] - xx[..., None]], axis=-1)
    vectors += rng.normal(0, 1.5, vectors.shape)
    fractions = rng.dirichlet(np.ones(n), shape).astype(np.float32)
    fractions[rng.random(fractions.shape) < 0.1] = 0
    footprint = np.sqrt(d2.min(axis=-1)) < rng.uniform(3, 7)
    return heatmap, vectors.astype(np.float32), fractions, footprint


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('min_distance', [1, 2])
def test_sparse_centres_and_decoding_equal_the_dense(seed, min_distance):
    heatmap, vectors, fractions, footprint = noisy_pcr(seed)
    # The heatmap is kept around the footprint; the dense reference sees
    # 0 elsewhere, as for tiles the network does not run.
    region = ndimage.maximum_filter(footprint, size=9)
    sparse = SparsePCR.from_dense(heatmap, vectors, fractions, footprint,
                                  region, peak_floor=0.3)
    dense_heat = np.where(region, heatmap, 0)
    for threshold in (0.3, 0.5, 0.8):
        expected = find_centres(dense_heat, threshold=threshold,
                                min_distance=min_distance, vectors=vectors)
        got = sparse.find_centres(threshold, min_distance)
        np.testing.assert_array_equal(got, expected)
        assert len(got) > 0
        unrefined = sparse.find_centres(threshold, min_distance,
                                        refine=False)
        np.testing.assert_array_equal(unrefined, find_centres(
            dense_heat, threshold=threshold, min_distance=min_distance))
    centres = sparse.find_centres(0.5, min_distance)
    for assignment in ('vote', 'rank'):
        want = decode(heatmap, vectors, fractions, footprint,
                      centres=centres, vote_tolerance=3.0,
                      assignment=assignment)
        got = sparse.decode(centres, vote_tolerance=3.0,
                            assignment=assignment)
        for name in ('pixels', 'labels', 'weights', 'centres'):
            np.testing.assert_array_equal(getattr(got, name),
                                          getattr(want, name))
    # Only the heatmap at or above the floor is kept.
    assert np.all(sparse.peak_heights >= 0.3)
    assert sparse.peak_pixels.size < np.count_nonzero(region)


def test_tile_parts_merge_into_the_whole():
    heatmap, vectors, fractions, footprint = noisy_pcr(7)
    region = ndimage.maximum_filter(footprint, size=5)
    whole = SparsePCR.from_dense(heatmap, vectors, fractions, footprint,
                                 region)
    parts = []
    # Four unequal parts in a scrambled order.
    for ys, xs in [(slice(25, 60), slice(0, 33)), (slice(0, 25),
                   slice(33, 70)), (slice(25, 60), slice(33, 70)),
                   (slice(0, 25), slice(0, 33))]:
        parts.append(SparsePCR.from_dense(
            heatmap[ys, xs], vectors[ys, xs], fractions[ys, xs],
            footprint[ys, xs], region[ys, xs],
            origin=(ys.start, xs.start), shape=heatmap.shape))
    merged = SparsePCR.merge(parts)
    for name in ('pixels', 'vectors', 'fractions', 'peak_pixels',
                 'peak_heights', 'peak_vectors'):
        np.testing.assert_array_equal(getattr(merged, name),
                                      getattr(whole, name))
    assert merged.nbytes == whole.nbytes
    assert merged.nbytes < heatmap.nbytes + vectors.nbytes + fractions.nbytes
    empty = SparsePCR.merge([], shape=(4, 5), n_slots=3)
    assert empty.pixels.size == 0 and empty.vectors.shape == (0, 3, 2)
    with pytest.warns(UserWarning, match='no source centres'):
        whole.decode(np.zeros((0, 2)))
    assert empty.decode(np.zeros((0, 2))).pixels.size == 0


def test_bad_sparse_pcr():
    heatmap, vectors, fractions, footprint = noisy_pcr(1)
    good = SparsePCR.from_dense(heatmap, vectors, fractions, footprint)
    parts = dict(shape=good.shape, pixels=good.pixels, vectors=good.vectors,
                 fractions=good.fractions, peak_pixels=good.peak_pixels,
                 peak_heights=good.peak_heights, peak_floor=good.peak_floor,
                 peak_vectors=good.peak_vectors)
    for change, message in [
            (dict(pixels=good.pixels[::-1]), 'strictly increasing'),
            (dict(vectors=good.vectors[1:]), 'vectors has shape'),
            (dict(fractions=-good.fractions), 'negative'),
            (dict(peak_heights=good.peak_heights[1:]), 'differ in length'),
            (dict(peak_heights=good.peak_heights - 1), 'below peak_floor'),
            (dict(peak_floor=0), 'positive'),
            (dict(vectors=good.vectors * np.nan), 'NaN or inf')]:
        with pytest.raises(ValueError, match=message):
            SparsePCR(**{**parts, **change})
    with pytest.raises(ValueError, match='peak_floor'):
        good.find_centres(0.2)
    with pytest.raises(ValueError, match='finite'):
        good.find_centres(np.nan)
    with pytest.raises(ValueError, match='assignment'):
        good.decode([[1.0, 1.0]], assignment='nearest')
    with pytest.raises(ValueError, match='vote_tolerance'):
        good.decode([[1.0, 1.0]], vote_tolerance=0)
    with pytest.raises(ValueError, match=r'\(N, 2\)'):
        good.decode([1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match='one band'):
        SparsePCR.from_dense(heatmap, vectors, np.stack([fractions] * 2, 2),
                             footprint)
