"""Lossless FITS/ASDF round trips of per-band fractions."""

import numpy as np
import pytest
from astropy.io import fits

from astropais.io import read_weighted_segmentation, write_weighted_segmentation
from astropais.pcr.sparse import PixelAttribution
from astropais.segmentation import WeightedSegmentationImage
from astropais.segmentation.bands import MultiBandAttribution


def _multiband(seed=0, shape=(12, 15), n_slots=3, n_sources=5,
               bands=('g', 'r', 'i')):
    """Random aligned per-band fractions over a random footprint."""
    rng = np.random.default_rng(seed)
    pixels = np.flatnonzero(rng.random(shape) < 0.6)
    labels = np.stack([rng.permutation(n_sources)[:n_slots] + 1
                       for _ in pixels]) if pixels.size else \
        np.zeros((0, n_slots), int)
    weights = rng.random((len(bands), pixels.size, n_slots))
    weights /= weights.sum(axis=2, keepdims=True)
    centres = rng.uniform(0, min(shape), (n_sources, 2))
    return MultiBandAttribution.from_weights(shape, pixels, labels, weights,
                                             centres, bands=bands)


def assert_same_bands(a, b):
    np.testing.assert_array_equal(a.data, b.data)
    assert a.data.dtype == b.data.dtype
    assert a.n_bands == b.n_bands and a.bands == b.bands
    pairs = [(a.attribution, b.attribution)] + [
        (a.band(k).attribution, b.band(k).attribution)
        for k in range(a.n_bands)]
    for x, y in pairs:
        assert x.shape == y.shape
        for name in ('pixels', 'labels', 'weights', 'centres'):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name))


@pytest.mark.parametrize('suffix', ['fits', 'asdf'])
def test_multiband_round_trip_is_lossless(tmp_path, suffix):
    segm = WeightedSegmentationImage(_multiband())
    segm.remove_labels(2)       # an edit applied to every band
    path = tmp_path / f'segm.{suffix}'
    write_weighted_segmentation(segm, path)
    back, _ = read_weighted_segmentation(path)
    assert back.n_bands == 3 and back.bands == ('g', 'r', 'i')
    assert_same_bands(segm, back)


@pytest.mark.parametrize('suffix', ['fits', 'asdf'])
def test_unnamed_unaligned_bands_round_trip(tmp_path, suffix):
    centres = [[0.0, 0.0], [1.0, 2.0]]
    one = PixelAttribution.from_label_map(np.array([[1, 0, 2], [1, 1, 2]]),
                                          centres)
    other = PixelAttribution((2, 3), [0, 2, 5], [[1, 2], [2, 1], [2, 0]],
                             [[0.5, 0.5], [0.9, 0.1], [1.0, 0.0]], centres)
    segm = WeightedSegmentationImage(MultiBandAttribution(
        [one, other], detection=one))
    path = tmp_path / f'segm.{suffix}'
    write_weighted_segmentation(segm, path)
    back, _ = read_weighted_segmentation(path)
    assert back.bands is None
    assert_same_bands(segm, back)


def test_layout_versions_and_missing_band(tmp_path):
    single = WeightedSegmentationImage(np.array([[1, 0, 2]]))
    write_weighted_segmentation(single, tmp_path / 'one.fits')
    with fits.open(tmp_path / 'one.fits') as hdul:
        assert hdul[0].header['FORMATV'] == 1
        assert 'NBANDS' not in hdul[0].header
    back, _ = read_weighted_segmentation(tmp_path / 'one.fits')
    assert back.n_bands == 1 and back.band_attributions is None
    multi = WeightedSegmentationImage(_multiband(seed=3))
    write_weighted_segmentation(multi, tmp_path / 'multi.fits')
    with fits.open(tmp_path / 'multi.fits') as hdul:
        assert hdul[0].header['FORMATV'] == 2
        assert hdul[0].header['NBANDS'] == 3
        assert hdul['BANDATTR', 2].header['BANDNAME'] == 'r'
        del hdul['BANDATTR', 3]
        hdul.writeto(tmp_path / 'damaged.fits')
    with pytest.raises(ValueError, match='band 3 of 3'):
        read_weighted_segmentation(tmp_path / 'damaged.fits')
