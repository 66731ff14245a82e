r"""
.. _method:

The method: PAIS and PCR
========================

astropais implements *Partial-Attribution Instance Segmentation* (PAIS;
Hausen & Robertson 2021): a neural network predicts, for every pixel of a
detection footprint, which sources contribute to it and in which
proportion.  This page explains the representation the network predicts,
the *Partial Contribution Representation* (PCR), on a simulated blend
whose truth is known, and how the decoder turns it into per-source
fractions.

Partial attribution
-------------------
A background-subtracted image is a sum of source images plus noise,
:math:`I = \sum_i S_i + \varepsilon`.  PAIS approximates every source by
a share of the image,

.. math::

    S_i \approx M_i \odot I, \qquad M_i(p) \in [0, 1], \qquad
    \sum_i M_i(p) = 1 \text{ at every source pixel } p,

with the *fractions* :math:`M_i(p) = S_i(p) / \sum_j S_j(p)`.  A disjoint
segmentation (photutils, SEP, SExtractor) is the special case where every
:math:`M_i(p)` is 0 or 1: each pixel belongs to one source and the flux of
its neighbours is either lost to it or added to it.  Partial attribution
keeps the flux of overlapping sources apart, and by construction it
conserves flux: the deblended images add up to the image on the
footprint.
"""

# %%
# A simulated blend
# -----------------
# A small field with a few overlapping galaxies.  ``scene.sources`` holds
# the noise-free image :math:`S_i` of every source (sparse cut-outs, an
# `~astropais.pcr.SourceImages`) and ``scene.centres`` their ``(y, x)``
# centres.

import matplotlib.pyplot as plt
import numpy as np
from astropy.visualization import simple_norm

from astropais.datasets import truth_source_mask
from astropais.pcr import decode, encode, find_centres
from astropais.simulation import make_scene

scene = make_scene('hst', shape=(64, 64), seed=6, density=1500,
                   mag_range=(21.0, 25.0), star_fraction=0.0)
data = scene.image
print(f'{len(scene.catalog)} sources')
norm = simple_norm(data, 'asinh', vmin=-2 * scene.noise_sigma,
                   vmax=np.percentile(data, 99.8), asinh_a=0.05)

# %%
# The PCR of the truth
# --------------------
# `astropais.pcr.encode` turns per-source images into the three
# fixed-size arrays the network learns, for the :math:`n` nearest sources
# of every pixel (here :math:`n = 3`):
#
# * :math:`C^c` (``heatmap``, :math:`h \times w`): a Gaussian of width
#   :math:`\sigma` (here 2 pixels) at every source centre, combined with
#   the maximum so that each centre peaks at exactly 1.
# * :math:`C^v` (``vectors``, :math:`h \times w \times n \times 2`): the
#   offset :math:`(dy, dx)`, in pixels, from each pixel to each of its
#   :math:`n` nearest source centres, nearest first.
# * :math:`C^m` (``fractions``, :math:`h \times w \times b \times n`): the
#   fraction of the pixel's flux that comes from each of those same
#   :math:`n` sources, on the source pixels; zero elsewhere.
#
# The exact definitions (ties, padding slots, sub-pixel centres) are in
# :ref:`pcr_encoding`.
#
# The source pixels are those where the noise-free total exceeds a small
# multiple of the noise (`astropais.datasets.truth_source_mask`), the
# same definition as in the training data.

source_mask = truth_source_mask(scene.sources.total(), scene.noise_sigma)
pcr = encode(scene.sources, scene.centres, n=3, sigma=2.0,
             source_mask=source_mask)
print(pcr.heatmap.shape, pcr.vectors.shape, pcr.fractions.shape)

fig, axes = plt.subplots(1, 2, figsize=(9, 4.4), layout='constrained')
axes[0].imshow(data, origin='lower', cmap='Greys_r', norm=norm)
axes[0].plot(scene.centres[:, 1], scene.centres[:, 0], 'r+', ms=8)
axes[0].set_title('Image and true centres')
im = axes[1].imshow(pcr.heatmap, origin='lower', cmap='magma',
                    vmin=0, vmax=1)
