"""WeightedSegmentationImage: label map, fractions, relabelling, photutils."""

import copy
import warnings

import matplotlib
import numpy as np
import pytest
from astropy.utils.exceptions import AstropyUserWarning
from hypothesis import given, settings, strategies as st
from photutils.segmentation import SegmentationImage, SourceCatalog

from astropais.pcr.sparse import PixelAttribution
from astropais.segmentation import (WeightedSegmentationImage,
                                    disjoint_label_map)
from astropais.segmentation.tests.helpers import (gaussian_scene,
                                                  truth_attribution)

matplotlib.use('Agg')

SOURCES = [(18, 20, 2.5, 1000.0), (22, 27, 2.0, 500.0), (8, 42, 1.5, 300.0)]


@pytest.fixture
def scene():
    image, truth = gaussian_scene((40, 50), SOURCES, noise=0.5)
    footprint = np.sum(truth, axis=0) > 1.0
    return image, footprint, truth_attribution(truth, footprint)


def check_consistent(segm, strict=True):
    """The invariants every weighted segmentation keeps."""
    np.testing.assert_array_equal(segm.data,
                                  disjoint_label_map(segm.attribution))
    np.testing.assert_array_equal(
        segm.areas, [np.count_nonzero(segm.data == lab)
                     for lab in segm.labels])
    supported = np.unique(segm.attribution.labels[
        segm.attribution.weights > 0])
    assert set(segm.labels) <= set(supported)
    if not strict:
        return
    np.testing.assert_array_equal(segm.labels, supported)


def test_data_is_argmax_label_map(scene):
    image, footprint, attr = scene
    segm = WeightedSegmentationImage(attr)
    assert isinstance(segm, SegmentationImage)
    np.testing.assert_array_equal(segm.data, attr.label_map())
    np.testing.assert_array_equal(segm.labels, [1, 2, 3])
    np.testing.assert_array_equal(segm.footprint, footprint)
    assert segm.attribution is attr
    check_consistent(segm)


def test_fraction_cutouts_sum_to_one_on_footprint(scene):
    _, footprint, attr = scene
    segm = WeightedSegmentationImage(attr)
    total = np.zeros(segm.shape)
    for label in segm.labels:
        fractions, slc = segm.fraction_image(label)
        assert np.all((fractions >= 0) & (fractions <= 1))
        total[slc] += fractions
    np.testing.assert_allclose(total[footprint], 1.0)
    assert np.all(total[~footprint] == 0)
    np.testing.assert_allclose(segm.total_fraction, total)


def test_fraction_box_contains_segment(scene):
    segm = WeightedSegmentationImage(scene[2])
    for seg_slc, frac_slc in zip(segm.slices, segm.fraction_slices):
        for a, b in zip(seg_slc, frac_slc):
            assert b.start <= a.start and a.stop <= b.stop


def test_deblended_images_sum_to_attributed_fluxes(scene):
    image, footprint, attr = scene
    segm = WeightedSegmentationImage(attr)
    fluxes = [segm.deblended_image(lab, image)[0].sum() for lab in segm.labels]
    np.testing.assert_allclose(fluxes, attr.fluxes(image))
    np.testing.assert_allclose(np.sum(fluxes), image[footprint].sum())
    with pytest.raises(ValueError, match='shape'):
        segm.deblended_image(1, image[1:])


def test_faint_source_winning_no_pixel_still_labelled():
    pixels = np.arange(4)
    labels = np.array([[1, 2]] * 4)
    weights = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.95, 0.05]])
    attr = PixelAttribution((2, 2), pixels, labels, weights, [[0, 0], [1, 0]])
    segm = WeightedSegmentationImage(attr)
    np.testing.assert_array_equal(segm.labels, [1, 2])
    assert segm.data.flat[2] == 2          # its best pixel
    assert segm.areas.tolist() == [3, 1]


def test_more_sources_than_pixels_warns():
    attr = PixelAttribution((1, 2), [0, 1], [[1, 2, 3], [2, 1, 3]],
                            [[0.5, 0.3, 0.2], [0.6, 0.3, 0.1]],
                            [[0, 0], [0, 1], [0, 0.5]])
    with pytest.warns(AstropyUserWarning, match=r'\[3\]'):
        segm = WeightedSegmentationImage(attr)
    np.testing.assert_array_equal(segm.labels, [1, 2])


