"""Scores on hand-built fields whose answers are known exactly."""

import numpy as np
import pytest

from astropais.pcr import PixelAttribution, SourceImages
from astropais.metrics import (
    attribution_from_label_map, attribution_from_source_images, bin_index, binned_detection_scores,
    binned_median, blendedness, colour_errors, detection_scores, flux_errors,
    fraction_errors, match_sources, nearest_neighbour_separation,
    reconstruction_errors, score_field, signal_to_noise, summarise_scores,
    values_at_detections)

SHAPE = (20, 30)


def boxes():
    """Three disjoint flat boxes: fluxes 4*10, 9*20, 4*5."""
    cutouts = [np.full((2, 2), 10.0), np.full((3, 3), 20.0),
               np.full((2, 2), 5.0)]
    origins = [(2, 2), (10, 10), (5, 25)]
    centres = np.array([[2.5, 2.5], [11.0, 11.0], [5.5, 25.5]])
    return SourceImages(SHAPE, cutouts, origins), centres


def perfect_label_map(sources):
    segm = np.zeros(SHAPE, dtype=int)
    for i in range(len(sources)):
        sl, _ = sources.slices(i)
        segm[sl] = i + 1
    return segm


def test_detection_scores_perfect():
    _, centres = boxes()
    s = detection_scores(match_sources(centres, centres, 1.0))
    assert s['precision'] == s['recall'] == s['f1'] == 1.0


def test_detection_scores_one_missed():
    _, centres = boxes()
    s = detection_scores(match_sources(centres, centres[:2], 1.0))
    assert s['precision'] == 1.0
    assert s['recall'] == pytest.approx(2 / 3)
    assert s['f1'] == pytest.approx(2 * 2 / (3 + 2))


def test_detection_scores_one_spurious():
    _, centres = boxes()
    det = np.vstack([centres, [[18.0, 2.0]]])
    s = detection_scores(match_sources(centres, det, 1.0))
    assert s['recall'] == 1.0
    assert s['precision'] == pytest.approx(3 / 4)
    assert s['f1'] == pytest.approx(6 / 7)


def test_detection_scores_empty_is_nan():
    s = detection_scores(match_sources(np.zeros((0, 2)), np.zeros((0, 2)), 1))
    assert np.isnan(s['precision']) and np.isnan(s['recall'])


def test_binned_detection_scores():
    true = np.array([[0.0, 0.0], [0.0, 3.0], [20.0, 20.0], [40.0, 40.0]])
    det = np.array([[0.0, 0.0], [20.0, 20.0], [40.0, 45.0]])
    m = match_sources(true, det, 1.0)
    sep = nearest_neighbour_separation(true)
    np.testing.assert_allclose(sep[:2], 3.0)
    bins = [0, 5, np.inf]
    dv = values_at_detections(m, true, det, sep)
    # The spurious detection at (40, 45) takes the value of the nearest true
    # source, (40, 40).
    assert dv[2] == sep[3]
    out = binned_detection_scores(m, sep, bins, dv)
    np.testing.assert_array_equal(out['n_true'], [2, 2])
    np.testing.assert_allclose(out['recall'], [0.5, 0.5])
    np.testing.assert_allclose(out['precision'], [1.0, 0.5])
    np.testing.assert_allclose(out['f1'], [2 / 3, 0.5])


def test_bins():
    np.testing.assert_array_equal(bin_index([0, 1, 2.5, 3, np.nan, -1],
                                            [0, 1, 3]), [0, 1, 1, -1, -1, -1])
    np.testing.assert_array_equal(bin_index([np.inf, 5, -np.inf],
                                            [0, 1, np.inf]), [1, 1, -1])
    with pytest.raises(ValueError, match='increasing'):
        bin_index([1], [1, 1])
    med, n = binned_median([1, 2, 3, 10, np.nan], [0, 0, 0, 1, 1], [0, 1, 2])
    np.testing.assert_allclose(med, [2, 10])
    np.testing.assert_array_equal(n, [3, 1])
    med, n = binned_median([1, 4], [0, 0], [0, 1, 2])
    assert med[0] == 2.5 and np.isnan(med[1]) and n[1] == 0


def test_flux_errors_swapped():
    # Two detections at the right places whose fluxes are swapped.
    true_flux = np.array([100.0, 50.0])
    pos = np.array([[0.0, 0.0], [10.0, 0.0]])
    m = match_sources(pos, pos, 1.0)
    np.testing.assert_allclose(flux_errors(true_flux, true_flux, m), [0, 0])
    np.testing.assert_allclose(flux_errors(true_flux, true_flux[::-1], m),
                               [0.5, 1.0])
    m = match_sources(pos, pos[:1], 1.0)
    err = flux_errors(true_flux, [110.0], m)
    assert err[0] == pytest.approx(0.1) and np.isnan(err[1])
    with pytest.raises(ValueError, match='measured_fluxes'):
        flux_errors(true_flux, [1.0, 2.0, 3.0], match_sources(pos, pos, 1))


