"""
The training loop: validation split, augmentation, checkpoints every epoch,
exact resume, a CSV log, a progress bar, a time budget and the export of
the final model with its sidecar.
"""

import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from astropais.model.normalisation import (normalise_image,
                                           validate_normalisation)
from astropais.model.targets import (check_pixel_weighting,
                                     check_vector_weighting, pack_targets)
from astropais.utils import sha256_text

from .augment import random_dihedral
from .checkpoint import has_checkpoint, load_checkpoint, save_checkpoint

__all__ = ['TrainingResult', 'split_indices', 'train', 'LOG_COLUMNS',
           'LR_SCHEDULES']

#: Columns of the CSV metrics log (one row per epoch, or per budget stop).
LOG_COLUMNS = ('epoch', 'complete', 'step', 'elapsed_s', 'loss',
               'heatmap_loss', 'vectors_loss', 'fractions_loss', 'val_loss',
               'val_heatmap_loss', 'val_vectors_loss', 'val_fractions_loss')

_LOSS_KEYS = ('loss', 'heatmap_loss', 'vectors_loss', 'fractions_loss')

# Settings that define a run; on resume they come from the checkpoint.
_RUN_KEYS = ('batch_size', 'val_fraction', 'learning_rate', 'beta_1',
             'beta_2', 'epsilon', 'heatmap_weight', 'vector_weight',
             'cross_entropy_weight', 'entropy_weight', 'entropy_mode',
             'depth', 'base_filters', 'vector_scale', 'normalisation',
             'augment', 'seed', 'steps_per_epoch', 'pixel_weighting',
             'vector_weighting', 'lr_schedule', 'init_model')

#: Accepted values of ``lr_schedule``.
LR_SCHEDULES = ('constant', 'cosine')

# Final learning rate of the cosine schedule, as a fraction of the first.
_COSINE_ALPHA = 0.05


@dataclass
class TrainingResult:
    """
    What `train` did.

    Attributes
    ----------
    model_path : `pathlib.Path`
        The exported ``model.keras`` (its sidecar is ``model.json``).
    sidecar : dict
        The exported sidecar.
    history : list of dict
        The rows of the CSV log written by this call.
    epochs_completed : int
        Complete epochs so far (including those before a resume).
    steps : int
        Optimizer steps so far.
    stopped_by_budget : bool
        True if ``max_minutes`` stopped training before ``epochs``.
    """

    model_path: Path
    sidecar: dict
    history: list = field(default_factory=list)
    epochs_completed: int = 0
    steps: int = 0
    stopped_by_budget: bool = False


