"""
Making labels from a real image with scarlet2
=============================================

The paper trained its network on HST images labelled by SCARLET fits.
`astropais.labels` does the same with scarlet2 (the maintained JAX
SCARLET): given an image, its PSF, its noise and a catalogue of source
positions, it fits a scene, turns each source's fitted model into
fractions and encodes them as PCR labels, in the dataset format that
``astropais-train`` reads.  This is how you retrain astropais on your own
survey.

.. note::

   A scarlet2 fit compiles with JAX (10-20 s) and then takes seconds per
   source: this page fits the tiny scene below at every documentation
   build (13 s to about a minute on a shared two-core machine; the time of
   this build is printed below).
"""

# %%
# A tiny blended scene
# --------------------
# We use a simulated scene so that the scarlet2 fractions can be compared
# with the truth.  With a real image you would pass your own image, PSF
# image, noise and catalogue (an astropy `~astropy.table.Table` with
# ``x`` and ``y`` columns, 0-based pixels, or an ``(N, 2)`` array of
# ``(x, y)``).

import time

import matplotlib.pyplot as plt
import numpy as np
from astropy.visualization import simple_norm

from astropais.datasets import truth_source_mask
from astropais.labels import label_accuracy, make_labels, prepare_inputs
from astropais.simulation import make_scene

scene = make_scene('hst', shape=(40, 40), seed=1, density=2500,
                   star_fraction=0.0, mag_range=(21.5, 24.5),
                   pair_fraction=1.0)

# %%
# Fit and encode
# --------------
# `~astropais.labels.prepare_inputs` validates the inputs (the PSF must be
# an odd, centred, unit-sum image; NaN pixels are masked).
# `~astropais.labels.make_labels` fits every source with an elliptical
# Sérsic model (``morphology='free'`` gives free-form pixel models),
# drops and reports the sources that cannot be fitted, and encodes the
# fitted models as PCR labels with the same ``n`` and ``sigma`` as the
# simulated training data.

inputs = prepare_inputs(scene.image, scene.psf, scene.catalog,
                        noise_sigma=scene.noise_sigma)
start = time.perf_counter()
result = make_labels(inputs, n=3, sigma=2.0, max_iter=300)
fit, pcr = result.fit, result.pcr
print(f'fit + encode: {time.perf_counter() - start:.1f} s '
      '(JAX compilation included)')
print(f'fitted {len(fit.index)} sources, dropped {len(fit.dropped)}')
print(fit.dropped)            # index, x, y and the reason for each one

# %%
# scarlet2 fractions against the truth
# ------------------------------------
# `~astropais.labels.label_accuracy` compares the fitted fractions with
# the true ones on the source pixels (a per-pixel total-variation
# distance, 0 = identical) and the fitted fluxes with the true fluxes.

scores = label_accuracy(fit, scene.sources, scene.noise_sigma)
print(scores['median_fraction_error'], scores['median_fraction_error_blended'],
      scores['median_flux_error'])

# %%
# The fractions, source by source
# -------------------------------
# For a picture we place each source's fractions :math:`M_i = S_i /
# \sum_j S_j` on the full grid (a dense cube is fine for four sources on
# 40 x 40 pixels; the library itself never builds one).


def fraction_maps(sources, mask):
    """Fractions S_i / sum_j S_j of every source on ``mask`` (N, H, W)."""
    images = np.zeros((len(sources),) + tuple(sources.shape))
    for i in range(len(sources)):  # a loop over four sources
        image_sl, cutout_sl = sources.slices(i)
        images[i][image_sl] = sources.cutouts[i][cutout_sl]
    total = images.sum(axis=0)
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(mask & (total > 0), images / total, np.nan)


mask = truth_source_mask(scene.sources.total(), scene.noise_sigma)
truth = fraction_maps(scene.sources, mask)
fitted = np.full_like(truth, np.nan)
fitted[fit.index] = fraction_maps(fit.sources, mask)

n_show = len(scene.catalog)
fig, axes = plt.subplots(3, n_show + 1, figsize=(2.2 * (n_show + 1), 6.6),
                         layout='constrained')
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
        axes[row, i + 1].imshow(maps[i], origin='lower', vmin=0, vmax=1)
        axes[row, i + 1].set_title(f'{name} $M_{i + 1}$')
    im = axes[2, i + 1].imshow(np.abs(fitted[i] - truth[i]), origin='lower',
                               vmin=0, vmax=0.5, cmap='magma')
    axes[2, i + 1].set_title(f'|difference| $M_{i + 1}$')
fig.colorbar(im, ax=axes[2, 1:], shrink=0.8)
for ax in axes.flat:
    if ax is not axes[2, 0]:
        ax.set_xticks([])
        ax.set_yticks([])

# %%
# Top row: the true fractions :math:`M_i` of the four sources on the
# source pixels; middle row: scarlet2's; bottom row: the absolute
# difference, and the scarlet2 loss against the optimiser step.  The
# fractions agree where one source dominates and differ most in the faint
# outskirts and between the two close bright galaxies, where a parametric
# Sérsic model cannot follow the true profiles: scarlet2 labels are a
# good, not a perfect, teacher, and a network trained on them learns
# their errors too.
#
# A whole image
# -------------
# For a large image, `~astropais.labels.write_label_dataset` cuts it into
# crops, fits each with a margin of context (the sources in the margin are
# fitted too, so the light they spill into the crop is attributed to
# them), clears JAX's caches periodically, can resume, and writes the
# dataset::
#
#     from astropais.labels import write_label_dataset
#
#     write_label_dataset('labels', image, psf, catalog,
#                         noise_sigma=noise_sigma, crop_shape=(64, 64),
#                         margin=16)
#
# or, from the command line, with FITS inputs and an ECSV catalogue::
#
#     astropais labels image.fits --psf psf.fits --catalog sources.ecsv \
#         --output labels --crop-size 64 --margin 16
#
# and then train on it exactly as on simulated data
# (:ref:`sphx_glr_generated_tutorials_plot_3_training.py`)::
#
#     astropais-train labels --out my_model
