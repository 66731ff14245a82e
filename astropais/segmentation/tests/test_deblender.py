"""PAISDeblender end to end with a tiny real network."""

import shutil
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData, NDData, StdDevUncertainty
from astropy.utils.exceptions import AstropyUserWarning
from photutils.segmentation import SourceFinder, detect_sources
from photutils.utils.exceptions import NoDetectionsWarning

from astropais.segmentation import (PAISDeblender, WeightedSegmentationImage,
                                    WeightedSourceCatalog)
from astropais.segmentation.tests.helpers import (PAIR_MAX_ERROR,
                                                  gaussian_scene,
                                                  pair_flux_errors)

SOURCES = [(30, 40, 2.5, 800.0), (33, 46, 2.0, 400.0), (60, 10, 1.5, 200.0)]


@pytest.fixture(scope='module')
def scene():
    image, _ = gaussian_scene((70, 90), SOURCES, noise=1.0, seed=2)
    return image


@pytest.fixture(scope='module')
def deblender(tiny_model):
    return PAISDeblender(n_pixels=5, model=tiny_model)


def test_result_is_weighted_segmentation_on_photutils_footprint(deblender,
                                                               scene):
    segm = deblender(scene, threshold=3.0)
    assert isinstance(segm, WeightedSegmentationImage)
    detection = detect_sources(scene, 3.0, n_pixels=5, connectivity=8)
    np.testing.assert_array_equal(segm.footprint, detection.data > 0)
    # Every detection segment holds at least one source, and no source
    # has fractions in two detection segments.
    for label in detection.labels:
        assert np.any(segm.data[detection.data == label] > 0)
    check_confined(segm, detection.data)
    # The benchmark runner reads the attribution.
    attr = segm.attribution
    np.testing.assert_allclose(attr.weights.sum(axis=1), 1.0)
    cat = WeightedSourceCatalog(scene, segm)
    np.testing.assert_allclose(cat.segment_flux.sum(),
                               scene[segm.footprint].sum())


def check_confined(segm, segment_map):
    for fractions, slc in zip(segm.fraction_cutouts, segm.fraction_slices):
        segments = np.unique(segment_map[slc][fractions > 0])
        assert segments.size == 1 and segments[0] > 0


def test_known_centre_in_one_island_only(deblender):
    image, _ = gaussian_scene((40, 70), [(20, 15, 2.0, 900.0),
                                         (20, 50, 2.0, 300.0)], noise=0.5)
    segm = deblender(image, threshold=2.0, centres=[(20, 15)])
    detection = detect_sources(image, 2.0, n_pixels=5, connectivity=8)
    assert detection.n_labels == 2 and segm.n_labels == 2
    check_confined(segm, detection.data)
    # The island without a given centre got one at its centroid.
    added = segm.centres[np.hypot(*(segm.centres - (20, 15)).T) > 1]
    np.testing.assert_allclose(added, [(20, 50)], atol=0.5)


def test_input_types_give_the_same_result(deblender, scene):
    reference = deblender(scene, threshold=3.0).data
    for data, threshold in ((scene * u.Jy, 3.0 * u.Jy),
                            (NDData(scene, unit='Jy'), 3000.0 * u.mJy),
                            (CCDData(scene, unit='adu'), 3.0 * u.adu),
                            (scene.astype(np.float32), 3.0),
                            (scene.tolist(), 3.0)):
        np.testing.assert_array_equal(deblender(data, threshold).data,
                                      reference)


def test_masks_and_nan_pixels(deblender, scene):
    mask = np.zeros(scene.shape, bool)
    mask[55:66, 5:16] = True                     # hides source 3
    segm = deblender(scene, threshold=3.0, mask=mask)
    assert not np.any(segm.footprint & mask)
    nd = deblender(NDData(scene, mask=mask), threshold=3.0)
    np.testing.assert_array_equal(nd.data, segm.data)
    data = scene.copy()
    data[60, 10] = np.nan
    with pytest.warns(AstropyUserWarning, match='NaN or inf'):
        segm = deblender(data, threshold=3.0)
    assert segm.data[60, 10] == 0