axes[1].set_title(r'$C^c$: centre heatmap')
fig.colorbar(im, ax=axes[1], shrink=0.8)
plt.show()

# %%
# The vectors :math:`C^v`, drawn on every sixth pixel of the source
# mask: for slot 1 each arrow points to the pixel's nearest centre, for
# slot 2 to its second nearest.  Where a pixel has fewer than :math:`n`
# sources, ``pcr.slot_mask`` marks the padding slots, which the training
# loss ignores.

yy, xx = np.mgrid[:data.shape[0], :data.shape[1]]
every = (yy % 6 == 0) & (xx % 6 == 0) & pcr.source_mask
fig, axes = plt.subplots(1, 2, figsize=(9, 4.6), sharey=True,
                         layout='constrained')
for k, ax in enumerate(axes):
    ax.imshow(data, origin='lower', cmap='Greys_r', norm=norm)
    dy, dx = pcr.vectors[every, k, 0], pcr.vectors[every, k, 1]
    ax.quiver(xx[every], yy[every], dx, dy, angles='xy', scale_units='xy',
              scale=1, color='tab:cyan', width=0.004)
    ax.plot(scene.centres[:, 1], scene.centres[:, 0], 'r+', ms=8)
    ax.set_title(f'$C^v$, slot {k + 1}')
    ax.set_xlim(-0.5, data.shape[1] - 0.5)
    ax.set_ylim(-0.5, data.shape[0] - 0.5)
plt.show()

# %%
# The fractions :math:`C^m` of the three slots.  Slot 1 (the nearest
# source) dominates near each centre; slots 2 and 3 carry the light of the
# neighbours where the sources overlap.

fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), sharey=True,
                         layout='constrained')
for k, ax in enumerate(axes):
    im = ax.imshow(np.where(pcr.source_mask, pcr.fractions[:, :, 0, k],
                            np.nan), origin='lower', cmap='viridis',
                   vmin=0, vmax=1)
    ax.set_title(f'$C^m$, slot {k + 1}')
fig.colorbar(im, ax=axes, shrink=0.8)
plt.show()

# %%
# Only the :math:`n` nearest sources are kept per pixel: where more than
# :math:`n` sources contribute, the kept fractions are renormalised to sum
# to one and the light of the farther sources is given to the nearer ones.
# This truncation error is measured by the PCR benchmark
# (``benchmarks/pcr_table2.py``) and is small for :math:`n = 3`.
#
# The network
# -----------
# A compact U-Net (Keras 3, running on TensorFlow or JAX) reads the image
# after a fixed normalisation, :math:`\operatorname{asinh}(I / k\sigma)`
# with :math:`\sigma` the background noise
# (`astropais.model.normalise_image`), and predicts the three arrays with
# two decoders: a *spatial* one for :math:`C^c` (sigmoid) and :math:`C^v`
# (linear), and an *attribution* one for :math:`C^m` (a softmax over the
# :math:`n` slots, so the fractions of a pixel always sum to one).  It is
# trained with the loss of the paper (eq. 3): a mean squared error on
# :math:`C^c`, a masked mean absolute error on :math:`C^v` and a masked
# cross-entropy (plus an entropy term) on :math:`C^m`; see
# :ref:`sphx_glr_generated_tutorials_plot_3_training.py`.
#
# The decoder
# -----------
# `astropais.pcr.decode` turns a PCR back into per-source fractions,
# without a loop over pixels:
#
# 1. **Centres**: the local maxima of :math:`C^c` above a threshold
#    (`astropais.pcr.find_centres`), refined to sub-pixel with the
#    nearest-centre vector at the peak.
# 2. **Votes**: every footprint pixel :math:`p` and slot :math:`k` points
#    to :math:`p + C^v[p, k]`; the vote goes to the centre nearest to that
#    point, and is rejected if it lands farther than ``vote_tolerance``.
# 3. **Weights**: :math:`M_i(p) = \sum_k C^m[p, k]` over the slots whose
#    vote went to source :math:`i`, renormalised over the sources of the
#    pixel (a pixel whose votes all fail goes to its nearest centre).
#
# The output is sparse (a `~astropais.pcr.PixelAttribution`: at most
# :math:`n` (label, weight) pairs per footprint pixel), so its memory
# grows with the footprint, not with the number of sources times the
# image size.  Decoding the PCR of the truth finds the centres and
# recovers the true fractions.  To compare label by label with the
# catalogue, we then decode again with the true centres given
# (``centres=``), which keeps the catalogue order; `PAISDeblender` does
# the same when it is called with known ``centres``.

