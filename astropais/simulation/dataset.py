"""
`simulate_dataset`: write a training dataset of simulated crops with PCR
labels.
"""

import numpy as np

from ._galsim import require_galsim
from ..pcr.encode import check_slot_rule
from ..pcr.sparse import SourceImages
from .presets import get_preset
from .randomise import DISTRIBUTIONS, SceneDistribution, get_distribution
from .scene import make_scene

__all__ = ['simulate_dataset', 'crop_seed', 'simulate_crop',
           'resolve_parameters', 'default_margin']


def crop_seed(seed, index):
    """
    The scene seed of crop ``index`` of a dataset with seed ``seed``.

    Parameters
    ----------
    seed : int
        The dataset seed.
    index : int
        The crop index.

    Returns
    -------
    seed : int
        ``SeedSequence([seed, index]).generate_state(1)[0]``: independent
        of how the dataset was split into runs.
    """
    return int(np.random.SeedSequence([int(seed), int(index)])
               .generate_state(1)[0])


def simulate_crop(preset, crop_size, seed, margin=None, **overrides):
    """
    One simulated crop, including light from sources just outside it.

    The scene is simulated ``margin`` pixels larger on every side and
    cropped, so sources centred outside the crop still spill light into
    it (as in a tile of a larger field).

    Parameters
    ----------
    preset : str, `SceneParameters` or `SceneDistribution`
        The preset, or a distribution (``'mixed'``) from which the crop
        draws its parameters with ``SeedSequence([seed, 1])``.
    crop_size : int or tuple of int
        Crop shape (square if one number).
    seed : int
        Scene seed.
    margin : int, optional
        Extra pixels simulated on each side; default three PSF FWHM.
    **overrides
        Scene parameters (see `~astropais.simulation.make_scene`).

    Returns
    -------
    scene : `~astropais.simulation.Scene`
        The cropped scene.
    """
    shape = ((crop_size, crop_size) if np.ndim(crop_size) == 0
             else tuple(crop_size))
    params = resolve_parameters(preset, seed, **overrides)
    if margin is None:
        margin = default_margin(preset)
    if isinstance(margin, bool) or not isinstance(margin, (int, np.integer)) \
            or margin < 0:
        raise ValueError(f'margin must be an integer >= 0, got {margin!r}')
    if np.ndim(crop_size) not in (0, 1) or len(shape) != 2 or not all(
            isinstance(s, (int, np.integer)) and s >= 1 for s in shape):
        raise ValueError(f'crop_size must be a positive integer or a pair, '
                         f'got {crop_size!r}')
    full = (shape[0] + 2 * margin, shape[1] + 2 * margin)
    scene = make_scene(params, shape=full, seed=seed)
    return scene.crop(margin, margin, shape)


def _is_distribution(preset):
    return isinstance(preset, SceneDistribution) or (
        isinstance(preset, str) and preset in DISTRIBUTIONS)


def resolve_parameters(preset, seed, **overrides):
    """
    The scene parameters of one crop.

    Parameters
    ----------
    preset : str, `SceneParameters` or `SceneDistribution`
        A preset (the same parameters for every seed) or a distribution
        (parameters drawn with ``SeedSequence([seed, 1])``).
    seed : int
        The crop's scene seed.
    **overrides
        Parameters to change after the draw.

    Returns
    -------
    params : `~astropais.simulation.SceneParameters`
        The parameters.
    """
    if _is_distribution(preset):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
        params = get_distribution(preset).draw(rng)
        return params.replace(**overrides) if overrides else params
    return get_preset(preset, **overrides)


def default_margin(preset, **overrides):
    """
    Pixels simulated beyond each side of a crop: three PSF FWHM.

    Parameters
    ----------
    preset : str, `SceneParameters` or `SceneDistribution`
        The preset or distribution (its largest PSF).
    **overrides
        Parameters of a preset to change.

    Returns
    -------
    margin : int
        The margin in pixels.
    """
    if _is_distribution(preset):
        fwhm = get_distribution(preset).max_psf_fwhm_pixels
    else:
        fwhm = get_preset(preset, **overrides).psf_fwhm_pixels
    return int(np.ceil(3 * fwhm))