def split_indices(n_samples, val_fraction, seed):
    """
    Split sample indices into training and validation sets.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    val_fraction : float
        Fraction in ``[0, 1)`` kept for validation; when > 0 at least one
        sample is kept.
    seed : int
        Seed of the split.

    Returns
    -------
    train, val : `numpy.ndarray`
        Sorted disjoint index arrays covering ``0..n_samples-1``.

    Raises
    ------
    ValueError
        If ``val_fraction`` is outside ``[0, 1)`` or no training sample
        is left.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f'val_fraction must be in [0, 1), got {val_fraction}')
    n_val = int(round(val_fraction * n_samples))
    if val_fraction > 0:
        n_val = max(n_val, 1)
    if n_samples - n_val < 1:
        raise ValueError(f'{n_samples} samples leave nothing to train on with '
                         f'val_fraction={val_fraction}')
    order = np.random.default_rng(seed).permutation(n_samples)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _open_dataset(dataset):
    """A dataset object from a path, a list of paths or an open dataset."""
    if isinstance(dataset, (str, Path)) or (
            isinstance(dataset, (list, tuple)) and dataset
            and all(isinstance(item, (str, Path)) for item in dataset)):
        from astropais.datasets import read_datasets
        return read_datasets(dataset)
    for attr in ('manifest', 'iter_batches', '__len__'):
        if not hasattr(dataset, attr):
            raise TypeError(f'dataset must be a path or a Dataset, got '
                            f'{type(dataset).__name__}')
    return dataset


def _manifest_summary(manifest):
    """The dataset manifest without the shard list (kept as a digest)."""
    summary = {k: v for k, v in manifest.items() if k != 'shards'}
    shards = manifest.get('shards')
    if shards is not None:
        summary['n_shards'] = len(shards)
        digests = ''.join(str(s.get('sha256', '')) for s in shards)
        summary['shards_sha256'] = sha256_text(digests)
    return summary


def _build_compiled(config, n_bands, n, total_steps):
    """Build and compile a network from a run config (warm-started from
    ``config['init_model']`` when set)."""
    import keras

    from astropais.model.network import build_network
    keras.utils.set_random_seed(int(config['seed']))
    model = build_network(n_bands, n, depth=config['depth'],
                          base_filters=config['base_filters'],
                          vector_scale=config['vector_scale'])
    if config['init_model']:
        _warm_start(model, config)
    _compile(model, config, total_steps)
    return model


def _warm_start(model, config):
    """Copy the weights of a saved PCR model (checksum verified)."""
    from astropais.model.io import load_model
    source = load_model(config['init_model']['path'])
    config['init_model']['sha256'] = source.metadata['sha256']
    mine = [w.shape for w in model.get_weights()]
    theirs = [w.shape for w in source.model.get_weights()]
    if mine != theirs or source.vector_scale != config['vector_scale']:
        raise ValueError(
            f'init_model {config["init_model"]["path"]} does not match the '
            f'network to train (depth {config["depth"]}, base filters '
            f'{config["base_filters"]}, vector scale '
            f'{config["vector_scale"]}); its architecture is '
            f'{source.metadata.get("architecture")}, vector scale '
            f'{source.vector_scale}')
    model.set_weights(source.model.get_weights())


def _learning_rate(config, total_steps):
    """The optimizer's learning rate: a number or a cosine schedule."""
    import keras
    if config['lr_schedule'] == 'constant':
        return config['learning_rate']
    return keras.optimizers.schedules.CosineDecay(
        config['learning_rate'], decay_steps=max(int(total_steps), 1),
        alpha=_COSINE_ALPHA)


def _compile(model, config, total_steps):
    """Compile with Adam and the eq. 3 losses of a run config."""
    import keras

    from astropais.model.losses import pcr_losses
    loss, loss_weights = pcr_losses(
        config['heatmap_weight'], config['vector_weight'],
        config['cross_entropy_weight'], config['entropy_weight'],
        config['entropy_mode'])
    optimizer = keras.optimizers.Adam(
        learning_rate=_learning_rate(config, total_steps),
        beta_1=config['beta_1'],
        beta_2=config['beta_2'], epsilon=config['epsilon'])
    model.compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights)


def _batches(dataset, indices, batch_size, seed, epoch):
    """The epoch's deterministic batch stream."""
    return dataset.iter_batches(batch_size, shuffle=True, seed=[seed, epoch],
                                indices=indices)


def _inputs_targets(batch, config):
    """Network inputs and loss targets of one batch."""
    x = normalise_image(batch['image'], batch['noise_sigma'],
                        config['normalisation'])
    return x, pack_targets(batch, config['pixel_weighting'],
                           config['vector_weighting'])


def _evaluate(model, dataset, indices, batch_size, config):
    """Mean validation losses (sample weighted)."""
    if len(indices) == 0:
        return {}
    sums, count = dict.fromkeys(_LOSS_KEYS, 0.0), 0
    for batch in dataset.iter_batches(batch_size, shuffle=False,
                                      indices=indices):
        x, y = _inputs_targets(batch, config)
        logs = model.test_on_batch(x, y, return_dict=True)
        for key in _LOSS_KEYS:
            sums[key] += float(logs[key]) * len(x)
        count += len(x)
    return {f'val_{key}': value / count for key, value in sums.items()}