def test_uncertainty_sets_the_normalisation_noise(deblender, scene):
    ccd = CCDData(scene, unit='adu',
                  uncertainty=StdDevUncertainty(np.full(scene.shape, 1.0)))
    assert deblender(ccd, 3.0 * u.adu) is not None


@pytest.mark.parametrize('data', [np.zeros((40, 40)), np.full((40, 40), 5.0)])
def test_empty_and_constant_images_give_none(deblender, data):
    # photutils' NoDetectionsWarning, once (photutils' own is not
    # silenced, and not repeated).
    with pytest.warns(NoDetectionsWarning, match='[Nn]o sources') as record:
        assert deblender(data, threshold=1.0) is None
    assert len([w for w in record
                if issubclass(w.category, NoDetectionsWarning)]) == 1


def test_all_masked_gives_none(deblender, scene):
    with pytest.warns(NoDetectionsWarning, match='All pixels are masked'):
        assert deblender(scene, 3.0, mask=np.ones(scene.shape, bool)) is None


def test_bad_calls(deblender, scene):
    with pytest.raises(ValueError, match='2-D'):
        deblender(scene[None], threshold=3.0)
    with pytest.raises(TypeError, match='numeric'):
        deblender(scene.astype(str), threshold=3.0)
    with pytest.raises(ValueError, match='shape'):
        deblender(scene, threshold=3.0, mask=np.zeros((5, 5), bool))
    with pytest.raises(ValueError, match='threshold'):
        deblender(scene, threshold=np.ones((3, 3)))
    with pytest.raises(ValueError, match='centres'):
        deblender(scene, threshold=3.0, centres=[1, 2, 3])


def test_known_centres(deblender, scene):
    centres = [(y, x) for y, x, _, _ in SOURCES]
    segm = deblender(scene, threshold=3.0, centres=centres)
    np.testing.assert_array_equal(segm.labels, [1, 2, 3])
    np.testing.assert_allclose(segm.centres, centres)   # raster order


def test_given_centre_without_pixels_warns_and_keeps_rows(deblender, scene):
    # The second centre lies far outside the footprint: no pixel can go
    # to it.  Labels still map to rows (label k is row k - 1), and the
    # warning names the row.
    centres = [SOURCES[0][:2], (5.0, 85.0), *[s[:2] for s in SOURCES[1:]]]
    with pytest.warns(AstropyUserWarning, match=r'rows \[1\]'):
        segm = deblender(scene, threshold=3.0, centres=centres)
    np.testing.assert_array_equal(segm.labels, [1, 3, 4])
    np.testing.assert_allclose(segm.centres, centres)
    cat = WeightedSourceCatalog(scene, segm)
    np.testing.assert_array_equal(cat.labels, [1, 3, 4])
    np.testing.assert_allclose(cat.segment_flux.sum(),
                               scene[segm.footprint].sum())


def test_given_centres_map_to_rows_and_are_checked(deblender, scene):
    centres = [s[:2] for s in SOURCES]
    forward = deblender(scene, threshold=3.0, centres=centres)
    segm = deblender(scene, threshold=3.0, centres=centres[::-1])
    np.testing.assert_allclose(segm.centres, centres[::-1])
    # The same sources, numbered by row: label k <-> 4 - k.
    np.testing.assert_array_equal(segm.data,
                                  np.array([0, 3, 2, 1])[forward.data])
    with pytest.raises(ValueError, match=r'rows \[1\] lie outside'):
        deblender(scene, 3.0, centres=[(30, 40), (-3, 10)])
    with pytest.raises(ValueError, match='duplicated'):
        deblender(scene, 3.0, centres=[(30, 40), (30.2, 39.9)])
    with pytest.raises(ValueError, match='not finite'):
        deblender(scene, 3.0, centres=[(30, np.nan)])


