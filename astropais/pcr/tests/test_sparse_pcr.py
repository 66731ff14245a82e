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
    with pytest.raises(ValueError, match='fractions has shape'):
        SparsePCR.from_dense(heatmap, vectors, fractions[..., None, None],
                             footprint)


def multiband_pcr(seed, n_bands=3):
    """`noisy_pcr` with independent noisy fractions in each band."""
    heatmap, vectors, fractions, footprint = noisy_pcr(seed)
    rng = np.random.default_rng(seed + 100)
    per_band = rng.dirichlet(np.ones(fractions.shape[-1]),
                             fractions.shape[:2] + (n_bands,))
    per_band[rng.random(per_band.shape) < 0.1] = 0
    return heatmap, vectors, per_band.astype(np.float32), footprint


@pytest.mark.parametrize('assignment', ['vote', 'rank'])
def test_decode_bands_votes_once_and_weighs_every_band(assignment):
    heatmap, vectors, fractions, footprint = multiband_pcr(1)
    sparse = SparsePCR.from_dense(heatmap, vectors, fractions, footprint)
    assert sparse.n_bands == 3 and sparse.fractions.shape[1:] == (3, 3)
    centres = sparse.find_centres()
    detection, bands = sparse.decode_bands(centres, vote_tolerance=3.0,
                                           assignment=assignment)
    # The detection is the single-band decoding of the mean fractions.
    mean = decode(heatmap, vectors, fractions.mean(axis=2), footprint,
                  centres=centres, vote_tolerance=3.0, assignment=assignment)
    np.testing.assert_array_equal(detection.labels, mean.labels)
    np.testing.assert_allclose(detection.weights, mean.weights, rtol=1e-6)
    flat_fractions = fractions.reshape(-1, 3, 3)[sparse.pixels]
    for k, band in enumerate(bands):
        np.testing.assert_array_equal(band.labels, detection.labels)
        np.testing.assert_allclose(band.weights.sum(axis=1), 1.0)
        assert np.all(band.weights[band.labels == 0] == 0)
        # A pixel whose label gets band k's fractions of its voting slots
        # in proportion: compare with one label's share where the
        # detection has one label per slot voted (no merging needed).
        one = (detection.labels > 0).sum(axis=1) == 1
        assert np.all(band.weights[one, 0] == 1)
    # The bands differ (their fractions do).
    assert not np.allclose(bands[0].weights, bands[1].weights)
    # With one band, decode_bands is decode.
    single = SparsePCR.from_dense(heatmap, vectors, fractions[:, :, :1],
                                  footprint)
    assert single.n_bands == 1 and single.fractions.ndim == 2
    det1, (band1,) = single.decode_bands(centres, vote_tolerance=3.0,
                                         assignment=assignment)
    ref = single.decode(centres, vote_tolerance=3.0, assignment=assignment)
    np.testing.assert_array_equal(det1.labels, ref.labels)
    np.testing.assert_array_equal(band1.labels, ref.labels)
    np.testing.assert_allclose(band1.weights, ref.weights, rtol=1e-12)
    assert flat_fractions.shape == (sparse.pixels.size, 3, 3)


def test_decode_bands_on_an_encoded_truth_gives_each_band_its_flux():
    from astropais.pcr import SourceImages, encode

    rng = np.random.default_rng(3)
    blue = np.stack([np.full((5, 7), 3.0), np.ones((5, 7))])
    red = np.stack([np.ones((5, 7)), np.full((5, 7), 3.0)])
    src = SourceImages((9, 14), [blue * rng.uniform(1, 2), red],
                       [(2, 0), (2, 5)])
    pcr = encode(src, [(4, 3), (4, 8)], n=2)
    sparse = SparsePCR.from_dense(pcr.heatmap, pcr.vectors, pcr.fractions,
                                  pcr.source_mask)
    _, bands = sparse.decode_bands(sparse.find_centres())
    total = src.total()
    for k, band in enumerate(bands):
        truth = [source[k].sum() for source in src.cutouts]
        np.testing.assert_allclose(band.fluxes(total[k]), truth, rtol=1e-5)


def test_decode_bands_on_an_edited_detection():
    heatmap, vectors, fractions, footprint = multiband_pcr(2)
    sparse = SparsePCR.from_dense(heatmap, vectors, fractions, footprint)
    centres = sparse.find_centres()
    detection = sparse.decode(centres, vote_tolerance=3.0)
    # Drop label 1 everywhere (as the deblender confines labels to their
    # detection segments): its pixels' band weights go to the others, and
    # the pixels it held alone go to label 2 in every band.
    from astropais.pcr import PixelAttribution

    labels, weights = detection.labels.copy(), detection.weights.copy()
    weights[labels == 1] = 0
    labels[labels == 1] = 0
    alone = weights.sum(axis=1) == 0
    assert alone.any() and not alone.all()
    labels[alone, 0], weights[alone, 0] = 2, 1.0
    weights /= weights.sum(axis=1, keepdims=True)
    edited = PixelAttribution(detection.shape, detection.pixels, labels,
                              weights, detection.centres)
    _, bands = sparse.decode_bands(centres, vote_tolerance=3.0,
                                   detection=edited)
    for band in bands:
        assert not np.any(band.labels == 1)
        np.testing.assert_array_equal(band.labels, edited.labels)
        np.testing.assert_allclose(band.weights.sum(axis=1), 1.0)
        assert np.all(band.weights[alone, 0] == 1)
    with pytest.raises(ValueError, match='these pixels'):
        sparse.decode_bands(centres[1:], detection=detection)


def test_dense_decode_bands_equals_the_sparse():
    from astropais.pcr import decode_bands

    heatmap, vectors, fractions, footprint = multiband_pcr(3)
    sparse = SparsePCR.from_dense(heatmap, vectors, fractions, footprint)
    centres = sparse.find_centres()
    detection, bands = decode_bands(heatmap, vectors, fractions, footprint,
                                    vote_tolerance=3.0)
    np.testing.assert_array_equal(detection.centres, centres)
    ref_detection, ref_bands = sparse.decode_bands(centres,
                                                   vote_tolerance=3.0)
    for got, ref in zip([detection, *bands], [ref_detection, *ref_bands]):
        np.testing.assert_array_equal(got.labels, ref.labels)
        np.testing.assert_array_equal(got.weights, ref.weights)
    with pytest.raises(ValueError, match='decode_bands'):
        decode(heatmap, vectors, fractions, footprint)
    with pytest.raises(ValueError, match='fractions has shape'):
        decode_bands(heatmap, vectors, fractions[..., :2], footprint)
    with pytest.raises(ValueError, match='4-D'):
        decode_bands(heatmap, vectors, fractions[:, :, 0], footprint)
