"""Per-band fractions: MultiBandAttribution, segm.band(k), the catalog."""

import warnings

import numpy as np
import pytest
from astropy.nddata import NDData
from astropy.utils.exceptions import AstropyUserWarning
from photutils.segmentation import SegmentationImage

from astropais.metrics import attribution_from_source_images
from astropais.pcr import PixelAttribution, SourceImages
from astropais.segmentation import (WeightedSegmentationImage,
                                    WeightedSourceCatalog, multiband_catalog)
from astropais.segmentation.bands import MultiBandAttribution

pytest.importorskip('galsim')


@pytest.fixture(scope='module')
def truth():
    """A blended grizy field and its true per-band fractions."""
    from astropais.datasets import truth_source_mask
    from astropais.simulation import make_scene
    from astropais.simulation.multiband import band_sources

    scene = make_scene('grizy', shape=(64, 64), seed=4, density=1200,
                       pair_fraction=0.6)
    footprint = truth_source_mask(scene.sources.total(), scene.noise_sigma)
    centres = scene.centres
    bands = [attribution_from_source_images(
        band_sources(scene.sources, k), footprint, centres, max_slots=64)
        for k in range(scene.n_bands)]
    summed = SourceImages(scene.sources.shape,
                          [c.sum(axis=0) for c in scene.sources.cutouts],
                          scene.sources.origins)
    detection = attribution_from_source_images(summed, footprint, centres,
                                               max_slots=64)
    multi = MultiBandAttribution(bands, bands=scene.bands,
                                 detection=detection)
    return scene, multi


def test_band_segmentations_share_the_label_map(truth):
    scene, multi = truth
    segm = WeightedSegmentationImage(multi)
    assert segm.n_bands == 5 and segm.bands == scene.bands
    assert segm.n_labels >= 10
    assert np.array_equal(segm.data, multi.detection.label_map())
    for k, name in enumerate(scene.bands):
        band = segm.band(name)
        assert isinstance(band, WeightedSegmentationImage)
        assert band.n_bands == 1
        assert np.array_equal(band.data, segm.data)
        assert band.attribution is multi.band(k)
        assert np.array_equal(segm.band(k).data, band.data)
    # The fractions differ between bands (colours differ).
    g, y = segm.band('g').attribution, segm.band('y').attribution
    assert not np.allclose(g.fluxes(scene.image[0]),
                           y.fluxes(scene.image[0]))


def test_per_band_fluxes_sum_to_the_image_over_the_footprint(truth):
    scene, multi = truth
    segm = WeightedSegmentationImage(multi)
    for k in range(scene.n_bands):
        band = segm.band(k)
        catalog = WeightedSourceCatalog(scene.image[k], band)
        total = scene.image[k][band.footprint].sum()
        assert catalog.segment_flux.sum() == pytest.approx(total, rel=1e-10)
        np.testing.assert_allclose(
            catalog.segment_flux,
            multi.band(k).fluxes(scene.image[k])[catalog.labels - 1],
            rtol=1e-10, atol=1e-12)


def test_multiband_catalog_recovers_true_colours(truth):
    scene, multi = truth
    segm = WeightedSegmentationImage(multi)
    noise_free = scene.sources.total()
    table = multiband_catalog(noise_free, segm)
    assert table.colnames[:3] == ['label', 'x_centroid', 'y_centroid']
    labels = np.asarray(table['label'])
    # With the true fractions each source gets exactly its own light.
    footprint = multi.detection.footprint
    truth_flux = scene.sources
    masked = [np.where(footprint, noise_free[k], 0.0)
              for k in range(scene.n_bands)]
    for k, name in enumerate(scene.bands):
        expected = _own_flux_in(truth_flux, k, footprint)[labels - 1]
        np.testing.assert_allclose(table[f'segment_flux_{name}'], expected,
                                   rtol=1e-8)
        assert table[f'segment_flux_{name}'].sum() == pytest.approx(
            masked[k].sum(), rel=1e-10)
    true_gr = -2.5 * np.log10(_own_flux_in(truth_flux, 0, footprint)
                              / _own_flux_in(truth_flux, 1, footprint))
    np.testing.assert_allclose(table['g-r'], true_gr[labels - 1],
                               atol=1e-8)
    # One disjoint segmentation for all bands (photutils' way) gets the
    # colours of blended sources wrong.
    disjoint = SegmentationImage(segm.data.copy())
    plain = multiband_catalog(noise_free, disjoint, bands=scene.bands)
    error_multi = np.abs(table['g-r'] - true_gr[labels - 1])
    error_plain = np.abs(plain['g-r'] - true_gr[labels - 1])
    assert np.nanmedian(error_plain) > 10 * max(np.nanmedian(error_multi),
                                                1e-9)


