"""
From a fitted scene to PCR labels, and from a large image to a training
dataset in the format of `astropais.datasets` (what `astropais-train`
reads), crop by crop, resumable.
"""

from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from ..pcr.encode import check_slot_rule
from ..pcr.sparse import SourceImages
from .fit import MORPHOLOGIES, SceneFit, _empty_report, fit_scene
from .inputs import prepare_inputs
from .tiles import clear_jax_caches, crop_windows

__all__ = ['LabelResult', 'make_labels', 'write_label_dataset',
           'LABELS_GENERATOR']

#: The ``generator`` recorded in the manifest of a label dataset.
LABELS_GENERATOR = 'astropais.labels (scarlet2)'


@dataclass
class LabelResult:
    """
    PCR labels of one image from a scarlet2 fit.

    Attributes
    ----------
    pcr : `~astropais.pcr.PCR`
        The labels.
    fit : `~astropais.labels.SceneFit`
        The fit they come from (models, kept indices, dropped sources).
    source_mask : `~numpy.ndarray` of bool
        The source pixels used by the encoding.
    """

    pcr: object
    fit: SceneFit
    source_mask: np.ndarray


def _encode(sources, centres, noise_sigma, n, sigma, slots='nearest'):
    from astropais.datasets import truth_source_mask
    from astropais.pcr import encode

    mask = truth_source_mask(sources.total(), noise_sigma)
    return encode(sources, centres, n=n, sigma=sigma, source_mask=mask,
                  slots=slots), mask


def make_labels(inputs, *, n=3, sigma=2.0, slots='nearest', **fit_kwargs):
    """
    Fit scarlet2 to an image and encode its per-source models as PCR.

    Parameters
    ----------
    inputs : `~astropais.labels.LabelInputs`
        The validated image, noise, PSF and positions
        (`~astropais.labels.prepare_inputs`).
    n : int, optional
        Sources encoded per pixel.
    sigma : float, optional
        Width of the heatmap Gaussians (pixels).
    slots : {'nearest', 'brightest'}, optional
        Which sources a pixel's slots name (`astropais.pcr.SLOT_RULES`).
    **fit_kwargs
        Passed to `~astropais.labels.fit_scene`.

    Returns
    -------
    result : `LabelResult`
        The labels, the fit (with its report of dropped sources) and the
        source mask (``astropais.datasets.truth_source_mask`` of the summed
        models).
    """
    check_slot_rule(slots)
    fit = fit_scene(inputs, **fit_kwargs)
    pcr, mask = _encode(fit.sources, fit.centres, inputs.noise_sigma, n,
                        sigma, slots)
    return LabelResult(pcr, fit, mask)


def _crop_sources(fit, window):
    """The fit's sources seen from a crop: shifted, non-overlapping removed."""
    shift = window.tile_origin - window.crop_origin
    crop_shape = (window.crop[0].stop - window.crop[0].start,
                  window.crop[1].stop - window.crop[1].start)
    origins = fit.sources.origins + shift
    sizes = np.array([c.shape[-2:] for c in fit.sources.cutouts],
                     dtype=np.int64).reshape(-1, 2)
    overlap = np.all((origins < crop_shape) & (origins + sizes > 0), axis=1)
    keep = np.flatnonzero(overlap)
    sources = SourceImages(crop_shape, [fit.sources.cutouts[k] for k in keep],
                           origins[keep])
    return sources, fit.centres[keep] + shift, fit.index[keep]


def _crop_catalog(ids, centres, sources, crop_index, window):
    shape = sources.shape
    flux = sources.fluxes()
    if flux.ndim == 2:
        flux = flux.sum(axis=1)
    inside = ((centres[:, 0] >= -0.5) & (centres[:, 0] < shape[0] - 0.5)
              & (centres[:, 1] >= -0.5) & (centres[:, 1] < shape[1] - 0.5))
    catalog = Table({'id': np.asarray(ids, dtype=np.int64),
                     'x': centres[:, 1].astype(np.float64),
                     'y': centres[:, 0].astype(np.float64),
                     'flux': np.asarray(flux, dtype=np.float64),
                     'inside': inside.astype(bool)})
    catalog.meta['crop_index'] = int(crop_index)
    catalog.meta['crop_origin'] = [int(v) for v in window.crop_origin]
    return catalog


def _resume_point(directory):
    """The index of the first crop not yet in a partly written dataset."""
    from pathlib import Path

    from astropais.datasets import read_dataset

    if not (Path(directory) / 'manifest.json').exists():
        return 0
    dataset = read_dataset(directory)
    if len(dataset) == 0:
        return 0
    return int(dataset[len(dataset) - 1].catalog.meta['crop_index']) + 1


