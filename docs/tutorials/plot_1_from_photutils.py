"""
From photutils ``SourceFinder`` to astropais
============================================

If you detect sources with photutils today, switching is a two-line
change.  This tutorial runs photutils'
`~photutils.segmentation.SourceFinder` and astropais' `PAISDeblender` on
the same simulated field with the same threshold, compares their
segmentations and catalogs, and scores both against the truth.

=====================================================  ======================================================
photutils                                              astropais
=====================================================  ======================================================
``SourceFinder(n_pixels, deblend=True, ...)``          ``PAISDeblender(n_pixels, model=None, ...)``
``finder(data, threshold, mask=None)``                 ``deblender(data, threshold, mask=None)``
``SegmentationImage`` (disjoint labels)                ``WeightedSegmentationImage`` (labels + fractions)
``SourceCatalog(data, segm, ...)``                     ``WeightedSourceCatalog(data, segm, ...)``
multi-thresholding + watershed deblending              network: centres, vectors and fractions (PCR)
each pixel belongs to one source                       each pixel's flux is shared by up to 3 sources
=====================================================  ======================================================

Everything else stays: `WeightedSegmentationImage` *is* a
`~photutils.segmentation.SegmentationImage` (its ``data`` is the disjoint
label map, the largest-fraction source of each pixel) and
`WeightedSourceCatalog` *is* a `~photutils.segmentation.SourceCatalog`
with the same columns and keywords.
"""

# %%
# The field
# ---------
# The same simulated HST-like field as in :ref:`getting-started`, with
# its truth.

import matplotlib.pyplot as plt
import numpy as np
from astropy.visualization import simple_norm
from photutils.segmentation import SourceCatalog, SourceFinder

from astropais.metrics import (blendedness, detection_scores, flux_errors,
                               match_sources)
from astropais import PAISDeblender, WeightedSourceCatalog
from astropais.simulation import make_scene

scene = make_scene('hst', shape=(192, 192), seed=7, density=1500,
                   mag_range=(19.0, 26.5))
data, noise_sigma = scene.image, scene.noise_sigma
threshold = 2.0 * noise_sigma

# %%
# Both detectors, side by side
# ----------------------------

finder = SourceFinder(n_pixels=5, progress_bar=False)
segm_phot = finder(data, threshold)
cat_phot = SourceCatalog(data, segm_phot)

deblender = PAISDeblender(n_pixels=5)
segm_pais = deblender(data, threshold)
cat_pais = WeightedSourceCatalog(data, segm_pais)

print(f'photutils: {segm_phot.n_labels} sources; '
      f'astropais: {segm_pais.n_labels} sources; '
      f'truth: {len(scene.catalog)} simulated sources')

norm = simple_norm(data, 'asinh', vmin=-2 * noise_sigma,
                   vmax=np.percentile(data, 99.8), asinh_a=0.05)
fig, axes = plt.subplots(1, 3, figsize=(12, 4.3), sharex=True, sharey=True,
                         layout='constrained')
axes[0].imshow(data, origin='lower', cmap='Greys_r', norm=norm)
axes[0].plot(scene.catalog['x'], scene.catalog['y'], 'r.', ms=3)
axes[0].set_title('Data and true centres')
axes[1].imshow(segm_phot, origin='lower', cmap=segm_phot.cmap,
               interpolation='nearest')
axes[1].set_title(f'photutils SourceFinder ({segm_phot.n_labels})')
axes[2].imshow(segm_pais, origin='lower', cmap=segm_pais.cmap,
               interpolation='nearest')
axes[2].set_title(f'astropais PAISDeblender ({segm_pais.n_labels})')
plt.show()

