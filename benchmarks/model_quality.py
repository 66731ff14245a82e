"""
Per-pixel quality of a trained PCR network on a dataset split, with the
trivial baselines it must beat.

* fractions: mean half-L1 distance between predicted and true fractions on
  source pixels (0 = perfect, 1 = all flux misattributed), against giving
  every pixel to its nearest centre (slot 0);
* vectors: MAE in pixels over source pixels and valid slots, against
  predicting zero offsets;
* heatmap: MSE over all pixels, against an all-zero heatmap.

Usage::

    python benchmarks/model_quality.py MODEL.keras DATASET [--val-fraction 0.1]
        [--seed 0] [--all]

With the same ``--val-fraction`` and ``--seed`` as ``astropais-train``, the
split is the training run's validation split; ``--all`` uses every sample.
"""

import argparse
import sys

import numpy as np

__all__ = []


def evaluate(model_path, dataset_path, val_fraction=0.1, seed=0,
             use_all=False, batch_size=32):
    """Return the metrics dictionary."""
    from astropais.datasets import read_dataset
    from astropais.model import load_model
    from astropais.training import split_indices
    network = load_model(model_path)
    dataset = read_dataset(dataset_path)
    indices = (np.arange(len(dataset)) if use_all else
               split_indices(len(dataset), val_fraction, seed)[1])
    sums = dict.fromkeys(('frac', 'frac_base', 'vec', 'vec_base', 'heat',
                          'heat_base', 'n_pix', 'n_vec', 'n_heat',
                          'frac_partial', 'frac_partial_base', 'n_partial'),
                         0.0)
    # A loop over batches of the split.
    for batch in dataset.iter_batches(batch_size, shuffle=False,
                                      indices=indices):
        x = network.normalise(batch['image'], batch['noise_sigma'])
        out = network.predict(x)
        mask = batch['source_mask']
        truth = batch['fractions'][mask]              # (P, b, n)
        pred = out['fractions'][mask]
        nearest = np.zeros_like(truth)
        nearest[..., 0] = 1
        err = 0.5 * np.abs(pred - truth).sum(-1)      # (P, b)
        base = 0.5 * np.abs(nearest - truth).sum(-1)
        partial = truth.max(-1) < 0.95
        sums['frac'] += err.sum()
        sums['frac_base'] += base.sum()
        sums['n_pix'] += err.size
        sums['frac_partial'] += err[partial].sum()
        sums['frac_partial_base'] += base[partial].sum()
        sums['n_partial'] += partial.sum()
        valid = batch['slot_mask'] & mask[..., None]
        sums['vec'] += np.abs(out['vectors'][valid] -
                              batch['vectors'][valid]).sum()
        sums['vec_base'] += np.abs(batch['vectors'][valid]).sum()
        sums['n_vec'] += 2 * valid.sum()
        sums['heat'] += ((out['heatmap'] - batch['heatmap']) ** 2).sum()
        sums['heat_base'] += (batch['heatmap'] ** 2).sum()
        sums['n_heat'] += batch['heatmap'].size
    return {
        'samples': int(len(indices)),
        'source_pixels': int(sums['n_pix']),
        'fraction_error': sums['frac'] / sums['n_pix'],
        'fraction_error_nearest_baseline': sums['frac_base'] / sums['n_pix'],
        'partial_pixels': int(sums['n_partial']),
        'fraction_error_partial': sums['frac_partial'] / max(sums['n_partial'], 1),
        'fraction_error_partial_nearest_baseline':
            sums['frac_partial_base'] / max(sums['n_partial'], 1),
        'vector_mae_px': sums['vec'] / sums['n_vec'],
        'vector_mae_zero_baseline_px': sums['vec_base'] / sums['n_vec'],
        'heatmap_mse': sums['heat'] / sums['n_heat'],
        'heatmap_mse_zero_baseline': sums['heat_base'] / sums['n_heat'],
    }


def main(argv=None):
    """Print the metrics of a model on a dataset split."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('model')
    parser.add_argument('dataset')
    parser.add_argument('--val-fraction', type=float, default=0.1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--all', action='store_true')
    args = parser.parse_args(argv)
    metrics = evaluate(args.model, args.dataset, args.val_fraction, args.seed,
                       args.all)
    for key, value in metrics.items():
        print(f'{key:42s} {float(value):.4g}' if not isinstance(value, int)
              else f'{key:42s} {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
