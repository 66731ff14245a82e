"""Star clusters: King positions, the luminosity function, per-member truth,
the 'crowded' distribution, and 'mixed' left as it was."""

import hashlib
import json

import numpy as np
import pytest

from astropais.simulation import (get_distribution, make_scene,
                                  simulate_crop, simulate_dataset)
from astropais.simulation.cluster import (PHASES, ClusterDistribution,
                                          ClusterParameters,
                                          draw_cluster_catalog,
                                          king_enclosed, sample_king_radii)
from astropais.simulation.dataset import resolve_parameters

from .test_single_band_unchanged import check_unchanged

#: The SHA-256 digest, recorded with the code of commit d591a16 (before
#: clusters), of the description of 'mixed' (the dataset manifest's
#: 'parameters'); the parameters 'mixed' draws and one 64x64 crop of it
#: with bright objects and saturation are fingerprinted in
#: test_single_band_unchanged (exact digests of them changed with the CPU).
MIXED_DESCRIPTION = ('ab1e2b972379ec9385e03c8d16d7bdbc'
                     'e049f44921cb2f4ebc22a8cd16387b39')


def _json_digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()) \
        .hexdigest()


def test_mixed_draws_are_unchanged():
    check_unchanged('mixed_parameters')
    params = [resolve_parameters('mixed', s).to_dict() for s in range(200)]
    assert all('cluster' not in p for p in params)
    assert _json_digest(get_distribution('mixed').to_dict()) \
        == MIXED_DESCRIPTION
    check_unchanged('mixed_crop_23')


def test_king_radii_follow_the_profile():
    rc, rt, n = 5.0, 200.0, 40000
    r = sample_king_radii(np.random.default_rng(1), n, rc, rt)
    # Fractions inside r_c, 4 r_c and 20 r_c against the analytic profile,
    # within 4 binomial sigmas.
    for radius in (rc, 4 * rc, 20 * rc):
        p = king_enclosed(radius, rc, rt) / king_enclosed(rt, rc, rt)
        assert abs(np.mean(r < radius) - p) < 4 * np.sqrt(p * (1 - p) / n)
    # A truncated draw follows the profile inside the truncation.
    cut = sample_king_radii(np.random.default_rng(2), n, rc, rt,
                            max_radius=3 * rc)
    assert cut.max() <= 3 * rc
    p = king_enclosed(rc, rc, rt) / king_enclosed(3 * rc, rc, rt)
    assert abs(np.mean(cut < rc) - p) < 4 * np.sqrt(p * (1 - p) / n)


def test_king_profile_is_the_surface_density():
    rc, rt = 3.0, 90.0
    r = np.linspace(0.5, 80, 400)
    # d N(<r) / (2 pi r dr) is King's Sigma(r), 1 at the centre (central
    # differences).
    h = 1e-4
    sigma = ((king_enclosed(r + h, rc, rt) - king_enclosed(r - h, rc, rt))
             / (2 * h) / (2 * np.pi * r))
    c = 1 / np.sqrt(1 + (rt / rc) ** 2)
    expected = ((1 / np.sqrt(1 + (r / rc) ** 2) - c) / (1 - c)) ** 2
    np.testing.assert_allclose(sigma, expected, rtol=0.02, atol=1e-5)