def test_deblended_labels_like_source_finder(deblender, scene):
    # Sources 1 and 2 share one detection segment: both are deblended
    # children of it, as photutils' SourceFinder records them.
    centres = [s[:2] for s in SOURCES]
    segm = deblender(scene, threshold=3.0, centres=centres)
    detection = detect_sources(scene, 3.0, n_pixels=5, connectivity=8)
    parent = detection.data[30, 40]
    assert detection.data[33, 46] == parent
    assert detection.data[60, 10] != parent
    np.testing.assert_array_equal(segm.deblended_labels, [1, 2])
    assert segm.deblended_label_to_parent == {1: parent, 2: parent}
    assert segm.deblended_labels.dtype == segm.data.dtype
    # Kept by from_segmentation and through relabelling.
    copy = WeightedSegmentationImage.from_segmentation(segm)
    np.testing.assert_array_equal(copy.deblended_labels, [1, 2])
    segm.remove_labels(1, relabel=True)
    np.testing.assert_array_equal(segm.deblended_labels, [0, 1])


def test_progress_bar_defaults_as_source_finder(tiny_model):
    import inspect
    default = inspect.signature(SourceFinder).parameters['progress_bar']
    assert PAISDeblender(n_pixels=5, model=tiny_model).progress_bar \
        is default.default


def test_sidecar_receptive_radius_replaces_the_probe(tiny_model_path,
                                                     tmp_path):
    import json
    from astropais.model import load_model
    probed = PAISDeblender(n_pixels=5, model=tiny_model_path)
    measured = probed.field_of_view_radius()
    recorded = measured + 9              # not what a probe would find
    path = tmp_path / 'tiny.keras'
    shutil.copy(tiny_model_path, path)
    sidecar = json.loads(tiny_model_path.with_suffix('.json').read_text())
    sidecar['receptive_radius'] = recorded
    path.with_suffix('.json').write_text(json.dumps(sidecar))
    network = load_model(path)
    deblender = PAISDeblender(n_pixels=5, model=network)
    assert deblender.field_of_view_radius() == recorded
    assert deblender.overlap >= recorded
    for bad in (-1, 2.5, 'x', True):
        network.metadata['receptive_radius'] = bad
        with pytest.raises(ValueError, match='receptive_radius'):
            PAISDeblender(n_pixels=5, model=network)


def test_tiles_reproduce_the_whole_image_prediction(tiny_model, scene):
    # The tiny network sees 9 px around a pixel: with tiles of 32 and 12 px
    # of context, the stitched PCR equals the single-tile PCR everywhere,
    # the bottom and right edges included (the last tiles end at the
    # image's own padded edge) -- so a source on a seam (source 1 sits on
    # the x = 40 hand-over) is seen exactly as without tiles and can be
    # neither split nor duplicated.
    small = PAISDeblender(n_pixels=5, model=tiny_model, tile_size=32,
                          overlap=12, precision='float32')
    whole = PAISDeblender(n_pixels=5, model=tiny_model, tile_size=96,
                          overlap=0, precision='float32')
    tiled_pcr = small.predict_pcr(scene, 1.0)
    whole_pcr = whole.predict_pcr(scene, 1.0)
    for key in tiled_pcr:
        assert tiled_pcr[key].shape[:2] == scene.shape
        np.testing.assert_allclose(tiled_pcr[key], whole_pcr[key],
                                   atol=1e-4, err_msg=key)
    seg_small = small(scene, 3.0, centres=[SOURCES[0][:2], SOURCES[1][:2]])
    seg_whole = whole(scene, 3.0, centres=[SOURCES[0][:2], SOURCES[1][:2]])
    blend = (slice(20, 45), slice(30, 56))
    np.testing.assert_array_equal(seg_small.data[blend], seg_whole.data[blend])


