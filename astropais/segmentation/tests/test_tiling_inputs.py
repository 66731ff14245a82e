"""Tiling and input handling (no network needed)."""

import os
import sys

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData, NDData, StdDevUncertainty, \
    VarianceUncertainty
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS
from hypothesis import given, settings, strategies as st
from scipy import ndimage

from astropais.segmentation.inputs import (estimate_noise, prepare_image,
                                           threshold_value)
from astropais.segmentation.tiling import (predict_tiled, receptive_radius,
                                           tile_layout, tile_starts)


@settings(max_examples=60, deadline=None)
@given(ny=st.integers(1, 150), nx=st.integers(1, 150),
       tile=st.sampled_from([8, 16, 32]), margin_frac=st.floats(0, 0.45),
       multiple=st.sampled_from([1, 2, 4]))
def test_kept_parts_partition_the_image(ny, nx, tile, margin_frac, multiple):
    margin = int(margin_frac * tile)
    if (tile - 2 * margin) // multiple * multiple < 1:
        return
    starts = [tile_starts(n, tile, margin, multiple) for n in (ny, nx)]
    padded = tuple(int(s[-1]) + tile for s in starts)
    assert padded[0] >= ny and padded[1] >= nx
    assert all(np.all(s % multiple == 0) for s in starts)
    count = np.zeros(padded, dtype=int)
    for tile_slc, keep_img, keep_tile in tile_layout(padded, tile, margin,
                                                     multiple):
        count[keep_img] += 1
        for axis in range(2):
            t, k = tile_slc[axis], keep_img[axis]
            assert t.start <= k.start and k.stop <= t.stop
            # Context of at least `margin` wherever the side is not an edge.
            if k.start > 0:
                assert k.start - t.start >= margin
            if k.stop < padded[axis]:
                assert t.stop - k.stop >= margin
            assert keep_tile[axis].start == k.start - t.start
    assert np.all(count == 1)


def test_tile_parameters_are_checked():
    with pytest.raises(ValueError, match='stride'):
        tile_starts(100, 16, 8)
    with pytest.raises(ValueError, match='stride'):
        tile_starts(100, 16, 7, multiple=4)


def local_filter(batch):
    """A translation-equivariant operator of radius 3 (like a CNN)."""
    out = ndimage.uniform_filter(batch[..., 0], size=(1, 7, 7),
                                 mode='constant')
    return {'smooth': out, 'pair': np.stack([out, -out], axis=-1)}


@settings(max_examples=25, deadline=None)
@given(ny=st.integers(5, 90), nx=st.integers(5, 90),
       seed=st.integers(0, 2**31), batch_size=st.integers(1, 5))
def test_stitched_output_equals_whole_image_output(ny, nx, seed, batch_size):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(ny, nx, 1))
    whole = local_filter(image[None])
    tiled = predict_tiled(local_filter, image, 16, 4, batch_size=batch_size)
    for key in whole:
        assert tiled[key].shape == whole[key][0].shape
        np.testing.assert_allclose(tiled[key], whole[key][0], atol=1e-12)


def biased_filter(batch):
    """
    A local operator whose response to zero input is not zero (a
    convolution with a bias), while outside the array it pads with zeros
    (as a network's layers pad): a tile padded with extra zero rows sees
    something a single pass does not.
    """
    out = ndimage.uniform_filter(batch[..., 0] + 1.0, size=(1, 7, 7),
                                 mode='constant')
    return {'smooth': out}


@settings(max_examples=25, deadline=None)
@given(ny=st.integers(5, 90), nx=st.integers(5, 90),
       multiple=st.sampled_from([1, 2, 4]), seed=st.integers(0, 2**31))
