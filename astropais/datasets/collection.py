"""
Several datasets read as one, e.g. the HST-like and LSST-like simulations
that together train the shipped model.
"""

import numpy as np

from .reader import ManifestProperties, read_dataset

__all__ = ['DatasetCollection', 'read_datasets']

# Manifest entries every part must share to be trained on together.
_SHARED_KEYS = ('n', 'sigma', 'crop_shape', 'n_bands', 'slots')
# Manifests written before a key existed: its value then.
_DEFAULTS = {'slots': 'nearest'}


def _shared(manifest, key):
    return manifest.get(key, _DEFAULTS.get(key))


class DatasetCollection(ManifestProperties):
    """
    Datasets concatenated in order, with the interface of one `Dataset`.

    Sample ``i`` of the collection is sample ``i - start_k`` of part ``k``,
    where ``start_k`` is the number of samples in the parts before it.

    Parameters
    ----------
    datasets : list of `Dataset`
        The parts, which must agree on ``n``, ``sigma``, the crop shape,
        the number of bands and the slot rule (``slots``).
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError('a dataset collection needs at least one dataset')
        first = self.datasets[0].manifest
        for part in self.datasets[1:]:
            for key in _SHARED_KEYS:
                if _shared(part.manifest, key) != _shared(first, key):
                    raise ValueError(
                        f'datasets disagree on {key!r}: '
                        f'{_shared(first, key)!r} in '
                        f'{self.datasets[0].directory}, '
                        f'{_shared(part.manifest, key)!r} in {part.directory}')
        counts = [len(part) for part in self.datasets]
        self._starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        self.manifest = {
            **{key: _shared(first, key) for key in _SHARED_KEYS},
            'bands': first.get('bands'),
            'format': first.get('format'),
            'format_version': first.get('format_version'),
            'n_samples': int(self._starts[-1]),
            'parts': [{k: v for k, v in part.manifest.items()
                       if k != 'shards'} | {'directory': str(part.directory)}
                      for part in self.datasets],
            # Every shard, so a digest of the collection covers all parts.
            'shards': [shard for part in self.datasets
                       for shard in part.manifest['shards']],
        }

    def __repr__(self):
        return (f'<DatasetCollection of {len(self.datasets)} datasets: '
                f'{len(self)} samples>')

    def __len__(self):
        return int(self._starts[-1])

    def _split(self, indices):
        """Map collection indices to ``(part, local indices)`` pairs."""
        part_of = np.searchsorted(self._starts, indices, side='right') - 1
        return [(k, indices[part_of == k] - self._starts[k])
                for k in np.unique(part_of)]

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f'index {index} out of range for {n} samples')
        index = int(index) % n
        part = int(np.searchsorted(self._starts, index, side='right') - 1)
        return self.datasets[part][index - self._starts[part]]

    def __iter__(self):
        for part in self.datasets:
            yield from part

    def iter_batches(self, batch_size, *, shuffle=True, seed=0, indices=None,
                     drop_last=False):
        """
        Stream batches from every part, one shard in memory at a time.

        The parts' shards are interleaved at random when ``shuffle`` is set
        (so training alternates between parts shard by shard); batches never
        mix two parts.  Arguments and batch contents are those of
        `Dataset.iter_batches`, with ``index`` the collection index.

        Parameters
        ----------
        batch_size : int
            Samples per batch.
        shuffle : bool, optional
            Shuffle shards and samples.
        seed : int, optional
            Seed of the shuffle.
        indices : array_like of int, optional
            Use only these collection samples.
        drop_last : bool, optional
            Drop a final batch of a part smaller than ``batch_size``.

        Yields
        ------
        batch : dict of `~numpy.ndarray`
            As `Dataset.iter_batches`.
        """
        all_indices = np.arange(len(self)) if indices is None else (
            np.unique(np.asarray(indices, dtype=np.int64)))
        if all_indices.size and (all_indices.min() < 0
                                 or all_indices.max() >= len(self)):
            raise IndexError(f'indices must lie in 0..{len(self) - 1}')
        rng = np.random.default_rng(seed)
        streams = []
        for part, local in self._split(all_indices):
            # One stream per part, each shard-streamed by the part itself.
            part_seed = int(rng.integers(2**31))
            streams.append((part, self.datasets[part].iter_batches(
                batch_size, shuffle=shuffle, seed=part_seed, indices=local,
                drop_last=drop_last)))
        while streams:
            pick = int(rng.integers(len(streams))) if shuffle else 0
            part, stream = streams[pick]
            batch = next(stream, None)
            if batch is None:
                streams.pop(pick)
                continue
            batch['index'] = batch['index'] + self._starts[part]
            yield batch


def read_datasets(directories, *, verify=True, in_memory=False):
    """
    Open one or several datasets as a single training set.

    Parameters
    ----------
    directories : str, path-like or list of them
        Dataset directories.
    verify : bool, optional
        Check each shard's SHA-256 when it is loaded.
    in_memory : bool, optional
        Keep every shard decoded in memory after its first read (see
        `~astropais.datasets.Dataset`).

    Returns
    -------
    dataset : `Dataset` or `DatasetCollection`
        The dataset itself when one directory is given.
    """
    if isinstance(directories, (str, bytes)) or hasattr(directories,
                                                        '__fspath__'):
        directories = [directories]
    parts = [read_dataset(d, verify=verify, in_memory=in_memory)
             for d in directories]
    return parts[0] if len(parts) == 1 else DatasetCollection(parts)
