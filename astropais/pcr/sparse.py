"""
Sparse containers shared by the PCR encoder, the decoder and everything
that produces or consumes per-source images.

Two structures never hold a dense ``N_sources x h x w`` cube:

* `SourceImages` -- one cut-out and its origin per source (simulation truth,
  scarlet2 models): memory is the sum of the cut-out sizes.
* `PixelAttribution` -- for every footprint pixel, at most ``n``
  ``(label, weight)`` pairs (the decoder's output): memory is
  ``O(footprint pixels x n)``.
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ['SourceImages', 'PixelAttribution']


@dataclass
class SourceImages:
    """
    Per-source images in sparse form: a cut-out and its origin per source.

    Parameters
    ----------
    shape : tuple of int
        The ``(ny, nx)`` shape of the full image.
    cutouts : list of `~numpy.ndarray`
        One array per source, of shape ``(h_i, w_i)`` (one band) or
        ``(b, h_i, w_i)`` (``b`` bands, the same for every source).
    origins : array_like of int, shape (N, 2)
        The ``(y0, x0)`` full-image pixel of each cut-out's ``[0, 0]``
        element.  Cut-outs may extend past the image edges; the part
        outside is ignored wherever the images are placed.
    """

    shape: tuple
    cutouts: list
    origins: np.ndarray = field(default=None)

    def __post_init__(self):
        self.shape = tuple(int(s) for s in self.shape)
        if len(self.shape) != 2 or min(self.shape) < 1:
            raise ValueError(f'shape must be two positive integers, got '
                             f'{self.shape}')
        self.cutouts = [np.asarray(c) for c in self.cutouts]
        origins = np.zeros((0, 2)) if self.origins is None else self.origins
        self.origins = np.asarray(origins, dtype=np.int64).reshape(-1, 2)
        if len(self.cutouts) != len(self.origins):
            raise ValueError(f'got {len(self.cutouts)} cut-outs but '
                             f'{len(self.origins)} origins')
        ndims = {c.ndim for c in self.cutouts}
        if ndims - {2, 3}:
            raise ValueError('each cut-out must be 2-D (h, w) or 3-D '
                             '(bands, h, w)')
        if len(ndims) > 1:
            raise ValueError('cut-outs mix single-band and multi-band arrays')
        if ndims == {3} and len({c.shape[0] for c in self.cutouts}) > 1:
            raise ValueError('cut-outs have different numbers of bands')
        for i, c in enumerate(self.cutouts):
            if not np.issubdtype(c.dtype, np.number):
                raise ValueError(f'cut-out {i} is not numeric '
                                 f'(dtype {c.dtype})')
            if not np.all(np.isfinite(c)):
                raise ValueError(f'cut-out {i} has NaN or inf values')

    def __len__(self):
        return len(self.cutouts)

    @property
    def n_bands(self):
        """The number of bands (1 for 2-D cut-outs)."""
        if self.cutouts and self.cutouts[0].ndim == 3:
            return self.cutouts[0].shape[0]
        return 1

    def slices(self, index):
        """
        The overlap of one cut-out with the full image.

        Parameters
        ----------
        index : int
            The source index (0-based).

        Returns
        -------
        image_slices, cutout_slices : tuple of slice
            ``image[image_slices]`` and ``cutout[..., *cutout_slices]``
            are the overlapping parts (empty slices when they do not
            overlap).
        """
        cutout = self.cutouts[index]
        size = cutout.shape[-2:]
        image_sl, cutout_sl = [], []
        for origin, length, full in zip(self.origins[index], size, self.shape):
            origin = int(origin)
            lo, hi = max(origin, 0), min(origin + length, full)
            hi = max(hi, lo)
            image_sl.append(slice(lo, hi))
            cutout_sl.append(slice(lo - origin, hi - origin))
        return tuple(image_sl), tuple(cutout_sl)

    def total(self):
        """
        The sum of all source images on the full image grid.

        Returns
        -------
        image : `~numpy.ndarray`
            Shape ``shape`` (one band) or ``(b, *shape)``.
        """
        multiband = bool(self.cutouts) and self.cutouts[0].ndim == 3
        out_shape = (self.n_bands, *self.shape) if multiband else self.shape
        total = np.zeros(out_shape, dtype=np.float64)
        # A loop over sources: each adds its own cut-out in place.
        for i, cutout in enumerate(self.cutouts):
            image_sl, cutout_sl = self.slices(i)
            total[(Ellipsis, *image_sl)] += cutout[(Ellipsis, *cutout_sl)]
        return total

    def fluxes(self):
        """
        The flux of each source inside the image, per band.

        Returns
        -------
        fluxes : `~numpy.ndarray`
            Shape ``(N,)`` for one band, ``(N, b)`` for several.
        """
        values = []
        for i, cutout in enumerate(self.cutouts):
            _, cutout_sl = self.slices(i)
            values.append(cutout[(Ellipsis, *cutout_sl)].sum(axis=(-2, -1)))
        if not values:
            return np.zeros((0,) if self.n_bands == 1 else (0, self.n_bands))
        return np.asarray(values, dtype=np.float64)


@dataclass
class PixelAttribution:
    """
    Per-pixel partial attribution: at most ``n`` ``(label, weight)`` pairs
    for every footprint pixel.

    Parameters
    ----------
    shape : tuple of int
        The ``(ny, nx)`` image shape.
    pixels : `~numpy.ndarray` of int, shape (P,)
        Flat (C-order) indices of the footprint pixels, strictly increasing.
    labels : `~numpy.ndarray` of int, shape (P, n)
        Source labels (1 to N) attributed to each pixel; 0 marks an unused
        slot.
    weights : `~numpy.ndarray` of float, shape (P, n)
        Fraction of each pixel's flux given to each label; 0 in unused
        slots; every row sums to 1.
    centres : `~numpy.ndarray` of float, shape (N, 2)
        The ``(y, x)`` centre of source ``label`` at row ``label - 1``.
    """

    shape: tuple
    pixels: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    centres: np.ndarray

    def __post_init__(self):
        self.shape = tuple(int(s) for s in self.shape)
        self.pixels = np.asarray(self.pixels, dtype=np.int64).ravel()
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.centres = np.asarray(self.centres, dtype=np.float64).reshape(-1, 2)
        n_pix = self.pixels.size
        if self.labels.ndim != 2 or self.labels.shape[0] != n_pix:
            raise ValueError('labels must have shape (P, n) with P the number '
                             'of pixels')
        if self.weights.shape != self.labels.shape:
            raise ValueError('weights and labels must have the same shape')
        if n_pix and (np.any(np.diff(self.pixels) <= 0) or self.pixels[0] < 0
                      or self.pixels[-1] >= np.prod(self.shape)):
            raise ValueError('pixels must be strictly increasing flat indices '
                             'inside the image')
        if np.any(self.labels < 0) or np.any(self.labels > len(self.centres)):
            raise ValueError('labels must lie in 0..N (N = number of centres)')
        if not np.all(np.isfinite(self.weights)):
            raise ValueError('weights have NaN or inf values')

    @property
    def n_sources(self):
        """The number of sources."""
        return len(self.centres)

    @property
    def n_slots(self):
        """The maximum number of sources per pixel (``n``)."""
        return self.labels.shape[1]

    @property
    def footprint(self):
        """The boolean footprint (source-pixel) mask."""
        mask = np.zeros(self.shape, dtype=bool)
        mask.flat[self.pixels] = True
        return mask

    def label_map(self):
        """
        The disjoint segmentation: each footprint pixel goes to its
        largest-weight label (ties to the first slot).

        Returns
        -------
        labels : `~numpy.ndarray` of int, shape ``shape``
            0 for background.
        """
        segm = np.zeros(self.shape, dtype=np.int64)
        if self.pixels.size:
            best = np.argmax(self.weights, axis=1)
            segm.flat[self.pixels] = self.labels[np.arange(self.pixels.size),
                                                 best]
        return segm

    def fluxes(self, image):
        """
        Per-source fluxes ``sum_p M_i(p) I(p)``.

        Parameters
        ----------
        image : array_like, shape ``shape``
            The background-subtracted image.

        Returns
        -------
        fluxes : `~numpy.ndarray`, shape (N,)
            Flux of label ``i`` at index ``i - 1``.
        """
        image = np.asarray(image, dtype=np.float64)
        if image.shape != self.shape:
            raise ValueError(f'image shape {image.shape} differs from the '
                             f'attribution shape {self.shape}')
        contrib = self.weights * image.ravel()[self.pixels][:, None]
        return np.bincount(self.labels.ravel(), weights=contrib.ravel(),
                           minlength=self.n_sources + 1)[1:]

    def fraction_image(self, label):
        """
        The fraction map of one source, as a cut-out.

        Parameters
        ----------
        label : int
            The source label (1 to N).

        Returns
        -------
        fractions : `~numpy.ndarray`
            The source's fractions in its bounding box (0 elsewhere).
        slices : tuple of slice
            The bounding box in the full image.
        """
        if not 1 <= label <= self.n_sources:
            raise ValueError(f'label {label} is not in 1..{self.n_sources}')
        rows, slots = np.nonzero(self.labels == label)
        if rows.size == 0:
            return np.zeros((0, 0)), (slice(0, 0), slice(0, 0))
        yy, xx = np.unravel_index(self.pixels[rows], self.shape)
        box = (slice(int(yy.min()), int(yy.max()) + 1),
               slice(int(xx.min()), int(xx.max()) + 1))
        cutout = np.zeros((box[0].stop - box[0].start,
                           box[1].stop - box[1].start))
        np.add.at(cutout, (yy - box[0].start, xx - box[1].start),
                  self.weights[rows, slots])
        return cutout, box

    def deblended_image(self, label, image):
        """
        The deblended image ``M_i * I`` of one source, as a cut-out.

        Parameters
        ----------
        label : int
            The source label (1 to N).
        image : array_like, shape ``shape``
            The background-subtracted image.

        Returns
        -------
        cutout : `~numpy.ndarray`
            ``M_i * I`` in the source's bounding box.
        slices : tuple of slice
            The bounding box in the full image.
        """
        image = np.asarray(image, dtype=np.float64)
        if image.shape != self.shape:
            raise ValueError(f'image shape {image.shape} differs from the '
                             f'attribution shape {self.shape}')
        fractions, box = self.fraction_image(label)
        return fractions * image[box], box

    def to_source_images(self, image=None):
        """
        Every source's fraction map, or deblended image ``M_i * I``, as
        cut-outs over the source's bounding box.

        Parameters
        ----------
        image : array_like, shape ``shape``, optional
            The background-subtracted image.  If given, the cut-outs are
            ``M_i * I``; otherwise they are the fractions ``M_i``.

        Returns
        -------
        sources : `SourceImages`
            Cut-out ``i - 1`` belongs to label ``i``; a label without
            pixels has an empty ``(0, 0)`` cut-out.  With ``image`` given,
            ``sources.total()`` equals the image on the footprint and
            ``sources.fluxes()`` equals `fluxes`.
        """
        values = self.weights
        if image is not None:
            image = np.asarray(image, dtype=np.float64)
            if image.shape != self.shape:
                raise ValueError(f'image shape {image.shape} differs from '
                                 f'the attribution shape {self.shape}')
            values = values * image.ravel()[self.pixels][:, None]
        used = self.labels > 0
        label = self.labels[used]
        order = np.argsort(label, kind='stable')
        label = label[order]
        value = values[used][order]
        yy, xx = np.unravel_index(np.broadcast_to(
            self.pixels[:, None], self.labels.shape)[used][order], self.shape)
        bounds = np.searchsorted(label, np.arange(1, self.n_sources + 2))
        cutouts, origins = [], []
        # A loop over sources: each gets its own cut-out array, filled from
        # its contiguous run of the label-sorted entries.
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if lo == hi:
                cutouts.append(np.zeros((0, 0)))
                origins.append((0, 0))
                continue
            y, x = yy[lo:hi], xx[lo:hi]
            y0, x0 = y.min(), x.min()
            cutout = np.zeros((y.max() - y0 + 1, x.max() - x0 + 1))
            np.add.at(cutout, (y - y0, x - x0), value[lo:hi])
            cutouts.append(cutout)
            origins.append((y0, x0))
        return SourceImages(self.shape, cutouts, origins)