def test_remove_labels_keeps_other_fluxes(scene):
    image, _, attr = scene
    segm = WeightedSegmentationImage(attr)
    before = attr.fluxes(image)
    segm.remove_labels(2)
    check_consistent(segm)
    np.testing.assert_array_equal(segm.labels, [1, 3])
    after = segm.attribution.fluxes(image)
    np.testing.assert_allclose(after[[0, 2]], before[[0, 2]])
    assert after[1] == 0
    # Pixels that only had label 2 left the footprint.
    assert not np.any(segm.data == 2)


def test_remove_with_relabel_and_keep_labels(scene):
    image, _, attr = scene
    before = attr.fluxes(image)
    segm = WeightedSegmentationImage(attr)
    segm.remove_labels([1], relabel=True)
    check_consistent(segm)
    np.testing.assert_array_equal(segm.labels, [1, 2])
    np.testing.assert_allclose(segm.attribution.fluxes(image), before[1:])
    np.testing.assert_allclose(segm.centres, attr.centres[1:])

    segm = WeightedSegmentationImage(attr)
    segm.keep_labels([3])
    check_consistent(segm)
    np.testing.assert_array_equal(segm.labels, [3])
    np.testing.assert_allclose(segm.attribution.fluxes(image)[2], before[2])


def test_merging_labels_adds_weights(scene):
    image, footprint, attr = scene
    before = attr.fluxes(image)
    segm = WeightedSegmentationImage(attr)
    segm.reassign_labels([2], new_label=1)
    check_consistent(segm)
    np.testing.assert_array_equal(segm.labels, [1, 3])
    after = segm.attribution.fluxes(image)
    np.testing.assert_allclose(after[0], before[0] + before[1])
    np.testing.assert_allclose(after.sum(), image[footprint].sum())
    np.testing.assert_allclose(segm.centres[0], attr.centres[0])
    # No pixel holds the same label twice.
    lab = segm.attribution.labels
    for k in range(1, lab.shape[1]):
        assert not np.any((lab[:, k] > 0) & (lab[:, k] == lab[:, 0]))


def test_relabel_consecutive(scene):
    image, _, attr = scene
    segm = WeightedSegmentationImage(attr)
    segm.reassign_label(3, new_label=9)
    np.testing.assert_array_equal(segm.labels, [1, 2, 9])
    np.testing.assert_allclose(segm.centres[8], attr.centres[2])
    segm.relabel_consecutive(start_label=1)
    check_consistent(segm)
    np.testing.assert_array_equal(segm.labels, [1, 2, 3])
    np.testing.assert_allclose(segm.attribution.fluxes(image),
                               attr.fluxes(image))
    np.testing.assert_allclose(segm.centres, attr.centres)
    with pytest.raises(ValueError, match='start_label'):
        segm.relabel_consecutive(start_label=0)


def test_remove_border_and_masked_labels(scene):
    segm = WeightedSegmentationImage(scene[2])
    mask = np.zeros(segm.shape, dtype=bool)
    mask[:, 40:] = True
    segm.remove_masked_labels(mask)
    check_consistent(segm)
    assert 3 not in segm.labels


def test_remove_all_then_relabel_warns(scene):
    segm = WeightedSegmentationImage(scene[2])
    segm.remove_labels(segm.labels)
    assert segm.n_labels == 0
    assert segm.attribution.pixels.size == 0
    with pytest.warns(AstropyUserWarning):
        segm.relabel_consecutive()


def test_copy_is_independent(scene):
    segm = WeightedSegmentationImage(scene[2])
    for dup in (segm.copy(), copy.deepcopy(segm)):
        dup.remove_labels(1)
        assert 1 in segm.labels and 1 not in dup.labels
        check_consistent(segm)
        check_consistent(dup)


def test_label_map_construction_like_photutils():
    # photutils' most basic construction: a disjoint label map.
    for dtype in (np.int8, np.uint16, np.int32, np.int64):
        data = np.array([[1, 1, 0], [0, 3, 3]], dtype=dtype)
        segm = WeightedSegmentationImage(data)
        assert segm.data is data and segm.data.dtype == dtype
        np.testing.assert_array_equal(segm.labels, [1, 3])
        assert segm.labels.dtype == dtype
        np.testing.assert_array_equal(segm.total_fraction, data > 0)
        np.testing.assert_allclose(segm.centres[[0, 2]], [[0, 0.5], [1, 1.5]])
        assert np.all(np.isnan(segm.centres[1]))
        check_consistent(segm)
    # photutils' errors, with photutils' messages.
    with pytest.raises(TypeError, match='data must have integer type'):
        WeightedSegmentationImage(np.zeros((3, 3)))
    with pytest.raises(TypeError, match='numpy array'):
        WeightedSegmentationImage([[1, 0]])
    with pytest.raises(ValueError, match='negative integers'):
        WeightedSegmentationImage(-np.ones((3, 3), int))
    # 1-D, as photutils: labels and areas work; fractions need 2-D.
    segm = WeightedSegmentationImage(np.array([0, 2, 2, 5]))
    np.testing.assert_array_equal(segm.labels, [2, 5])
    np.testing.assert_array_equal(segm.areas, [2, 1])
    segm.relabel_consecutive()
    np.testing.assert_array_equal(segm.data, [0, 1, 1, 2])
    with pytest.raises(ValueError, match='2-D'):
        segm.attribution


