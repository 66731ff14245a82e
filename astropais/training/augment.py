"""
Dihedral data augmentation (flips and 90-degree rotations) of PCR batches.

The image and every label move together, and the contribution vectors
``(dy, dx)`` are transformed as vectors (not just moved), so that every
pixel still points at its sources after the transform.  Pure numpy.
"""

import numpy as np

__all__ = ['N_DIHEDRAL', 'dihedral_transform', 'random_dihedral']

#: Number of distinct dihedral transforms of a square (4 rotations x flip).
N_DIHEDRAL = 8

# Arrays whose first three axes are (B, h, w); everything else is carried.
_SPATIAL = ('image', 'heatmap', 'vectors', 'slot_mask', 'fractions',
            'source_mask')


def _rotate_vectors(vectors, k):
    """Rotate ``(..., 2)`` (dy, dx) offsets like ``np.rot90(k)`` rotates pixels."""
    dy, dx = vectors[..., 0], vectors[..., 1]
    for _ in range(k % 4):
        # np.rot90 (counter-clockwise) sends pixel (y, x) of an (h, w) image
        # to (w - 1 - x, y), so an offset (dy, dx) becomes (-dx, dy).
        dy, dx = -dx, dy
    return np.stack([dy, dx], axis=-1)


def dihedral_transform(batch, index):
    """
    Apply one of the 8 dihedral transforms to a batch of images and labels.

    Parameters
    ----------
    batch : dict of `numpy.ndarray`
        ``image`` ``(B, h, w, b)`` and optionally the PCR labels
        ``heatmap``, ``vectors`` ``(B, h, w, n, 2)``, ``slot_mask``,
        ``fractions``, ``source_mask`` (all with axes ``(B, h, w, ...)``);
        other entries (e.g. ``noise_sigma``) are passed through.
    index : int
        Transform number in ``0..7``: ``index % 4`` quarter turns
        counter-clockwise (`numpy.rot90`), preceded by a left-right flip
        when ``index >= 4``.  0 is the identity.

    Returns
    -------
    transformed : dict of `numpy.ndarray`
        A new dictionary; vectors are rotated/flipped with the pixels.

    Raises
    ------
    ValueError
        If ``index`` is not in ``0..7``.
    """
    if isinstance(index, bool) or int(index) != index or not 0 <= index < 8:
        raise ValueError(f'dihedral index must be an integer in 0..7, '
                         f'got {index!r}')
    index = int(index)
    flip, k = index >= 4, index % 4
    out = dict(batch)
    for key in _SPATIAL:
        if key not in batch:
            continue
        array = np.asarray(batch[key])
        if flip:
            array = array[:, :, ::-1]
        if k:
            array = np.rot90(array, k, axes=(1, 2))
        if key == 'vectors':
            if flip:
                array = array * np.array([1, -1], dtype=array.dtype)
            array = _rotate_vectors(array, k).astype(batch[key].dtype)
        out[key] = np.ascontiguousarray(array)
    return out


def random_dihedral(batch, rng):
    """
    Apply a random dihedral transform (the same to the whole batch).

    Rotations by 90 or 270 degrees are only drawn for square images, so
    the batch shape never changes.

    Parameters
    ----------
    batch : dict of `numpy.ndarray`
        See `dihedral_transform`.
    rng : `numpy.random.Generator`
        Random generator.

    Returns
    -------
    transformed : dict of `numpy.ndarray`
        The transformed batch.
    index : int
        The transform applied.
    """
    h, w = np.shape(batch['image'])[1:3]
    choices = np.arange(N_DIHEDRAL) if h == w else np.array([0, 2, 4, 6])
    index = int(rng.choice(choices))
    return dihedral_transform(batch, index), index
