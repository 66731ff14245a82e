"""
Training labels from real images: fit scarlet2 (the maintained JAX
SCARLET) at catalogue positions, turn its per-source models into PCR
labels, and write them in the dataset format `astropais-train` reads.

Nothing here imports JAX or scarlet2 until a fit is run.
"""

from .accuracy import *  # noqa: F401,F403
from .dataset import *  # noqa: F401,F403
from .fit import *  # noqa: F401,F403
from .inputs import *  # noqa: F401,F403
from .tiles import *  # noqa: F401,F403
from . import accuracy, dataset, fit, inputs, tiles

__all__ = (accuracy.__all__ + dataset.__all__ + fit.__all__ + inputs.__all__
           + tiles.__all__)