def _append_log(path, row):
    """Append a row to the CSV log (header written once)."""
    new = not path.exists()
    with open(path, 'a', newline='') as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_COLUMNS,
                                extrasaction='ignore')
        if new:
            writer.writeheader()
        writer.writerow({key: row.get(key, '') for key in LOG_COLUMNS})


def _export(model, config, out_dir, dataset, n, metrics, state):
    """Save the trained weights without optimizer state, plus the sidecar."""
    from astropais.model.io import save_model
    from astropais.model.network import build_network
    n_bands = int(model.inputs[0].shape[-1])
    clean = build_network(n_bands, n, depth=config['depth'],
                          base_filters=config['base_filters'],
                          vector_scale=config['vector_scale'])
    clean.set_weights(model.get_weights())
    manifest = dataset.manifest
    crop = manifest.get('crop_shape') or [None]
    bands = manifest.get('bands')
    return save_model(
        clean, Path(out_dir) / 'model.keras', n=n,
        sigma=float(manifest.get('sigma', float('nan'))),
        vector_scale=config['vector_scale'],
        normalisation=config['normalisation'], tile_size=crop[0],
        bands=bands if bands and len(bands) == n_bands else None,
        architecture={'name': 'unet', 'depth': config['depth'],
                      'base_filters': config['base_filters']},
        dataset_manifest=_manifest_summary(manifest), metrics=metrics,
        extra={'training': {**{k: config[k] for k in _RUN_KEYS},
                            'epochs_completed': state['epoch'],
                            'steps': state['step'],
                            'complete': state['position'] == 0}})


