"""Fast tests: input validation, crops, sparse cropping, divergence rules."""

import subprocess
import sys

import numpy as np
import pytest
from astropy.table import Table
from hypothesis import given, settings
from hypothesis import strategies as st

from astropais.labels import (SceneFit, crop_windows, positions_to_yx,
                              prepare_inputs)
from astropais.labels.dataset import _crop_sources
from astropais.labels.fit import _divergence
from astropais.labels.tests.helpers import gaussian_psf
from astropais.pcr import SourceImages


@pytest.fixture
def image():
    return np.random.default_rng(0).normal(0, 1, (32, 40))


def test_positions_from_table_and_array_are_yx():
    table = Table({'x': [3.0, 10.5], 'y': [7.0, 2.0]})
    assert np.array_equal(positions_to_yx(table), [[7.0, 3.0], [2.0, 10.5]])
    assert np.array_equal(positions_to_yx(np.array([[3.0, 7.0]])),
                          [[7.0, 3.0]])
    photutils_like = Table({'xcentroid': [1.0], 'ycentroid': [2.0]})
    assert np.array_equal(positions_to_yx(photutils_like), [[2.0, 1.0]])


def test_prepare_inputs_shapes_and_weights(image):
    inputs = prepare_inputs(image, gaussian_psf(), [[5.0, 6.0]],
                            noise_sigma=2.0)
    assert inputs.image.shape == (1, 32, 40)
    assert inputs.psf.shape == (1, 15, 15)
    assert np.allclose(inputs.weights, 0.25)
    assert np.allclose(inputs.noise_sigma, [2.0])
    assert np.array_equal(inputs.positions, [[6.0, 5.0]])


def test_nan_pixels_are_masked_not_propagated(image):
    image = image.copy()
    image[3, 4] = np.nan
    inputs = prepare_inputs(image, gaussian_psf(), [[5.0, 6.0]],
                            variance=np.full(image.shape, 4.0))
    assert inputs.weights[0, 3, 4] == 0 and inputs.image[0, 3, 4] == 0
    assert np.all(np.isfinite(inputs.image))
    assert np.count_nonzero(inputs.weights == 0) == 1


@pytest.mark.parametrize('xy', [[-1.0, 5.0], [5.0, 32.0], [40.0, 3.0],
                                [np.nan, 3.0]])
def test_position_outside_image_raises(image, xy):
    with pytest.raises(ValueError, match='outside|NaN'):
        prepare_inputs(image, gaussian_psf(), [[5.0, 5.0], xy],
                       noise_sigma=1.0)


def test_bad_psf_raises(image):
    psf = gaussian_psf()
    with pytest.raises(ValueError, match='odd'):
        prepare_inputs(image, psf[:14, :14] / psf[:14, :14].sum(), [[5, 5]],
                       noise_sigma=1.0)
    with pytest.raises(ValueError, match='not normalised'):
        prepare_inputs(image, psf * 2, [[5, 5]], noise_sigma=1.0)
    with pytest.raises(ValueError, match='2-D|3-D'):
        prepare_inputs(image, psf[0], [[5, 5]], noise_sigma=1.0)
    with pytest.raises(ValueError, match='larger than the image'):
        prepare_inputs(image[:10, :10], psf, [[5, 5]], noise_sigma=1.0)
    shifted = np.roll(psf, 3, axis=1)
    with pytest.raises(ValueError, match='centre'):
        prepare_inputs(image, shifted, [[5, 5]], noise_sigma=1.0)


def test_band_mismatch_raises(image):
    cube = np.stack([image, image])
    psf = gaussian_psf()
    with pytest.raises(ValueError, match='band'):
        prepare_inputs(cube, np.stack([psf] * 3), [[5, 5]], noise_sigma=1.0)
    with pytest.raises(ValueError, match='band'):
        prepare_inputs(cube, psf, [[5, 5]], weights=np.ones((3, 32, 40)))
    with pytest.raises(ValueError, match='noise'):
        prepare_inputs(cube, psf, [[5, 5]], noise_sigma=[1.0, 2.0, 3.0])
    inputs = prepare_inputs(cube, psf, [[5, 5]], noise_sigma=[1.0, 2.0])
    assert inputs.n_bands == 2 and inputs.psf.shape == (2, 15, 15)
    assert np.allclose(inputs.noise_sigma, [1.0, 2.0])


