"""
Shared helpers for the records astropais writes beside its files: the
SHA-256 of a file (`sha256_file`) or a text (`sha256_text`), the JSON
conversion of numpy values and paths (`json_default`) and the versions of
the software that wrote them (`package_versions`), and the index of a
band given by name or number (`band_index`).

Each rule has its one home here; model sidecars, dataset manifests,
training checkpoints and benchmark records use them.
"""

from .bands import band_index
from .checksum import sha256_file, sha256_text
from .jsonable import json_default
from .versions import package_versions

__all__ = ['sha256_file', 'sha256_text', 'json_default', 'package_versions',
           'band_index']
