"""The on-disk layout shared by the dataset writer and reader."""

import json
import zipfile

import numpy as np

from astropais.utils import json_default

__all__ = []

FORMAT_NAME = 'astropais-dataset'
FORMAT_VERSION = 1
MANIFEST_NAME = 'manifest.json'
SHARD_PATTERN = 'shard-{:05d}.npz'

#: Per-sample arrays, their dtypes and their shapes (H, W, b, n symbolic).
SAMPLE_ARRAYS = {
    'image': ('float32', ('H', 'W', 'b')),
    'noise_sigma': ('float32', ('b',)),
    'heatmap': ('float32', ('H', 'W')),
    'vectors': ('float32', ('H', 'W', 'n', 2)),
    'slot_mask': ('bool', ('H', 'W', 'n')),
    'fractions': ('float32', ('H', 'W', 'b', 'n')),
    'source_mask': ('bool', ('H', 'W')),
}
CATALOG_PREFIX = 'catalog.'
CATALOG_OFFSETS = 'catalog_offsets'
CATALOG_META = 'catalog_meta'

#: A fixed timestamp makes shards byte-for-byte reproducible.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def write_npz(path, arrays):
    """Write arrays to a compressed NPZ with no timestamps or pickles."""
    with zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_DEFLATED) as zf:
        # A loop over a handful of named arrays.
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f'{name}.npy', date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, 'w', force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(array),
                                          allow_pickle=False)


def read_npz(path):
    """Read every array of an NPZ file (never unpickling)."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def dumps(obj):
    """Deterministic JSON (sorted keys, numpy scalars as Python)."""
    return json.dumps(obj, sort_keys=True, indent=1, default=json_default)


def write_json_atomic(path, obj):
    """Write JSON to ``path`` through a temporary file and a rename."""
    import os

    tmp = f'{path}.tmp'
    with open(tmp, 'w', encoding='utf-8') as fh:
        fh.write(dumps(obj) + '\n')
    os.replace(tmp, path)


def buffer_bytes(arrays):
    """Bytes held by a dict of arrays (for tests of memory bounds)."""
    return sum(np.asarray(a).nbytes for a in arrays.values())


