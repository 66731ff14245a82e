"""
The PCR network: a compact U-Net encoder shared by two decoders.

* The *spatial decoder* predicts the centre heatmap :math:`C^c` (sigmoid)
  and the contribution vectors :math:`C^v` (linear, multiplied by the
  recorded vector scale so that the output is in pixels).
* The *attribution decoder* predicts the contribution maps :math:`C^m`
  (softmax over the n slots, per band).

Only Keras layers and the registered layers of `astropais.model.layers`
are used, so the saved model is backend independent.  Importing this
module imports Keras.
"""

import keras

from .layers import (FractionOutput, HeatmapOutput, NumpyGlorotUniform,
                     VectorOutput)

__all__ = ['OUTPUT_NAMES', 'build_network', 'size_multiple']

#: Names (and order) of the network outputs.
OUTPUT_NAMES = ('heatmap', 'vectors', 'fractions')


def size_multiple(depth):
    """
    The tile sizes the network accepts are multiples of this number.

    Parameters
    ----------
    depth : int
        Number of resolution levels.

    Returns
    -------
    multiple : int
        ``2 ** (depth - 1)``.
    """
    return 2 ** (int(depth) - 1)


def _conv_block(x, filters, name):
    """Two 3x3 convolutions with ReLU."""
    for i in range(2):
        x = keras.layers.Conv2D(filters, 3, padding='same', activation='relu',
                                kernel_initializer=NumpyGlorotUniform(),
                                name=f'{name}_conv{i}')(x)
    return x


def _decoder(x, skips, filters, name):
    """Upsample, concatenate the encoder skip, convolve; coarse to fine."""
    for level in range(len(skips) - 1, -1, -1):
        x = keras.layers.UpSampling2D(2, name=f'{name}_up{level}')(x)
        x = keras.layers.Concatenate(name=f'{name}_cat{level}')(
            [x, skips[level]])
        x = _conv_block(x, filters[level], f'{name}{level}')
    return x


def build_network(n_bands=1, n=3, *, depth=3, base_filters=8,
                  vector_scale=16.0, name='pcr_network'):
    """
    Build an untrained PCR network.

    Parameters
    ----------
    n_bands : int, optional
        Number of input bands ``b``.
    n : int, optional
        Number of slots (nearest sources) in the PCR.
    depth : int, optional
        Number of resolution levels of the U-Net (``depth - 1`` poolings);
        tile sizes must be multiples of ``2 ** (depth - 1)``.
    base_filters : int, optional
        Filters at full resolution; doubled at each coarser level.
    vector_scale : float, optional
        Pixels per network unit of :math:`C^v`.
    name : str, optional
        Model name.

    Returns
    -------
    model : `keras.Model`
        Input ``(B, h, w, b)`` normalised float32; outputs a dict with
        ``heatmap`` ``(B, h, w)``, ``vectors`` ``(B, h, w, n, 2)`` in pixels
        and ``fractions`` ``(B, h, w, b, n)``.

    Raises
    ------
    ValueError
        If a size parameter is not positive.
    """
    for key, value in (('n_bands', n_bands), ('n', n), ('depth', depth),
                       ('base_filters', base_filters)):
        if int(value) != value or value < 1:
            raise ValueError(f'{key} must be a positive integer, got {value!r}')
    if not vector_scale > 0:
        raise ValueError(f'vector_scale must be > 0, got {vector_scale!r}')
    n_bands, n, depth, base_filters = (int(n_bands), int(n), int(depth),
                                       int(base_filters))
    filters = [base_filters * 2 ** level for level in range(depth)]

    inputs = keras.Input(shape=(None, None, n_bands), name='image')
    x = inputs
    skips = []
    for level in range(depth - 1):
        x = _conv_block(x, filters[level], f'enc{level}')
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f'enc{level}_pool')(x)
    bottom = _conv_block(x, filters[-1], 'bottom')

    spatial = _decoder(bottom, skips, filters, 'spatial')
    heatmap = HeatmapOutput(name='heatmap')(
        keras.layers.Conv2D(1, 1, name='heatmap_logits',
            kernel_initializer=NumpyGlorotUniform())(spatial))
    vectors = VectorOutput(n, vector_scale, name='vectors')(
        keras.layers.Conv2D(2 * n, 1, name='vector_units',
            kernel_initializer=NumpyGlorotUniform())(spatial))

    attribution = _decoder(bottom, skips, filters, 'attribution')
    fractions = FractionOutput(n, n_bands, name='fractions')(
        keras.layers.Conv2D(n * n_bands, 1, name='fraction_logits',
            kernel_initializer=NumpyGlorotUniform())(
            attribution))

    return keras.Model(inputs, {'heatmap': heatmap, 'vectors': vectors,
                                'fractions': fractions}, name=name)
