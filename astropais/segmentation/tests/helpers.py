"""Synthetic blended scenes with exact per-source truth, for the tests."""

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np

from astropais.pcr.sparse import PixelAttribution

__all__ = ['gaussian_scene', 'truth_attribution', 'tiny_model_file',
           'pair_flux_errors', 'PAIR_SOURCES',
           'PAIR_MAX_ERROR']


@functools.lru_cache(maxsize=None)
def untrained_band_model(path, bands=('g', 'r', 'i', 'z', 'y')):
    """
    Save an untrained depth-2 network of several named bands (the
    multi-band plumbing only: nothing may score its deblending).

    Parameters
    ----------
    path : path-like
        The ``.keras`` file to write (its sidecar beside it).
    bands : sequence of str, optional
        The band names.

    Returns
    -------
    path : str
    """
    from astropais import model

    model.save_model(model.build_network(n_bands=len(bands), n=3, depth=2,
                                         base_filters=4),
                     path, n=3, sigma=2.0, vector_scale=16.0, tile_size=32,
                     bands=list(bands))
    return str(path)


def tiny_model_file():
    """
    Train a tiny PCR network once per process: a few steps of
    `astropais.training.train` on a handful of simulated 32x32 crops (or,
    without the training package, an untrained network from the model
    builder).  Its accuracy is irrelevant: the tests check the API, the
    tiling and the bookkeeping with a real network.  Skips the calling
    test if the model package is unavailable.

    Returns
    -------
    path : `pathlib.Path`
        The ``.keras`` file (its ``.json`` sidecar next to it).
    """
    import pytest

    model = pytest.importorskip('astropais.model')
    directory = Path(tempfile.mkdtemp(prefix='astropais-tiny-'))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    try:
        from astropais.simulation import simulate_dataset
        from astropais.training import train
    except ImportError:  # pragma: no cover
        path = directory / 'tiny.keras'
        model.save_model(model.build_network(n_bands=1, n=3, depth=2,
                                             base_filters=4),
                         path, n=3, sigma=2.0, vector_scale=16.0,
                         tile_size=32)
        return path
    simulate_dataset(directory / 'data', 8, crop_size=32, seed=0)
    result = train(directory / 'data', directory / 'train', epochs=1,
                   batch_size=4, depth=2, base_filters=4, steps_per_epoch=2,
                   val_fraction=0.25, progress_bar=False)
    return Path(result.model_path)


def gaussian_scene(shape, sources, noise=0.0, seed=0):
    """
    Circular Gaussian sources on a noisy background.

    Parameters
    ----------
    shape : tuple of int
        Image shape.
    sources : list of (y, x, sigma, flux)
        The sources.
    noise : float
        Gaussian noise sigma.
    seed : int
        Noise seed.

    Returns
    -------
    image : ndarray
        Noisy image.
    truth : list of ndarray
        Noise-free image of every source.
    """
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    truth = [flux * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * s * s))
             / (2 * np.pi * s * s) for y, x, s, flux in sources]
    rng = np.random.default_rng(seed)
    image = np.sum(truth, axis=0) + rng.normal(0.0, noise, shape)
    return image, truth


#: The pair of the shipped model's acceptance test, ``(y, x, sigma,
#: flux)``: a bright source and one 8 times fainter, 7 px apart.
PAIR_SOURCES = ((40, 38, 3.0, 8000.0), (40, 45, 2.0, 1000.0))

#: The largest median relative flux error of either source of the pair
#: that a shipped model may have.
PAIR_MAX_ERROR = 0.05


def pair_flux_errors(deblender, seeds=range(1, 11)):
    """
    Relative flux errors of the two sources of `PAIR_SOURCES`.

    Each seed draws the pair on an 80 x 84 image with unit Gaussian noise;
    ``deblender`` and photutils' ``SourceFinder`` (``n_pixels=5``) run at
    a threshold of 2, and each true source is matched to the nearest
    catalog centroid.

    Parameters
    ----------
    deblender : `~astropais.PAISDeblender`
        The deblender under test.
    seeds : iterable of int, optional
        Noise seeds.

    Returns
    -------
    ours, photutils : `~numpy.ndarray`
        ``(n_seeds, 2)`` absolute relative errors of the bright and the
        faint source's ``segment_flux``; ``inf`` for both sources of a
        seed whose pair was not split into two labels.

    Examples
    --------
    >>> from astropais import PAISDeblender
    >>> from astropais.segmentation.tests.helpers import pair_flux_errors
    >>> ours, theirs = pair_flux_errors(PAISDeblender(n_pixels=5),
    ...                                 seeds=[1])  # doctest: +SKIP
    """
    from photutils.segmentation import SourceCatalog, SourceFinder

    from astropais.segmentation import WeightedSourceCatalog

    def errors(catalog, true_flux):
        match = [np.argmin(np.hypot(catalog.x_centroid - x,
                                    catalog.y_centroid - y))
                 for y, x, _, _ in PAIR_SOURCES]
        if len(set(match)) < 2:
            return np.full(2, np.inf)
        return np.abs(np.asarray(catalog.segment_flux)[match] / true_flux
                      - 1)

    ours, theirs = [], []
    # A loop over the noise realisations.
    for seed in seeds:
        image, truth = gaussian_scene((80, 84), PAIR_SOURCES, noise=1.0,
                                      seed=seed)
        true_flux = np.array([t.sum() for t in truth])
        ours.append(errors(WeightedSourceCatalog(
            image, deblender(image, threshold=2.0)), true_flux))
        found = SourceFinder(n_pixels=5, progress_bar=False)(image, 2.0)
        theirs.append(errors(SourceCatalog(image, found), true_flux))
    return np.array(ours), np.array(theirs)


def truth_attribution(truth, footprint, n=3):
    """
    The oracle attribution: truth fractions ``S_i / sum_j S_j`` on the
    footprint, keeping the ``n`` largest per pixel (renormalised).
    """
    truth = np.asarray(truth)
    pixels = np.flatnonzero(footprint)
    fractions = truth.reshape(len(truth), -1)[:, pixels].T
    order = np.argsort(-fractions, axis=1, kind='stable')[:, :n]
    weights = np.take_along_axis(fractions, order, axis=1)
    weights /= weights.sum(axis=1, keepdims=True)
    labels = order + 1
    centres = [np.unravel_index(np.argmax(t), t.shape) for t in truth]
    return PixelAttribution(footprint.shape, pixels, labels, weights,
                            np.asarray(centres, dtype=float))