# %%
# The footprints are the same (both use photutils' detection above the
# threshold); what differs is how a footprint is split.  photutils cuts
# it into disjoint segments along the saddles between peaks; astropais
# finds the centres with the network and shares every pixel between up
# to three of them.  The disjoint map shown for astropais is only the
# largest share of each pixel; the shares themselves are in
# ``segm_pais.attribution`` (see
# :ref:`sphx_glr_generated_tutorials_plot_2_weighted_segmentations.py`).
#
# Scores against the truth
# ------------------------
# Match detections to true sources one to one (within one PSF FWHM), then
# compare the catalogs' ``segment_flux`` with the true flux of each
# source inside the image.  Flux errors are summarised over the sources
# with a matched-filter S/N of at least 10, where the measurement is not
# dominated by noise.


def positions(cat):
    """(y, x) centroids of a catalog."""
    return np.column_stack([cat.y_centroid, cat.x_centroid])


true_flux = np.asarray(scene.catalog['flux_in_image'])
measurable = np.asarray(scene.catalog['snr']) >= 10
blend = blendedness(scene.sources, footprint_threshold=noise_sigma)

results = {}
for name, cat in (('photutils', cat_phot), ('astropais', cat_pais)):
    match = match_sources(scene.centres, positions(cat),
                          max_separation=scene.psf_fwhm_pixels)
    scores = detection_scores(match)
    errors = flux_errors(true_flux, cat.segment_flux, match)
    results[name] = errors
    print(f'{name:10s} detected {scores["n_detected"]:3d}  '
          f'matched {scores["n_matched"]:3d}  '
          f'recall {scores["recall"]:.2f}  precision {scores["precision"]:.2f}'
          f'  median |flux error| (S/N >= 10): '
          f'{np.nanmedian(errors[measurable]):.3f}')

# %%
# The flux error of each true source against its blendedness (the share
# of the light in its footprint that comes from other sources).  Disjoint
# segments give a blended source either too much of its neighbours' light
# or too little of its own; partial attribution is meant to keep them
# apart, and the plot shows how well each method does on this field.

fig, ax = plt.subplots(figsize=(6, 4), layout='constrained')
for (name, errors), marker in zip(results.items(), ('o', 's')):
    keep = measurable & np.isfinite(errors)
    ax.scatter(blend[keep], errors[keep], marker=marker, label=name,
               alpha=0.7)
ax.set_yscale('log')
ax.set_xlabel('blendedness of the true source')
ax.set_ylabel('|segment_flux - true flux| / true flux')
ax.legend()
plt.show()

# %%
# These numbers come from one small field; the :doc:`/benchmarks` page
# compares the methods on many fields.
#
# What else changes
# -----------------
# * **Convolution.**  Give `PAISDeblender` the background-subtracted image
#   itself as ``data`` (the network was trained on unsmoothed images) and,
#   as photutils recommends for detection, the smoothed image as
#   ``convolved_data=convolve(data, kernel)``: the footprint is found on
#   the smoothed one, the fractions come from the unsmoothed one.  Where
#   you would give ``SourceFinder`` the smoothed image, give it to
#   ``convolved_data``, never as ``data``.
# * **Deblending parameters.**  ``n_levels``, ``contrast`` and ``mode``
#   have no counterpart.  `PAISDeblender` has ``peak_threshold`` (the
#   heatmap height of a centre), ``min_distance`` and ``vote_tolerance``
#   (see `astropais.pcr.decode`), and tiling options for large images
#   (:ref:`sphx_glr_generated_tutorials_plot_5_large_images.py`).
# * **Known positions.**  ``deblender(data, threshold, centres=yx)``
#   skips the network's centre finding and only attributes the pixels to
#   the positions you give (e.g. from a deeper band or another catalog).
# * **Photometry.**  ``segment_flux`` of `WeightedSourceCatalog` sums
#   :math:`M_i \odot I` over the pixels where the source has a share, so
#   the fluxes add up to the footprint's flux; Kron and circular
#   apertures are measured with the neighbours' shares removed.
# * **Speed.**  The network runs on the CPU (no GPU needed); the measured
#   time per megapixel of both methods is on the :doc:`/benchmarks` page.