def test_inplace_edit_of_data_flows_into_fractions(scene):
    image, _, attr = scene
    segm = WeightedSegmentationImage(attr)
    before = attr.fluxes(image)
    segm.data[segm.data == 2] = 0
    assert not np.any(segm.attribution.labels[
        segm.attribution.weights > 0] == 2)
    np.testing.assert_array_equal(segm.labels, [1, 3])
    check_consistent(segm)
    # A later relabel keeps the edit instead of restoring label 2.
    segm.relabel_consecutive()
    np.testing.assert_array_equal(segm.labels, [1, 2])
    check_consistent(segm)
    fluxes = segm.attribution.fluxes(image)
    assert fluxes[1] == pytest.approx(
        before[2], rel=0.05)    # old label 3 kept (nearly) all its flux


def test_edit_through_asarray_flows_into_fractions(scene):
    segm = WeightedSegmentationImage(scene[2])
    np.asarray(segm)[0:3, 0:3] = 7
    attribution = segm.attribution
    rows = np.isin(attribution.pixels,
                   np.ravel_multi_index(np.nonzero(segm.data == 7),
                                        segm.shape))
    np.testing.assert_array_equal(attribution.labels[rows, 0], 7)
    np.testing.assert_array_equal(attribution.weights[rows, 0], 1.0)
    assert 7 in segm.labels
    check_consistent(segm)



def test_edit_that_keeps_the_labelled_pixel_count_is_seen(scene):
    # The label map is remembered by its labelled pixels only: an edit
    # that moves a label onto the background, keeping the number of
    # labelled pixels, must still reach the fractions.
    segm = WeightedSegmentationImage(scene[2])
    labelled = np.argwhere(segm.data == 1)[0]
    empty = np.argwhere(segm.data == 0)[0]
    segm.data[tuple(labelled)] = 0
    segm.data[tuple(empty)] = 1
    attribution = segm.attribution
    at = np.ravel_multi_index(tuple(empty), segm.shape)
    row = np.flatnonzero(attribution.pixels == at)
    assert row.size == 1
    assert attribution.labels[row[0], 0] == 1
    assert attribution.weights[row[0], 0] == 1.0
    check_consistent(segm)

def test_edit_through_a_slice_flows_into_the_parent(scene):
    segm = WeightedSegmentationImage(scene[2])
    box = (slice(15, 22), slice(17, 25))
    part = segm[box]
    assert isinstance(part, WeightedSegmentationImage)
    # The part keeps its fractions (those of labels with pixels in it).
    inside = np.unique(segm.data[box])
    inside = inside[inside > 0]
    expected = np.zeros(part.shape)
    for label in inside:
        fractions, slc = segm.fraction_image(label)
        full = np.zeros(segm.shape)
        full[slc] = fractions
        expected += full[box]
    np.testing.assert_allclose(part.total_fraction, expected)
    check_consistent(part)
    # Its data is a view: an edit reaches the parent and its fractions.
    part.data[:] = 0
    assert not segm.data[box].any()
    assert not segm.total_fraction[box].any()
    check_consistent(segm, strict=False)
    segm.relabel_consecutive()
    assert not segm.data[box].any()


def test_data_assignment_follows(scene):
    segm = WeightedSegmentationImage(scene[2])
    new = segm.data.copy()
    new[new == 3] = 0
    segm.data = new
    assert 3 not in segm.attribution.labels
    check_consistent(segm)
    with pytest.warns(AstropyUserWarning, match='partial fractions'):
        segm.data = np.ones((2, 2), dtype=int)
    np.testing.assert_array_equal(segm.total_fraction, 1)


