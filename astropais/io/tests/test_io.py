"""Lossless FITS/ASDF round trips and regions export."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from hypothesis import given, settings, strategies as st
from regions import PolygonPixelRegion, Regions

from astropais.io import (aperture_regions, fraction_regions,
                          read_weighted_segmentation,
                          write_weighted_segmentation)
from astropais.pcr.sparse import PixelAttribution
from astropais.segmentation import (WeightedSegmentationImage,
                                    WeightedSourceCatalog)
from astropais.segmentation.tests.helpers import (gaussian_scene,
                                                  truth_attribution)

SOURCES = [(18, 20, 2.5, 1000.0), (22, 27, 2.0, 500.0), (8, 42, 1.5, 300.0)]


@pytest.fixture
def scene():
    image, truth = gaussian_scene((40, 50), SOURCES, noise=0.5)
    footprint = np.sum(truth, axis=0) > 1.0
    return image, WeightedSegmentationImage(truth_attribution(truth,
                                                              footprint))


def assert_identical(a, b):
    np.testing.assert_array_equal(a.data, b.data)
    for name in ('pixels', 'labels', 'weights', 'centres'):
        np.testing.assert_array_equal(getattr(a.attribution, name),
                                      getattr(b.attribution, name))
    assert a.attribution.shape == b.attribution.shape


def make_wcs():
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    wcs.wcs.crval = [53.1, -27.8]
    wcs.wcs.crpix = [25.0, 20.0]
    wcs.wcs.cdelt = [-1.7e-5, 1.7e-5]
    return wcs


@pytest.mark.parametrize('suffix', ['fits', 'asdf'])
def test_round_trip_is_lossless(scene, tmp_path, suffix):
    _, segm = scene
    segm.remove_labels(2)           # non-consecutive labels, NaN centre
    path = tmp_path / f'segm.{suffix}'
    write_weighted_segmentation(segm, path, wcs=make_wcs())
    back, wcs = read_weighted_segmentation(path)
    assert_identical(segm, back)
    np.testing.assert_array_equal(back.labels, [1, 3])
    assert wcs is not None and wcs.wcs.ctype[0] == 'RA---TAN'
    np.testing.assert_allclose(wcs.wcs.crval, [53.1, -27.8])


@pytest.mark.parametrize('suffix', ['fits', 'asdf'])
def test_empty_segmentation_round_trip(tmp_path, suffix):
    attr = PixelAttribution((5, 6), np.zeros(0, int), np.zeros((0, 2), int),
                            np.zeros((0, 2)), np.zeros((0, 2)))
    segm = WeightedSegmentationImage(attr)
    path = tmp_path / f'empty.{suffix}'
    write_weighted_segmentation(segm, path)
    back, wcs = read_weighted_segmentation(path)
    assert_identical(segm, back)
    assert back.n_labels == 0 and wcs is None


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), n_slots=st.integers(1, 3),
       fmt=st.sampled_from(['fits', 'asdf']))
def test_round_trip_random_weights(tmp_path_factory, seed, n_slots, fmt):
    rng = np.random.default_rng(seed)
    _, truth = gaussian_scene((20, 24), SOURCES[:2], seed=seed)
    truth = np.asarray(truth) * rng.random((2, 20, 24))
    attr = truth_attribution(truth, truth.sum(0) > 0.3, n=n_slots)
    segm = WeightedSegmentationImage(attr)
    path = tmp_path_factory.mktemp('rt') / f'segm.{fmt}'
    write_weighted_segmentation(segm, path)
    assert_identical(segm, read_weighted_segmentation(path)[0])


def test_fits_layout_readable_by_plain_tools(scene, tmp_path):
    _, segm = scene
    path = tmp_path / 'segm.fits'
    write_weighted_segmentation(segm, path)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ['PRIMARY', 'LABELS', 'ATTRIB',
                                          'CENTRES', 'DEBLEND']
        np.testing.assert_array_equal(hdul['LABELS'].data, segm.data)


def test_corrupted_and_foreign_files(scene, tmp_path):
    _, segm = scene
    path = tmp_path / 'segm.fits'
    write_weighted_segmentation(segm, path)
    with fits.open(path, mode='update') as hdul:
        hdul['LABELS'].data[18, 20] = 3
    with pytest.raises(ValueError, match='does not match'):
        read_weighted_segmentation(path)
    other = tmp_path / 'other.fits'
    fits.PrimaryHDU(np.zeros((3, 3))).writeto(other)
    with pytest.raises(ValueError, match='not an astropais'):
        read_weighted_segmentation(other)


def test_bad_arguments(scene, tmp_path):
    _, segm = scene
    with pytest.raises(ValueError, match='suffix'):
        write_weighted_segmentation(segm, tmp_path / 'segm.txt')
    with pytest.raises(ValueError, match='format'):
        write_weighted_segmentation(segm, tmp_path / 'x', format='hdf5')
    with pytest.raises(TypeError, match='WeightedSegmentationImage'):
        write_weighted_segmentation(segm.data, tmp_path / 'x.fits')
    path = tmp_path / 'segm.asdf'
    write_weighted_segmentation(segm, path)
    with pytest.raises(OSError, match='exists'):
        write_weighted_segmentation(segm, path)
    write_weighted_segmentation(segm, path, overwrite=True)


def test_fraction_regions_overlap(scene):
    _, segm = scene
    regions = fraction_regions(segm, color='red')
    assert isinstance(regions, Regions)
    assert sorted({r.meta['label'] for r in regions}) == [1, 2, 3]
    assert all(isinstance(r, PolygonPixelRegion) for r in regions)
    # Each source's outline covers its whole fraction box.
    for label, slc in zip(segm.labels, segm.fraction_slices):
        verts = np.concatenate([r.vertices.xy for r in regions
                                if r.meta['label'] == label], axis=1)
        assert verts[0].min() <= slc[1].start
        assert verts[0].max() >= slc[1].stop - 1
    # Sources 1 and 2 share pixels, so their outlines overlap.
    box1, box2 = segm.fraction_slices[0], segm.fraction_slices[1]
    assert box1[1].stop > box2[1].start
    with pytest.raises(ValueError, match='min_fraction'):
        fraction_regions(segm, min_fraction=1.5)


def test_aperture_regions(scene, tmp_path):
    image, segm = scene
    cat = WeightedSourceCatalog(image, segm)
    kron = aperture_regions(cat)
    assert [r.meta['label'] for r in kron] == [1, 2, 3]
    circ = aperture_regions(cat, kind='circular', radius=3.0)
    np.testing.assert_allclose([r.radius for r in circ], 3.0)
    np.testing.assert_allclose([r.center.x for r in circ], cat.x_centroid)
    out = tmp_path / 'kron.reg'
    kron.write(out, format='ds9')
    assert len(Regions.read(out, format='ds9')) == 3
    with pytest.raises(ValueError, match='radius'):
        aperture_regions(cat, kind='circular')
    with pytest.raises(ValueError, match='kind'):
        aperture_regions(cat, kind='box')


@pytest.mark.parametrize('suffix', ['fits', 'asdf'])
def test_round_trip_keeps_dtype_and_deblended_labels(tmp_path, suffix):
    data = np.zeros((6, 8), dtype=np.int16)
    data[1:3, 1:4], data[1:3, 4:7], data[4:6, 0:3] = 1, 2, 3
    segm = WeightedSegmentationImage(data)
    segm._deblend_label_map = {5: np.array([1, 2], dtype=np.int16)}
    path = tmp_path / f'segm.{suffix}'
    write_weighted_segmentation(segm, path)
    back, _ = read_weighted_segmentation(path)
    assert back.data.dtype == np.int16
    np.testing.assert_array_equal(back.data, data)
    np.testing.assert_array_equal(back.deblended_labels, [1, 2])
    assert back.deblended_label_to_parent == {1: 5, 2: 5}


def test_overview_of_a_large_image_is_drawn_from_a_grid(monkeypatch):
    # Beyond OVERVIEW_SIDE the panels show every k-th pixel, in pixel
    # coordinates over the whole image; below it, the image itself.
    from astropais.io import products
    from astropais.segmentation import WeightedSegmentationImage

    labels = np.zeros((300, 200), dtype=np.int32)
    labels[10:40, 20:60] = 1
    labels[200:260, 150:190] = 2
    data = np.where(labels > 0, 5.0, 0.1).astype(np.float32)
    data[0, 0] = np.nan
    segm = WeightedSegmentationImage(labels)
    figure = products.plot_overview(data, segm)
    drawn = [ax.get_images()[0].get_array() for ax in figure.axes[:2]]
    np.testing.assert_array_equal(drawn[1], labels)
    assert drawn[0][0, 0] == 0 and drawn[0][20, 30] == 5.0
    monkeypatch.setattr(products, 'OVERVIEW_SIDE', 64)
    figure = products.plot_overview(data, segm)
    image_ax, segm_ax = figure.axes[:2]
    shown = segm_ax.get_images()[0].get_array()
    # step 5 (300 / 64 rounded up): 60 x 40 pixels
    np.testing.assert_array_equal(shown, labels[::5, ::5])
    assert image_ax.get_images()[0].get_array().shape == (60, 40)
    assert image_ax.get_xlim() == (-0.5, 199.5)
    assert image_ax.get_ylim() == (-0.5, 299.5)
    assert segm_ax.get_images()[0].get_extent() == [-0.5, 199.5, -0.5,
                                                    299.5]


def test_overview_draws_photutils_kron_apertures_as_one_collection(scene):
    from matplotlib.collections import EllipseCollection
    from matplotlib.figure import Figure

    from astropais.io.products import _kron_ellipses, plot_overview
    from astropais.segmentation import WeightedSourceCatalog

    image, segm = scene
    catalog = WeightedSourceCatalog(image, segm, progress_bar=False)
    patches = catalog.plot_kron_apertures(ax=Figure().subplots())
    ellipses = _kron_ellipses(catalog)
    assert len(patches) == len(ellipses) == segm.n_labels
    np.testing.assert_allclose(
        ellipses, [(*p.center, p.width / 2, p.height / 2, p.angle)
                   for p in patches], rtol=1e-12, atol=1e-12)
    figure = plot_overview(image, segm, catalog)
    drawn = [c for ax in figure.axes[:2] for c in ax.collections
             if isinstance(c, EllipseCollection)]
    assert len(drawn) == 2
    np.testing.assert_allclose(drawn[0].get_offsets(), ellipses[:, :2])
