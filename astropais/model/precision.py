"""
The arithmetic precision a PCR network runs in.

A network is saved in float32.  For inference its hidden layers can
compute in bfloat16 (Keras' ``mixed_bfloat16`` policy: float32 weights,
bfloat16 arithmetic) while the output heads stay in float32, so that the
heatmap, vectors and fractions are float32 and the fractions still sum to
one.  On CPUs with native bfloat16 instructions (x86 ``avx512_bf16`` or
``amx_bf16``) this makes the shipped network's pass about 1.5 times
faster under TensorFlow; on other CPUs bfloat16 is emulated and slower.
"""

import functools

__all__ = ['PRECISIONS', 'native_bfloat16', 'resolve_precision',
           'cast_model']

#: Accepted ``precision`` values.
PRECISIONS = ('auto', 'float32', 'bfloat16')

_BFLOAT16_FLAGS = ('avx512_bf16', 'amx_bf16')


@functools.lru_cache(maxsize=1)
def native_bfloat16(cpuinfo='/proc/cpuinfo'):
    """
    Whether this CPU has native bfloat16 arithmetic.

    Parameters
    ----------
    cpuinfo : str, optional
        The Linux CPU description to read.

    Returns
    -------
    native : bool
        `True` if its flags list ``avx512_bf16`` or ``amx_bf16``; `False`
        if they do not, or the file cannot be read (other systems).
    """
    try:
        with open(cpuinfo) as handle:
            for line in handle:
                if line.startswith('flags'):
                    flags = line.split(':', 1)[1].split()
                    return any(flag in flags for flag in _BFLOAT16_FLAGS)
    except OSError:
        pass
    return False


def resolve_precision(precision='auto'):
    """
    The precision to run in: ``'float32'`` or ``'bfloat16'``.

    Parameters
    ----------
    precision : {'auto', 'float32', 'bfloat16'}, optional
        ``'auto'`` is ``'bfloat16'`` under the TensorFlow backend on a CPU
        with native bfloat16 arithmetic (see `native_bfloat16`), and
        ``'float32'`` otherwise.

    Returns
    -------
    precision : str
        ``'float32'`` or ``'bfloat16'``.

    Raises
    ------
    ValueError
        If ``precision`` is not one of `PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got '
                         f'{precision!r}')
    if precision != 'auto':
        return precision
    import keras
    if keras.backend.backend() == 'tensorflow' and native_bfloat16():
        return 'bfloat16'
    return 'float32'


def _head_layers(model):
    """The output layers and the layers that feed them directly."""
    heads = set()
    for tensor in model.outputs:
        layer = tensor._keras_history.operation
        heads.add(layer.name)
        for node in layer._inbound_nodes:
            heads.update(t._keras_history.operation.name
                         for t in node.input_tensors)
    return heads


def cast_model(model, precision):
    """
    A copy of a float32 network that computes in ``precision``.

    Parameters
    ----------
    model : `keras.Model`
        The network (not modified).
    precision : {'float32', 'bfloat16'}
        ``'bfloat16'``: hidden layers use the ``mixed_bfloat16`` policy, the
        output layers and the layers feeding them stay float32.
        ``'float32'`` returns ``model`` itself.

    Returns
    -------
    model : `keras.Model`
        The network in that precision, with the same weights.

    Raises
    ------
    ValueError
        If ``precision`` is not ``'float32'`` or ``'bfloat16'``.
    """
    if precision == 'float32':
        return model
    if precision != 'bfloat16':
        raise ValueError(f"precision must be 'float32' or 'bfloat16', got "
                         f'{precision!r}')
    import keras

    heads = _head_layers(model)

    def clone(layer):
        config = layer.get_config()
        config['dtype'] = ('float32' if layer.name in heads
                           else 'mixed_bfloat16')
        return layer.__class__.from_config(config)

    cast = keras.models.clone_model(model, clone_function=clone)
    cast.set_weights(model.get_weights())
    return cast
