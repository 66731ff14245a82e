"""
Output layers of the PCR network.

Each is a registered Keras serialisable class (package ``astropais``)
written only with ``keras.ops``, so that a saved ``.keras`` file loads with
``safe_mode=True`` under every Keras backend.  Importing this module
imports Keras.
"""

import keras
import numpy as np
from keras import ops

__all__ = ['NumpyGlorotUniform', 'HeatmapOutput', 'VectorOutput',
           'FractionOutput']


@keras.saving.register_keras_serializable(package='astropais')
class NumpyGlorotUniform(keras.initializers.Initializer):
    """
    Glorot-uniform kernel initialiser drawn with numpy.

    Keras' own random initialisers compile one XLA kernel per weight shape
    under the JAX backend (about a second each on a busy 2-core CPU), and
    Keras runs the initialisers again when it *loads* a model.  Drawing the
    initial values with numpy keeps building and loading fast on every
    backend.  The draws follow numpy's global random state, which
    `keras.utils.set_random_seed` seeds.

    Parameters
    ----------
    seed : int or None, optional
        Seed of a private generator; `None` uses numpy's global state.
    """

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        """
        Draw initial values.

        Parameters
        ----------
        shape : tuple of int
            Kernel shape, output channels last.
        dtype : str, optional
            Keras dtype (default float32).

        Returns
        -------
        values : tensor
            Uniform in :math:`\\pm\\sqrt{6 / (\\mathrm{fan\\_in} +
            \\mathrm{fan\\_out})}`.
        """
        shape = tuple(int(size) for size in shape)
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in = shape[-2] * receptive if len(shape) > 1 else shape[0]
        fan_out = shape[-1] * receptive
        limit = np.sqrt(6.0 / max(fan_in + fan_out, 1))
        rng = (np.random.default_rng(self.seed) if self.seed is not None
               else np.random)
        values = rng.uniform(-limit, limit, size=shape)
        return ops.convert_to_tensor(values, dtype=dtype or 'float32')

    def get_config(self):
        """
        Serialisable configuration.

        Returns
        -------
        config : dict
            ``{'seed': seed}``.
        """
        return {'seed': self.seed}


@keras.saving.register_keras_serializable(package='astropais')
class HeatmapOutput(keras.layers.Layer):
    """
    The centre heatmap :math:`C^c`: sigmoid of a one-channel map, squeezed.

    Maps ``(B, h, w, 1)`` logits to ``(B, h, w)`` values in [0, 1].

    Parameters
    ----------
    **kwargs
        Passed to `keras.layers.Layer`.
    """

    def call(self, inputs):
        """
        Apply the layer.

        Parameters
        ----------
        inputs : tensor
            Logits of shape ``(B, h, w, 1)``.

        Returns
        -------
        heatmap : tensor
            Shape ``(B, h, w)``.
        """
        return ops.squeeze(ops.sigmoid(inputs), axis=-1)

    def compute_output_shape(self, input_shape):
        """
        Output shape ``(B, h, w)``.

        Parameters
        ----------
        input_shape : tuple
            ``(B, h, w, 1)``.

        Returns
        -------
        shape : tuple
            The output shape.
        """
        return tuple(input_shape[:-1])


@keras.saving.register_keras_serializable(package='astropais')
class VectorOutput(keras.layers.Layer):
    """
    The contribution vectors :math:`C^v` in pixels.

    Reshapes ``(B, h, w, 2 n)`` linear outputs to ``(B, h, w, n, 2)`` and
    multiplies by ``scale`` so the convolution works with O(1) numbers
    while the output is in pixels, ``(dy, dx)`` from the pixel to the k-th
    nearest centre.

    Parameters
    ----------
    n : int
        Number of slots (nearest sources).
    scale : float
        Pixels per network unit (the recorded vector scale).
    **kwargs
        Passed to `keras.layers.Layer`.
    """

    def __init__(self, n, scale, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)
        self.scale = float(scale)

    def call(self, inputs):
        """
        Apply the layer.

        Parameters
        ----------
        inputs : tensor
            Shape ``(B, h, w, 2 n)``.

        Returns
        -------
        vectors : tensor
            Shape ``(B, h, w, n, 2)`` in pixels.
        """
        shape = ops.shape(inputs)
        out = ops.reshape(inputs, (shape[0], shape[1], shape[2], self.n, 2))
        return out * self.scale

    def compute_output_shape(self, input_shape):
        """
        Output shape ``(B, h, w, n, 2)``.

        Parameters
        ----------
        input_shape : tuple
            ``(B, h, w, 2 n)``.

        Returns
        -------
        shape : tuple
            The output shape.
        """
        return (*input_shape[:-1], self.n, 2)

    def get_config(self):
        """
        Serialisable configuration.

        Returns
        -------
        config : dict
            The layer configuration with ``n`` and ``scale``.
        """
        return {**super().get_config(), 'n': self.n, 'scale': self.scale}


@keras.saving.register_keras_serializable(package='astropais')
class FractionOutput(keras.layers.Layer):
    """
    The contribution maps :math:`C^m`: softmax over the n slots per band.

    Reshapes ``(B, h, w, b n)`` logits to ``(B, h, w, b, n)`` and applies a
    softmax over the last axis, so the n fractions of every pixel and band
    sum to 1.

    Parameters
    ----------
    n : int
        Number of slots.
    n_bands : int
        Number of bands.
    **kwargs
        Passed to `keras.layers.Layer`.
    """

    def __init__(self, n, n_bands, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)
        self.n_bands = int(n_bands)

    def call(self, inputs):
        """
        Apply the layer.

        Parameters
        ----------
        inputs : tensor
            Logits of shape ``(B, h, w, b n)``.

        Returns
        -------
        fractions : tensor
            Shape ``(B, h, w, b, n)``, rows summing to 1.
        """
        shape = ops.shape(inputs)
        out = ops.reshape(inputs, (shape[0], shape[1], shape[2],
                                   self.n_bands, self.n))
        return ops.softmax(out, axis=-1)

    def compute_output_shape(self, input_shape):
        """
        Output shape ``(B, h, w, b, n)``.

        Parameters
        ----------
        input_shape : tuple
            ``(B, h, w, b n)``.

        Returns
        -------
        shape : tuple
            The output shape.
        """
        return (*input_shape[:-1], self.n_bands, self.n)

    def get_config(self):
        """
        Serialisable configuration.

        Returns
        -------
        config : dict
            The layer configuration with ``n`` and ``n_bands``.
        """
        return {**super().get_config(), 'n': self.n, 'n_bands': self.n_bands}
