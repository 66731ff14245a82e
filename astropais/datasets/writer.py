"""`DatasetWriter`: stream images and PCR labels into NPZ shards."""

import json
import os
from pathlib import Path

import numpy as np

from astropais.utils import sha256_file

from . import _format as fmt

__all__ = ['DatasetWriter']

#: Manifest keys the writer owns; a user manifest may not set them.
WRITER_KEYS = ('format', 'format_version', 'astropais_version', 'n', 'sigma',
               'crop_shape', 'n_bands', 'n_samples', 'shards', 'arrays',
               'catalog_columns', 'shard_size')


def _catalog_arrays(catalog):
    """Columns of an astropy Table as plain numpy arrays (no objects)."""
    arrays = {}
    for name in catalog.colnames:
        value = np.asarray(catalog[name])
        if value.dtype.kind == 'O':
            raise TypeError(f'catalog column {name!r} has object dtype; '
                            f'use numbers or strings')
        if value.dtype.kind == 'S':
            value = value.astype('U')
        arrays[name] = value
    return arrays


def _catalog_meta(catalog):
    units = {name: str(catalog[name].unit) for name in catalog.colnames
             if catalog[name].unit is not None}
    try:
        return fmt.dumps({'meta': dict(catalog.meta), 'units': units})
    except TypeError as exc:
        raise TypeError(f'catalog.meta must be JSON-serialisable: {exc}') \
            from None


