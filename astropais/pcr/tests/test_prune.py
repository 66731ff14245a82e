"""Tests of prune_centres: centres must earn their place."""

import numpy as np
import pytest

from astropais.pcr import PixelAttribution, prune_centres


def _disc(shape, centre, sigma2):
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    return np.exp(-((x - centre[1]) ** 2 + (y - centre[0]) ** 2) / sigma2)


def _voronoi(shape, centres):
    """A disjoint attribution cutting the image between the centres."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    d = [(y - cy) ** 2 + (x - cx) ** 2 for cy, cx in centres]
    labels = np.argmin(d, axis=0) + 1
    return PixelAttribution.from_label_map(labels, centres)


def test_wedges_of_a_smooth_profile_are_dropped():
    shape = (101, 101)
    image = 100 * _disc(shape, (50, 50), 400.0)
    ring = [(50 + 25 * np.sin(a), 50 + 25 * np.cos(a))
            for a in np.linspace(0, 2 * np.pi, 7)[:-1]]
    att = _voronoi(shape, [(50.0, 50.0), *ring])
    keep = prune_centres(att, image, noise_sigma=1.0)
    assert keep.tolist() == [True] + [False] * 6


def test_real_faint_peak_on_a_big_profile_is_kept():
    shape = (101, 101)
    image = 100 * _disc(shape, (50, 50), 400.0) + 5 * _disc(shape, (50, 80),
                                                             4.0)
    att = _voronoi(shape, [(50.0, 50.0), (50.0, 80.0)])
    keep = prune_centres(att, image, noise_sigma=0.5)
    assert keep.tolist() == [True, True]
    # Without the faint source the same cut is a wedge.
    keep = prune_centres(att, 100 * _disc(shape, (50, 50), 400.0),
                         noise_sigma=0.5)
    assert keep.tolist() == [True, False]


def test_close_pair_without_saddle_is_kept():
    shape = (41, 61)
    image = _disc(shape, (20, 28), 8.0) + 0.6 * _disc(shape, (20, 32), 8.0)
    line = image[20, 28:33]
    assert np.all(np.diff(line) < 0)   # no saddle between the two
    att = _voronoi(shape, [(20.0, 28.0), (20.0, 32.0)])
    # The fainter still stands out of the brighter one's slope.
    assert prune_centres(att, image, noise_sigma=1e-3).tolist() == [True,
                                                                     True]


def test_contrast_keeps_non_peaks_with_a_large_share():
    shape = (101, 101)
    image = 100 * _disc(shape, (50, 50), 400.0)
    att = _voronoi(shape, [(50.0, 50.0), (50.0, 75.0)])
    assert prune_centres(att, image, noise_sigma=1.0).tolist() == [True,
                                                                    False]
    assert prune_centres(att, image, noise_sigma=1.0,
                         contrast=0.0).tolist() == [True, True]
    assert prune_centres(att, image, noise_sigma=1.0,
                         contrast=0.01).tolist() == [True, True]
    assert prune_centres(att, image, noise_sigma=1.0,
                         contrast=0.9).tolist() == [True, False]


def test_separate_segments_never_prune_each_other():
    shape = (20, 60)
    image = _disc(shape, (10, 10), 4.0) + 0.01 * _disc(shape, (10, 50), 4.0)
    labels = np.zeros(shape, dtype=int)
    labels[:, :25] = 1
    labels[:, 35:] = 2
    att = PixelAttribution.from_label_map(labels, [(10, 10), (10, 50)])
    assert prune_centres(att, image, noise_sigma=1.0).all()


def test_one_centre_per_masked_region():
    shape = (41, 41)
    image = 1000 * _disc(shape, (20, 20), 20.0)
    mask = np.zeros(shape, dtype=bool)
    mask[17:24, 17:24] = True
    image[mask] = 0.0
    att = _voronoi(shape, [(18.0, 18.0), (22.0, 22.0), (20.0, 18.0)])
    keep = prune_centres(att, image, noise_sigma=1.0, mask=mask, contrast=0)
    assert keep.sum() == 1


def test_bad_contrast_and_trivial_cases():
    att = _voronoi((10, 10), [(5.0, 5.0)])
    assert prune_centres(att, np.ones((10, 10)), noise_sigma=1).tolist() == [
        True]
    with pytest.raises(ValueError, match='contrast'):
        prune_centres(att, np.ones((10, 10)), noise_sigma=1, contrast=2)


def test_missing_peaks_adds_the_brightest_pixel_of_uncovered_segments():
    from astropais.pcr import missing_peaks
    shape = (40, 80)
    image = 50 * _disc(shape, (20, 20), 60.0) + 5 * _disc(shape, (20, 32),
                                                          2.0)
    segments = np.zeros(shape, dtype=int)
    segments[5:36, 2:45] = 1
    segments[10:30, 60:75] = 2
    image[20, 65] = 9.0
    # Only the small neighbour was found: the bright object's peak is added.
    peaks = missing_peaks([(20.0, 32.0), (20.0, 66.0)], segments, image)
    assert peaks.tolist() == [[20.0, 20.0]]
    # A centre within 3 px of the peak is enough.
    assert len(missing_peaks([(21.0, 22.0), (20.0, 65.0)], segments,
                             image)) == 0
    # A masked peak moves to the brightest unmasked pixel.
    mask = np.zeros(shape, dtype=bool)
    mask[18:23, 18:23] = True
    peaks = missing_peaks([(20.0, 65.0)], segments, image, mask=mask)
    assert len(peaks) == 1 and not mask[tuple(peaks[0].astype(int))]
    assert missing_peaks([], np.zeros((3, 3), int), np.ones((3, 3))).shape \
        == (0, 2)


def test_missing_peaks_are_the_segment_maxima():
    # The O(footprint) search gives scipy's maximum_position of every
    # segment (values distinct), minus wholly masked segments and those
    # with a centre nearby; of equal values the first in raster order.
    from scipy import ndimage

    from astropais.pcr import missing_peaks
    rng = np.random.default_rng(4)
    image = rng.normal(size=(80, 90))
    segments, n = ndimage.label(image > 0.8)
    mask = np.zeros(image.shape, bool)
    whole = segments == 3
    mask[whole] = True
    expected = np.array(ndimage.maximum_position(
        np.where(mask, -np.inf, image), segments, np.arange(1, n + 1)),
        dtype=float)
    expected = expected[np.arange(1, n + 1) != 3]
    np.testing.assert_array_equal(
        missing_peaks(np.zeros((0, 2)), segments, image, mask=mask), expected)
    found = missing_peaks(expected[:5], segments, image, mask=mask,
                          radius=0.5)
    np.testing.assert_array_equal(found, expected[5:])
    flat = np.zeros((3, 4))
    flat[1:, 1:3] = 2.0
    assert missing_peaks([], (flat > 0).astype(int), flat).tolist() == [
        [1.0, 1.0]]
