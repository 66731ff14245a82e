"""
Quiet start-up of the network backend (Keras and TensorFlow).

TensorFlow's C++ runtime writes start-up lines straight to the process's
standard error while it is imported (the oneDNN notice, the CPU-feature
notice and absl's "All log messages before absl::InitializeLog()" line);
``TF_CPP_MIN_LOG_LEVEL`` hides only some of them.  `install` (run by
``import astropais``) registers an import hook that, the first time
``keras`` or ``tensorflow`` is imported, runs that import with file
descriptor 2 sent to a temporary file.  The captured text is dropped when
the import succeeds and written back to standard error when it fails, so
no diagnostic of a broken installation is lost.  Nothing is imported by
`install` itself: ``import astropais`` stays cheap.

The hook also filters TensorFlow's "triggered tf.function retracing"
warning: the network is fully convolutional, so every new image shape is
a new trace by design, and several deblenders in one process share
Keras' predict function code.
"""

import importlib.abc
import importlib.machinery
import logging
import os
import sys
import tempfile
from contextlib import contextmanager

__all__ = ['install', 'quiet_stderr', 'BACKEND_MODULES']

#: Top-level modules whose first import is made quiet.
BACKEND_MODULES = ('keras', 'tensorflow')

# Environment defaults set before the backend is imported (a value the
# user already set wins): hide TensorFlow's C++ logs below FATAL (even
# benign ERROR lines such as oneDNN's fallback notices on some CPUs).
_ENVIRONMENT = {'TF_CPP_MIN_LOG_LEVEL': '3'}


@contextmanager
def quiet_stderr():
    """
    Send file descriptor 2 (C and Python standard error) to a temporary
    file for the duration of the block.

    Text written there is discarded when the block succeeds and written
    back to standard error when it raises.

    Examples
    --------
    >>> import os
    >>> from astropais._backend import quiet_stderr
    >>> with quiet_stderr():
    ...     _ = os.write(2, b'not shown')
    """
    try:
        original = os.dup(2)
    except OSError:  # pragma: no cover  (no standard error at all)
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(original, 2)
            capture.seek(0)
            os.write(2, capture.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(original, 2)
            os.close(original)


class _RetracingFilter(logging.Filter):
    """Drop TensorFlow's tf.function retracing warning (see the module)."""

    def filter(self, record):
        return 'triggered tf.function retracing' not in record.getMessage()


class _QuietLoader(importlib.abc.Loader):
    """Run another loader's ``exec_module`` with standard error captured."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with quiet_stderr():
            self._loader.exec_module(module)
        logger = logging.getLogger('tensorflow')
        if not any(isinstance(f, _RetracingFilter) for f in logger.filters):
            logger.addFilter(_RetracingFilter())


class _QuietBackendFinder(importlib.abc.MetaPathFinder):
    """Find `BACKEND_MODULES` with the other finders, load them quietly."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in BACKEND_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, 'exec_module'):
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


def install():
    """
    Set the backend's logging environment defaults and register the quiet
    import hook (once; a no-op when the backend is already imported).

    Examples
    --------
    >>> from astropais import _backend
    >>> _backend.install()
    >>> sum(isinstance(f, _backend._QuietBackendFinder)
    ...     for f in __import__('sys').meta_path)
    1
    """
    for name, value in _ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if any(isinstance(finder, _QuietBackendFinder)
           for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietBackendFinder())