def test_pair_in_the_corner_same_tiled_and_in_one_pass(tiny_model):
    # A blended pair in the bottom-right corner of an image that is not a
    # whole number of tiles: the same labels and fractions either way.
    image, _ = gaussian_scene((70, 90), [(63, 81, 2.0, 800.0),
                                         (65, 86, 1.8, 500.0)], noise=1.0,
                              seed=5)
    small = PAISDeblender(n_pixels=5, model=tiny_model, tile_size=32,
                          overlap=12, precision='float32')
    whole = PAISDeblender(n_pixels=5, model=tiny_model, tile_size=96,
                          overlap=0, precision='float32')
    tiled, single = small(image, 3.0), whole(image, 3.0)
    np.testing.assert_array_equal(tiled.data, single.data)
    np.testing.assert_allclose(tiled.total_fraction, single.total_fraction)
    for a, b in zip(tiled.fraction_cutouts, single.fraction_cutouts):
        np.testing.assert_allclose(a, b, atol=1e-3)


def test_image_smaller_than_a_tile_is_one_unpadded_tile(tiny_model, scene):
    # The default tile (>= 256 px) would zero-pad this 70 x 90 image to a
    # full tile; an image that fits one tile is predicted as it is (padded
    # only to the pooling multiple): the network's own prediction.
    deblender = PAISDeblender(n_pixels=5, model=tiny_model,
                              precision='float32')
    assert max(scene.shape) < deblender.tile_size
    pcr = deblender.predict_pcr(scene, 1.0)
    direct = tiny_model.predict(tiny_model.normalise(scene[None, ..., None],
                                                     1.0))
    np.testing.assert_array_equal(pcr['heatmap'], direct['heatmap'][0])
    np.testing.assert_array_equal(pcr['fractions'],
                                  direct['fractions'][0, ..., 0, :])


def test_default_tiles_cover_the_field_of_view(tiny_model):
    deblender = PAISDeblender(n_pixels=5, model=tiny_model)
    radius = deblender.field_of_view_radius()
    assert 0 < radius <= deblender.overlap
    assert deblender.overlap % tiny_model.size_multiple == 0
    assert deblender.tile_size >= max(4 * deblender.overlap, 256)
    assert deblender.tile_size % tiny_model.size_multiple == 0