def test_bad_input():
    with pytest.raises(TypeError, match='PixelAttribution'):
        WeightedSegmentationImage('segm')
    with pytest.raises(TypeError, match='integer'):
        WeightedSegmentationImage.from_segmentation(np.zeros((3, 3)))
    with pytest.raises(ValueError, match='negative'):
        WeightedSegmentationImage.from_segmentation(-np.ones((3, 3), int))


def test_from_segmentation_round_trip(scene):
    segm = WeightedSegmentationImage(scene[2])
    disjoint = WeightedSegmentationImage.from_segmentation(segm)
    np.testing.assert_array_equal(disjoint.data, segm.data)
    assert np.all(disjoint.attribution.weights == 1)


def test_photutils_tools_accept_it(scene):
    image, footprint, attr = scene
    segm = WeightedSegmentationImage(attr)
    cat = SourceCatalog(image, segm)
    assert len(cat) == 3
    np.testing.assert_allclose(cat.segment_flux.sum(), image[footprint].sum())
    cutout = segm.segments[0].make_cutout(image, masked_array=True)
    assert cutout.shape == segm.segments[0].data.shape
    assert segm.cmap.N == segm.max_label + 1
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    segm.imshow(ax=ax)
    ax.imshow(segm, cmap=segm.cmap, interpolation='nearest')
    plt.close(fig)
    regions = segm.to_regions()
    assert len(regions) == 3
    sliced = segm[0:20, 0:30]
    assert isinstance(sliced, WeightedSegmentationImage)


@st.composite
def random_attribution(draw):
    ny, nx = draw(st.integers(2, 8)), draw(st.integers(2, 8))
    n_sources = draw(st.integers(1, 5))
    n_slots = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    pixels = np.flatnonzero(rng.random(ny * nx) < 0.7)
    if pixels.size == 0:   # (0.3 ** 4 of the 2 x 2 images): keep one pixel
        pixels = np.array([0])
    labels = np.stack([rng.permutation(n_sources)[:n_slots] + 1
                       if n_slots <= n_sources else
                       np.r_[rng.permutation(n_sources) + 1,
                             np.zeros(n_slots - n_sources, int)]
                       for _ in pixels]).reshape(-1, n_slots)
    weights = np.where(labels > 0, rng.random(labels.shape) + 1e-3, 0.0)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)
    centres = rng.random((n_sources, 2)) * [ny, nx]
    attr = PixelAttribution((ny, nx), pixels, labels, weights, centres)
    image = rng.normal(size=(ny, nx))
    return attr, image, rng


@settings(max_examples=40, deadline=None)
@given(random_attribution())
def test_relabelling_invariants(case):
    attr, image, rng = case
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always', AstropyUserWarning)
        segm = WeightedSegmentationImage(attr)
    # Only with more sources than pixels may a source lack a pixel, and
    # then the user is told.
    check_consistent(segm, strict=not record)
    if record:
        assert 'no pixel of their own' in str(record[0].message)
        return
    if segm.n_labels == 0:
        return
    before = attr.fluxes(image)
    removed = segm.labels[rng.random(segm.n_labels) < 0.4]
    kept = np.setdiff1d(segm.labels, removed)
    segm.remove_labels(removed, relabel=True)
    check_consistent(segm)
    assert segm.n_labels == kept.size
    if kept.size:
        segm.relabel_consecutive()
        check_consistent(segm)
    after = segm.attribution.fluxes(image)
    np.testing.assert_allclose(after[:kept.size], before[kept - 1],
                               atol=1e-9)
    assert np.all(after[kept.size:] == 0)


def test_deblend_sources_keeps_the_type_or_warns(scene):
    from photutils.segmentation import deblend_sources as photutils_deblend
    from astropais.segmentation import deblend_sources
    image, footprint, attr = scene
    disjoint = WeightedSegmentationImage(footprint.astype(int))
    split = deblend_sources(image, disjoint, 5, progress_bar=False)
    plain = photutils_deblend(image, SegmentationImage(disjoint.data.copy()),
                              5, progress_bar=False)
    assert isinstance(split, WeightedSegmentationImage)
    np.testing.assert_array_equal(split.data, plain.data)
    np.testing.assert_array_equal(split.deblended_labels,
                                  plain.deblended_labels)
    assert split.n_labels >= 2
    check_consistent(split)
    with pytest.warns(AstropyUserWarning, match='partial fractions'):
        deblend_sources(image, WeightedSegmentationImage(attr), 5,
                        progress_bar=False)
