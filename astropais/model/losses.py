"""
The PCR training loss (paper eq. 3), one registered Keras loss per output.

.. math::

    L = \\lambda_c\\,\\mathrm{MSE}(C^c) + \\lambda_v\\,\\mathrm{MAE}(C^v)
        + \\lambda_m\\,\\mathrm{CE}(C^m) + \\lambda_S\\,L_S(C^m)

with the paper's weights :math:`\\lambda = (15, 0.06, 4, 2)` as defaults.
The vector MAE is in pixels over source pixels and valid slots; the
cross-entropy and the entropy term are averaged over source pixels (and
bands), counting valid slots only.

The targets are packed (see `astropais.model.targets.pack_targets`) so
that each loss sees its masks:

* ``heatmap``: ``(B, h, w)``;
* ``vectors``: ``(B, h, w, n, 3)`` = ``(dy, dx, weight)``, weight = slot
  valid and pixel a source pixel;
* ``fractions``: ``(B, h, w, b, 2 n)`` = n target fractions then n weights.

**The entropy term.**  The paper *adds* the entropy
:math:`H(p) = -\\sum_k p_k \\log p_k` of the predicted fractions.  Minimised,
that term pushes fractions towards one-hot; subtracting it pushes them
towards uniform.  Both move the optimum away from the target: with
:math:`\\lambda_m = 4, \\lambda_S = 2` the per-pixel optimum for a target
(0.7, 0.3, 0) is (0.81, 0.19, 0) with the plus sign, and for an isolated
pixel (1, 0, 0) it is (0.84, 0.08, 0.08) with the minus sign (16 % of an
isolated source's flux handed to neighbours).  The default here,
``entropy_mode='match'``, penalises :math:`|H(p) - H(t)|`, the mismatch
between the predicted and the target entropy: it still rewards spreading
the fractions where the truth is spread (the paper's stated aim), but its
minimum is at :math:`p = t`, so it does not bias the fractions.  The
paper's sign is available as ``'minimise'`` and the opposite as
``'maximise'``.  Importing this module imports Keras.
"""

import keras
from keras import ops

__all__ = ['PAPER_LOSS_WEIGHTS', 'ENTROPY_MODES', 'HeatmapLoss',
           'VectorLoss', 'FractionLoss', 'pcr_losses']

#: Paper eq. 3 weights: heatmap, vectors, cross-entropy, entropy.
PAPER_LOSS_WEIGHTS = {'heatmap': 15.0, 'vectors': 0.06,
                      'cross_entropy': 4.0, 'entropy': 2.0}

#: Accepted values of ``entropy_mode``.
ENTROPY_MODES = ('match', 'minimise', 'maximise')

_EPS = 1e-7


