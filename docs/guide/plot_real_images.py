"""
.. _real-images:

Real images: astropais beside photutils
=======================================

The shipped network was trained on simulated fields only.  This page runs
it on three real images that come with astropy and scikit-image, next to
photutils' `~photutils.segmentation.SourceFinder` with the same
background, threshold and detection kernel, so that you can judge the two
by eye on data neither was tuned for:

* ``comp.fits`` and ``m13.fits``, astropy's test images (M13, the globular
  cluster: a crowded field);
* the Hubble Deep Field (scikit-image's ``hubble_deep_field()``, a JPEG,
  converted to grey with ``skimage.color.rgb2gray``: not linear in flux,
  so only the shapes mean something).

Each image is reduced the same way as ``astropais deblend`` does by
default: a sigma-clipped constant background and noise
(`astropais.segmentation.estimate_background`) and a threshold of 1.5 sigma.
"""

# %%
# The images and their sky
# ------------------------

import os
import warnings

import astropy
import matplotlib.pyplot as plt
import numpy as np
from astropy.convolution import convolve
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from astropy.visualization import AsinhStretch, ImageNormalize, ZScaleInterval
from photutils.segmentation import (SegmentationImage, SourceCatalog,
                                    SourceFinder)
from skimage import color, data as skimage_data

from astropais import PAISDeblender, WeightedSourceCatalog
from astropais.cli.figures import most_blended_pair
from astropais.segmentation import detection_kernel, estimate_background

ASTROPY = os.path.dirname(astropy.__file__)
images = {
    'comp.fits': fits.getdata(os.path.join(
        ASTROPY, 'io/fits/tests/data/comp.fits'), 1).astype(float),
    'm13.fits': fits.getdata(os.path.join(
        ASTROPY, 'io/fits/hdu/compressed/tests/data/m13.fits')).astype(float),
    # The lower-left 400 x 400 pixels keep the page quick to build.
    'Hubble Deep Field (grey)': color.rgb2gray(
        skimage_data.hubble_deep_field())[::-1][:400, :400] * 255.0,
}
for name, image in images.items():
    sky = estimate_background(image)
    print(f'{name}: {image.shape[1]} x {image.shape[0]} pixels, background '
          f'{sky.background:.4g}, noise sigma {sky.background_rms:.3g}')

# %%
# Both detectors
# --------------
# The same background-subtracted image, threshold (1.5 sigma) and
# detection kernel (a Gaussian of FWHM 2 pixels) for both; photutils
# deblends with its multi-thresholding and watershed, astropais with the
# network.  Where photutils' exponential deblending cannot be used it
# falls back to linear and says so with a warning; the page prints the
# number of such sources from ``segm_phot.info`` instead of the warning.

NSIGMA, FWHM = 1.5, 2.0
kernel = detection_kernel(FWHM)
finder = SourceFinder(n_pixels=5, progress_bar=False)
deblender = PAISDeblender(n_pixels=5, progress_bar=False)
results = {}
for name, image in images.items():
    sky = estimate_background(image)
    work = image - sky.background
    threshold = NSIGMA * sky.background_rms
    convolved = convolve(work, kernel, normalize_kernel=True)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'The deblending mode',
                                AstropyUserWarning)
        segm_phot = finder(convolved, threshold)
    segm_pais = deblender(work, threshold, convolved_data=convolved)
    results[name] = (work, segm_phot, segm_pais)
    print(f'{name}: photutils {segm_phot.n_labels} sources, astropais '
          f'{segm_pais.n_labels} sources')
    info = getattr(segm_phot, 'info', None) or {}
    for fallback in info.get('warnings', {}).values():
        reason = fallback['message'].split(' due to ')[-1].rstrip('.')
        print(f'    photutils deblended {len(fallback["input_labels"])} of '
              f'its sources linearly:\n        {reason}')

# %%
# Side by side
# ------------
# Left: the image (asinh stretch).  Middle: photutils' label map.  Right:
# astropais' label map (each pixel's largest-fraction source); the
# fractions themselves are shown below.

fig, axes = plt.subplots(len(results), 3, figsize=(11, 3.7 * len(results)),
                         layout='constrained')
for row, (name, (work, segm_phot, segm_pais)) in zip(axes, results.items()):
    norm = ImageNormalize(work, interval=ZScaleInterval(),
                          stretch=AsinhStretch())
    row[0].imshow(work, origin='lower', cmap='Greys_r', norm=norm,
                  interpolation='nearest')
    row[0].set_title(name)
    for ax, method, segm in zip(row[1:], ('photutils', 'astropais'),
                                (segm_phot, segm_pais)):
        ax.imshow(segm, origin='lower', cmap=segm.cmap,
                  interpolation='nearest')
        ax.set_title(f'{method}: {segm.n_labels} sources')
    for ax in row:
        ax.set_xticks([])
        ax.set_yticks([])
plt.show()

# %%
# What the label maps cannot show
# -------------------------------
# In each image, the pair of astropais sources that share the most flux:
# the fraction maps :math:`M_i` of the two (a label map would give every
# shared pixel wholly to one of them).

fig, axes = plt.subplots(len(results), 3, figsize=(11, 3.5 * len(results)),
                         layout='constrained')
for row, (name, (work, _, segm_pais)) in zip(axes, results.items()):
    pair, shared = most_blended_pair(segm_pais, work)
    if pair is None:
        for ax in row:
            ax.set_axis_off()
        row[0].set_title(f'{name}: no shared pixels')
        continue
    slices = [segm_pais.fraction_slices[segm_pais.get_index(label)]
              for label in pair]
    y0 = max(0, min(s[0].start for s in slices) - 3)
    y1 = min(work.shape[0], max(s[0].stop for s in slices) + 3)
    x0 = max(0, min(s[1].start for s in slices) - 3)
    x1 = min(work.shape[1], max(s[1].stop for s in slices) + 3)
    window = (slice(y0, y1), slice(x0, x1))
    row[0].imshow(work[window], origin='lower', cmap='Greys_r',
                  interpolation='nearest')
    row[0].set_title(f'{name}:\nsources {pair[0]} and {pair[1]}')
    for ax, label in zip(row[1:], pair):
        fractions = np.zeros(work.shape)
        cutout, slc = segm_pais.fraction_image(label)
        fractions[slc] = cutout
        shown = ax.imshow(fractions[window], origin='lower', vmin=0, vmax=1,
                          cmap='viridis', interpolation='nearest')
        ax.set_title(f'fractions $M_{{{label}}}$')
    fig.colorbar(shown, ax=row[1:], shrink=0.8, label='fraction')
plt.show()

# %%
# Photometry on the same footprints
# ---------------------------------
# Segment fluxes of astropais' sources (fractions applied) against
# photutils' catalog on astropais' own label map: equal where a source
# shares no pixel, different where the fractions move flux between
# neighbours.

for name, (work, _, segm_pais) in results.items():
    weighted = WeightedSourceCatalog(work, segm_pais, progress_bar=False)
    disjoint = SourceCatalog(work, SegmentationImage(segm_pais.data))
    ratio = weighted.segment_flux / disjoint.segment_flux
    moved = np.count_nonzero(np.abs(ratio - 1) > 0.01)
    print(f'{name}: {len(weighted)} sources, {moved} of them with a '
          f'segment flux\n'
          f'    more than 1 % different from the disjoint label map\'s;\n'
          f'    total flux {np.sum(weighted.segment_flux):.6g} vs '
          f'{np.sum(disjoint.segment_flux):.6g}')