def test_tiles_agree_with_one_pass_at_the_bottom_and_right_edges(
        ny, nx, multiple, seed):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(ny, nx, 1))
    pad = [(0, -(-n // multiple) * multiple - n) for n in (ny, nx)]
    whole = biased_filter(np.pad(image, pad + [(0, 0)])[None])['smooth'][0]
    tiled = predict_tiled(biased_filter, image, 16, 4, multiple=multiple)
    np.testing.assert_allclose(tiled['smooth'], whole[:ny, :nx], atol=1e-12)


def test_receptive_radius_of_a_local_operator():
    assert receptive_radius(local_filter, 32) == 3
    assert receptive_radius(local_filter, 6) is None      # reaches the edge


def test_source_on_a_seam_is_stitched_whole():
    # Tiles of 16 with margin 4 hand over at x = 12 (then 20, 28, ...):
    # a source centred on the seam keeps one symmetric, single peak.
    yy, xx = np.mgrid[:24, :40]
    image = np.exp(-((yy - 10) ** 2 + (xx - 12) ** 2) / 8.0)[..., None]
    out = predict_tiled(local_filter, image, 16, 4)['smooth']
    peaks = (out == ndimage.maximum_filter(out, size=3)) & (out > 0.1)
    assert np.count_nonzero(peaks) == 1
    assert np.argwhere(peaks).tolist() == [[10, 12]]
    np.testing.assert_allclose(out[:, 12 - 5:12], out[:, 13:12 + 6][:, ::-1])


def test_prepare_plain_array_and_nan_masking():
    data = np.arange(12.0).reshape(3, 4)
    data[1, 1] = np.nan
    data[2, 3] = np.inf
    with pytest.warns(AstropyUserWarning, match='2 NaN or inf'):
        image = prepare_image(data)
    assert image.mask.sum() == 2 and image.mask[1, 1] and image.mask[2, 3]
    assert np.all(np.isfinite(image.data)) and image.data[1, 1] == 0
    assert image.unit is None and image.error is None


def test_prepare_nddata_and_ccddata():
    data = np.ones((4, 5))
    mask = np.zeros((4, 5), bool)
    mask[0, 0] = True
    wcs = WCS(naxis=2)
    nd = NDData(data, mask=mask, unit='electron/s', wcs=wcs,
                uncertainty=VarianceUncertainty(np.full((4, 5), 4.0)))
    image = prepare_image(nd, mask=np.eye(4, 5, dtype=bool))
    assert image.unit == u.electron / u.s and image.wcs is wcs
    np.testing.assert_allclose(image.error, 2.0)
    assert image.mask[0, 0] and image.mask[1, 1] and image.mask.sum() == 4
    ccd = CCDData(data, unit='adu',
                  uncertainty=StdDevUncertainty(np.full((4, 5), 3.0)))
    image = prepare_image(ccd)
    assert image.unit == u.adu
    assert estimate_noise(image) == pytest.approx(3.0)
    image = prepare_image(data * u.Jy)
    assert image.unit == u.Jy


def test_prepare_rejects_bad_input():
    with pytest.raises(ValueError, match='2-D'):
        prepare_image(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match='2-D'):
        prepare_image(np.zeros(5))
    with pytest.raises(TypeError, match='numeric'):
        prepare_image(np.array([['a', 'b'], ['c', 'd']]))
    with pytest.raises(TypeError, match='numeric'):
        prepare_image(np.zeros((3, 3), dtype=bool))
    with pytest.raises(TypeError, match='real'):
        prepare_image(np.zeros((3, 3), dtype=complex))
    with pytest.raises(ValueError, match='shape'):
        prepare_image(np.zeros((3, 3)), mask=np.zeros((3, 4), bool))


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4))
def test_only_2d_images_are_accepted(shape):
    data = np.zeros(shape)
    if len(shape) == 2:
        assert prepare_image(data).data.shape == tuple(shape)
    else:
        with pytest.raises(ValueError, match='2-D'):
            prepare_image(data)


def test_noise_estimate_is_robust():
    rng = np.random.default_rng(1)
    data = rng.normal(0, 2.5, (200, 200))
    data[90:110, 90:110] += 500.0          # a bright source
    image = prepare_image(data)
    assert estimate_noise(image) == pytest.approx(2.5, rel=0.05)
    footprint = np.zeros(data.shape, bool)
    footprint[90:110, 90:110] = True
    assert estimate_noise(image, footprint) == pytest.approx(2.5, rel=0.05)
    # A subsample of the background: every 3rd of the 39 600 usable
    # pixels for max_samples=2**14, within the stated ~1 % of the full
    # estimate; a larger max_samples uses them all.
    from astropy.stats import mad_std
    sampled = estimate_noise(image, footprint, max_samples=2**14)
    assert sampled == pytest.approx(mad_std(data[~footprint][::3]))
    assert sampled == pytest.approx(estimate_noise(image, footprint),
                                    rel=0.03)
    assert estimate_noise(image, footprint, max_samples=10**6) == \
        estimate_noise(image, footprint)
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match='max_samples'):
            estimate_noise(image, max_samples=bad)
    image.mask[:] = True
    assert np.isnan(estimate_noise(image))
    assert np.isnan(estimate_noise(image, max_samples=10))