def test_noise_must_be_given_exactly_once(image):
    psf = gaussian_psf()
    with pytest.raises(ValueError, match='exactly one'):
        prepare_inputs(image, psf, [[5, 5]])
    with pytest.raises(ValueError, match='exactly one'):
        prepare_inputs(image, psf, [[5, 5]], noise_sigma=1.0, variance=1.0)
    with pytest.raises(ValueError, match='negative'):
        prepare_inputs(image, psf, [[5, 5]], weights=-np.ones(image.shape))


def test_table_without_coordinates_raises(image):
    with pytest.raises(ValueError, match='x and y'):
        prepare_inputs(image, gaussian_psf(), Table({'ra': [1.0]}),
                       noise_sigma=1.0)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(8, 90), w=st.integers(8, 90), ch=st.integers(1, 8),
       cw=st.integers(1, 8), margin=st.integers(0, 5))
def test_crop_windows_cover_the_image(h, w, ch, cw, margin):
    ch, cw = min(ch * 4, h), min(cw * 4, w)
    windows = crop_windows((h, w), (ch, cw), margin)
    covered = np.zeros((h, w), int)
    for win in windows:
        assert (win.crop[0].stop - win.crop[0].start,
                win.crop[1].stop - win.crop[1].start) == (ch, cw)
        for c, t in zip(win.crop, win.tile):
            assert t.start == max(c.start - margin, 0)
            assert t.start <= c.start and t.stop >= c.stop
        covered[win.crop] += 1
    assert covered.min() >= 1
    # Every pixel centre belongs to some crop's interior test.
    yx = np.argwhere(np.ones((h, w), bool)).astype(float)
    owned = np.zeros(len(yx), bool)
    for win in windows:
        owned |= win.in_crop(yx)
    assert owned.all()


def test_crop_larger_than_image_raises():
    with pytest.raises(ValueError, match='larger'):
        crop_windows((20, 20), (32, 32), 4)


def test_crop_sources_shifts_and_drops_sparse_cutouts():
    # Crop origin (16, 16), shape (16, 16); tile origin (6, 6).
    window = crop_windows((60, 60), (16, 16), 10)[5]
    assert list(window.crop_origin) == [16, 16]
    assert list(window.tile_origin) == [6, 6]
    cutouts = [np.ones((5, 5)), np.full((3, 3), 2.0), np.ones((2, 2))]
    origins = np.array([[6, 6], [20, 20], [0, 0]])  # in tile pixels
    fit = SceneFit(SourceImages((36, 36), cutouts, origins),
                   np.array([4, 7, 9]), np.array([[8.0, 8.0], [21.0, 21.0],
                                                  [0.5, 0.5]]))
    sources, centres, index = _crop_sources(fit, window)
    assert sources.shape == (16, 16)
    # Source 2 (tile pixels 0..1) does not reach the crop.
    assert list(index) == [4, 7]
    shift = window.tile_origin - window.crop_origin
    assert np.array_equal(sources.origins, origins[:2] + shift)
    assert np.allclose(centres, fit.centres[:2] + shift)
    # Source 0 covers crop pixels -4..0: only its corner (0, 0) is inside.
    total = sources.total()
    assert total[0, 0] == 1 and total.sum() == pytest.approx(1 + 2 * 9)


def test_divergence_rules():
    assert _divergence(np.array([9.0, 5.0, 4.0]), 10.0) is None
    assert 'non-finite' in _divergence(np.array([9.0, np.nan]), 10.0)
    assert 'exploding' in _divergence(np.array([9.0, 500.0, 9.5]), 10.0)
    assert 'increased' in _divergence(np.array([9.0, 12.0]), 10.0)


def test_labels_import_does_not_load_jax():
    code = ('import sys, astropais.labels, astropais.cli.labels; '
            'print([m for m in ("jax", "scarlet2", "tensorflow", "keras") '
            'if m in sys.modules])')
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == '[]'


def test_cli_bad_input_is_a_clean_error(tmp_path, capsys):
    from astropy.io import fits

    from astropais.cli.main import main

    fits.writeto(tmp_path / 'image.fits', np.zeros((20, 20)))
    fits.writeto(tmp_path / 'psf.fits', gaussian_psf() * 3)
    Table({'x': [5.0], 'y': [5.0]}).write(tmp_path / 'cat.ecsv')
    status = main(['labels', str(tmp_path / 'image.fits'), '--psf',
                   str(tmp_path / 'psf.fits'), '--catalog',
                   str(tmp_path / 'cat.ecsv'), '-o', str(tmp_path / 'out'),
                   '--noise-sigma', '1', '--crop-size', '16',
                   '--no-progress'])
    assert status == 2
    assert 'not normalised' in capsys.readouterr().err
