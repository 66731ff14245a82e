"""
.. _getting-started:

Getting started
===============

This page runs the whole astropais workflow on a small simulated
HST-like field: detect and deblend the sources with `PAISDeblender`,
look at the weighted segmentation (`WeightedSegmentationImage`), and
measure the sources with `WeightedSourceCatalog`.  If you know
photutils, each step has the photutils object you would expect in its
place.

Install astropais with ``python -m pip install astropais`` (see
:doc:`/install`).  It ships a trained model, so nothing needs to be
trained before the first call.  This page simulates its example field
with GalSim, which the ``simulation`` extra brings: to run it yourself,
``python -m pip install "astropais[simulation]"``.
"""

# %%
# The example field
# -----------------
# `astropais.simulation.make_scene` draws a blended field with GalSim and
# keeps the noise-free image of every source, so that the result can be
# compared with the truth.  We use the HST-like preset (0.06 arcsec
# pixels, Moffat PSF) with more, and brighter, sources than the preset's
# default, so that the page shows some blends: the same arguments give
# the same image, bit for bit.  Any background-subtracted 2-D image (a
# numpy array, an `~astropy.nddata.NDData` or a `~astropy.nddata.CCDData`)
# can take its place.

import matplotlib.pyplot as plt
import numpy as np
from astropy.visualization import simple_norm

from astropais import PAISDeblender, WeightedSourceCatalog
from astropais.simulation import make_scene

scene = make_scene('hst', shape=(192, 192), seed=7, density=1500,
                   mag_range=(19.0, 26.5))
data = scene.image                # background-subtracted image
noise_sigma = scene.noise_sigma   # per-pixel background noise
print(f'{len(scene.catalog)} simulated sources, noise sigma '
      f'{noise_sigma:.4g}, PSF FWHM {scene.psf_fwhm_pixels:.2f} pixels')

norm = simple_norm(data, 'asinh', vmin=-2 * noise_sigma,
                   vmax=np.percentile(data, 99.8), asinh_a=0.05)
fig, ax = plt.subplots(figsize=(5, 5), layout='constrained')
ax.imshow(data, origin='lower', cmap='Greys_r', norm=norm)
ax.set_title('Example field (simulated, HST-like)')
plt.show()

# %%
# Detect and deblend in one call
# ------------------------------
# `PAISDeblender` is configured once and then called on an image with a
# detection threshold, like photutils'
# `~photutils.segmentation.SourceFinder`.  The footprint is photutils'
# detection footprint (pixels above the threshold, in groups of at least
# ``n_pixels``); inside it, the network finds the source centres and
# splits every pixel's flux between up to three sources.  With no
# ``model`` argument the model shipped with astropais is used.

deblender = PAISDeblender(n_pixels=5)
# 1.5 sigma: the default of `~astropais.segmentation.deblend_field` and of
# ``astropais deblend``.
segm = deblender(data, threshold=1.5 * noise_sigma)
print(segm)
print(f'{segm.n_labels} sources found')

# %%
# The result is a photutils `~photutils.segmentation.SegmentationImage`
# (a subclass of it): ``segm.data`` is the familiar *disjoint* label map,
# each pixel given to the source with the largest share of it, so every
# photutils tool keeps working.  It also carries the *fractions*
# :math:`M_i(p)`: the share of pixel :math:`p`'s flux that belongs to
# source :math:`i`.  Below, the right panel colours every pixel by the
# mixture of its sources' colours, weighted by their fractions: where the
# network shares a pixel between sources, the colours blend instead of
# meeting at a hard edge.

cmap = segm.make_cmap(seed=0)
attr = segm.attribution           # sparse: up to n (label, weight) a pixel
colours = cmap(attr.labels)[..., :3]              # (P, n, 3)
mixed = np.zeros(segm.shape + (3,))
mixed.reshape(-1, 3)[attr.pixels] = np.sum(attr.weights[..., None] * colours,
                                           axis=1)
shared_pixels = attr.weights.max(axis=1) < 0.9
print(f'{shared_pixels.mean():.1%} of the footprint pixels are shared '
      '(no source has 90% of their flux)')

fig, axes = plt.subplots(1, 3, figsize=(12, 4.3), sharex=True, sharey=True,
                         layout='constrained')
axes[0].imshow(data, origin='lower', cmap='Greys_r', norm=norm)
axes[0].set_title('Data')
axes[1].imshow(segm.data, origin='lower', cmap=cmap, interpolation='nearest')
axes[1].set_title('Disjoint label map (segm.data)')
axes[2].imshow(mixed, origin='lower', interpolation='nearest')
axes[2].set_title('Weighted: colours mixed by fractions')
plt.show()

# %%
# Deblended sources
# -----------------
# ``segm.fraction_image(label)`` gives a source's fractions and
# ``segm.deblended_image(label, data)`` its deblended image
# :math:`M_i \odot I`, both as cut-outs with their slices in the full
# image.  Because this field is simulated, each one can be set beside the
# noise-free truth of the matching simulated source.  We show the four
# sources that share the largest part of their pixels with neighbours.

from astropais.metrics import match_sources

true_centres = scene.centres                      # (y, x)
found_centres = segm.centres[segm.labels - 1]     # (y, x), one per label
match = match_sources(true_centres, found_centres, max_separation=3.0)
truth_of = dict(zip(match.detected_index, match.true_index))

# For each source: its flux, and the share of its pixels that it shares
# with another source (fraction below 0.95).  Show the most shared among
# the brighter half of the matched sources.
flux = np.array([np.sum(f * data[s]) for f, s in
                 zip(segm.fraction_cutouts, segm.fraction_slices)])
