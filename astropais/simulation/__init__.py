"""
Simulated blended fields with per-source truth (GalSim), in named presets
(``'hst'``, ``'lsst'``, ``'hst_drizzled'``, ``'ground'``; multi-band
``'grizy'`` and ``'hst_multi'``), a domain-randomised distribution of
scenes (``'mixed'``), and the writer of simulated training datasets.
"""

from .presets import *  # noqa: F401,F403
from .bands import *  # noqa: F401,F403
from .scene import *  # noqa: F401,F403
from .multiband import *  # noqa: F401,F403
from .randomise import *  # noqa: F401,F403
from .dataset import *  # noqa: F401,F403
from .presets import __all__ as _presets_all
from .bands import __all__ as _bands_all
from .scene import __all__ as _scene_all
from .multiband import __all__ as _multiband_all
from .randomise import __all__ as _randomise_all
from .dataset import __all__ as _dataset_all

__all__ = [*_presets_all, *_bands_all, *_scene_all, *_multiband_all,
           *_randomise_all, *_dataset_all]
