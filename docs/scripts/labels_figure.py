#!/usr/bin/env python
"""
Make the figure and the scores of the scarlet2 labels tutorial
(``docs/tutorials/labels.rst``).

A scarlet2 fit costs a JAX compilation (10-20 s) and then several seconds
per source, too slow to run at every documentation build on a small
machine, so this script is run by hand and its outputs are committed::

    python docs/scripts/labels_figure.py

It writes ``docs/_static/labels_scarlet2.png`` and
``docs/_static/labels_scarlet2.txt`` (the scores printed by the tutorial).
"""

import datetime
import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
STATIC = os.path.join(HERE, os.pardir, '_static')

# The tiny scene of the tutorial (same arguments there).
SCENE = dict(preset='hst', shape=(40, 40), seed=1, density=2500,
             star_fraction=0.0, mag_range=(21.5, 24.5), pair_fraction=1.0)


def fraction_maps(sources, mask):
    """Fractions S_i / sum_j S_j of every source on ``mask`` (N, H, W)."""
    images = np.zeros((len(sources),) + tuple(sources.shape))
    # A loop over the few sources of the scene: each pastes its stamp.
    for i in range(len(sources)):
        image_sl, cutout_sl = sources.slices(i)
        images[i][image_sl] = sources.cutouts[i][cutout_sl]
    total = images.sum(axis=0)
    with np.errstate(divide='ignore', invalid='ignore'):
        fractions = np.where(mask & (total > 0), images / total, np.nan)
    return fractions


def main():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from astropais.datasets import truth_source_mask
    from astropais.labels import label_accuracy, make_labels, prepare_inputs
    from astropais.simulation import make_scene

    scene = make_scene(**SCENE)
    inputs = prepare_inputs(scene.image, scene.psf, scene.catalog,
                            noise_sigma=scene.noise_sigma)
    start = time.perf_counter()
    result = make_labels(inputs, n=3, sigma=2.0, max_iter=300)
    seconds = time.perf_counter() - start
    fit = result.fit
    scores = label_accuracy(fit, scene.sources, scene.noise_sigma)

    mask = truth_source_mask(scene.sources.total(), scene.noise_sigma)
    truth = fraction_maps(scene.sources, mask)
    fitted = np.full_like(truth, np.nan)
    fitted[fit.index] = fraction_maps(fit.sources, mask)

    n_show = len(scene.catalog)
    fig, axes = plt.subplots(3, n_show + 1, figsize=(2.2 * (n_show + 1), 6.6),
                             layout='constrained')
    from astropy.visualization import simple_norm
    axes[0, 0].imshow(scene.image, origin='lower', cmap='Greys_r',
                      norm=simple_norm(scene.image, 'asinh', percent=99.5))
    axes[0, 0].plot(scene.catalog['x'], scene.catalog['y'], 'r+', ms=8)
    axes[0, 0].set_title('image + positions')
    axes[1, 0].imshow(mask, origin='lower', cmap='Greys_r')
    axes[1, 0].set_title('source pixels')
    axes[2, 0].plot(fit.losses)
    axes[2, 0].set_title('scarlet2 loss')
    axes[2, 0].set_xlabel('step')
    for i in range(n_show):
        for row, (maps, name) in enumerate(((truth, 'truth'),
                                            (fitted, 'scarlet2'))):
            axes[row, i + 1].imshow(maps[i], origin='lower', vmin=0, vmax=1,
                                    cmap='viridis')
            axes[row, i + 1].set_title(f'{name} $M_{i + 1}$')
        im = axes[2, i + 1].imshow(np.abs(fitted[i] - truth[i]),
                                   origin='lower', vmin=0, vmax=0.5,
                                   cmap='magma')
        axes[2, i + 1].set_title(f'|difference| $M_{i + 1}$')
    fig.colorbar(im, ax=axes[2, 1:], shrink=0.8)
    for ax in axes.flat:
        if ax is not axes[2, 0]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.savefig(os.path.join(STATIC, 'labels_scarlet2.png'), dpi=80)

    lines = [
        f'# python docs/scripts/labels_figure.py  '
        f'({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)',
        f'scene: make_scene(**{SCENE})',
        f'sources: {len(scene.catalog)} (fitted {len(fit.index)}, dropped '
        f'{len(fit.dropped)}), optimiser steps: {fit.n_iterations}',
        f'fit + encode wall time: {seconds:.1f} s (JAX compilation included)',
        f"median fraction error (all source pixels): "
        f"{scores['median_fraction_error']:.3f}",
        f"median fraction error (blended pixels): "
        f"{scores['median_fraction_error_blended']:.3f}",
        f"median relative flux error: {scores['median_flux_error']:.3f}",
        'flux error per source: '
        + ', '.join(f'{e:.3f}' for e in scores['flux_errors']),
    ]
    with open(os.path.join(STATIC, 'labels_scarlet2.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
