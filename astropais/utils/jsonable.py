"""The JSON conversion of the values astropais records in its sidecars."""

import reprlib
from pathlib import PurePath

import numpy as np

__all__ = ['json_default']


def json_default(value):
    """
    JSON form of a value the `json` module cannot write itself.

    Pass it as ``json.dumps(obj, default=json_default)``: numpy scalars
    become Python numbers and booleans, numpy arrays nested lists and
    paths strings; anything else is refused.

    Parameters
    ----------
    value : object
        A value `json` could not serialise.

    Returns
    -------
    converted : object
        A JSON-serialisable equivalent.

    Raises
    ------
    TypeError
        If ``value`` has no JSON form (the message names its type).

    Examples
    --------
    >>> import json
    >>> import numpy as np
    >>> json.dumps({'n': np.int64(3), 'xy': np.array([1.5, 2.0])},
    ...            default=json_default)
    '{"n": 3, "xy": [1.5, 2.0]}'
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f'{type(value).__name__} value {reprlib.repr(value)} is '
                    'not JSON-serialisable')