found = find_centres(pcr.heatmap, vectors=pcr.vectors)
print(f'{len(found)} centres found for {len(scene.catalog)} sources')
attribution = decode(pcr.heatmap, pcr.vectors, pcr.fractions,
                     pcr.source_mask, centres=scene.centres)

# The true fractions of the n = 3 largest contributors of every pixel,
# laid out like the decoded ones (label = catalogue row + 1).
from astropais.metrics import attribution_from_source_images
from astropais import WeightedSegmentationImage

truth_attr = attribution_from_source_images(scene.sources, pcr.source_mask,
                                            scene.centres)
decoded = WeightedSegmentationImage(attribution)
truth = WeightedSegmentationImage(truth_attr)

fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), sharey=True,
                         layout='constrained')
axes[0].imshow(truth.data, origin='lower', cmap=truth.make_cmap(seed=1),
               interpolation='nearest')
axes[0].set_title('Truth: largest-fraction source')
axes[1].imshow(decoded.data, origin='lower',
               cmap=decoded.make_cmap(seed=1), interpolation='nearest')
axes[1].set_title('Decoded from the true PCR')
largest = np.zeros(data.shape)
largest.flat[attribution.pixels] = attribution.weights.max(axis=1)
im = axes[2].imshow(np.where(pcr.source_mask, largest, np.nan),
                    origin='lower', cmap='viridis', vmin=0.3, vmax=1)
axes[2].set_title('Decoded: largest fraction of each pixel')
fig.colorbar(im, ax=axes[2], shrink=0.8)
plt.show()

# %%
# Because every pixel's weights sum to one, the decoded attribution
# conserves the flux of the footprint exactly:

fluxes = attribution.fluxes(data)
print(f'sum of decoded source fluxes: {np.sum(fluxes):.6f}')
print(f'flux in the source mask:      {np.sum(data[pcr.source_mask]):.6f}')

# %%
# What the network predicts
# -------------------------
# In `PAISDeblender` the same decoder reads the network's predicted
# :math:`C^c`, :math:`C^v` and :math:`C^m`, and the footprint is photutils'
# detection footprint (pixels above a threshold), not the truth mask.
# ``PAISDeblender.predict_pcr`` returns the stitched prediction for an
# image; here it is set beside the encoded truth for the same scene (the
# shipped model was trained on scenes like this one, but not on this one).

from astropais import PAISDeblender

deblender = PAISDeblender(n_pixels=5)
predicted = deblender.predict_pcr(data, scene.noise_sigma)

fig, axes = plt.subplots(2, 2, figsize=(8.5, 8), sharex=True, sharey=True,
                         layout='constrained')
pairs = [(pcr.heatmap, predicted['heatmap'], '$C^c$', 'magma'),
         (pcr.fractions[:, :, 0, 0], predicted['fractions'][:, :, 0],
          '$C^m$, slot 1', 'viridis')]
for row, (true_map, predicted_map, name, cmap) in enumerate(pairs):
    shown = [true_map, predicted_map]
    if row == 1:     # fractions only mean something on source pixels
        shown = [np.where(pcr.source_mask, m, np.nan) for m in shown]
    for column, (image, kind) in enumerate(zip(shown, ('true', 'predicted'))):
        im = axes[row, column].imshow(image, origin='lower', cmap=cmap,
                                      vmin=0, vmax=1)
        axes[row, column].set_title(f'{name}, {kind}')
    fig.colorbar(im, ax=axes[row], shrink=0.8)
plt.show()
