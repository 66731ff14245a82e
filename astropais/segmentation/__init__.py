"""
The user-facing layer: `PAISDeblender` (detection and deblending with the
network), `WeightedSegmentationImage` (a photutils segmentation image
carrying each pixel's partial attribution) and `WeightedSourceCatalog`
(a photutils source catalog whose photometry uses the fractions).
"""

from .background import *  # noqa: F401,F403
from .background import __all__ as _background_all
from .catalog import *  # noqa: F401,F403
from .catalog import __all__ as _catalog_all
from .deblender import *  # noqa: F401,F403
from .deblender import __all__ as _deblender_all
from .pipeline import *  # noqa: F401,F403
from .pipeline import __all__ as _pipeline_all
from .uncertainty import *  # noqa: F401,F403
from .uncertainty import __all__ as _uncertainty_all
from .weighted import *  # noqa: F401,F403
from .weighted import __all__ as _weighted_all

__all__ = [*_deblender_all, *_weighted_all, *_catalog_all, *_pipeline_all,
           *_background_all, *_uncertainty_all]
