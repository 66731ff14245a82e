"""
Large images: tiling, memory and progress bars
==============================================

The network sees fixed-size tiles; `PAISDeblender` cuts any image into
overlapping tiles, runs them in batches, keeps the centre of each tile
and stitches the outputs, so the image size is limited only by memory.
This tutorial shows the tiling, what takes memory, and how to follow a
long run.  (The image here is small, to keep the documentation build
short; the code is the same for a survey image.)
"""

# %%
# The tiles
# ---------
# Each tile keeps ``overlap`` pixels of context on every side that are
# predicted but thrown away.  By default ``overlap`` is the network's
# measured field-of-view radius (`PAISDeblender.field_of_view_radius`)
# and tile starts are aligned to the network's pooling
# (``size_multiple``), so the stitched prediction equals a single pass of
# the network over the whole image: no source is cut or duplicated at a
# tile border.  The default ``tile_size`` is at least 256 pixels (larger
# tiles waste less work on the overlaps); both can be set.

import time
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np
from astropy.visualization import simple_norm
from matplotlib.patches import Rectangle

from astropais import PAISDeblender, WeightedSourceCatalog
from astropais.segmentation.tiling import tile_layout
from astropais.simulation import make_scene

scene = make_scene('hst', shape=(512, 512), seed=11)
data, noise_sigma = scene.image, scene.noise_sigma

deblender = PAISDeblender(n_pixels=5, progress_bar=True)
print(deblender)

layout = tile_layout(data.shape, deblender.tile_size, deblender.overlap,
                     multiple=deblender.model.size_multiple)
print(f'{len(layout)} tiles of {deblender.tile_size} x '
      f'{deblender.tile_size} pixels, overlap {deblender.overlap}')

fig, ax = plt.subplots(figsize=(6, 6), layout='constrained')
ax.imshow(data, origin='lower', cmap='Greys_r',
          norm=simple_norm(data, 'asinh', vmin=-2 * noise_sigma,
                           vmax=np.percentile(data, 99.8), asinh_a=0.05))
for k, (tile, keep, _) in enumerate(layout):
    y, x = keep[0].start, keep[1].start
    h, w = keep[0].stop - y, keep[1].stop - x
    ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False,
                           color='tab:orange', lw=1))
    if k == len(layout) // 2:     # one whole tile, with its context
        ty, tx = tile[0].start, tile[1].start
        ax.add_patch(Rectangle((tx - 0.5, ty - 0.5), tile[1].stop - tx,
                               tile[0].stop - ty, fill=False,
                               color='tab:cyan', lw=2, ls='--'))
ax.set_xlim(-0.5, data.shape[1] - 0.5)
ax.set_ylim(-0.5, data.shape[0] - 0.5)
ax.set_title('kept part of each tile (orange), one tile with context (cyan)',
             fontsize=9)
plt.show()

# %%
# A run with progress bars
# ------------------------
# ``progress_bar=True`` shows a `tqdm` bar over the batches of tiles (its
# successive states appear in the output below); `WeightedSourceCatalog`
# and photutils' catalog take ``progress_bar`` too.  ``batch_size`` sets
# how many tiles go through the network at once (memory against speed).
# We time the call and trace the memory of the numpy arrays it allocates
# (`tracemalloc` does not see the deep-learning framework's own buffers).

tracemalloc.start()
start = time.perf_counter()
segm = deblender(data, threshold=2.0 * noise_sigma)
seconds = time.perf_counter() - start
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
cat = WeightedSourceCatalog(data, segm, progress_bar=True)
print(f'{segm.n_labels} sources in {seconds:.1f} s '
      f'({seconds / (data.size / 1e6):.1f} s per megapixel on the machine '
      f'that built this page); peak traced numpy memory '
      f'{peak / 2**20:.0f} MiB')

# %%
# Arithmetic precision
# --------------------
# The network is stored in float32.  With ``precision='auto'`` (the
# default) its hidden layers compute in bfloat16 under TensorFlow on a
# CPU with native bfloat16 instructions (x86 ``avx512_bf16`` or
# ``amx_bf16``), and in float32 elsewhere; its outputs are float32
# either way.  ``precision='float32'`` gives results that do not depend on
# the CPU.  Both, timed on this image after one warm-up call each (on a
# CPU without native bfloat16, bfloat16 is emulated and slower):

from astropais.model import native_bfloat16

print(f'native bfloat16 on the machine that built this page: '
      f'{native_bfloat16()}; auto means {deblender.precision}')
runs = {}
for precision in ('float32', 'bfloat16'):
    timed = PAISDeblender(n_pixels=5, precision=precision)
    timed(data, threshold=2.0 * noise_sigma)            # warm-up
    start = time.perf_counter()
    runs[precision] = timed(data, threshold=2.0 * noise_sigma)
    print(f'{precision:8s}: {time.perf_counter() - start:.2f} s, '
          f'{runs[precision].n_labels} sources')
# Centres are refined with the predicted vectors, so they move slightly:
from scipy.spatial import cKDTree

shift, _ = cKDTree(runs['bfloat16'].centres).query(runs['float32'].centres)
print(f'centre shifts float32 -> bfloat16: median {np.median(shift):.3f} px,'
      f' max {shift.max():.3f} px')

# %%
# What takes memory
# -----------------
# While it runs, `PAISDeblender` holds the stitched network outputs for
# the whole image: the heatmap, ``n`` vectors of 2 components and ``n``
# fractions per pixel, in float32, that is :math:`(1 + 3n) \times 4` bytes
# per pixel (40 bytes for ``n = 3``: 640 MiB for a 4096 x 4096 image),
# plus the image itself.  The result is sparse: the fractions of at most
# ``n`` sources per *footprint* pixel, never one full image per source.

attr = segm.attribution
sparse = attr.pixels.nbytes + attr.labels.nbytes + attr.weights.nbytes
dense = segm.n_labels * data.size * 8
print(f'footprint: {attr.pixels.size} of {data.size} pixels')
print(f'sparse attribution: {sparse / 2**20:.2f} MiB; one float64 image '
      f'per source would take {dense / 2**20:.0f} MiB')
outputs = data.size * (1 + 3 * deblender.model.n) * 4
print(f'network outputs held during the call: {outputs / 2**20:.1f} MiB')

# %%
# For images too large for memory, process overlapping sub-images and
# keep each source from the sub-image where it lies farthest from the
# edge, as with any tiled detection; inside one call, tiling is
# automatic.
#
# Masks, NDData and the command line
# ----------------------------------
# Masked pixels (``mask=``, or the mask of an `~astropy.nddata.NDData`)
# are set to zero for the network and excluded from the footprint.  An
# `~astropy.nddata.NDData` with an uncertainty also gives the noise for
# the normalisation.

from astropy.nddata import NDData, StdDevUncertainty

mask = np.zeros(data.shape, dtype=bool)
mask[:, 250:254] = True                    # e.g. a bad column
nddata = NDData(data, mask=mask,
                uncertainty=StdDevUncertainty(np.full(data.shape,
                                                      noise_sigma)))
segm_masked = deblender(nddata, threshold=2.0 * noise_sigma)
print(f'{segm_masked.n_labels} sources; any in the masked columns: '
      f'{bool(np.any(segm_masked.data[mask]))}')

# %%
# The command line does the whole run on a FITS file, with progress bars::
#
#     astropais deblend big_image.fits -o results --progress
#
# and `astropais.segmentation.deblend_field` is the same pipeline from
# Python (background subtraction, noise estimate, deblending and catalog).