def test_model_errors(tiny_model_path, tmp_path):
    with pytest.raises(FileNotFoundError):
        PAISDeblender(n_pixels=5, model=tmp_path / 'missing.keras')
    damaged = tmp_path / 'damaged.keras'
    shutil.copy(tiny_model_path, damaged)
    shutil.copy(tiny_model_path.with_suffix('.json'),
                damaged.with_suffix('.json'))
    payload = bytearray(damaged.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    damaged.write_bytes(bytes(payload))
    with pytest.raises(ValueError, match='checksum'):
        PAISDeblender(n_pixels=5, model=damaged)
    with pytest.raises(TypeError, match='model must be'):
        PAISDeblender(n_pixels=5, model=42)


def test_option_errors(tiny_model):
    with pytest.raises(ValueError, match='n_pixels'):
        PAISDeblender(n_pixels=0, model=tiny_model)
    with pytest.raises(ValueError, match='connectivity'):
        PAISDeblender(n_pixels=5, model=tiny_model, connectivity=6)
    with pytest.raises(ValueError, match='tile_size'):
        PAISDeblender(n_pixels=5, model=tiny_model, tile_size=33)
    with pytest.raises(ValueError, match='overlap'):
        PAISDeblender(n_pixels=5, model=tiny_model, tile_size=256,
                      overlap=200)
    with pytest.warns(AstropyUserWarning, match='field of view'):
        PAISDeblender(n_pixels=5, model=tiny_model, tile_size=16)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        text = repr(PAISDeblender(n_pixels=5, model=tiny_model))
    assert 'n_pixels=5' in text


def _shipped_model_exists():
    try:
        from astropais.model import default_model_path
    except ImportError:
        return False
    return default_model_path().exists()


@pytest.mark.skipif(not _shipped_model_exists(),
                    reason='no model is shipped in astropais/data yet')
@pytest.mark.parametrize('precision', ['float32', 'bfloat16'])
def test_shipped_model_pair_fluxes_beat_photutils(precision):
    # Acceptance: the shipped model (its checksum is verified on loading)
    # deblends two overlapping sources -- a bright one and one 8x fainter,
    # 7 px apart -- with weighted fluxes whose median error over ten noise
    # realisations is within 5 % of the truth for both, where photutils'
    # SourceFinder does not split the pair at all.
    from astropais.model import default_model_path, load_model
    network = load_model(default_model_path())
    deblender = PAISDeblender(n_pixels=5, model=network, precision=precision)
    assert deblender.precision == precision
    ours, theirs = pair_flux_errors(deblender)
    assert np.all(np.isfinite(ours)), 'pair not split'
    assert np.all(np.median(ours, axis=0) < PAIR_MAX_ERROR), ours
    assert np.all(np.median(ours, axis=0) < np.median(theirs, axis=0))


def test_precision_option(tiny_model, scene):
    half = PAISDeblender(n_pixels=5, model=tiny_model, precision='bfloat16')
    assert half.precision == 'bfloat16' and "precision='bfloat16'" in repr(
        half)
    assert tiny_model.precision == 'float32'     # the caller's is unchanged
    segm = half(scene, threshold=3.0)
    cat = WeightedSourceCatalog(scene, segm)
    np.testing.assert_allclose(cat.segment_flux.sum(),
                               scene[segm.footprint].sum())
    full = PAISDeblender(n_pixels=5, model=tiny_model, precision='float32')
    assert full.model is tiny_model
    # The field of view (hence the tile overlap) is measured in float32.
    assert half.field_of_view_radius() == full.field_of_view_radius()
    assert half.overlap == full.overlap
    with pytest.raises(ValueError, match='precision'):
        PAISDeblender(n_pixels=5, model=tiny_model, precision='double')


def test_convolved_data_sets_the_footprint(deblender, scene):
    from astropy.convolution import convolve
    from photutils.segmentation import make_2dgaussian_kernel
    kernel = make_2dgaussian_kernel(3.0, size=5)
    convolved = convolve(scene, kernel)
    segm = deblender(scene, threshold=1.5, convolved_data=convolved)
    detection = detect_sources(convolved, 1.5, n_pixels=5, connectivity=8)
    np.testing.assert_array_equal(segm.footprint, detection.data > 0)
    raw = detect_sources(scene, 1.5, n_pixels=5, connectivity=8)
    assert not np.array_equal(segm.footprint, raw.data > 0)
    # Fluxes are still measured on the unconvolved data.
    cat = WeightedSourceCatalog(scene, segm)
    np.testing.assert_allclose(cat.segment_flux.sum(),
                               scene[segm.footprint].sum())
    with pytest.raises(ValueError, match='convolved_data has shape'):
        deblender(scene, threshold=1.5, convolved_data=convolved[:-1])
    with pytest.raises(ValueError, match='convolved_data is in'):
        deblender(scene * u.Jy, threshold=1.5 * u.Jy,
                  convolved_data=convolved * u.mJy)


def _sparse_field(more_sources, seed):
    """A close pair near a corner of a 192 x 192 field plus ``more_sources``;
    the image and its 3-sigma footprint."""
    image, _ = gaussian_scene((192, 192), [(20, 24, 2.0, 800.0),
                                           (23, 29, 1.8, 500.0),
                                           *more_sources],
                              noise=1.0, seed=seed)
    return image, detect_sources(image, 3.0, 5).data > 0


def _tiled_deblender(model, tile_size=32, overlap=12):
    return PAISDeblender(n_pixels=5, model=model, tile_size=tile_size,
                         overlap=overlap, precision='float32',
                         progress_bar=False)


def test_empty_sky_tiles_are_skipped_with_the_same_result(tiny_model):
    # Two sources in a 192 x 192 field of 32 px tiles: most tiles hold no
    # footprint pixel and are not run, yet the labels and fractions equal
    # those of one pass over the whole image.
    image, footprint = _sparse_field([(150, 160, 2.0, 600.0)], seed=7)
    small = _tiled_deblender(tiny_model)
    whole = _tiled_deblender(tiny_model, tile_size=192, overlap=0)
    pcr = small.predict_pcr(image, 1.0, footprint)
    assert np.mean(pcr['heatmap'] == 0) > 0.5      # skipped tiles
    tiled, single = small(image, 3.0), whole(image, 3.0)
    np.testing.assert_array_equal(tiled.data, single.data)
    np.testing.assert_allclose(tiled.total_fraction, single.total_fraction)
    for a, b in zip(tiled.fraction_cutouts, single.fraction_cutouts):
        np.testing.assert_allclose(a, b, atol=1e-3)


def test_recorded_receptive_radius_means_no_network_pass(tiny_model_path,
                                                          tmp_path):
    # With receptive_radius in the sidecar (as the shipped model has),
    # constructing a deblender never runs the network.
    import json
    from astropais.model import load_model
    path = tmp_path / 'tiny.keras'
    shutil.copy(tiny_model_path, path)
    sidecar = json.loads(tiny_model_path.with_suffix('.json').read_text())
    sidecar['receptive_radius'] = 9
    path.with_suffix('.json').write_text(json.dumps(sidecar))
    network = load_model(path)
    calls = []
    predict = network.predict

    def counting(*args, **kwargs):
        calls.append(1)
        return predict(*args, **kwargs)

    network.predict = counting
    deblender = PAISDeblender(n_pixels=5, model=network,
                              precision='float32')
    assert deblender.overlap >= 9 and calls == []
    del sidecar['receptive_radius']
    path.with_suffix('.json').write_text(json.dumps(sidecar))
    probed = load_model(path)
    probed_predict = probed.predict
    probed.predict = lambda *a, **k: calls.append(1) or probed_predict(*a,
                                                                       **k)
    PAISDeblender(n_pixels=5, model=probed, precision='float32')
    assert calls                        # without it, the probe runs


def test_default_tiles_shrink_on_empty_sky_with_the_same_result(tiny_model):
    # Two sources in a 600 x 600 field: the default deblender runs smaller
    # tiles (fewer network pixels) and finds what one pass finds.
    image, _ = gaussian_scene((600, 600), [(100, 120, 2.0, 800.0),
                                           (103, 125, 1.8, 500.0),
                                           (480, 500, 2.0, 600.0)],
                              noise=1.0, seed=8)
    auto = PAISDeblender(n_pixels=5, model=tiny_model, precision='float32',
                         progress_bar=False)
    whole = PAISDeblender(n_pixels=5, model=tiny_model, tile_size=608,
                          overlap=0, precision='float32',
                          progress_bar=False)
    footprint = detect_sources(image, 3.0, 5).data > 0
    assert auto._sparse_tile_size(footprint) < auto.tile_size
    tiled, single = auto(image, 3.0), whole(image, 3.0)
    np.testing.assert_array_equal(tiled.data, single.data)
    for a, b in zip(tiled.fraction_cutouts, single.fraction_cutouts):
        np.testing.assert_allclose(a, b, atol=1e-3)


def test_sparse_pcr_decodes_as_the_stitched_maps(tiny_model):
    # The deblender keeps the network outputs only at and near the
    # footprint, tile by tile; centres and attribution equal those
    # decoded from the whole-image stitched maps, in a fraction of their
    # memory.
    from astropais.pcr import decode, find_centres
    image, footprint = _sparse_field([(90, 100, 2.5, 900.0),
                                      (150, 160, 2.0, 600.0)], seed=9)
    deblender = _tiled_deblender(tiny_model)
    dense = deblender.predict_pcr(image, 1.0, footprint)
    sparse = deblender.predict_sparse_pcr(image, 1.0, footprint)
    np.testing.assert_array_equal(sparse.pixels, np.flatnonzero(footprint))
    np.testing.assert_array_equal(
        sparse.vectors, dense['vectors'].reshape(-1, *sparse.vectors.shape[
            1:])[sparse.pixels])
    np.testing.assert_array_equal(
        sparse.peak_heights, dense['heatmap'].ravel()[sparse.peak_pixels])
    assert np.all(sparse.peak_heights >= deblender.peak_threshold)
    whole = sum(value.nbytes for value in dense.values())
    assert sparse.nbytes < whole / 4
    # The centres the deblender keeps: those in the footprint (the
    # heatmap is kept within the reach of the centre search around it).
    centres = deblender._inside(find_centres(
        dense['heatmap'], threshold=0.5, min_distance=2,
        vectors=dense['vectors']), footprint)
    assert len(centres) >= 3
    np.testing.assert_array_equal(
        deblender._inside(sparse.find_centres(0.5, 2), footprint), centres)
    centres = np.vstack([centres, [[90.0, 100.0]]])
    want = decode(dense['heatmap'], dense['vectors'], dense['fractions'],
                  footprint, centres=centres, vote_tolerance=8.0)
    got = sparse.decode(centres, vote_tolerance=8.0)
    np.testing.assert_array_equal(got.labels, want.labels)
    np.testing.assert_array_equal(got.weights, want.weights)
    with pytest.raises(ValueError, match='peak_threshold must be positive'):
        PAISDeblender(n_pixels=5, model=tiny_model, peak_threshold=0)


def test_memory_mapped_float32_image_is_read_not_copied(tiny_model, scene,
                                                        tmp_path):
    # A float32 image (here a memory map) is used as it is: no float64
    # copy, the same result as the in-memory float64 image.
    from astropais.segmentation.inputs import prepare_image
    data = scene.astype(np.float32)
    mapped = np.lib.format.open_memmap(tmp_path / 'image.npy', mode='w+',
                                       dtype=np.float32, shape=data.shape)
    mapped[:] = data
    mapped.flush()
    mapped = np.load(tmp_path / 'image.npy', mmap_mode='r')
    prepared = prepare_image(mapped)
    assert prepared.data.dtype == np.float32
    assert np.shares_memory(prepared.data, mapped)
    assert prepare_image(data.astype(np.int16)).data.dtype == np.float32
    with pytest.warns(AstropyUserWarning, match='NaN'):
        holed = prepare_image(np.where(data > 10, np.float32(np.nan), data))
    assert holed.data.dtype == np.float32 and not np.isnan(holed.data).any()
    assert holed.mask.any()
    deblender = PAISDeblender(n_pixels=5, model=tiny_model,
                              precision='float32', progress_bar=False)
    from_map = deblender(mapped, 3.0)
    in_memory = deblender(data.astype(np.float64), 3.0)
    np.testing.assert_array_equal(from_map.data, in_memory.data)
    np.testing.assert_allclose(from_map.attribution.weights,
                               in_memory.attribution.weights, atol=1e-6)


def test_rank_assignment_needs_a_nearest_slot_model(tiny_model_path):
    from astropais.model import load_model
    network = load_model(tiny_model_path)
    assert network.slots == 'nearest'    # the tiny model's dataset
    PAISDeblender(n_pixels=5, model=network, assignment='rank')
    manifest = dict(network.metadata['dataset_manifest'], slots='brightest')
    network.metadata['dataset_manifest'] = manifest
    assert network.slots == 'brightest'
    with pytest.raises(ValueError, match="slots='brightest'"):
        PAISDeblender(n_pixels=5, model=network, assignment='rank')
    assert PAISDeblender(n_pixels=5, model=network).assignment == 'vote'


def test_large_images_detect_again_with_the_same_result(deblender, scene,
                                                       monkeypatch):
    # Above _DETECT_AGAIN_PIXELS the detection map is not held through
    # the network pass and decoding but made again where it is read: the
    # same segmentation, deblending record included.
    from astropais.segmentation import deblender as module
    want = deblender(scene, threshold=3.0)
    calls = []
    detect = PAISDeblender._detect
    monkeypatch.setattr(module, '_DETECT_AGAIN_PIXELS', scene.size - 1)
    monkeypatch.setattr(PAISDeblender, '_detect', lambda self, *args: (
        calls.append(1), detect(self, *args))[1])
    got = deblender(scene, threshold=3.0)
    assert len(calls) >= 3
    np.testing.assert_array_equal(got.data, want.data)
    for name in ('pixels', 'labels', 'weights', 'centres'):
        np.testing.assert_array_equal(getattr(got.attribution, name),
                                      getattr(want.attribution, name))
    assert got.deblended_label_to_parent == want.deblended_label_to_parent