def _labelled_crop(task):
    """One crop and its labels (top level so worker processes can run it)."""
    from astropais.datasets import truth_source_mask
    from astropais.pcr import encode

    (params, crop_size, seed, index, margin, n, sigma, threshold, dilation,
     min_snr, slots) = task
    scene = simulate_crop(params, crop_size, crop_seed(seed, index),
                          margin=margin)
    catalog = scene.catalog
    labelled = np.asarray(catalog['snr']) >= min_snr
    catalog['labelled'] = labelled
    keep = np.flatnonzero(labelled)
    sources = SourceImages(scene.sources.shape,
                           [scene.sources.cutouts[i] for i in keep],
                           scene.sources.origins[keep])
    n_bands = scene.image.shape[0] if scene.image.ndim == 3 else 1
    total = sources.total()
    if total.ndim == 2 and n_bands > 1:
        # No labelled source: an empty SourceImages has no band axis.
        total = np.zeros((n_bands, *total.shape))
    mask = truth_source_mask(total, scene.noise_sigma,
                             threshold=threshold, dilation=dilation)
    pcr = encode(sources, scene.centres[keep], n=n, sigma=sigma,
                 source_mask=mask, slots=slots)
    if pcr.n_bands != n_bands:
        # (Likewise: no source, so no fraction in any band.)
        pcr.fractions = np.zeros((*pcr.shape, n_bands, n), np.float32)
    catalog.meta['crop_index'] = index
    # A multi-band scene is (b, H, W); datasets store (H, W, b).
    image = (scene.image if scene.image.ndim == 2
             else np.moveaxis(scene.image, 0, -1))
    return image, pcr, catalog, scene.noise_sigma


