"""
Working with weighted segmentations
===================================

A `WeightedSegmentationImage` is a photutils
`~photutils.segmentation.SegmentationImage` that also carries the
fraction :math:`M_i(p)` of every source at every footprint pixel.  This
tutorial shows how to read the fractions, make deblended images, build a
catalog, relabel sources, and save everything to FITS, ASDF and
`regions` files.

To keep the page about the data structure (and independent of any
network), we build the weighted segmentation from the *true* fractions of
a simulated blend, on photutils' detection footprint.  `PAISDeblender`
returns exactly the same class.
"""

# %%
# A weighted segmentation from known fractions
# --------------------------------------------
# `astropais.metrics.attribution_from_source_images` turns per-source
# model images into a sparse `~astropais.pcr.PixelAttribution` (the
# fractions of the 3 largest contributors of every footprint pixel,
# renormalised);
# `WeightedSegmentationImage` wraps it.

import matplotlib.pyplot as plt
import numpy as np
from astropy.visualization import simple_norm
from photutils.segmentation import (SegmentationImage, SourceCatalog,
                                    detect_sources)

from astropais.metrics import attribution_from_source_images
from astropais import WeightedSegmentationImage, WeightedSourceCatalog
from astropais.simulation import make_scene

scene = make_scene('hst', shape=(96, 96), seed=2, density=1500,
                   mag_range=(20.0, 25.5), star_fraction=0.0)
data, noise_sigma = scene.image, scene.noise_sigma
footprint = detect_sources(data, 2.0 * noise_sigma, n_pixels=5).data > 0
attribution = attribution_from_source_images(scene.sources, footprint,
                                             scene.centres, max_slots=3)
segm = WeightedSegmentationImage(attribution)
print(segm)

# %%
# The sparse attribution
# ----------------------
# ``segm.attribution`` stores, for every footprint pixel (a flat index in
# ``pixels``), up to ``n`` labels and weights; empty slots have label 0.
# The weights of a pixel sum to one.  Memory grows with the footprint
# area, never with the number of sources times the image size.

attr = segm.attribution
print('pixels', attr.pixels.shape, 'labels', attr.labels.shape,
      'weights', attr.weights.shape)
print('first pixel:', np.unravel_index(attr.pixels[0], attr.shape),
      'labels', attr.labels[0], 'weights', attr.weights[0].round(3))
print('weights sum to 1:', np.allclose(attr.weights.sum(axis=1), 1))
shared = attr.weights.max(axis=1) < 0.95
print(f'{shared.mean():.0%} of the footprint pixels are shared: '
      'no source has 95% of their flux')

# %%
# Fractions and deblended images
# ------------------------------
# ``fraction_image(label)`` returns a source's fractions as a cut-out,
# ``deblended_image(label, data)`` its share of the data,
# :math:`M_i \odot I`; both come with the slices of the cut-out in the
# full image.  The cut-out box covers every pixel where the source has a
# share, which is usually larger than its segment in the disjoint map.
# Here we take the source with the most shared pixels.

n_shared = np.array([np.sum((f > 0) & (f < 0.95))
                     for f in segm.fraction_cutouts])
label = segm.labels[np.argmax(n_shared)]
fractions, slices = segm.fraction_image(label)
deblended, _ = segm.deblended_image(label, data)

norm = simple_norm(data, 'asinh', vmin=-2 * noise_sigma,
                   vmax=np.percentile(data, 99.8), asinh_a=0.05)
fig, axes = plt.subplots(1, 4, figsize=(13, 3.6), layout='constrained')
axes[0].imshow(data[slices], origin='lower', cmap='Greys_r', norm=norm)
axes[0].set_title('data (cut-out)')
axes[1].imshow(segm.data[slices], origin='lower', cmap=segm.cmap,
               interpolation='nearest', vmin=0, vmax=segm.max_label)
axes[1].set_title('disjoint labels')
im = axes[2].imshow(fractions, origin='lower', cmap='viridis', vmin=0,
                    vmax=1)
axes[2].contour(segm.data[slices] == label, levels=[0.5], colors='w',
                linewidths=1)
axes[2].set_title(f'$M_{{{label}}}$ (white: its segment)')
fig.colorbar(im, ax=axes[2], shrink=0.8)
axes[3].imshow(deblended, origin='lower', cmap='Greys_r', norm=norm)
axes[3].set_title(rf'$M_{{{label}}} \odot I$')
plt.show()

# %%
# ``total_fraction`` is :math:`\sum_i M_i`: 1 on the footprint, 0 on the
# background (less than 1 where a source was removed, see below).

print('total fraction on the footprint:',
      np.unique(segm.total_fraction[segm.footprint].round(12)))

