"""
astropais: Partial-Attribution Instance Segmentation for astronomical
source detection and deblending.

Importing the package is cheap: the network stack (Keras and its
backend) is imported only when a model is built or loaded, and the
public classes are imported on first access.
"""

import importlib

from . import _backend
from .version import __version__

# Quiet the backend's start-up logging before anything imports it.
_backend.install()

# Public name -> submodule that defines it.  Resolved lazily (PEP 562) so
# that ``import astropais`` never imports TensorFlow, Keras or JAX.
_LAZY_PUBLIC = {
    'PAISDeblender': '.segmentation',
    'WeightedSegmentationImage': '.segmentation',
    'WeightedSourceCatalog': '.segmentation',
}

__all__ = ['__version__', *_LAZY_PUBLIC]


def __getattr__(name):
    if name in _LAZY_PUBLIC:
        module = importlib.import_module(_LAZY_PUBLIC[name], __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(set(globals()) | set(__all__))
