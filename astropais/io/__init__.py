"""
Reading and writing weighted segmentations: lossless FITS
(multi-extension) and ASDF files, and `regions` export of the source
footprints and apertures.  No network stack is imported here.
"""

from .files import *  # noqa: F401,F403
from .regions import *  # noqa: F401,F403
