"""
The PCR network: Keras layers and builder, losses, the fixed input
normalisation, safe saving/loading with a SHA-256 sidecar, and the
inference precision.

Importing this package does not import Keras: the numpy parts
(`normalise_image`, `pack_targets`, `load_model`, `PCRNetwork`) are
imported directly, and the Keras parts (`build_network`, the losses and
layers) on first access.
"""

import importlib

from .io import *  # noqa: F401,F403
from .io import __all__ as _io_all
from .normalisation import *  # noqa: F401,F403
from .normalisation import __all__ as _normalisation_all
from .precision import *  # noqa: F401,F403
from .precision import __all__ as _precision_all
from .targets import *  # noqa: F401,F403
from .targets import __all__ as _targets_all

# Public name -> submodule; these submodules import Keras.
_LAZY = {
    'build_network': 'network', 'size_multiple': 'network',
    'OUTPUT_NAMES': 'network',
    'HeatmapLoss': 'losses', 'VectorLoss': 'losses', 'FractionLoss': 'losses',
    'pcr_losses': 'losses', 'PAPER_LOSS_WEIGHTS': 'losses',
    'ENTROPY_MODES': 'losses',
    'HeatmapOutput': 'layers', 'VectorOutput': 'layers',
    'FractionOutput': 'layers', 'NumpyGlorotUniform': 'layers',
}

__all__ = [*_io_all, *_normalisation_all, *_precision_all, *_targets_all,
           *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f'.{_LAZY[name]}', __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(set(globals()) | set(__all__))