def test_threshold_units_and_shape():
    assert threshold_value(2, None, (3, 3)) == 2.0
    assert threshold_value(2 * u.mJy, u.Jy, (3, 3)) == pytest.approx(0.002)
    with pytest.raises(ValueError, match='does not match'):
        threshold_value(2 * u.m, u.Jy, (3, 3))
    with pytest.raises(ValueError, match='Quantity'):
        threshold_value(2.0, u.Jy, (3, 3))
    with pytest.raises(ValueError, match='unit but the data'):
        threshold_value(2.0 * u.Jy, None, (3, 3))
    with pytest.raises(ValueError, match='shape'):
        threshold_value(np.ones((2, 2)), None, (3, 3))
    with pytest.raises(ValueError, match='finite'):
        threshold_value(np.nan, None, (3, 3))


def test_tiles_without_needed_pixels_are_not_run():
    # Two needed pixels in a 90 x 90 image of 16 px tiles: only the tiles
    # whose kept part (grown by the margin) holds one run; their outputs
    # equal the full run's, the others stay 0.
    rng = np.random.default_rng(3)
    image = rng.normal(size=(90, 90, 1))
    needed = np.zeros((90, 90), dtype=bool)
    needed[10, 12] = needed[70, 75] = True
    runs = []

    def counting(batch):
        runs.append(len(batch))
        return local_filter(batch)

    full = predict_tiled(local_filter, image, 16, 4)
    sparse = predict_tiled(counting, image, 16, 4, needed=needed,
                           needed_margin=2)
    n_tiles = len(tile_layout((90, 90), 16, 4))
    assert 2 <= sum(runs) < n_tiles // 4
    for key in full:
        near = np.zeros((90, 90), dtype=bool)
        near[8:13, 10:15] = near[68:73, 73:78] = True
        np.testing.assert_allclose(sparse[key][near], full[key][near],
                                   atol=1e-12)
        assert np.all(sparse[key][40:50, 40:50] == 0)
    with pytest.raises(ValueError, match='needed has shape'):
        predict_tiled(local_filter, image, 16, 4, needed=needed[1:])


def test_lazy_zeros_is_a_writable_zero_array():
    from astropais.segmentation.tiling import lazy_zeros
    for shape, dtype in (((3, 4), np.float64), ((1024, 1024, 3), np.float32)):
        a = lazy_zeros(shape, dtype)
        assert a.shape == shape and a.dtype == dtype
        assert a.flags['C_CONTIGUOUS'] and a.flags['WRITEABLE']
        assert not a.any()
        a.flat[-1] = 2.0
        assert a.sum() == 2.0