def _own_flux_in(sources, band, footprint):
    """Each source's true flux in ``band`` over the footprint."""
    out = np.zeros(len(sources))
    # A loop over sources: each sums its own cut-out.
    for i, cutout in enumerate(sources.cutouts):
        image_sl, cutout_sl = sources.slices(i)
        out[i] = np.sum(cutout[band][cutout_sl] * footprint[image_sl])
    return out


def test_edits_apply_to_every_band(truth):
    scene, multi = truth
    segm = WeightedSegmentationImage(multi)
    drop = int(segm.labels[1])
    segm.remove_labels([drop])
    for k in range(scene.n_bands):
        band = segm.band(k)
        assert drop not in band.attribution.labels
        assert np.array_equal(band.labels, segm.labels)
    segm.relabel_consecutive()
    assert segm.labels.tolist() == list(range(1, segm.n_labels + 1))
    for k in range(scene.n_bands):
        assert np.array_equal(segm.band(k).labels, segm.labels)
        assert segm.band(k).attribution.n_sources == \
            segm.attribution.n_sources
    # An in-place edit of data: the fractions of every band follow.
    gone = int(segm.labels[0])
    segm.data[segm.data == gone] = 0
    for k in range(scene.n_bands):
        assert gone not in segm.band(k).attribution.labels
    # Slicing keeps the bands.
    part = segm[8:40, 4:50]
    assert part.n_bands == 5 and part.bands == scene.bands
    for k in range(scene.n_bands):
        assert np.array_equal(part.band(k).data, part.data)
        whole = segm.band(k).total_fraction[8:40, 4:50]
        assert np.all(part.band(k).total_fraction <= whole + 1e-12)


def test_new_shape_gives_disjoint_bands(truth):
    _, multi = truth
    segm = WeightedSegmentationImage(multi)
    with pytest.warns(AstropyUserWarning, match='disjoint'):
        segm.data = np.array([[1, 1, 0], [0, 2, 2]])
    assert segm.n_bands == 5
    for k in range(5):
        assert segm.band(k).attribution.is_disjoint
        assert np.array_equal(segm.band(k).data, segm.data)


def test_single_band_segmentation():
    segm = WeightedSegmentationImage(np.array([[1, 1, 0, 2]]))
    assert segm.n_bands == 1 and segm.bands is None
    assert segm.band_attributions is None
    assert segm.band(0) is segm
    with pytest.raises(ValueError, match='band 0 only'):
        segm.band(1)
    with pytest.raises(ValueError, match='band 0 only'):
        segm.band('g')


def test_multiband_catalog_inputs():
    data = np.zeros((2, 5, 6))
    data[0, 1:4, 1:3] = 2.0
    data[1, 1:4, 1:3] = 1.0
    data[:, 1:4, 4:6] = 3.0
    segm = SegmentationImage((data[0] > 0).astype(int)
                             + (data[0] > 2.5).astype(int))
    nd = [NDData(data[0]), NDData(data[1])]
    table = multiband_catalog(nd, segm, bands=['a', 'b'],
                              error=np.ones((2, 5, 6)),
                              zero_points=[30.0, 29.0])
    assert table['segment_flux_a'].tolist() == [12.0, 18.0]
    assert table['segment_flux_b'].tolist() == [6.0, 18.0]
    np.testing.assert_allclose(table['segment_flux_err_a'], np.sqrt([6, 6]))
    np.testing.assert_allclose(table['mag_a'],
                               30.0 - 2.5 * np.log10([12.0, 18.0]))
    np.testing.assert_allclose(table['a-b'],
                               table['mag_a'] - table['mag_b'])
    with pytest.raises(ValueError, match='2 unique names'):
        multiband_catalog(data, segm, bands=['a'])
    with pytest.raises(ValueError, match='zero_points'):
        multiband_catalog(data, segm, zero_points=[1.0])
    with pytest.raises(ValueError, match=r'\(bands, ny, nx\)'):
        multiband_catalog(data[0], segm)
    with pytest.raises(TypeError, match='list of one NDData'):
        multiband_catalog(NDData(data), segm)
    two = WeightedSegmentationImage(MultiBandAttribution.repeated(
        PixelAttribution.from_label_map(segm.data), 2, ['a', 'b']))
    with pytest.raises(ValueError, match='has 3 bands'):
        multiband_catalog(np.zeros((3, 5, 6)), two)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        zero = multiband_catalog(np.zeros((2, 5, 6)), two)
    assert np.all(np.isnan(zero['a-b']))


