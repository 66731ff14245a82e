"""
Pack PCR label arrays into the targets of the PCR losses (pure numpy).

See `astropais.model.losses` for the packed layout.
"""

import numpy as np

__all__ = ['pack_targets']


def pack_targets(batch):
    """
    Build the loss targets from a batch of PCR labels.

    Parameters
    ----------
    batch : dict
        Arrays ``heatmap`` ``(B, h, w)``, ``vectors`` ``(B, h, w, n, 2)``
        (pixels), ``slot_mask`` ``(B, h, w, n)``, ``fractions``
        ``(B, h, w, b, n)`` and ``source_mask`` ``(B, h, w)``.

    Returns
    -------
    targets : dict of `numpy.ndarray`
        float32 ``heatmap`` ``(B, h, w)``, ``vectors`` ``(B, h, w, n, 3)``
        and ``fractions`` ``(B, h, w, b, 2 n)``.

    Raises
    ------
    ValueError
        If the shapes are inconsistent or a label is not finite.
    """
    heatmap = np.asarray(batch['heatmap'], dtype=np.float32)
    vectors = np.asarray(batch['vectors'], dtype=np.float32)
    slot_mask = np.asarray(batch['slot_mask'], dtype=bool)
    fractions = np.asarray(batch['fractions'], dtype=np.float32)
    source_mask = np.asarray(batch['source_mask'], dtype=bool)
    if heatmap.ndim != 3:
        raise ValueError(f'heatmap must be (B, h, w), got {heatmap.shape}')
    bhw = heatmap.shape
    n = vectors.shape[-2] if vectors.ndim == 5 else None
    expected = {'vectors': (*bhw, n, 2), 'slot_mask': (*bhw, n),
                'fractions': (*bhw, fractions.shape[3] if fractions.ndim == 5
                              else None, n),
                'source_mask': bhw}
    for key, array in (('vectors', vectors), ('slot_mask', slot_mask),
                       ('fractions', fractions), ('source_mask', source_mask)):
        if array.shape != expected[key]:
            raise ValueError(f'{key} has shape {array.shape}, expected '
                             f'{expected[key]} for a heatmap of shape {bhw}')
    weight = slot_mask & source_mask[..., None]
    # Padding slots may carry any value in the labels: zero them.
    vectors = np.where(weight[..., None], vectors, 0.0).astype(np.float32)
    for key, array in (('heatmap', heatmap), ('vectors', vectors),
                       ('fractions', fractions)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f'{key} labels contain non-finite values')
    weight = weight.astype(np.float32)
    band_weight = np.broadcast_to(weight[:, :, :, None, :], fractions.shape)
    return {'heatmap': heatmap,
            'vectors': np.concatenate([vectors, weight[..., None]], axis=-1),
            'fractions': np.concatenate([fractions, band_weight], axis=-1)}
