"""PAISDeblender on several bands, with a small real 5-band network."""

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import NDData, StdDevUncertainty
from photutils.segmentation import detect_sources

from astropais.segmentation import (PAISDeblender, WeightedSegmentationImage,
                                    WeightedSourceCatalog, multiband_catalog)
from astropais.segmentation.inputs import prepare_bands, snr_image

pytest.importorskip('galsim')
model = pytest.importorskip('astropais.model')

BANDS = ('g', 'r', 'i', 'z', 'y')


@pytest.fixture(scope='module')
def deblender(tmp_path_factory):
    """An untrained depth-2 grizy network (plumbing only), tiled."""
    path = tmp_path_factory.mktemp('grizy') / 'grizy.keras'
    model.save_model(model.build_network(n_bands=5, n=3, depth=2,
                                         base_filters=4),
                     path, n=3, sigma=2.0, vector_scale=16.0, tile_size=32,
                     bands=list(BANDS))
    return PAISDeblender(n_pixels=5, model=path, tile_size=32, overlap=8,
                         progress_bar=False)


@pytest.fixture(scope='module')
def scene():
    from astropais.simulation import make_scene

    return make_scene('grizy', shape=(64, 80), seed=4, density=900,
                      pair_fraction=0.6)


def nddata(scene):
    """The bands as NDData with their known noise."""
    return [NDData(image, uncertainty=StdDevUncertainty(
        np.full(image.shape, sigma)))
        for image, sigma in zip(scene.image, scene.noise_sigma)]


def test_detection_on_the_snr_sum_and_flux_per_band(deblender, scene):
    segm = deblender(nddata(scene), threshold=3.0)
    assert isinstance(segm, WeightedSegmentationImage)
    assert segm.n_bands == 5 and segm.bands == BANDS
    # The footprint: photutils on the S/N-weighted sum, in sigmas.
    weight = 1 / np.asarray(scene.noise_sigma) ** 2
    snr = (np.tensordot(weight, scene.image, axes=1)
           / np.sqrt(weight.sum()))
    detection = detect_sources(snr, 3.0, n_pixels=5, connectivity=8)
    np.testing.assert_array_equal(segm.footprint, detection.data > 0)
    assert segm.n_labels >= 5
    for k, name in enumerate(BANDS):
        band = segm.band(name)
        np.testing.assert_array_equal(band.data, segm.data)
        np.testing.assert_allclose(band.attribution.weights.sum(axis=1), 1)
        # Per band, the catalog's fluxes add up to the band's image over
        # the footprint (no flux lost or counted twice).
        cat = WeightedSourceCatalog(scene.image[k], band)
        np.testing.assert_allclose(np.sum(cat.segment_flux),
                                   scene.image[k][segm.footprint].sum(),
                                   rtol=1e-10)
    # Each band has its own fractions (the network's per-band outputs).
    assert not np.allclose(segm.band('g').attribution.weights,
                           segm.band('y').attribution.weights)
    table = multiband_catalog(scene.image, segm)
    assert len(table) == segm.n_labels


def test_input_forms_and_band_order(deblender, scene):
    reference = deblender(nddata(scene), threshold=3.0)
    sigma = np.asarray(scene.noise_sigma)
    cube = scene.image
    errors = np.broadcast_to(sigma[:, None, None], cube.shape)
    for data, kwargs in (
            (list(nddata(scene))[::-1], {'bands': BANDS[::-1]}),
            ([NDData(c * u.nJy, uncertainty=StdDevUncertainty(e * u.nJy))
              for c, e in zip(cube, errors)], {})):
        segm = deblender(data, threshold=3.0, **kwargs)
        np.testing.assert_array_equal(segm.data, reference.data)
        for k in range(5):
            np.testing.assert_allclose(segm.band(k).attribution.weights,
                                       reference.band(k).attribution.weights,
                                       rtol=1e-6)
    # A given detection image equal to the default S/N sum: the same.
    images, _ = prepare_bands(nddata(scene))
    given = deblender(nddata(scene), threshold=3.0,
                      detection_image=snr_image(images, sigma).data)
    np.testing.assert_array_equal(given.data, reference.data)
    # A plain cube: the noise is estimated per band, away from the
    # sources of a first S/N sum, so that in this crowded field the
    # footprint stays close to the known-noise one (0.81 of the pixels
    # agreed with the noise of all pixels, 0.98 now).
    plain = deblender(cube, threshold=3.0)
    assert plain.n_bands == 5
    agree = np.mean(plain.footprint == reference.footprint)
    assert agree > 0.97


