"""WeightedSourceCatalog: weighted photometry on top of photutils."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from hypothesis import given, settings, strategies as st
from photutils.segmentation import (SegmentationImage, SourceCatalog,
                                    SourceFinder)

from astropais.segmentation import (WeightedSegmentationImage,
                                    WeightedSourceCatalog,
                                    check_photutils_compatibility)
from astropais.segmentation.tests.helpers import (gaussian_scene,
                                                  truth_attribution)

SOURCES = [(18, 20, 2.5, 1000.0), (22, 27, 2.0, 500.0), (8, 42, 1.5, 300.0)]

# Columns computed over the segment (not through apertures).
SEGMENT_COLUMNS = ('x_centroid', 'y_centroid', 'bbox_xmin', 'bbox_xmax',
                   'bbox_ymin', 'bbox_ymax', 'area', 'semimajor_axis',
                   'semiminor_axis', 'orientation', 'eccentricity',
                   'min_value', 'max_value', 'segment_flux',
                   'segment_flux_err')


@pytest.fixture
def scene():
    image, truth = gaussian_scene((40, 50), SOURCES, noise=0.5)
    footprint = np.sum(truth, axis=0) > 1.0
    segm = WeightedSegmentationImage(truth_attribution(truth, footprint))
    return image, footprint, segm, truth


def values(column):
    return np.asarray(getattr(column, 'value', column), dtype=float)


def test_photutils_private_api_present():
    check_photutils_compatibility()


def test_flux_is_conserved(scene):
    image, footprint, segm, _ = scene
    cat = WeightedSourceCatalog(image, segm)
    np.testing.assert_allclose(cat.segment_flux.sum(), image[footprint].sum(),
                               rtol=1e-12)
    np.testing.assert_allclose(cat.segment_flux,
                               segm.attribution.fluxes(image), rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), n_slots=st.integers(1, 3))
def test_flux_is_conserved_random_weights(seed, n_slots):
    rng = np.random.default_rng(seed)
    image, truth = gaussian_scene((30, 30), SOURCES[:2], noise=1.0, seed=seed)
    footprint = np.sum(truth, axis=0) > 0.5
    attr = truth_attribution(truth * rng.random((2, 30, 30)), footprint,
                             n=n_slots)
    cat = WeightedSourceCatalog(image, WeightedSegmentationImage(attr))
    np.testing.assert_allclose(cat.segment_flux.sum(), image[footprint].sum(),
                               rtol=1e-10, atol=1e-9)


def test_disjoint_attribution_matches_photutils(scene):
    image, _, segm, _ = scene
    disjoint = WeightedSegmentationImage.from_segmentation(segm.data)
    error = np.full(image.shape, 0.5)
    ours = WeightedSourceCatalog(image, disjoint, error=error).to_table(
        columns=SEGMENT_COLUMNS)
    theirs = SourceCatalog(image, SegmentationImage(segm.data.copy()),
                           error=error).to_table(columns=SEGMENT_COLUMNS)
    for name in SEGMENT_COLUMNS:
        np.testing.assert_allclose(values(ours[name]), values(theirs[name]),
                                   rtol=1e-10, err_msg=name)


def test_isolated_source_aperture_quantities_match_photutils():
    image, truth = gaussian_scene((41, 41), [(20, 20, 2.0, 800.0)],
                                  noise=0.3, seed=3)
    footprint = truth[0] > 0.5
    segm = WeightedSegmentationImage(truth_attribution(truth, footprint))
    ours = WeightedSourceCatalog(image, segm)
    theirs = SourceCatalog(image, SegmentationImage(segm.data.copy()))
    for name in ('kron_radius', 'kron_flux', 'x_centroid_win',
                 'y_centroid_win'):
        np.testing.assert_allclose(values(getattr(ours, name)),
                                   values(getattr(theirs, name)),
                                   rtol=1e-9, err_msg=name)
    np.testing.assert_allclose(ours.flux_radius(0.5).value,
                               theirs.flux_radius(0.5).value, rtol=1e-9)
    np.testing.assert_allclose(ours.circular_photometry(4.0)[0],
                               theirs.circular_photometry(4.0)[0], rtol=1e-9)


def test_overlapping_pair_weighted_flux_beats_disjoint():
    # A faint source 5 px from a bright one: the oracle fractions recover
    # its flux, photutils' disjoint segmentation of the same image does not.
    sources = [(30, 28, 3.0, 8000.0), (30, 35, 2.0, 1000.0)]
    image, truth = gaussian_scene((60, 64), sources, noise=1.0, seed=1)
    true_flux = np.array([t.sum() for t in truth])
    footprint = np.sum(truth, axis=0) > 2.0
    segm = WeightedSegmentationImage(truth_attribution(truth, footprint))
    weighted = WeightedSourceCatalog(image, segm).segment_flux
    weighted_err = np.abs(weighted / true_flux - 1)

    # photutils on the same footprint, split disjointly at the best
    # possible boundary (each pixel to its largest true contributor).
    disjoint = SourceCatalog(image, SegmentationImage(segm.data.copy()))
    disjoint_err = np.abs(disjoint.segment_flux / true_flux - 1)
    assert np.all(weighted_err < 0.05), weighted_err
    assert disjoint_err.max() > 0.05, disjoint_err
    assert disjoint_err[1] > weighted_err[1]

    # photutils' own detection + deblending of the image.
    finder = SourceFinder(n_pixels=5, contrast=1e-4, progress_bar=False)
    found = finder(image, threshold=5.0)
    pcat = SourceCatalog(image, found)
    if found.n_labels == 2:
        order = [np.argmin(np.hypot(pcat.x_centroid - x, pcat.y_centroid - y))
                 for y, x, _, _ in sources]
        found_err = np.abs(pcat.segment_flux[order] / true_flux - 1)
    else:   # not deblended: the faint source is lost in the bright one
        found_err = np.array([np.abs(pcat.segment_flux.sum() / true_flux[0]
                                     - 1), 1.0])
    assert found_err.max() > 0.05, found_err


def test_error_is_weighted(scene):
    image, _, segm, _ = scene
    error = np.full(image.shape, 2.0)
    cat = WeightedSourceCatalog(image, segm, error=error)
    expected = [np.sqrt(np.sum((2.0 * f) ** 2)) for f in segm.fraction_cutouts]
    np.testing.assert_allclose(cat.segment_flux_err, expected)
    assert np.all(np.isfinite(cat.kron_flux_err))


def test_centroids_use_fractions(scene):
    image, _, segm, truth = scene
    cat = WeightedSourceCatalog(image, segm)
    xy = np.column_stack([cat.x_centroid, cat.y_centroid])
    true_xy = np.array([[x, y] for y, x, _, _ in SOURCES])
    assert np.max(np.hypot(*(xy - true_xy).T)) < 0.2
    assert np.max(np.hypot(*(cat.centroid_win - true_xy).T)) < 0.3


def test_units_and_wcs(scene):
    image, footprint, segm, _ = scene
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [25, 20]
    wcs.wcs.cdelt = [-1e-5, 1e-5]
    cat = WeightedSourceCatalog(image * u.Jy, segm, wcs=wcs)
    assert cat.segment_flux.unit == u.Jy
    assert cat.kron_flux.unit == u.Jy
    np.testing.assert_allclose(cat.segment_flux.sum().value,
                               image[footprint].sum())
    assert isinstance(cat.sky_centroid, SkyCoord)
    expected = wcs.pixel_to_world(cat.x_centroid, cat.y_centroid)
    assert np.all(cat.sky_centroid.separation(expected).arcsec < 1e-6)
    table = cat.to_table()
    assert 'sky_centroid' in table.colnames and len(table) == 3


def test_indexing_and_selection(scene):
    image, _, segm, _ = scene
    cat = WeightedSourceCatalog(image, segm)
    full_flux = cat.segment_flux
    full_kron = cat.kron_flux
    one = cat[1]
    assert one.isscalar
    np.testing.assert_allclose(one.segment_flux, full_flux[1])
    np.testing.assert_allclose(one.kron_flux, full_kron[1])
    sub = cat.select_labels([3, 1])
    np.testing.assert_allclose(sub.segment_flux, full_flux[[2, 0]])
    fresh = WeightedSourceCatalog(image, segm)[[0, 2]]
    np.testing.assert_allclose(fresh.kron_flux, full_kron[[0, 2]])
    assert len(fresh.to_table()) == 2


def test_masked_pixels_are_left_out(scene):
    image, footprint, segm, _ = scene
    mask = np.zeros(image.shape, dtype=bool)
    mask[18, 20] = True
    nan_image = image.copy()
    nan_image[18, 21] = np.nan
    cat = WeightedSourceCatalog(nan_image, segm, mask=mask)
    keep = footprint & ~mask & np.isfinite(nan_image)
    np.testing.assert_allclose(cat.segment_flux.sum(), image[keep].sum())


def test_disjoint_segmentation_matches_photutils(scene):
    # A plain photutils segmentation is taken as fractions of 1, so the
    # catalog equals photutils' own (a true drop-in for SourceCatalog).
    image, _, segm, _ = scene
    plain = SegmentationImage(segm.data.copy())
    ours = WeightedSourceCatalog(image, plain)
    theirs = SourceCatalog(image, plain)
    for name in ('segment_flux', 'area', 'x_centroid', 'y_centroid',
                 'semimajor_axis', 'kron_radius', 'kron_flux'):
        np.testing.assert_allclose(getattr(ours, name),
                                   getattr(theirs, name), rtol=1e-10,
                                   err_msg=name)
    with pytest.raises(TypeError, match='SegmentationImage'):
        WeightedSourceCatalog(image, segm.data)


@pytest.fixture
def disjoint(scene):
    """The scene's disjoint label map, as photutils makes it."""
    image, _, segm, _ = scene
    return image, SegmentationImage(segm.data.copy())