@pytest.mark.parametrize('chunk', [7, 64, 2 ** 20])
def test_noise_samples_are_every_nth_usable_pixel(chunk, monkeypatch):
    # The chunked scan keeps exactly data[usable][::step], the rule the
    # estimate is defined by, whatever the chunk boundaries.
    from astropy.stats import mad_std

    from astropais.segmentation import inputs
    monkeypatch.setattr(inputs, '_SCAN_CHUNK', chunk)
    rng = np.random.default_rng(5)
    data = rng.normal(0.0, 2.0, (60, 70))
    mask = rng.random((60, 70)) < 0.2
    footprint = np.zeros((60, 70), dtype=bool)
    footprint[10:20, 10:30] = True
    image = prepare_image(data, mask)
    usable = ~image.mask & ~footprint
    for max_samples in (None, 100, 999):
        values = image.data[usable]
        if max_samples is not None and values.size > max_samples:
            values = values[::-(-values.size // max_samples)]
        assert estimate_noise(image, footprint,
                              max_samples=max_samples) == mad_std(values)


@pytest.mark.parametrize('chunk', [5, 2 ** 20])
def test_big_endian_images_are_read_not_converted(chunk, monkeypatch):
    # A big-endian image (FITS) is kept as it is, not copied to native
    # order; tiles are native; masking is scanned a block of rows at a
    # time with the same result for any block size.
    from astropais.segmentation import inputs
    from astropais.segmentation.tiling import read_tile

    monkeypatch.setattr(inputs, '_SCAN_CHUNK', chunk)
    rng = np.random.default_rng(2)
    native = rng.normal(size=(9, 11)).astype(np.float32)
    big = native.astype('>f4')
    image = prepare_image(big)
    assert image.data is big and not image.mask.any()
    tile = read_tile(image.data, (slice(5, 13), slice(0, 8)))
    assert tile.dtype == np.dtype('=f4')
    np.testing.assert_array_equal(tile[:4], native[5:9, :8])
    big[2, 3] = np.nan
    big[8, 10] = -np.inf
    mask = np.zeros(big.shape, bool)
    mask[2, 3] = True
    with pytest.warns(AstropyUserWarning, match='^1 NaN or inf'):
        image = prepare_image(big, mask)
    assert image.data.dtype == np.dtype('=f4')
    assert np.flatnonzero(image.mask).tolist() == [2 * 11 + 3, 8 * 11 + 10]
    expected = native.copy()
    expected[2, 3] = expected[8, 10] = 0.0
    np.testing.assert_array_equal(image.data, expected)


def test_a_constant_error_is_checked_and_used_without_a_map():
    data = np.random.default_rng(4).normal(size=(6, 7))
    error = np.broadcast_to(2.5, data.shape)
    image = prepare_image(NDData(data, uncertainty=StdDevUncertainty(
        error, copy=False)))
    # the broadcast value itself, not a whole-image map
    assert image.error.strides == (0, 0)
    assert estimate_noise(image) == 2.5 and not image.mask.any()
    mask = np.zeros(data.shape, bool)
    mask[0] = True
    with pytest.warns(AstropyUserWarning, match='^35 pixel.*uncertainty'):
        image = prepare_image(NDData(data, uncertainty=StdDevUncertainty(
            np.broadcast_to(np.nan, data.shape), copy=False)), mask)
    assert image.mask.all() and np.isnan(estimate_noise(image))


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='madvise(MADV_PAGEOUT) is Linux only')
def test_pages_of_a_memory_mapped_fits_image_are_let_go(tmp_path):
    from astropy.io import fits

    from astropais.segmentation.inputs import release_pages, scan_rows

    def resident_mib():
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') \
                / 2 ** 20

    values = np.random.default_rng(0).normal(size=(2048, 2048)).astype(
        np.float32)
    fits.PrimaryHDU(values).writeto(tmp_path / 'image.fits')
    with fits.open(tmp_path / 'image.fits', memmap=True) as hdul:
        data = hdul[0].data
    assert not release_pages(values)
    total = float(np.sum(data, dtype=np.float64))    # 16 MiB read
    before = resident_mib()
    if not release_pages(data):
        pytest.skip('this kernel does not offer MADV_PAGEOUT')
    assert resident_mib() < before - 12
    # read again, block by block: the content is unchanged
    sums = [float(np.sum(data[rows], dtype=np.float64))
            for rows in scan_rows(data)]
    assert sum(sums) == pytest.approx(total, rel=1e-12)
    assert resident_mib() < before - 8