def test_colour_errors():
    # Source 1 measured with the right colour at twice the flux; source 2
    # with g 10 % high and i right; source 3 missed.
    true = np.array([[100.0, 50.0], [40.0, 80.0], [10.0, 10.0]])
    pos = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    m = match_sources(pos, pos[:2], 1.0)
    err = colour_errors(true, [[200.0, 100.0], [44.0, 80.0]], m)
    assert err[0] == pytest.approx(0, abs=1e-12)
    assert err[1] == pytest.approx(2.5 * np.log10(1.1))
    assert np.isnan(err[2])
    # No colour where a flux is not positive.
    assert np.isnan(colour_errors(true, [[-1.0, 100.0], [44.0, 80.0]],
                                  m)[0])
    with pytest.raises(ValueError, match=r'measured_fluxes must have shape '
                                         r'\(2, 2\)'):
        colour_errors(true, [[1.0, 2.0]], m)


def test_truth_properties():
    sources, centres = boxes()
    np.testing.assert_allclose(signal_to_noise(sources, 2.0),
                               [np.sqrt(4 * 100) / 2, np.sqrt(9 * 400) / 2,
                                np.sqrt(4 * 25) / 2])
    # Disjoint sources are not blended at all.
    np.testing.assert_allclose(blendedness(sources), 0.0)
    # Overlap: a faint box inside a bright one.
    blended = SourceImages((10, 10), [np.full((4, 4), 3.0),
                                      np.full((2, 2), 1.0)],
                           [(0, 0), (1, 1)])
    b = blendedness(blended)
    assert b[0] == pytest.approx(1 - 48 / 52)
    assert b[1] == pytest.approx(1 - 4 / 16)
    # The footprint threshold drops the faint source's own footprint.
    assert np.isnan(blendedness(blended, footprint_threshold=2)[1])
    with pytest.raises(TypeError):
        blendedness(np.zeros((3, 3)))
    with pytest.raises(ValueError, match='noise_sigma'):
        signal_to_noise(sources, 0)


def test_attribution_from_label_map():
    segm = np.zeros((4, 5), dtype=int)
    segm[0, :2] = 1
    segm[3, 4] = 2
    att = attribution_from_label_map(segm)
    np.testing.assert_array_equal(att.label_map(), segm)
    np.testing.assert_allclose(att.centres, [[0, 0.5], [3, 4]])
    image = np.arange(20.0).reshape(4, 5)
    np.testing.assert_allclose(att.fluxes(image), [1.0, 19.0])
    with pytest.raises(TypeError, match='integers'):
        attribution_from_label_map(segm.astype(float))
    with pytest.raises(ValueError, match='centres'):
        attribution_from_label_map(segm, centres=[[0, 0]])


def test_reconstruction_perfect_and_swapped():
    sources, centres = boxes()
    image = sources.total()
    segm = perfect_label_map(sources)
    att = attribution_from_label_map(segm, centres)
    m = match_sources(centres, att.centres, 1.0)
    np.testing.assert_allclose(reconstruction_errors(sources, att, image, m),
                               0.0, atol=1e-12)
    _, err = fraction_errors(sources, att, m)
    np.testing.assert_allclose(err, 0.0)
    # Swap the labels of sources 1 and 2 (centres stay): the reconstruction
    # of each is entirely wrong: sum|0 - S| + sum|S_other| over sum S.
    swapped = segm.copy()
    swapped[segm == 1], swapped[segm == 2] = 2, 1
    att = attribution_from_label_map(swapped, centres)
    m = match_sources(centres, att.centres, 1.0)
    err = reconstruction_errors(sources, att, image, m)
    np.testing.assert_allclose(err, [1 + 180 / 40, 1 + 40 / 180, 0.0])
    _, ferr = fraction_errors(sources, att, m)
    assert ferr.size == 17 and np.sum(ferr == 1.0) == 13


def test_reconstruction_missed_and_spurious():
    sources, centres = boxes()
    image = sources.total()
    segm = perfect_label_map(sources)
    segm[segm == 3] = 0                      # source 3 missed
    segm[18:20, 0:2] = 3                     # a spurious label
    cen = np.vstack([centres[:2], [[18.5, 0.5]]])
    att = attribution_from_label_map(segm, cen)
    m = match_sources(centres, cen, 1.0)
    err = reconstruction_errors(sources, att, image, m)
    np.testing.assert_allclose(err[:2], 0.0, atol=1e-12)
    assert np.isnan(err[2])


def test_fraction_error_partial():
    # Two sources share one pixel 3:1; prediction says 1:1 there.
    sources = SourceImages((1, 3), [np.array([[1.0, 3.0]]),
                                    np.array([[1.0, 1.0]])], [(0, 0), (0, 1)])
    centres = np.array([[0.0, 0.0], [0.0, 2.0]])
    att = PixelAttribution((1, 3), [0, 1, 2], [[1, 0], [1, 2], [2, 0]],
                           [[1, 0], [0.5, 0.5], [1, 0]], centres)
    m = match_sources(centres, centres, 0.5)
    pix, err = fraction_errors(sources, att, m)
    np.testing.assert_array_equal(pix, [0, 1, 2])
    np.testing.assert_allclose(err, [0, 0.25, 0])
    # Reconstruction on the noise-free image: source 0 gets 2 of its 3 in
    # the shared pixel (error 1 of 4), source 1 gets 2 of its 1 (error 1/2).
    rec = reconstruction_errors(sources, att, sources.total(), m)
    np.testing.assert_allclose(rec, [1 / 4, 1 / 2])


