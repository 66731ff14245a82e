"""
Scores for detection and deblending against known truth: one-to-one
matching, precision/recall/F1 (overall and binned), flux errors,
blendedness, per-source reconstruction and per-pixel fraction errors.
numpy/scipy only; shared by the tests, the benchmarks and the docs.
"""

from .attribution import *  # noqa: F401,F403
from .binning import *  # noqa: F401,F403
from .detection import *  # noqa: F401,F403
from .field import *  # noqa: F401,F403
from .matching import *  # noqa: F401,F403
from .photometry import *  # noqa: F401,F403
from .shredding import *  # noqa: F401,F403
from .truth import *  # noqa: F401,F403

from . import (attribution, binning, detection, field, matching, photometry,
               shredding, truth)

__all__ = (attribution.__all__ + binning.__all__ + detection.__all__
           + field.__all__ + matching.__all__ + photometry.__all__
           + shredding.__all__ + truth.__all__)
