"""
Where does the fraction loss put its optimum?  The effect of the entropy term.

For a single pixel with target fractions t over n = 3 valid slots, find the
predicted fractions p = softmax(z) that minimise
`astropais.model.FractionLoss` (a numpy copy, checked against the real
``keras.ops`` implementation at random points) for each ``entropy_mode``
and weight, and print p next to t.  A loss whose optimum is
not t biases every deblended flux.

Usage::

    python benchmarks/entropy_bias.py
"""

import numpy as np
from scipy.optimize import minimize

__all__ = []

TARGETS = [(1.0, 0.0, 0.0), (0.9, 0.1, 0.0), (0.7, 0.3, 0.0), (0.5, 0.5, 0.0),
           (0.6, 0.3, 0.1)]


def numpy_loss(p, target, cross_entropy_weight, entropy_weight, mode):
    """`FractionLoss` of one pixel with all slots valid, in numpy."""
    log_p = np.log(np.clip(p, 1e-7, 1.0))
    loss = -cross_entropy_weight * np.sum(target * log_p)
    entropy = -np.sum(p * log_p)
    if mode == 'match':
        log_t = np.log(np.clip(target, 1e-7, 1.0))
        term = abs(entropy + np.sum(target * log_t))
    else:
        term = entropy if mode == 'minimise' else -entropy
    return loss + entropy_weight * term


def check_against_keras(loss, weight, mode, rng):
    """The numpy copy agrees with the real loss at random points."""
    from keras import ops
    # A loop over a few random pixels.
    for _ in range(5):
        target = rng.dirichlet(np.ones(3)).astype(np.float32)
        p = rng.dirichlet(np.ones(3)).astype(np.float32)
        y_true = np.concatenate([target, np.ones(3, np.float32)])
        real = float(ops.convert_to_numpy(
            loss(y_true[None, None, None, None], p[None, None, None, None])))
        copy = numpy_loss(p, target, 4.0, weight, mode)
        assert abs(real - copy) < 1e-4 * max(1.0, abs(real)), (real, copy)


def optimum(target, weight, mode):
    """Fractions minimising the loss for one pixel with ``target``."""
    target = np.asarray(target, np.float64)

    def value(z):
        p = np.exp(z - z.max())
        return numpy_loss(p / p.sum(), target, 4.0, weight, mode)

    best = None
    # A loop over three starting points to avoid a local minimum.
    for start in (np.log(np.clip(target, 1e-3, 1)), np.zeros(3),
                  np.array([2.0, 0.0, -1.0])):
        result = minimize(value, start, method='Nelder-Mead',
                          options={'xatol': 1e-8, 'fatol': 1e-12,
                                   'maxiter': 8000})
        if best is None or result.fun < best.fun:
            best = result
    p = np.exp(best.x - best.x.max())
    return p / p.sum()


def main():
    """Print the optimum fractions for every mode and weight."""
    from astropais.model.losses import FractionLoss
    print('| entropy mode | lambda_S | ' + ' | '.join(
        'target ' + str(t) for t in TARGETS) + ' |')
    print('|---|---|' + '---|' * len(TARGETS))
    rng = np.random.default_rng(0)
    for mode, weight in (('none', 0.0), ('minimise', 2.0), ('minimise', 0.5),
                         ('maximise', 2.0), ('maximise', 0.5),
                         ('match', 2.0)):
        real_mode = 'match' if mode == 'none' else mode
        check_against_keras(FractionLoss(4.0, weight, real_mode), weight,
                            real_mode, rng)
        cells = []
        for target in TARGETS:
            p = optimum(target, weight, real_mode)
            cells.append('(' + ', '.join(f'{v:.3f}' for v in p) + ')')
        print(f'| {mode} | {weight} | ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
