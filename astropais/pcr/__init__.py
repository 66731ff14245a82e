"""
The Partial Contribution Representation (PCR): vectorised encoder and
decoder, and the sparse structures they read and write.  numpy/scipy only.
"""

from .sparse import *  # noqa: F401,F403
from .encode import *  # noqa: F401,F403
from .decode import *  # noqa: F401,F403
from .prune import *  # noqa: F401,F403