def write_label_dataset(directory, image, psf, positions, *, noise_sigma=None,
                        variance=None, weights=None, mask=None,
                        crop_shape=(64, 64), margin=16, stride=None, n=3,
                        sigma=2.0, morphology='sersic', max_iter=200,
                        e_rel=1e-4, skip_dropped=True, shard_size=64,
                        resume=False, progress_bar=True, clear_every=10,
                        manifest=None, slots='nearest'):
    """
    Write a training dataset of scarlet2 labels from one image.

    The image is cut into crops of ``crop_shape``; each crop is fitted
    with scarlet2 together with a ``margin`` of context (sources in the
    margin are fitted too, so the light they spill into the crop is
    attributed to them).  Each crop's labels are the PCR encoding of every
    fitted model that reaches it, and the crop is written with
    `astropais.datasets.DatasetWriter`, so ``astropais-train`` reads the
    result like a simulated dataset.

    Parameters
    ----------
    directory : str or path-like
        The dataset directory.
    image, psf, positions, noise_sigma, variance, weights, mask
        As for `~astropais.labels.prepare_inputs`.
    crop_shape : tuple of int, optional
        The shape of every sample.
    margin : int, optional
        Context pixels fitted around each crop.
    stride : tuple of int, optional
        Steps between crops (default: ``crop_shape``, no overlap).
    n : int, optional
        Sources encoded per pixel.
    sigma : float, optional
        Width of the heatmap Gaussians (pixels).
    slots : {'nearest', 'brightest'}, optional
        Which sources a pixel's slots name (`astropais.pcr.SLOT_RULES`);
        recorded in the manifest unless ``'nearest'``.
    morphology : {'sersic', 'free'}, optional
        The scarlet2 morphology model (see `~astropais.labels.fit_scene`).
    max_iter : int, optional
        Maximum optimiser steps per fit.
    e_rel : float, optional
        Relative convergence tolerance.
    skip_dropped : bool, optional
        Leave out a crop when a source within ``margin // 2`` pixels of it
        was dropped (its labels would miss a visible source).
    shard_size : int, optional
        Samples per shard.
    resume : bool, optional
        Continue a partly written dataset (after its last written crop);
        the parameters must match the stored manifest.
    progress_bar : bool, optional
        Show a tqdm progress bar over crops.
    clear_every : int, optional
        Clear JAX's caches after this many fits (memory-map leak).
    manifest : dict, optional
        Extra JSON-serialisable manifest entries (e.g. the input file).

    Returns
    -------
    summary : dict
        ``n_written`` (samples added by this call), ``n_skipped``
        (crops left out), ``n_crops``, ``first_crop`` (where this call
        started) and ``dropped`` (a `~astropy.table.Table` of dropped
        sources, with the crop index).
    """
    from tqdm.auto import tqdm

    from astropais.datasets import DatasetWriter, source_mask_definition

    if morphology not in MORPHOLOGIES:
        raise ValueError(f'morphology must be one of {MORPHOLOGIES}, got '
                         f'{morphology!r}')
    check_slot_rule(slots)
    inputs = prepare_inputs(image, psf, positions, noise_sigma=noise_sigma,
                            variance=variance, weights=weights, mask=mask)
    windows = crop_windows(inputs.shape, crop_shape, margin, stride)
    record = {
        'generator': LABELS_GENERATOR,
        'parameters': {
            'crop_shape': [int(s) for s in np.broadcast_to(crop_shape, (2,))],
            'margin': int(margin),
            'stride': None if stride is None else
            [int(s) for s in np.broadcast_to(stride, (2,))],
            'morphology': morphology, 'max_iter': int(max_iter),
            'e_rel': float(e_rel), 'skip_dropped': bool(skip_dropped),
            'image_shape': [int(s) for s in inputs.shape],
            'n_bands': int(inputs.n_bands),
            'n_positions': int(len(inputs.positions)),
        },
        'source_mask': source_mask_definition(),
        'n': int(n), 'sigma': float(sigma),
        **({'slots': slots} if slots != 'nearest' else {}),
        **(manifest or {}),
    }
    first = _resume_point(directory) if resume else 0
    positions = inputs.positions
    dropped_all = _empty_report()
    dropped_all['crop'] = np.zeros(0, dtype=np.int64)
    n_written = n_skipped = n_fits = 0
    with DatasetWriter(directory, record, shard_size=shard_size,
                       resume=resume) as writer:
        # A loop over crops: each is one scarlet2 fit.
        for k in tqdm(range(first, len(windows)), disable=not progress_bar,
                      desc='scarlet2 labels', initial=first,
                      total=len(windows)):
            window = windows[k]
            context = np.flatnonzero(window.in_tile(positions))
            tile_inputs = inputs.crop(window.tile, positions[context])
            fit = fit_scene(tile_inputs, morphology=morphology,
                            max_iter=max_iter, e_rel=e_rel)
            if len(context):
                n_fits += 1
                if clear_every and n_fits % int(clear_every) == 0:
                    clear_jax_caches()
            near = np.zeros(len(fit.dropped), dtype=bool)
            for j, row in enumerate(fit.dropped):
                i = context[row['index']]
                dropped_all.add_row((i, positions[i, 1], positions[i, 0],
                                     row['reason'], k))
                near[j] = window.in_crop(positions[i], grow=margin // 2)[0]
            if skip_dropped and near.any():
                n_skipped += 1
                continue
            sources, centres, kept = _crop_sources(fit, window)
            pcr, _ = _encode(sources, centres, inputs.noise_sigma, n, sigma,
                             slots)
            catalog = _crop_catalog(context[kept] + 1, centres, sources, k,
                                    window)
            crop_image = np.moveaxis(inputs.image[(slice(None),
                                                   *window.crop)], 0, -1)
            writer.add(crop_image, pcr, catalog, inputs.noise_sigma)
            n_written += 1
    return {'n_written': n_written, 'n_skipped': n_skipped,
            'n_crops': len(windows), 'first_crop': first,
            'dropped': dropped_all}