class DatasetWriter:
    """
    Write a training dataset: images, PCR labels and catalogues in
    compressed NPZ shards, with a JSON manifest.

    Samples are buffered in memory until ``shard_size`` of them are held,
    then written as one shard, so memory is bounded by one shard whatever
    the dataset size.  Shards are written byte-for-byte reproducibly (no
    timestamps) and never hold pickles.  After every shard the manifest is
    rewritten atomically, so an interrupted run can be resumed.

    Parameters
    ----------
    directory : str or path-like
        The dataset directory (created if needed).
    manifest : dict
        JSON-serialisable description of how the data were made (e.g.
        ``generator``, ``parameters``, ``seed``); stored in
        ``manifest.json`` beside the writer's own keys (``format``,
        ``format_version``, ``astropais_version``, ``n``, ``sigma``,
        ``crop_shape``, ``n_bands``, ``n_samples``, ``shards``, ``arrays``,
        ``catalog_columns``, ``shard_size``), which it may not set, except
        ``n`` and ``sigma``, which must then match the PCR labels.
    shard_size : int, optional
        Samples per shard.
    resume : bool, optional
        If the directory already holds a dataset, append to it (its
        manifest must agree with ``manifest``); otherwise an existing
        dataset is an error.

    Examples
    --------
    >>> with DatasetWriter('data/train', {'generator': 'mine'}) as writer:
    ...     writer.add(image, pcr, catalog, noise_sigma)  # doctest: +SKIP
    """

    def __init__(self, directory, manifest, shard_size=256, *, resume=False):
        if not isinstance(manifest, dict):
            raise TypeError(f'manifest must be a dict, got '
                            f'{type(manifest).__name__}')
        try:
            user = json.loads(fmt.dumps(manifest))
        except TypeError as exc:
            raise TypeError(f'manifest must be JSON-serialisable: {exc}') \
                from None
        reserved = sorted(set(user) & set(WRITER_KEYS) - {'n', 'sigma'})
        if reserved:
            raise ValueError(f'manifest keys {reserved} are set by the '
                             f'writer')
        if (isinstance(shard_size, bool)
                or not isinstance(shard_size, (int, np.integer))
                or shard_size < 1):
            raise ValueError(f'shard_size must be a positive integer, got '
                             f'{shard_size!r}')
        self.directory = Path(directory)
        self.shard_size = int(shard_size)
        self._buffer = []
        self._closed = False
        path = self.directory / fmt.MANIFEST_NAME
        if path.exists():
            if not resume:
                raise FileExistsError(
                    f'{self.directory} already holds a dataset; pass '
                    f'resume=True to append to it')
            with open(path, encoding='utf-8') as fh:
                stored = json.load(fh)
            if stored.get('format') != fmt.FORMAT_NAME:
                raise ValueError(f'{path} is not an astropais dataset '
                                 f'manifest')
            differ = sorted(k for k in set(user) | (set(stored)
                            - set(WRITER_KEYS))
                            if k not in WRITER_KEYS
                            and user.get(k) != stored.get(k))
            for key in ('n', 'sigma'):
                if key in user and user[key] != stored.get(key):
                    differ.append(key)
            if differ:
                raise ValueError(f'cannot resume: manifest entries {differ} '
                                 f'differ from the stored dataset')
            self._manifest = stored
            # Remove leftovers of an interrupted shard write.
            for tmp in self.directory.glob('*.tmp'):
                tmp.unlink()
        else:
            from astropais import __version__
            self.directory.mkdir(parents=True, exist_ok=True)
            self._manifest = {
                **user, 'format': fmt.FORMAT_NAME,
                'format_version': fmt.FORMAT_VERSION,
                'astropais_version': __version__,
                'n': user.get('n'), 'sigma': user.get('sigma'),
                'crop_shape': None, 'n_bands': None, 'n_samples': 0,
                'shards': [], 'shard_size': self.shard_size,
                'arrays': {name: {'dtype': dtype, 'shape': list(shape)}
                           for name, (dtype, shape)
                           in fmt.SAMPLE_ARRAYS.items()},
                'catalog_columns': None,
            }
            fmt.write_json_atomic(path, self._manifest)

    # -- context manager -------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __len__(self):
        return self.n_samples

    @property
    def n_samples(self):
        """Samples written or buffered so far (including earlier runs)."""
        return self._manifest['n_samples'] + len(self._buffer)

    @property
    def manifest(self):
        """A copy of the current manifest (without buffered samples)."""
        return json.loads(fmt.dumps(self._manifest))

    def add(self, image, pcr, catalog, noise_sigma):
        """
        Add one sample.

        Parameters
        ----------
        image : array_like, shape (H, W) or (H, W, b)
            The (noisy) image; stored as float32 (H, W, b).
        pcr : `~astropais.pcr.PCR`
            Its labels (same H, W; ``fractions`` with the same b).
        catalog : `~astropy.table.Table`
            The sources of the image (same columns in every sample;
            ``meta`` must be JSON-serialisable).
        noise_sigma : float or array_like of shape (b,)
            Per-pixel noise standard deviation of each band.
        """
        if self._closed:
            raise ValueError('the writer is closed')
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3:
            raise ValueError(f'image must be (H, W) or (H, W, b), got shape '
                             f'{image.shape}')
        if not np.all(np.isfinite(image)):
            raise ValueError('image has NaN or inf values; fill or crop them '
                             'before writing a training sample')
        height, width, bands = image.shape
        sigma = np.asarray(noise_sigma, dtype=np.float32).reshape(-1)
        if sigma.size == 1:
            sigma = np.repeat(sigma, bands)
        if sigma.shape != (bands,) or not np.all(np.isfinite(sigma)) \
                or np.any(sigma < 0):
            raise ValueError(f'noise_sigma must be {bands} finite value(s) '
                             f'>= 0, got {noise_sigma!r}')
        arrays = {'image': image, 'noise_sigma': sigma}
        for name in ('heatmap', 'vectors', 'slot_mask', 'fractions',
                     'source_mask'):
            if not hasattr(pcr, name):
                raise TypeError(f'pcr has no {name!r}: pass an '
                                f'astropais.pcr.PCR')
            arrays[name] = np.ascontiguousarray(
                getattr(pcr, name), dtype=fmt.SAMPLE_ARRAYS[name][0])
        if arrays['heatmap'].shape != (height, width):
            raise ValueError(f'image shape {(height, width)} differs from the '
                             f'PCR shape {arrays["heatmap"].shape}')
        n = int(pcr.n)
        sizes = {'H': height, 'W': width, 'b': bands, 'n': n}
        for name, (_, shape) in fmt.SAMPLE_ARRAYS.items():
            want = tuple(sizes.get(s, s) for s in shape)
            if arrays[name].shape != want:
                raise ValueError(f'{name} has shape {arrays[name].shape}, '
                                 f'expected {want}')
        if not hasattr(catalog, 'colnames'):
            raise TypeError('catalog must be an astropy Table')
        columns = _catalog_arrays(catalog)
        meta = _catalog_meta(catalog)
        self._check_consistent(n, float(pcr.sigma), (height, width), bands,
                               columns)
        self._buffer.append((arrays, columns, meta))
        if len(self._buffer) >= self.shard_size:
            self.flush()

    def _check_consistent(self, n, sigma, crop_shape, bands, columns):
        m = self._manifest
        given = {'n': n, 'sigma': sigma, 'crop_shape': list(crop_shape),
                 'n_bands': bands,
                 'catalog_columns': {k: v.dtype.kind + str(v.ndim)
                                     for k, v in columns.items()}}
        for key, value in given.items():
            if m[key] is None:
                m[key] = value
            elif m[key] != value:
                raise ValueError(f'sample {key} {value!r} differs from the '
                                 f'dataset\'s {m[key]!r}')

    def flush(self):
        """Write the buffered samples as one shard and update the manifest."""
        if not self._buffer:
            return
        samples = self._buffer
        arrays = {name: np.stack([s[0][name] for s in samples])
                  for name in fmt.SAMPLE_ARRAYS}
        lengths = [len(next(iter(s[1].values()), ())) for s in samples]
        arrays[fmt.CATALOG_OFFSETS] = np.concatenate(
            [[0], np.cumsum(lengths)]).astype(np.int64)
        for name in samples[0][1]:
            arrays[fmt.CATALOG_PREFIX + name] = np.concatenate(
                [s[1][name] for s in samples])
        arrays[fmt.CATALOG_META] = np.array([s[2] for s in samples])
        index = len(self._manifest['shards'])
        name = fmt.SHARD_PATTERN.format(index)
        path = self.directory / name
        tmp = self.directory / f'{name}.tmp'
        fmt.write_npz(tmp, arrays)
        os.replace(tmp, path)
        self._manifest['shards'].append({
            'file': name, 'n_samples': len(samples),
            'sha256': sha256_file(path)})
        self._manifest['n_samples'] += len(samples)
        fmt.write_json_atomic(self.directory / fmt.MANIFEST_NAME,
                              self._manifest)
        self._buffer = []

    def close(self):
        """Write any buffered samples; further `add` calls fail."""
        if not self._closed:
            self.flush()
            self._closed = True