# %%
# The catalog
# -----------
# `WeightedSourceCatalog` takes the same arguments as photutils'
# `~photutils.segmentation.SourceCatalog`.  Its segment quantities are
# computed on the deblended images.  For comparison we also measure the
# *same* label map with photutils' catalog, which gives every pixel
# entirely to one source.

error = np.full(data.shape, noise_sigma)
cat = WeightedSourceCatalog(data, segm, error=error)
cat_disjoint = SourceCatalog(data, SegmentationImage(segm.data), error=error)

true_flux = np.asarray(scene.catalog['flux_in_image'])
# With true fractions, label i is catalogue row i - 1.
truth = true_flux[cat.labels - 1]
table = cat.to_table(columns=['label', 'x_centroid', 'y_centroid',
                              'segment_flux', 'segment_flux_err',
                              'kron_flux'])
table['disjoint_flux'] = cat_disjoint.segment_flux
table['true_flux'] = truth
for name in table.colnames[1:]:
    table[name].info.format = '.3f'
table.pprint(max_lines=-1, max_width=-1)

# %%
fig, ax = plt.subplots(figsize=(5, 4), layout='constrained')
ax.loglog(truth, cat_disjoint.segment_flux, 's', label='disjoint segments')
ax.loglog(truth, cat.segment_flux, 'o', label='weighted (fractions)')
lims = [truth.min() / 2, truth.max() * 2]
ax.plot(lims, lims, 'k:', lw=1)
ax.set_xlabel('true flux in the image')
ax.set_ylabel('segment_flux')
ax.legend()
plt.show()

# %%
# The weighted fluxes differ from the truth by the noise and by the light
# outside the footprint; the disjoint ones also by the light given to, or
# taken from, the neighbours.
#
# Relabelling keeps the fractions in sync
# ---------------------------------------
# Every photutils relabelling method (``remove_labels``,
# ``keep_labels``, ``reassign_labels``, ``relabel_consecutive``,
# ``remove_border_labels``, ...) changes the fractions with the label
# map.  A removed source's share is dropped (the others keep their
# fluxes); merged sources add their shares.

edited = segm.copy()
edited.remove_labels(label)
print(f'removed label {label}: {edited.n_labels} labels left; '
      f'total fraction now {edited.total_fraction[slices].min():.3f} to '
      f'{edited.total_fraction[slices].max():.3f} in its box')

# %%
# A disjoint segmentation from elsewhere (photutils, SExtractor) can be
# wrapped too, with weight 1 on each pixel:

disjoint = WeightedSegmentationImage.from_segmentation(segm.data)
print(disjoint.attribution.labels.shape,
      np.array_equal(disjoint.data, segm.data))

# %%
# FITS and ASDF files
# -------------------
# `astropais.io.write_weighted_segmentation` stores the sparse fractions
# exactly (and the label map for tools that only read images);
# `~astropais.io.read_weighted_segmentation` reads them back and checks
# them.  The format follows the file suffix.

import tempfile
from pathlib import Path

from astropais.io import read_weighted_segmentation, write_weighted_segmentation

workdir = Path(tempfile.mkdtemp())
for suffix in ('fits', 'asdf'):
    path = workdir / f'segm.{suffix}'
    write_weighted_segmentation(segm, path)
    back, wcs = read_weighted_segmentation(path)
    same = (np.array_equal(back.data, segm.data)
            and np.array_equal(back.attribution.weights, attr.weights)
            and np.array_equal(back.attribution.labels, attr.labels))
    print(f'{path.name}: {path.stat().st_size / 1024:.0f} KiB, '
          f'identical after reading: {same}')

# %%
# The FITS file is a multi-extension file whose primary image is the
# label map, so DS9 or any FITS viewer shows the disjoint segmentation.
#
# Regions
# -------
# `astropais.io.fraction_regions` outlines the pixels where each source
# has a share (these outlines overlap, unlike the disjoint segments);
# `astropais.io.aperture_regions` gives the catalog's Kron apertures
# (here of the brighter sources).
# Both return `regions.Regions`, which write DS9 or CRTF files.

from astropais.io import aperture_regions, fraction_regions

outlines = fraction_regions(segm, min_fraction=0.2, color='cyan')
bright = cat[cat.segment_flux > 3.0]       # catalogs slice like photutils'
apertures = aperture_regions(bright, kind='kron', color='orange')
outlines.write(workdir / 'fractions.reg', format='ds9')
apertures.write(workdir / 'kron.reg', format='ds9')
print(f'{len(outlines)} fraction outlines, {len(apertures)} Kron apertures')

fig, ax = plt.subplots(figsize=(5.5, 5.5), layout='constrained')
ax.imshow(data, origin='lower', cmap='Greys_r', norm=norm)
for region in outlines:
    region.plot(ax=ax, lw=0.8)
for region in apertures:
    region.plot(ax=ax, lw=1)
ax.set_title('fraction outlines (M > 0.2), Kron apertures')
plt.show()