def simulate_dataset(directory, n_crops, *, preset='hst', crop_size=64,
                     seed=0, n=3, sigma=2.0, margin=None, shard_size=256,
                     resume=False, mask_threshold=None, mask_dilation=None,
                     label_min_snr=5.0, progress_bar=False, n_processes=1,
                     slots='nearest', **overrides):
    """
    Write a dataset of simulated crops with PCR labels.

    Crop ``i`` is `simulate_crop` with seed ``crop_seed(seed, i)``, so a
    dataset is reproducible bit for bit, and a resumed run writes exactly
    the samples an uninterrupted one would have.  Labels: `astropais.pcr.encode`
    of the noise-free per-source images at the true centres, with the
    source mask of `astropais.datasets.truth_source_mask`, for the
    *labelled* sources: those whose matched-filter S/N inside the crop
    (catalogue column ``snr``) is at least ``label_min_snr``.  Fainter
    sources stay in the image (and in the stored catalogue, with
    ``labelled`` False) but get no heatmap peak, vectors or fractions:
    a network cannot be asked to find what the noise hides.  The labelled
    sources, in catalogue order, are the PCR's sources 1..N.

    Parameters
    ----------
    directory : str or path-like
        The dataset directory.
    n_crops : int
        The number of crops the dataset should hold.
    preset : str or `~astropais.simulation.SceneDistribution`, optional
        A preset name (``'hst'``, ``'lsst'``, ``'hst_drizzled'``,
        ``'ground'``; multi-band ``'grizy'`` or ``'hst_multi'``, whose
        images are stored as (H, W, b) with per-band noise and fractions
        and the band names in the manifest's ``bands``) or a distribution
        (``'mixed'``: every crop draws its own parameters, see
        `resolve_parameters`).
    crop_size : int, optional
        Crop side in pixels.
    seed : int, optional
        Dataset seed.
    n : int, optional
        PCR slots (sources per pixel).
    sigma : float, optional
        PCR heatmap width in pixels.
    slots : {'nearest', 'brightest'}, optional
        Which sources a pixel's slots name (`astropais.pcr.SLOT_RULES`);
        recorded in the manifest (as ``slots``) unless ``'nearest'``.
    margin : int, optional
        See `simulate_crop`.
    shard_size : int, optional
        Samples per shard.
    resume : bool, optional
        Continue a dataset already in ``directory`` (same parameters).
    mask_threshold, mask_dilation : optional
        Source-mask threshold (noise sigmas) and dilation (pixels); default
        those of `astropais.datasets.truth_source_mask`.
    label_min_snr : float, optional
        Matched-filter S/N below which a source is not labelled; the
        default 5 matches the presets' 5-sigma point-source depth
        (0 labels every source).
    progress_bar : bool, optional
        Show a tqdm progress bar.
    n_processes : int, optional
        Worker processes simulating crops (1: in this process).  The
        dataset is identical whatever the number; scripts using more than
        one need an ``if __name__ == '__main__':`` guard.
    **overrides
        Scene parameters (see `~astropais.simulation.make_scene`).

    Returns
    -------
    dataset : `~astropais.datasets.Dataset`
        The dataset, opened for reading.
    """
    galsim = require_galsim()
    from tqdm.auto import tqdm

    from astropais import __version__
    from astropais.datasets import (SOURCE_MASK_DILATION,
                                    SOURCE_MASK_THRESHOLD, DatasetWriter,
                                    read_dataset, source_mask_definition,
                                    truth_source_mask)

    if isinstance(n_crops, bool) or not isinstance(
            n_crops, (int, np.integer)) or n_crops < 0:
        raise ValueError(f'n_crops must be an integer >= 0, got {n_crops!r}')
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
    if not (np.isscalar(label_min_snr) and label_min_snr >= 0):
        raise ValueError(f'label_min_snr must be a number >= 0, got '
                         f'{label_min_snr!r}')
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f'n must be a positive integer, got {n!r}')
    if not (np.isscalar(sigma) and np.isfinite(sigma) and sigma > 0):
        raise ValueError(f'sigma must be a positive number, got {sigma!r}')
    check_slot_rule(slots)
    threshold = (SOURCE_MASK_THRESHOLD if mask_threshold is None
                 else mask_threshold)
    dilation = SOURCE_MASK_DILATION if mask_dilation is None else mask_dilation
    truth_source_mask(np.zeros((1, 1)), 1.0, threshold=threshold,
                      dilation=dilation)  # validates both
    if _is_distribution(preset):
        if overrides:
            raise ValueError('scene parameter overrides cannot be combined '
                             'with a distribution')
        params = get_distribution(preset)
        first = resolve_parameters(params, 0)
    else:
        params = first = get_preset(preset, **overrides)
    if isinstance(crop_size, bool) or not isinstance(
            crop_size, (int, np.integer)) or crop_size < 1:
        raise ValueError(f'crop_size must be a positive integer, got '
                         f'{crop_size!r}')
    if margin is None:
        margin = default_margin(params)
    # Fail on an impossible configuration before anything is written: an
    # empty scene checks the crop, the margin and the pair separations.
    simulate_crop(first.replace(density=0.0, large_galaxies=0.0,
                                bright_stars=0.0),
                  crop_size, 0, margin=margin)
    manifest = {
        'generator': {'name': 'astropais.simulation.simulate_dataset',
                      'version': __version__, 'galsim': galsim.__version__},
        'preset': params.name, 'parameters': params.to_dict(),
        'seed': int(seed),
        'crop_seed': 'numpy.random.SeedSequence([seed, index])'
                     '.generate_state(1)[0]',
        'crop_size': int(crop_size), 'margin': int(margin),
        'n': int(n), 'sigma': float(sigma),
        'source_mask': source_mask_definition(threshold, dilation),
        'label_min_snr': float(label_min_snr),
        'labelled_sources': 'catalogue rows with labelled == True, in '
                            'order, are the PCR sources 1..N',
    }
    if getattr(params, 'band_names', None):
        # Multi-band presets name their bands (single-band manifests stay
        # as they were); the trained model's sidecar records them.
        manifest['bands'] = list(params.band_names)
    if slots != 'nearest':
        # Absent means 'nearest': datasets written before the choice
        # existed keep their manifest, and resume, unchanged.
        manifest['slots'] = slots
    if isinstance(n_processes, bool) or not isinstance(
            n_processes, (int, np.integer)) or n_processes < 1:
        raise ValueError(f'n_processes must be a positive integer, got '
                         f'{n_processes!r}')
    with DatasetWriter(directory, manifest, shard_size=shard_size,
                       resume=resume) as writer:
        start = writer.n_samples
        tasks = ((params, crop_size, seed, index, margin, n, sigma,
                  threshold, dilation, label_min_snr, slots)
                 for index in range(start, n_crops))
        bar = tqdm(total=max(n_crops, start), initial=start,
                   disable=not progress_bar, unit='crop', desc='simulate')
        with bar:
            if n_processes == 1:
                for sample in map(_labelled_crop, tasks):
                    writer.add(*sample)
                    bar.update()
            else:
                _parallel(tasks, n_processes, shard_size, writer, bar)
    return read_dataset(directory)


def _parallel(tasks, n_processes, chunk, writer, bar):
    """Label crops in worker processes, writing them in order."""
    import itertools
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # 'spawn', not the POSIX default 'fork': forking a process that has
    # started threads (JAX, TensorFlow, BLAS) can deadlock the children.
    # Scripts calling this need the usual ``if __name__ == '__main__'`` guard.
    context = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(n_processes, mp_context=context) as pool:
        # A loop over chunks of one shard: bounds the results held in memory.
        while True:
            batch = list(itertools.islice(tasks, chunk))
            if not batch:
                break
            for sample in pool.map(_labelled_crop, batch):
                writer.add(*sample)
                bar.update()
