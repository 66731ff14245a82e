"""The versions of the software that wrote a file or a result."""

import importlib

__all__ = ['package_versions']


def package_versions(names):
    """
    The ``__version__`` of each named module, `None` where it is absent.

    Parameters
    ----------
    names : iterable of str
        Importable module names (e.g. ``'numpy'``, ``'keras'``).

    Returns
    -------
    versions : dict
        ``{name: version string or None}`` in the order given; `None`
        where the module cannot be imported (for any reason: reporting
        versions never fails the run that records them) or has no
        ``__version__``.

    Examples
    --------
    >>> import numpy as np
    >>> versions = package_versions(['numpy', 'no_such_module'])
    >>> versions['numpy'] == np.__version__, versions['no_such_module']
    (True, None)
    """
    versions = {}
    # A loop over a handful of module names.
    for name in names:
        try:
            versions[name] = str(importlib.import_module(name).__version__)
        except Exception:  # absent or broken: no version to report
            versions[name] = None
    return versions