def test_bad_multiband_attributions():
    centres = [[0, 0], [0, 2]]
    one = PixelAttribution.from_label_map(np.array([[1, 0, 2]]), centres)
    other = PixelAttribution.from_label_map(np.array([[1, 2, 2]]), centres)
    with pytest.raises(ValueError, match='detection'):
        MultiBandAttribution([one, other])
    assert MultiBandAttribution([one, other], detection=one).n_bands == 2
    with pytest.raises(ValueError, match='shape'):
        MultiBandAttribution([one, PixelAttribution.from_label_map(
            np.array([[1, 0], [0, 2]]))])
    with pytest.raises(ValueError, match='other sources'):
        MultiBandAttribution([one, PixelAttribution.from_label_map(
            np.array([[1, 0, 0]]))], detection=one)
    with pytest.raises(ValueError, match='unique'):
        MultiBandAttribution([one, one], bands=['g', 'g'])
    with pytest.raises(TypeError, match='PixelAttribution'):
        MultiBandAttribution([one, np.zeros((1, 3))])
    with pytest.raises(ValueError, match='at least one'):
        MultiBandAttribution([])
    with pytest.raises(ValueError, match=r'\(b, P, n\)'):
        MultiBandAttribution.from_weights((1, 3), [0], [[1]], [[1.0]],
                                          [[0, 0]])
    multi = MultiBandAttribution([one, one], bands=['g', 'r'])
    with pytest.raises(ValueError, match="no band 'i'"):
        multi.band('i')
    with pytest.raises(ValueError, match='index'):
        multi.band(2)
    assert multi.band(-1) is one
    with pytest.raises(ValueError, match=r'\(2, ny, nx\)'):
        multi.fluxes(np.zeros((1, 3)))


def test_from_pcr_decodes_colours(truth):
    from astropais.datasets import truth_source_mask
    from astropais.pcr import encode

    scene, _ = truth
    total = scene.sources.total()
    mask = truth_source_mask(total, scene.noise_sigma)
    pcr = encode(scene.sources, scene.centres, n=3, source_mask=mask)
    multi = MultiBandAttribution.from_pcr(
        pcr.heatmap, pcr.vectors, pcr.fractions, pcr.source_mask,
        bands=scene.bands, centres=scene.centres)
    assert multi.bands == scene.bands
    np.testing.assert_array_equal(multi.centres, scene.centres)
    fluxes = multi.fluxes(total)
    for k in range(scene.n_bands):
        assert fluxes[:, k].sum() == pytest.approx(
            total[k][multi.band(k).footprint].sum(), rel=1e-10)
    own = np.column_stack([_own_flux_in(scene.sources, k, mask)
                           for k in range(scene.n_bands)])
    true_gi = -2.5 * np.log10(own[:, 0] / own[:, 2])
    error = np.median(np.abs(-2.5 * np.log10(fluxes[:, 0] / fluxes[:, 2])
                             - true_gi))
    # The detection fractions in every band (one segmentation for all
    # bands) miss the colour gradients between blended sources.
    det = np.column_stack([multi.detection.fluxes(total[k])
                           for k in range(scene.n_bands)])
    det_error = np.median(np.abs(-2.5 * np.log10(det[:, 0] / det[:, 2])
                                 - true_gi))
    assert error < 0.5 * det_error
    with pytest.raises(ValueError, match=r'\(H, W, b, n\)'):
        MultiBandAttribution.from_pcr(pcr.heatmap, pcr.vectors,
                                      pcr.fractions[:, :, 0], pcr.source_mask)


def test_band_whose_disjoint_fractions_differ_from_the_label_map():
    # Band 'b' gives every pixel wholly to label 1, while the shared
    # (detection) label map gives pixel 0 to label 2: band b's catalog
    # must follow its fractions, not the label map.
    multi = MultiBandAttribution.from_weights(
        (1, 3), [0, 1, 2], [[1, 2], [2, 1], [1, 2]],
        [[[0.4, 0.6], [0.5, 0.5], [0.5, 0.5]],
         [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]],
        [[0, 0], [0, 2]], bands=['a', 'b'])
    segm = WeightedSegmentationImage(multi)
    assert segm.data.tolist() == [[2, 1, 1]]
    table = multiband_catalog(np.ones((2, 1, 3)), segm)
    assert table['segment_flux_a'].tolist() == pytest.approx([1.4, 1.6])
    assert table['segment_flux_b'][0] == 3.0
    # No fraction in band b: not measured there (as photutils' sources
    # whose pixels are all masked).
    assert np.isnan(table['segment_flux_b'][1])
    assert np.isnan(table['a-b'][1])