shared = np.array([np.mean(f[f > 0] < 0.95) for f in segm.fraction_cutouts])
bright = flux >= np.median(flux)
order = np.lexsort((-flux, -np.round(shared, 1)))
candidates = [i for i in order if i in truth_of and bright[i]][:4]
if not candidates:                # no bright source matched: any matched one
    candidates = [i for i in order if i in truth_of][:4]


def truth_cutout(true_index, slices):
    """The noise-free image of one simulated source in ``slices``."""
    full = np.zeros(scene.shape)
    image_sl, cutout_sl = scene.sources.slices(true_index)
    full[image_sl] = scene.sources.cutouts[true_index][cutout_sl]
    return full[slices]


fig, axes = plt.subplots(4, len(candidates), figsize=(2.6 * len(candidates),
                                                     9.5),
                         layout='constrained', squeeze=False)
for column, index in enumerate(candidates):
    label = segm.labels[index]
    fractions, slices = segm.fraction_image(label)
    deblended, _ = segm.deblended_image(label, data)
    true_image = truth_cutout(truth_of[index], slices)
    vmax = np.percentile(true_image, 99.5)
    panels = [(fractions, f'label {label}: $M_i$', 'viridis', 0, 1),
              (deblended, r'$M_i \odot I$', 'Greys_r', -vmax / 4, vmax),
              (true_image, 'truth $S_i$', 'Greys_r', -vmax / 4, vmax),
              (deblended - true_image, r'$M_i \odot I - S_i$', 'RdBu_r',
               -vmax / 2, vmax / 2)]
    for row, (image, title, cm, lo, hi) in enumerate(panels):
        axes[row, column].imshow(image, origin='lower', cmap=cm, vmin=lo,
                                 vmax=hi, interpolation='nearest')
        axes[row, column].set_title(title, fontsize=9)
        axes[row, column].set_xticks([])
        axes[row, column].set_yticks([])
plt.show()

# %%
# The residual of a deblended source against its truth contains the
# noise (the deblended image is a share of the *noisy* data) and any
# flux given to the wrong neighbour.  The difference between the data and
# the sum of all deblended images is the flux attributed to no source:
# the background noise and the sources below the detection threshold.
# Inside the footprint the fractions sum to one, so nothing is lost or
# counted twice there.

attributed = segm.total_fraction * data          # sum_i M_i * I
fig, axes = plt.subplots(1, 2, figsize=(9, 4.3), sharex=True, sharey=True,
                         layout='constrained')
axes[0].imshow(attributed, origin='lower', cmap='Greys_r', norm=norm)
axes[0].set_title(r'Sum of deblended images $\sum_i M_i \odot I$')
axes[1].imshow(data - attributed, origin='lower', cmap='Greys_r', norm=norm)
axes[1].set_title(r'Residual $I - \sum_i M_i \odot I$')
plt.show()

# %%
# The catalog
# -----------
# `WeightedSourceCatalog` is a photutils
# `~photutils.segmentation.SourceCatalog` whose segment quantities
# (fluxes, centroids, moments, shapes) are computed on each source's
# deblended image, and whose aperture quantities (Kron, circular) are
# measured with the neighbours' shares removed.  It takes the same
# keywords (``error``, ``mask``, ``wcs``, ``kron_params``, ...).

cat = WeightedSourceCatalog(data, segm)
table = cat.to_table(columns=['label', 'x_centroid', 'y_centroid',
                              'segment_flux', 'kron_flux', 'area'])
for name in ('x_centroid', 'y_centroid', 'segment_flux', 'kron_flux'):
    table[name].info.format = '.3f'
print(table[:10])

# %%
# Every footprint pixel's flux is shared out exactly once, so the
# segment fluxes add up to the flux in the footprint:

print(f'sum of segment_flux:    {np.sum(cat.segment_flux):.6f}')
print(f'flux in the footprint:  {np.sum(data[segm.footprint]):.6f}')

# %%
# And the catalog plots its apertures like any photutils catalog:

fig, ax = plt.subplots(figsize=(5, 5), layout='constrained')
ax.imshow(data, origin='lower', cmap='Greys_r', norm=norm)
cat.plot_kron_apertures(ax=ax, color='tab:orange', lw=1)
ax.set_title('Kron apertures')
plt.show()

# %%
# From the command line
# ---------------------
# The ``astropais demo`` command runs the same workflow on its own
# example field (`astropais.cli.demo.EXAMPLE_FIELD`) and writes the
# image, the weighted segmentation (FITS), the catalog (ECSV) and an
# overview PNG to a directory::
#
#     astropais demo -o demo_output
#
# and for your own (background-subtracted or not) FITS image::
#
#     astropais deblend image.fits -o output --progress
#
# ``astropais deblend`` runs `astropais.segmentation.deblend_field`, the
# same pipeline from Python: it subtracts the background (a sigma-clipped
# constant by default; ``background='2d'`` for photutils'
# `~photutils.background.Background2D` with ``box_size`` and
# ``filter_size``; ``'none'``), measures the noise (sigma-clipped),
# detects at ``n_sigma`` (default 1.5) times the noise, deblends and
# measures.  Give it the error map of the image (``error=``, or
# ``variance=`` or ``weight=``; on the command line ``--error``,
# ``--variance`` or ``--weight``) and the catalog's ``segment_flux_err``
# and ``kron_flux_err`` are those of photutils::
#
#     from astropais.segmentation import deblend_field
#     result = deblend_field(image, background='2d', box_size=64,
#                            error=error)
#     result.catalog.to_table()
#
# Next steps: :ref:`sphx_glr_generated_tutorials_plot_1_from_photutils.py`
# compares this with photutils on the same field, and
# :ref:`sphx_glr_generated_guide_plot_method.py` explains what the network
# predicts.