def train(dataset, out_dir, *, epochs=10, batch_size=16, max_minutes=None,
          resume=False, val_fraction=0.1, learning_rate=5e-5, beta_1=0.9,
          beta_2=0.9999, epsilon=1e-7, heatmap_weight=15.0,
          vector_weight=0.06, cross_entropy_weight=4.0, entropy_weight=2.0,
          entropy_mode='match', depth=3, base_filters=8, vector_scale=16.0,
          normalisation=None, augment=True, seed=0, steps_per_epoch=None,
          pixel_weighting='uniform', vector_weighting='uniform',
          lr_schedule='constant', init_model=None, progress_bar=True):
    """
    Train a PCR network on a dataset and export it.

    Writes into ``out_dir``: ``checkpoints/last.keras`` + ``last.json``
    (after every epoch and when the time budget stops training),
    ``metrics.csv`` (one row per epoch), and the final ``model.keras`` +
    ``model.json`` sidecar (see `astropais.model.save_model`).

    Parameters
    ----------
    dataset : str, `pathlib.Path`, list of them, or `~astropais.datasets.Dataset`
        A dataset written by `~astropais.datasets.DatasetWriter`, or several
        (read as one training set by `~astropais.datasets.read_datasets`).
    out_dir : str or `pathlib.Path`
        Output directory.
    epochs : int, optional
        Total number of epochs (a resumed run continues up to this number).
    batch_size : int, optional
        Samples per step.
    max_minutes : float or None, optional
        Time budget of this call; when exceeded, training checkpoints, exports
        and stops (resume later with ``resume=True``).
    resume : bool, optional
        Continue from the checkpoint in ``out_dir``: same model, optimizer
        state, step count and data order.  The run settings (everything but
        ``epochs``, ``max_minutes`` and ``progress_bar``) are taken from
        the checkpoint.
    val_fraction : float, optional
        Fraction of the samples held out for validation.
    learning_rate, beta_1, beta_2, epsilon : float, optional
        Adam settings (paper: 5e-5, 0.9, 0.9999, 1e-7).
    heatmap_weight, vector_weight, cross_entropy_weight, entropy_weight : float, optional
        Loss weights of paper eq. 3 (paper: 15, 0.06, 4, 2).
    entropy_mode : {'match', 'minimise', 'maximise'}, optional
        The entropy term (see `astropais.model.FractionLoss`).
    depth, base_filters : int, optional
        Network size (see `astropais.model.build_network`).
    vector_scale : float, optional
        Pixels per network unit of the vector output.
    normalisation : dict or None, optional
        Input normalisation parameters (default asinh, softening 1).
    augment : bool, optional
        Apply a random flip/rotation to each batch.
    seed : int, optional
        Seed of the initial weights, the split, the data order and the
        augmentation.
    steps_per_epoch : int or None, optional
        At most this many steps per epoch (default: one pass over the
        training split).
    pixel_weighting : {'uniform', 'signal'}, optional
        Per-pixel weights of the vector and fraction losses (see
        `astropais.model.targets.pixel_weights`).
    vector_weighting : {'uniform', 'fraction'}, optional
        Per-slot weights of the vector loss (see
        `astropais.model.targets.pack_targets`).
    lr_schedule : {'constant', 'cosine'}, optional
        ``'cosine'`` decays the learning rate from ``learning_rate`` to
        5 % of it over ``epochs`` epochs (the schedule is part of the
        checkpointed optimizer, so a resumed run continues it).
    init_model : str, `pathlib.Path` or None, optional
        Warm start: a saved PCR model (``.keras`` with its sidecar; the
        checksum is verified) of the same architecture whose weights
        initialise the network.  Its path and SHA-256 are recorded in the
        training settings.
    progress_bar : bool, optional
        Show a tqdm progress bar.

    Returns
    -------
    result : `TrainingResult`
        Paths, history and counters.

    Raises
    ------
    FileNotFoundError
        If ``resume`` is set and ``out_dir`` holds no checkpoint, or
        ``init_model`` does not exist.
    ValueError
        If a setting is invalid, ``out_dir`` already holds a run and
        ``resume`` is not set, the dataset differs from the checkpoint's,
        or ``init_model`` has another architecture.
    """
    run_args = dict(locals())
    from tqdm.auto import tqdm

    start_time = time.monotonic()
    dataset = _open_dataset(dataset)
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / 'checkpoints'
    log_path = out_dir / 'metrics.csv'
    # default=str, not json_default: the digest of existing checkpoints.
    manifest_digest = sha256_text(json.dumps(
        _manifest_summary(dataset.manifest), sort_keys=True, default=str))
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
        raise ValueError(f'epochs must be a positive integer, got {epochs!r}')
    if max_minutes is not None and not max_minutes > 0:
        raise ValueError(f'max_minutes must be > 0, got {max_minutes!r}')

    if resume:
        model, state = load_checkpoint(ckpt_dir)
        config = state['config']
        # Checkpoints written before these settings existed used the
        # defaults.
        config.setdefault('pixel_weighting', 'uniform')
        config.setdefault('vector_weighting', 'uniform')
        config.setdefault('lr_schedule', 'constant')
        config.setdefault('init_model', None)
        if state['dataset_digest'] != manifest_digest:
            raise ValueError('the dataset differs from the one the checkpoint '
                             'was trained on; resume needs the same dataset')
    else:
        if has_checkpoint(ckpt_dir) or log_path.exists():
            raise ValueError(f'{out_dir} already holds a training run; use '
                             'resume=True (--resume) or another directory')
        if isinstance(batch_size, bool) or int(batch_size) != batch_size \
                or batch_size < 1:
            raise ValueError(f'batch_size must be a positive integer, got '
                             f'{batch_size!r}')
        if steps_per_epoch is not None and steps_per_epoch < 1:
            raise ValueError('steps_per_epoch must be >= 1')
        if not vector_scale > 0:
            raise ValueError(f'vector_scale must be > 0, got {vector_scale!r}')
        check_pixel_weighting(pixel_weighting)
        check_vector_weighting(vector_weighting)
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(f'lr_schedule must be one of {LR_SCHEDULES}, '
                             f'got {lr_schedule!r}')
        if init_model is not None:
            init_model = {'path': str(Path(init_model).resolve())}
        config = {key: run_args[key] for key in _RUN_KEYS}
        config['init_model'] = init_model
        config['normalisation'] = validate_normalisation(normalisation)
        config['batch_size'] = int(batch_size)
        state = {'epoch': 0, 'position': 0, 'step': 0, 'partial': None,
                 'config': config, 'dataset_digest': manifest_digest}
        model = None

    train_idx, val_idx = split_indices(len(dataset), config['val_fraction'],
                                       config['seed'])
    first = next(dataset.iter_batches(1, shuffle=False, indices=train_idx[:1]))
    n = int(first['vectors'].shape[-2])
    n_bands = int(first['image'].shape[-1])
    bs = config['batch_size']
    n_steps = math.ceil(len(train_idx) / bs)
    if config['steps_per_epoch']:
        n_steps = min(n_steps, int(config['steps_per_epoch']))
    if model is None:
        from astropais.model.losses import FractionLoss
        FractionLoss(entropy_mode=config['entropy_mode'])  # validates early
        model = _build_compiled(config, n_bands, n, int(epochs) * n_steps)

    history, stopped, metrics = [], False, {}
    out_dir.mkdir(parents=True, exist_ok=True)
    # A loop over epochs, then over the batches of one epoch.
    for epoch in range(state['epoch'], int(epochs)):
        skip = state['position']
        sums = state['partial'] or dict.fromkeys(_LOSS_KEYS, 0.0) | {'n': 0}
        bar = tqdm(total=n_steps, initial=skip, disable=not progress_bar,
                   desc=f'epoch {epoch + 1}/{epochs}', unit='step',
                   leave=False)
        position = skip
        batches = _batches(dataset, train_idx, bs, config['seed'], epoch)
        for index, batch in enumerate(batches):
            if index >= n_steps:
                break
            if index < skip:
                continue
            if config['augment']:
                rng = np.random.default_rng([config['seed'], epoch, index])
                batch, _ = random_dihedral(batch, rng)
            x, y = _inputs_targets(batch, config)
            logs = model.train_on_batch(x, y, return_dict=True)
            for key in _LOSS_KEYS:
                sums[key] += float(logs[key]) * len(x)
            sums['n'] += len(x)
            state['step'] += 1
            position = index + 1
            bar.update(1)
            bar.set_postfix(loss=f'{sums["loss"] / sums["n"]:.4g}')
            over = (max_minutes is not None and
                    time.monotonic() - start_time > 60 * max_minutes)
            if over and position < n_steps:
                stopped = True
                break
        bar.close()
        row = {'epoch': epoch + 1, 'step': state['step'],
               **{key: sums[key] / max(sums['n'], 1) for key in _LOSS_KEYS}}
        if stopped:
            state.update(epoch=epoch, position=position, partial=sums)
            row['complete'] = 0
        else:
            row.update(_evaluate(model, dataset, val_idx, bs, config))
            row['complete'] = 1
            state.update(epoch=epoch + 1, position=0, partial=None)
        row['elapsed_s'] = round(time.monotonic() - start_time, 3)
        metrics = {k: v for k, v in row.items() if k != 'complete'}
        state['metrics'] = metrics
        save_checkpoint(ckpt_dir, model, state)
        _append_log(log_path, row)
        history.append(row)
        if stopped:
            break
        if (max_minutes is not None and epoch + 1 < epochs and
                time.monotonic() - start_time > 60 * max_minutes):
            stopped = True
            break

    if not history:
        # Nothing left to train (resume of a finished run): keep the metrics.
        metrics = state.get('metrics', {})
    sidecar = _export(model, config, out_dir, dataset, n, metrics, state)
    return TrainingResult(model_path=out_dir / 'model.keras', sidecar=sidecar,
                          history=history, epochs_completed=state['epoch'],
                          steps=state['step'], stopped_by_budget=stopped)