def test_score_field_and_summary():
    sources, centres = boxes()
    image = sources.total()
    segm = perfect_label_map(sources)
    att = attribution_from_label_map(segm, centres)
    fluxes = att.fluxes(image)
    perfect = score_field(sources, centres, centres, noise_sigma=1.0,
                          max_separation=1.0, image=image, fluxes=fluxes,
                          attribution=att)
    np.testing.assert_allclose(perfect.true['flux_error'], 0, atol=1e-12)
    missed = score_field(sources, centres, centres[:2], noise_sigma=1.0,
                         max_separation=1.0, fluxes=fluxes[:2])
    bins = dict(separation_bins=[0, 10, np.inf], snr_bins=[0, 30, np.inf],
                blendedness_bins=[0, 0.5, 1])
    summary = summarise_scores([perfect, missed], **bins)
    assert summary['n_true'] == 6 and summary['n_detected'] == 5
    assert summary['recall'] == pytest.approx(5 / 6)
    assert summary['precision'] == 1.0
    assert summary['flux_error_median'] == pytest.approx(0, abs=1e-12)
    assert summary['fraction_error_mean'] == pytest.approx(0)
    assert summary['recall_by_separation'].shape == (2,)
    assert summary['n_by_blendedness'].sum() == 5
    with pytest.raises(TypeError):
        summarise_scores([object()], **bins)
    with pytest.raises(ValueError, match='true positions'):
        score_field(sources, centres[:1], centres, noise_sigma=1,
                    max_separation=1)


def test_attribution_from_source_images():
    models = SourceImages((1, 4), [np.array([[3.0, 1.0, 0.0]]),
                                   np.array([[1.0, 1.0]])], [(0, 0), (0, 1)])
    footprint = np.array([[True, True, True, True]])
    att = attribution_from_source_images(models, footprint,
                                         centres=[[0, 0], [0, 2]])
    np.testing.assert_array_equal(att.pixels, [0, 1, 2, 3])
    # Pixel 3 is reached by no model: it goes to the nearest centre.
    np.testing.assert_allclose(att.fraction_image(1)[0], [[1, 0.5]])
    np.testing.assert_allclose(att.fraction_image(2)[0], [[0.5, 1, 1]])
    np.testing.assert_allclose(att.weights.sum(axis=1), 1)
    one = attribution_from_source_images(models, footprint, max_slots=1)
    assert one.n_slots == 1
    np.testing.assert_allclose(one.centres[0], [0, 0.25])
    with pytest.raises(ValueError, match='footprint'):
        attribution_from_source_images(models, np.ones((2, 2), bool))


def test_footprint_fluxes_count_only_footprint_light():
    from astropais.metrics import footprint_fluxes
    sources = SourceImages((4, 6), [np.array([[1.0, 2.0], [3.0, 4.0]]),
                                    np.full((3, 3), 1.0)],
                           [(0, 0), (2, 4)])  # second cut-out clipped
    footprint = np.zeros((4, 6), bool)
    footprint[0, :] = True    # top row: 1 + 2 of the first source
    footprint[3, 5] = True    # one pixel of the second source
    np.testing.assert_array_equal(footprint_fluxes(sources, footprint),
                                  [3.0, 1.0])
    full = footprint_fluxes(sources, np.ones((4, 6), bool))
    np.testing.assert_array_equal(full, sources.fluxes())
    with pytest.raises(ValueError, match='footprint has shape'):
        footprint_fluxes(sources, np.ones((3, 3), bool))


def test_binned_median_interval_covers_the_true_median():
    # The order-statistic interval holds the population median in about
    # 68 % of samples (binomial: 2000 samples give +-2 % at 1 sigma).
    rng = np.random.default_rng(11)
    hits = []
    for n in (9, 40, 200):
        samples = rng.exponential(1.0, (2000, n))   # median ln 2
        by = np.zeros(n)
        for values in samples:
            _, count, low, high = binned_median(values, by, [0, 1],
                                                interval=True)
            assert count[0] == n and low[0] <= high[0]
            hits.append(low[0] <= np.log(2) <= high[0])
        coverage = np.mean(hits[-2000:])
        # At least nominal; conservative for small n (discrete ranks).
        assert 0.64 < coverage < 0.86, (n, coverage)
    med, n, low, high = binned_median([1.0, 2.0], [0, 5], [0, 1, 2, 6],
                                      interval=True)
    assert np.isnan(low[1]) and np.isnan(high[1]) and n.tolist() == [1, 0, 1]