def test_masks_are_or_ed_for_detection(deblender, scene):
    mask = np.zeros((5,) + scene.shape, dtype=bool)
    bright = np.unravel_index(np.argmax(scene.image[2]), scene.shape)
    region = tuple(slice(c - 3, c + 4) for c in bright)
    mask[2][region] = True              # masked in band i only
    segm = deblender(nddata(scene), threshold=3.0, mask=mask)
    assert not np.any(segm.footprint[region])
    for k in range(5):
        band = segm.band(k)
        cat = WeightedSourceCatalog(scene.image[k], band)
        np.testing.assert_allclose(np.sum(cat.segment_flux),
                                   scene.image[k][segm.footprint].sum(),
                                   rtol=1e-10)


def test_given_centres_share_a_blend_in_every_band(deblender, scene):
    segm0 = deblender(nddata(scene), threshold=3.0)
    # Two centres 4 pixels apart on the brightest source's segment.
    y, x = np.unravel_index(np.argmax(scene.image.sum(axis=0)), scene.shape)
    segm = deblender(nddata(scene), threshold=3.0,
                     centres=[(y, x - 2), (y, x + 2)])
    assert segm.n_bands == 5
    assert set(segm.data[y, x - 3:x + 4].tolist()) <= {1, 2}
    np.testing.assert_array_equal(segm.footprint, segm0.footprint)


def test_bad_multiband_calls(deblender, scene, tiny_model):
    data = nddata(scene)
    with pytest.raises(ValueError, match='takes 5 bands'):
        deblender(scene.image[0], threshold=3.0)
    with pytest.raises(ValueError, match='4 band'):
        deblender(data[:4], threshold=3.0)
    with pytest.raises(ValueError, match='not the model bands'):
        deblender(data, threshold=3.0, bands=['u', 'g', 'r', 'i', 'z'])
    with pytest.raises(ValueError, match='unique band names'):
        deblender(data, threshold=3.0, bands=['g'] * 5)
    with pytest.raises(ValueError, match='detection_image'):
        deblender(data, threshold=3.0, convolved_data=scene.image[0])
    with pytest.raises(ValueError, match='differ in shape'):
        deblender([*scene.image[:4], scene.image[4][:10]], threshold=3.0)
    with pytest.raises(ValueError, match='detection_image has shape'):
        deblender(data, threshold=3.0, detection_image=np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"band\(s\) \['z'\]"):
        deblender([*scene.image[:3], np.zeros(scene.shape), scene.image[4]],
                  threshold=3.0)
    with pytest.raises(TypeError, match='list of one 2-D NDData'):
        deblender(NDData(scene.image), threshold=3.0)
    single = PAISDeblender(n_pixels=5, model=tiny_model, progress_bar=False)
    with pytest.raises(ValueError, match='several bands'):
        single(scene.image[0], threshold=3.0, bands=['g'])


def test_band_tiles_sparse_equals_dense(deblender, scene):
    cube = np.moveaxis(scene.image, 0, -1).astype(np.float32)
    sigma = np.asarray(scene.noise_sigma)
    footprint = np.zeros(scene.shape, dtype=bool)
    footprint[10:50, 5:70] = True
    dense = deblender.predict_pcr(cube, sigma)
    assert dense['fractions'].shape == scene.shape + (5, 3)
    sparse = deblender.predict_sparse_pcr(cube, sigma, footprint)
    assert sparse.n_bands == 5
    flat = np.flatnonzero(footprint)
    np.testing.assert_array_equal(sparse.pixels, flat)
    np.testing.assert_array_equal(
        sparse.fractions, dense['fractions'].reshape(-1, 5, 3)[flat])
    np.testing.assert_array_equal(
        sparse.vectors, dense['vectors'].reshape(-1, 3, 2)[flat])
    # The bands are not interchangeable: the network sees each one.
    swapped = deblender.predict_pcr(cube[..., ::-1], sigma[::-1])
    assert not np.array_equal(swapped['fractions'], dense['fractions'])
