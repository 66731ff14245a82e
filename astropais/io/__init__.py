"""
Reading and writing weighted segmentations: lossless FITS
(multi-extension) and ASDF files, and `regions` export of the source
footprints and apertures, and the products of a deblending run.  No
network stack is imported here.
"""

from .files import *  # noqa: F401,F403
from .files import __all__ as _files_all
from .products import *  # noqa: F401,F403
from .products import __all__ as _products_all
from .regions import *  # noqa: F401,F403
from .regions import __all__ as _regions_all

__all__ = [*_files_all, *_products_all, *_regions_all]
