"""
Training PCR networks: the training loop with checkpoints, exact resume,
a CSV log and a time budget; dihedral augmentation.  Keras is imported only
when training starts.
"""

from .augment import *  # noqa: F401,F403
from .checkpoint import *  # noqa: F401,F403
from .loop import *  # noqa: F401,F403
from .augment import __all__ as _augment_all
from .checkpoint import __all__ as _checkpoint_all
from .loop import __all__ as _loop_all

__all__ = [*_loop_all, *_augment_all, *_checkpoint_all]