@keras.saving.register_keras_serializable(package='astropais')
class HeatmapLoss(keras.losses.Loss):
    """
    Mean squared error of the centre heatmap over all pixels.

    Parameters
    ----------
    name : str, optional
        Loss name.
    **kwargs
        Passed to `keras.losses.Loss`.
    """

    def __init__(self, name='heatmap_mse', **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        """
        Compute the loss.

        Parameters
        ----------
        y_true, y_pred : tensor
            Heatmaps ``(B, h, w)``.

        Returns
        -------
        loss : tensor
            Scalar.
        """
        return ops.mean(ops.square(y_pred - y_true))


@keras.saving.register_keras_serializable(package='astropais')
class VectorLoss(keras.losses.Loss):
    """
    Masked mean absolute error of the contribution vectors (pixels).

    Parameters
    ----------
    name : str, optional
        Loss name.
    **kwargs
        Passed to `keras.losses.Loss`.
    """

    def __init__(self, name='vector_mae', **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        """
        Compute the loss.

        Parameters
        ----------
        y_true : tensor
            ``(B, h, w, n, 3)``: target ``(dy, dx)`` and the weight.
        y_pred : tensor
            ``(B, h, w, n, 2)`` in pixels.

        Returns
        -------
        loss : tensor
            Scalar: mean absolute error per component over weighted slots.
        """
        target, weight = y_true[..., :2], y_true[..., 2:]
        total = ops.sum(ops.abs(y_pred - target) * weight)
        count = 2.0 * ops.sum(weight)
        return total / ops.maximum(count, 1.0)


@keras.saving.register_keras_serializable(package='astropais')
class FractionLoss(keras.losses.Loss):
    """
    Masked cross-entropy of the contribution maps plus the entropy term.

    Parameters
    ----------
    cross_entropy_weight : float, optional
        :math:`\\lambda_m` (paper: 4).
    entropy_weight : float, optional
        :math:`\\lambda_S` (paper: 2); 0 disables the term.
    entropy_mode : {'match', 'minimise', 'maximise'}, optional
        ``'match'`` (default) penalises :math:`|H(p) - H(t)|`;
        ``'minimise'`` adds :math:`H(p)` (the paper's plus sign, pushes
        to one-hot); ``'maximise'`` subtracts it (pushes to uniform).
    name : str, optional
        Loss name.
    **kwargs
        Passed to `keras.losses.Loss`.

    Raises
    ------
    ValueError
        If ``entropy_mode`` is unknown or a weight is negative.
    """

    def __init__(self, cross_entropy_weight=PAPER_LOSS_WEIGHTS['cross_entropy'],
                 entropy_weight=PAPER_LOSS_WEIGHTS['entropy'],
                 entropy_mode='match', name='fraction_ce', **kwargs):
        super().__init__(name=name, **kwargs)
        if entropy_mode not in ENTROPY_MODES:
            raise ValueError(f'entropy_mode must be one of {ENTROPY_MODES}, '
                             f'got {entropy_mode!r}')
        if cross_entropy_weight < 0 or entropy_weight < 0:
            raise ValueError('loss weights must be >= 0 (choose the entropy '
                             'direction with entropy_mode)')
        self.cross_entropy_weight = float(cross_entropy_weight)
        self.entropy_weight = float(entropy_weight)
        self.entropy_mode = entropy_mode

    def call(self, y_true, y_pred):
        """
        Compute the loss.

        Parameters
        ----------
        y_true : tensor
            ``(B, h, w, b, 2 n)``: target fractions then slot weights.
        y_pred : tensor
            ``(B, h, w, b, n)`` predicted fractions.

        Returns
        -------
        loss : tensor
            Scalar.
        """
        n = ops.shape(y_pred)[-1]
        target, weight = y_true[..., :n], y_true[..., n:]
        log_p = ops.log(ops.clip(y_pred, _EPS, 1.0))
        # A (pixel, band) counts when at least one slot is weighted.
        counted = ops.cast(ops.max(weight, axis=-1) > 0, y_pred.dtype)
        count = ops.maximum(ops.sum(counted), 1.0)
        cross_entropy = -ops.sum(weight * target * log_p) / count
        loss = self.cross_entropy_weight * cross_entropy
        if self.entropy_weight:
            entropy = -ops.sum(weight * y_pred * log_p, axis=-1)
            if self.entropy_mode == 'match':
                log_t = ops.log(ops.clip(target, _EPS, 1.0))
                target_entropy = -ops.sum(weight * target * log_t, axis=-1)
                term = ops.abs(entropy - target_entropy)
            elif self.entropy_mode == 'minimise':
                term = entropy
            else:
                term = -entropy
            loss = loss + self.entropy_weight * ops.sum(term * counted) / count
        return loss

    def get_config(self):
        """
        Serialisable configuration.

        Returns
        -------
        config : dict
            Weights and entropy mode.
        """
        return {**super().get_config(),
                'cross_entropy_weight': self.cross_entropy_weight,
                'entropy_weight': self.entropy_weight,
                'entropy_mode': self.entropy_mode}


def pcr_losses(heatmap_weight=PAPER_LOSS_WEIGHTS['heatmap'],
               vector_weight=PAPER_LOSS_WEIGHTS['vectors'],
               cross_entropy_weight=PAPER_LOSS_WEIGHTS['cross_entropy'],
               entropy_weight=PAPER_LOSS_WEIGHTS['entropy'],
               entropy_mode='match'):
    """
    The losses and loss weights to compile a PCR network with.

    Parameters
    ----------
    heatmap_weight : float, optional
        :math:`\\lambda_c` (paper: 15).
    vector_weight : float, optional
        :math:`\\lambda_v` (paper: 0.06), for the MAE in pixels.
    cross_entropy_weight : float, optional
        :math:`\\lambda_m` (paper: 4).
    entropy_weight : float, optional
        :math:`\\lambda_S` (paper: 2).
    entropy_mode : {'match', 'minimise', 'maximise'}, optional
        See `FractionLoss`.

    Returns
    -------
    loss : dict
        ``{output name: loss}``.
    loss_weights : dict
        ``{output name: weight}`` (the fraction weights live in the loss).
    """
    loss = {'heatmap': HeatmapLoss(), 'vectors': VectorLoss(),
            'fractions': FractionLoss(cross_entropy_weight, entropy_weight,
                                      entropy_mode)}
    loss_weights = {'heatmap': float(heatmap_weight),
                    'vectors': float(vector_weight), 'fractions': 1.0}
    return loss, loss_weights
