"""SHA-256 digests of files and texts (model archives, dataset shards)."""

import hashlib

__all__ = ['sha256_file', 'sha256_text']


def sha256_file(path, chunk_size=1 << 20):
    """
    SHA-256 hex digest of a file, read in chunks.

    Parameters
    ----------
    path : str or `os.PathLike`
        The file.
    chunk_size : int, optional
        Bytes per read (the file is never held in memory whole).

    Returns
    -------
    digest : str
        64 lower-case hexadecimal characters.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / 'empty'
    ...     _ = path.write_bytes(b'')
    ...     sha256_file(path)[:16]
    'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_text(text):
    """
    SHA-256 hex digest of a text, encoded as UTF-8.

    Parameters
    ----------
    text : str
        The text (e.g. a canonical JSON dump).

    Returns
    -------
    digest : str
        The digest of ``text.encode('utf-8')``, as `sha256_file` writes it.

    Examples
    --------
    >>> sha256_text('')[:16]
    'e3b0c44298fc1c14'
    """
    return hashlib.sha256(text.encode('utf-8')).hexdigest()
