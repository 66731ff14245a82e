"""
The on-disk training-data format shared by simulation, scarlet2 labels,
training and benchmarks: compressed NPZ shards (never pickles) of images,
PCR labels and catalogues, with a JSON manifest.
"""

from .collection import *  # noqa: F401,F403
from .masks import *  # noqa: F401,F403
from .reader import *  # noqa: F401,F403
from .writer import *  # noqa: F401,F403
from .collection import __all__ as _collection_all
from .masks import __all__ as _masks_all
from .reader import __all__ as _reader_all
from .writer import __all__ as _writer_all

__all__ = [*_writer_all, *_reader_all, *_collection_all, *_masks_all]
