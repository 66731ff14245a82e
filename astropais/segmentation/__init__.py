"""
The user-facing layer: `PAISDeblender` (detection and deblending with the
network), `WeightedSegmentationImage` (a photutils segmentation image
carrying each pixel's partial attribution) and `WeightedSourceCatalog`
(a photutils source catalog whose photometry uses the fractions).
"""

from .catalog import *  # noqa: F401,F403
from .weighted import *  # noqa: F401,F403
from .deblender import *  # noqa: F401,F403