def test_cluster_catalog_density_and_luminosity_function():
    cluster = ClusterParameters((0.5, 0.5), 20.0, 2000.0, 0.2,
                                (17.0, 27.0), 0.35)
    cols = draw_cluster_catalog(cluster, (400, 400), 30.0,
                                np.random.default_rng(3))
    r = np.hypot(cols['x'] - 199.5, cols['y'] - 199.5)
    # Stars inside r_c: the central density times the King integral.
    expected = 0.2 * king_enclosed(20.0, 20.0, 2000.0)
    assert abs(np.sum(r < 20) - expected) < 4 * np.sqrt(expected)
    # Centres on the image, on the 1/PHASES grid.
    assert cols['x'].min() >= -0.5 and cols['x'].max() < 399.5
    np.testing.assert_array_equal(cols['x'] * PHASES,
                                  np.round(cols['x'] * PHASES))
    # A steep luminosity function, dN/dm ~ 10 ** (0.35 m): the fraction
    # of members brighter than m against the analytic one, within 4
    # binomial sigmas.
    n = len(cols['mag'])
    for m in (21.0, 24.0, 26.0):
        p = np.expm1(0.35 * np.log(10) * (m - 17)) / np.expm1(
            0.35 * np.log(10) * 10)
        assert abs(np.mean(cols['mag'] < m) - p) < 4 * np.sqrt(
            p * (1 - p) / n)
    np.testing.assert_allclose(cols['flux'],
                               10 ** (-0.4 * (cols['mag'] - 30.0)))
    # At most max_members on the image: a random subset, same profile.
    capped = draw_cluster_catalog(
        ClusterParameters((0.5, 0.5), 20.0, 2000.0, 0.2, (17.0, 27.0),
                          0.35, max_members=n // 4),
        (400, 400), 30.0, np.random.default_rng(3))
    assert len(capped['x']) == n // 4
    r_capped = np.hypot(capped['x'] - 199.5, capped['y'] - 199.5)
    p = np.mean(r < 20)
    assert abs(np.mean(r_capped < 20) - p) < 4 * np.sqrt(p * (1 - p)
                                                         / (n // 4))


def test_cluster_refuses_bad_parameters():
    with pytest.raises(ValueError, match='tidal_radius'):
        ClusterParameters((0.5, 0.5), 20.0, 10.0, 0.05, (17.0, 27.0))
    with pytest.raises(ValueError, match='central_density'):
        ClusterParameters((0.5, 0.5), 2.0, 10.0, 5.0, (17.0, 27.0))
    with pytest.raises(ValueError, match='probability'):
        ClusterDistribution(probability=1.5)
    with pytest.raises(ValueError, match='cluster must be None'):
        make_scene('hst', shape=(16, 16), cluster={'core_radius': 3})


@pytest.mark.parametrize('psf, wings', [('moffat', 0.02), ('optical', 0.08)])
def test_cluster_truth_one_source_per_star_flux_conserved(psf, wings):
    cluster = ClusterParameters((0.5, 0.5), 8.0, 200.0, 0.3, (16.0, 27.5),
                                0.3)
    scene = make_scene('hst', shape=(64, 64), seed=4, psf=psf,
                       psf_fwhm=0.15, density=0.0, cluster=cluster)
    members = draw_cluster_catalog(
        cluster, (64, 64), scene.parameters.zero_point,
        np.random.default_rng(np.random.SeedSequence(4).spawn(5)[4]))
    cat = scene.catalog
    # One truth source (and catalogue row) per member, at its centre.
    assert len(cat) == len(scene.sources) == len(members['x']) > 100
    assert set(cat['kind']) == {'star'}
    np.testing.assert_array_equal(cat['x'], members['x'])
    # The image is the sum of the members' truth (plus noise).
    np.testing.assert_allclose(scene.image, scene.sources.total()
                               + scene.noise)
    # Each member's whole stamp holds its flux, up to the PSF wings beyond
    # it (the optical PSF's r ** -3 wings and spikes lose a few per cent
    # beyond a bright member's stamp); bright members are clipped to the
    # image, so only members well inside it count.
    inside = ((cat['x'] > 20) & (cat['x'] < 43) & (cat['y'] > 20)
              & (cat['y'] < 43))
    stamp = np.array([c.sum() for c in scene.sources.cutouts])[inside]
    flux = np.asarray(cat['flux'])[inside]
    assert np.all(stamp <= flux * 1.002)
    assert np.all(stamp >= flux * (1 - wings))
    # Crowded: most members have a neighbour closer than 2 PSF FWHM.
    xy = np.column_stack([cat['x'], cat['y']])
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).T)
    np.fill_diagonal(d, np.inf)
    assert np.mean(d.min(axis=1) < 2 * scene.psf_fwhm_pixels) > 0.5


def test_crowded_distribution_draws_clusters():
    dist = get_distribution('crowded')
    params = [resolve_parameters('crowded', s) for s in range(100)]
    with_cluster = sum(p.cluster is not None for p in params)
    assert 45 <= with_cluster <= 75
    assert dist.to_dict()['clusters']['probability'] == 0.6
    # Apart from its name and cluster, a crowded crop draws what a mixed
    # crop of the same seed draws.
    for s in (0, 1, 2):
        crowded = resolve_parameters('crowded', s).to_dict()
        mixed = resolve_parameters('mixed', s).to_dict()
        crowded.pop('cluster', None)
        assert {**crowded, 'name': 'mixed'} == mixed


def test_crowded_dataset(tmp_path):
    # Seed 9's two crops both hold a cluster (the second only its
    # outskirts).
    ds = simulate_dataset(tmp_path / 'c', 2, preset='crowded', crop_size=64,
                          seed=9, slots='brightest')
    assert len(ds) == 2
    assert ds.manifest['slots'] == 'brightest'
    assert ds.manifest['preset'] == 'crowded'
    assert ds.manifest['parameters']['clusters']['probability'] == 0.6
    sample = ds[0]
    stars = np.asarray(sample.catalog['kind']) == 'star'
    labelled = np.asarray(sample.catalog['labelled'])
    assert stars.sum() > 300 and (stars & labelled).sum() > 50
    assert sample.heatmap.max() > 0.5


def test_crowded_crop_is_the_mixed_crop_plus_a_cluster():
    crowded, mixed = simulate_crop('crowded', 32, 1), simulate_crop(
        'mixed', 32, 1)
    n = len(mixed.catalog)
    assert len(crowded.catalog) > n + 100
    for name in ('x', 'y', 'flux', 'kind', 'snr'):
        np.testing.assert_array_equal(crowded.catalog[name][:n],
                                      mixed.catalog[name])
    assert set(crowded.catalog['kind'][n:]) == {'star'}
    for a, b in zip(crowded.sources.cutouts[:n], mixed.sources.cutouts):
        np.testing.assert_array_equal(a, b)
