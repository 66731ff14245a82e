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

   This page is **not executed** when the documentation is built: a
   scarlet2 fit compiles with JAX (10-20 s) and then takes seconds per
   source: about a minute for the tiny scene below on a shared two-core
   machine (the time is in the output below).  The
   figure and the scores were made by running the same code in
   ``docs/scripts/labels_figure.py``, whose outputs are committed; run it
   to reproduce them.
"""

# %%
# A tiny blended scene
# --------------------
# We use a simulated scene so that the scarlet2 fractions can be compared
# with the truth.  With a real image you would pass your own image, PSF
# image, noise and catalogue (an astropy `~astropy.table.Table` with
# ``x`` and ``y`` columns, 0-based pixels, or an ``(N, 2)`` array of
# ``(x, y)``).

# sphinx_gallery_thumbnail_path = '_static/labels_scarlet2.png'

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
result = make_labels(inputs, n=3, sigma=2.0, max_iter=300)
fit, pcr = result.fit, result.pcr
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
# The output of ``python docs/scripts/labels_figure.py`` (which runs the
# code above and draws the figure below):
#
# .. literalinclude:: /_static/labels_scarlet2.txt
#    :language: text
#
# .. image:: /_static/labels_scarlet2.png
#    :alt: The image with the catalogue positions, the true fractions of
#          each source, the scarlet2 fractions and their difference.
#
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