def test_kron_radius_uses_convolved_data(scene, disjoint):
    from astropy.convolution import convolve
    from photutils.segmentation import make_2dgaussian_kernel
    image, _, segm, _ = scene
    conv = convolve(image, make_2dgaussian_kernel(3.0, size=5))
    # Disjoint: exactly photutils' Kron radius from the convolved moments.
    plain = disjoint[1]
    ours = WeightedSourceCatalog(image, plain, convolved_data=conv)
    theirs = SourceCatalog(image, plain, convolved_data=conv)
    np.testing.assert_allclose(values(ours.kron_radius),
                               values(theirs.kron_radius), rtol=1e-12)
    # Partial fractions: the convolved moments change the Kron radius.
    with_conv = WeightedSourceCatalog(image, segm, convolved_data=conv)
    without = WeightedSourceCatalog(image, segm)
    np.testing.assert_allclose(values(with_conv.semimajor_axis),
                               values(WeightedSourceCatalog(
                                   conv, segm).semimajor_axis))
    assert not np.allclose(values(with_conv.kron_radius),
                           values(without.kron_radius))


@pytest.mark.parametrize('method', ['correct', 'mask', 'none'])
def test_aperture_mask_method_honoured_for_disjoint(disjoint, method):
    image, plain = disjoint
    ours = WeightedSourceCatalog(image, plain, aperture_mask_method=method)
    theirs = SourceCatalog(image, plain, aperture_mask_method=method)
    for name in ('kron_radius', 'kron_flux', 'centroid_win'):
        np.testing.assert_allclose(values(getattr(ours, name)),
                                   values(getattr(theirs, name)),
                                   rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(values(ours.flux_radius(0.5)),
                               values(theirs.flux_radius(0.5)), rtol=1e-10)


def test_aperture_mask_method_partial(scene):
    image, _, segm, _ = scene
    with pytest.raises(ValueError, match="aperture_mask_method='none'"):
        WeightedSourceCatalog(image, segm, aperture_mask_method='none')
    # A mask of wholly-neighbour pixels inside source 1's Kron aperture:
    # 'mask' leaves them out, 'correct' mirrors them; they differ.
    edited = segm.copy()
    edited.data[17:20, 23:25] = 2
    masked = WeightedSourceCatalog(image, edited, aperture_mask_method='mask')
    correct = WeightedSourceCatalog(image, edited)
    assert correct.aperture_mask_method == 'correct'
    assert not np.isclose(values(masked.kron_flux)[0],
                          values(correct.kron_flux)[0])


def _undefined_kron_scene():
    """
    A blended pair and an isolated source whose convolved data are zero
    over its whole fraction support: its convolved moments vanish, so its
    centroid, shape and Kron aperture are undefined (photutils: NaN Kron
    flux), while the raw data under it are an ordinary source.
    """
    from astropy.convolution import convolve
    from photutils.segmentation import make_2dgaussian_kernel
    sources = [(18, 20, 2.5, 1000.0), (22, 27, 2.0, 500.0),
               (20, 60, 1.5, 300.0)]
    image, truth = gaussian_scene((40, 75), sources, noise=0.5)
    footprint = np.sum(truth, axis=0) > 1.0
    # Fractions with compact support: the isolated source shares no pixel.
    compact = [np.where(t > 1e-3, t, 0.0) for t in truth]
    segm = WeightedSegmentationImage(truth_attribution(compact, footprint))
    index = list(segm.labels).index(3)
    support = np.zeros(image.shape, dtype=bool)
    support[segm.fraction_slices[index]] = segm.fraction_cutouts[index] > 0
    conv = convolve(image, make_2dgaussian_kernel(3.0, size=5))
    return image, segm, np.where(support, 0.0, conv)


def test_flux_radius_nan_where_kron_flux_not_finite():
    image, segm, conv = _undefined_kron_scene()
    # Disjoint map: photutils' own catalog gives NaN Kron flux and NaN
    # flux_radius for source 3; ours gives the same (finite elsewhere).
    plain = SegmentationImage(segm.data.copy())
    theirs = SourceCatalog(image, plain, convolved_data=conv)
    for segmentation in (plain, WeightedSegmentationImage.from_segmentation(
            plain.data)):
        ours = WeightedSourceCatalog(image, segmentation,
                                     convolved_data=conv)
        np.testing.assert_allclose(values(ours.kron_flux),
                                   values(theirs.kron_flux), rtol=1e-10)
        np.testing.assert_allclose(values(ours.flux_radius(0.5)),
                                   values(theirs.flux_radius(0.5)),
                                   rtol=1e-10)
    assert np.isnan(values(theirs.kron_flux)[2])
    # Partial fractions: the same rule, NaN where the Kron flux is NaN
    # (not the lower end of the radius search, 0.1 pix), finite elsewhere.
    weighted = WeightedSourceCatalog(image, segm, convolved_data=conv)
    kron_flux = values(weighted.kron_flux)
    radius = values(weighted.flux_radius(0.5))
    np.testing.assert_array_equal(np.isfinite(kron_flux), [True, True, False])
    np.testing.assert_array_equal(np.isfinite(radius), np.isfinite(kron_flux))
    assert np.all(radius[:2] > 1.0)


def test_nddata_and_ccddata_inputs(scene):
    from astropy.nddata import CCDData, NDData, StdDevUncertainty
    image, _, segm, _ = scene
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.cdelt = [-1e-5, 1e-5]
    mask = np.zeros(image.shape, dtype=bool)
    mask[18, 20] = True
    error = np.full(image.shape, 0.5)
    reference = WeightedSourceCatalog(image * u.adu, segm, mask=mask,
                                      error=error * u.adu, wcs=wcs)
    for cls in (NDData, CCDData):
        nd = cls(image, unit='adu', mask=mask, wcs=wcs,
                 uncertainty=StdDevUncertainty(error))
        cat = WeightedSourceCatalog(nd, segm)
        assert cat.segment_flux.unit == u.adu
        np.testing.assert_allclose(cat.segment_flux, reference.segment_flux)
        np.testing.assert_allclose(cat.segment_flux_err,
                                   reference.segment_flux_err)
        assert all(isinstance(c, SkyCoord) for c in [cat.sky_centroid])
        np.testing.assert_allclose(cat.sky_centroid.ra.deg,
                                   reference.sky_centroid.ra.deg)


def test_complex_and_boolean_data_refused(scene):
    image, _, segm, _ = scene
    with pytest.raises(TypeError, match='real numeric'):
        WeightedSourceCatalog(image.astype(complex), segm)
    with pytest.raises(TypeError, match='real numeric'):
        WeightedSourceCatalog(image > 0, segm)


def test_every_private_photutils_name_is_guarded():
    # Each SourceCatalog member the module reads through self./cat./super()
    # that is private must be in the guarded lists.
    import re
    from astropais.segmentation import catalog
    source = open(catalog.__file__).read()
    used = set(re.findall(r'(?:self|cat|super\(\))\.(_[a-z][a-z_]*)', source))
    used |= set(re.findall(r"_photutils\('(_[a-z_]+)'\)", source))
    photutils_names = {name for name in used
                       if hasattr(SourceCatalog, name)
                       or name in catalog._REQUIRED_INSTANCE}
    probe = SourceCatalog(np.ones((3, 3)),
                          SegmentationImage(np.ones((3, 3), dtype=int)))
    photutils_names |= {name for name in used if name in vars(probe)}
    guarded = set(catalog._REQUIRED_PRIVATE) | set(catalog._REQUIRED_INSTANCE)
    assert photutils_names - guarded == set()
    assert len(guarded) >= 20


def _window_catalog_reference(image, segm, cat, index, mask=None):
    """
    The former definition of the aperture quantities: one photutils
    catalog per source on a window of the neighbour-subtracted data
    ``image * (1 - sum_{j != i} M_j)`` (clipped to the image), its
    fraction support label 1 and the pixels wholly attributed to
    neighbours label 2.
    """
    label = int(cat.labels[index])
    slc = segm.fraction_slices[index]
    fractions = segm.fraction_cutouts[index]
    a = float(np.atleast_1d(cat.semimajor_axis.value)[index])
    xc = float(np.atleast_1d(cat.x_centroid)[index])
    yc = float(np.atleast_1d(cat.y_centroid)[index])
    ny, nx = image.shape
    reach = 6.0 * max(cat.kron_params[0], 1.0) * a + 3.0
    y0 = max(0, min(slc[0].start, int(np.floor(yc - reach))))
    y1 = min(ny, max(slc[0].stop, int(np.ceil(yc + reach)) + 1))
    x0 = max(0, min(slc[1].start, int(np.floor(xc - reach))))
    x1 = min(nx, max(slc[1].stop, int(np.ceil(xc + reach)) + 1))
    window = (slice(y0, y1), slice(x0, x1))
    own = np.zeros((y1 - y0, x1 - x0))
    own[slc[0].start - y0:slc[0].stop - y0,
        slc[1].start - x0:slc[1].stop - x0] = fractions
    total = segm.total_fraction[window]
    share = 1.0 - total + own
    local = np.where((total > 0) & (own <= 0), 2, 0)
    local[own > 0] = 1
    kwargs = {} if mask is None else {'mask': mask[window]}
    ref = SourceCatalog(image[window] * share, SegmentationImage(local),
                        **kwargs)[0]
    return ref, (x0, y0), label


@pytest.mark.parametrize('masked', [False, True])
def test_aperture_quantities_equal_one_catalog_per_source(masked):
    # Sources near the edges (windows past the image), a blended pair and
    # an isolated one: the canvas measurement equals photutils' own
    # catalog of each neighbour-subtracted window (summation order only).
    sources = [(18, 20, 2.5, 1000.0), (22, 27, 2.0, 500.0),
               (8, 42, 1.5, 300.0), (2, 3, 1.5, 200.0),
               (37, 47, 2.0, 400.0)]
    image, truth = gaussian_scene((40, 50), sources, noise=0.5, seed=4)
    footprint = np.sum(truth, axis=0) > 1.0
    segm = WeightedSegmentationImage(truth_attribution(truth, footprint))
    assert not segm.attribution.is_disjoint
    mask = None
    if masked:
        mask = np.zeros(image.shape, dtype=bool)
        mask[20:23, 22:24] = True
    cat = WeightedSourceCatalog(image, segm, mask=mask)
    for index in range(cat.n_labels):
        ref, (x0, y0), label = _window_catalog_reference(image, segm, cat,
                                                         index, mask)
        assert label == cat.labels[index]
        np.testing.assert_allclose(cat._measured_kron_radius[index],
                                   ref._measured_kron_radius[0],
                                   rtol=1e-9)
        np.testing.assert_allclose(cat.kron_radius[index].value,
                                   ref.kron_radius.value, rtol=1e-9)
    np.testing.assert_allclose(
        cat.flux_radius(0.5).value,
        [_window_catalog_reference(image, segm, cat, i, mask)[0]
         .flux_radius(0.5).value for i in range(cat.n_labels)], rtol=1e-9)
    centroid = []
    for index in range(cat.n_labels):
        ref, (x0, y0), _ = _window_catalog_reference(image, segm, cat,
                                                     index, mask)
        centroid.append(np.ravel(ref.centroid_win) + (x0, y0))
    np.testing.assert_allclose(cat.centroid_win, centroid, rtol=1e-9)


def test_aperture_quantities_do_not_depend_on_batches(scene, monkeypatch):
    # Several canvases (one source each) give the same numbers as one
    # (to rounding: the windows sit at other canvas positions).
    from astropais.segmentation import catalog
    image, _, segm, _ = scene
    one = WeightedSourceCatalog(image, segm)
    expected = (values(one.kron_radius), values(one.flux_radius(0.5)),
                np.asarray(one.centroid_win))
    monkeypatch.setattr(catalog, '_CANVAS_PIXELS', 1)
    many = WeightedSourceCatalog(image, segm)
    for got, want in zip((values(many.kron_radius),
                          values(many.flux_radius(0.5)),
                          np.asarray(many.centroid_win)), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_footprint_totals_read_as_windows_equal_total_fraction():
    # The catalog reads the summed fractions window by window from the
    # footprint pixels (no whole-image map): the same values.
    from astropais.pcr.sparse import PixelAttribution
    from astropais.segmentation.catalog import _FootprintValues

    rng = np.random.default_rng(0)
    shape = (50, 70)
    pixels = np.sort(rng.choice(shape[0] * shape[1], 900, replace=False))
    attribution = PixelAttribution(shape, pixels,
                                   rng.integers(0, 6, (900, 3)),
                                   rng.random((900, 3)),
                                   rng.random((5, 2)) * 40)
    segm = WeightedSegmentationImage(attribution)
    totals = _FootprintValues(segm.attribution)
    assert totals.pixels.size == 900
    # A loop over random windows, empty and whole ones included.
    for y0, y1, x0, x1 in [(0, 50, 0, 70), (3, 3, 0, 70), (49, 50, 69, 70)] \
            + [tuple(np.sort(rng.integers(0, 51, 2)).tolist()
                     + np.sort(rng.integers(0, 71, 2)).tolist())
               for _ in range(100)]:
        window = (slice(y0, y1), slice(x0, x1))
        np.testing.assert_array_equal(totals[window],
                                      segm.total_fraction[window])
