"""
`PAISDeblender`: detect and deblend sources with a PCR network, used like
photutils' `~photutils.segmentation.SourceFinder`.

The flow of one call: data -> validation and masking -> footprint
(photutils `~photutils.segmentation.detect_sources`) -> noise estimate ->
normalisation -> overlapping tiles -> network -> stitched PCR -> centres
and decoding (`astropais.pcr.decode`) -> `WeightedSegmentationImage`.
"""

import os
import warnings

import numpy as np
from astropy.utils.exceptions import AstropyUserWarning
from photutils.utils.exceptions import NoDetectionsWarning

from .inputs import (check_positive_int, estimate_noise, is_multiband,
                     prepare_bands, prepare_image, snr_image,
                     threshold_value, trim_heap, unpack_nddata)
from .tiling import (iter_tiles, needed_tiles, padded_length,
                     predict_tiled, receptive_radius, tile_layout)
from .weighted import WeightedSegmentationImage

__all__ = ['PAISDeblender']

# Smallest default tile: larger tiles waste less work on overlaps (the
# network is fully convolutional, so any multiple of its pooling factor
# works).
_MIN_DEFAULT_TILE = 256
# Largest probe used to measure the network's field of view.
_MAX_PROBE = 1024

# Images of more pixels than this do not hold their detection map through
# the network pass and decoding (PAISDeblender._detect_again).
_DETECT_AGAIN_PIXELS = 2 ** 25

# Background pixels sampled for the noise that normalises the network input.
_NOISE_SAMPLES = 2 ** 14


def _load(model):
    """A `~astropais.model.PCRNetwork` from None, a path or a network."""
    from astropais.model import PCRNetwork, load_model

    if isinstance(model, PCRNetwork):
        return model
    if model is None or isinstance(model, (str, os.PathLike)):
        return load_model(model)
    raise TypeError('model must be None (the shipped model), a path to a '
                    '.keras model with its .json sidecar, or a PCRNetwork; '
                    f'got {type(model).__name__}')


class PAISDeblender:
    """
    Detect and deblend sources with Partial-Attribution Instance
    Segmentation.

    Configured once, then called on an image like photutils'
    `~photutils.segmentation.SourceFinder`.  The footprint is photutils'
    detection footprint (pixels above ``threshold`` in groups of at least
    ``n_pixels``); the network finds the source centres inside it and
    splits every footprint pixel's flux between up to ``n`` sources.
    With a model of several bands it is called on that many bands: the
    sources are detected once (on an S/N-weighted sum of the bands) and
    every band gets its own fractions of them (see `__call__`).

    Parameters
    ----------
    n_pixels : int
        The minimum number of connected pixels above the threshold for a
        detection (photutils' ``n_pixels``).
    model : None, str, path-like or `~astropais.model.PCRNetwork`, optional
        The network: `None` loads the model shipped with astropais, a path
        loads a ``.keras`` file after verifying the SHA-256 in its JSON
        sidecar.
    connectivity : {8, 4}, optional
        Pixel connectivity of the detection footprint.
    tile_size : int, optional
        Tile size for the network; a multiple of the model's
        ``size_multiple``.  Default: at least 256, the model's training
        crop size and four times ``overlap``.
    overlap : int, optional
        Pixels of context kept on each side of a tile's kept part.
        Default: the network's measured field-of-view radius (rounded up
        to the pooling factor), so that the stitched prediction equals a
        single-pass prediction of the whole image.
    batch_size : int, optional
        Tiles per network call.
    peak_threshold : float, optional
        Minimum heatmap value of a source centre (positive).
    min_distance : int, optional
        Minimum separation of two centres in pixels.
    vote_tolerance : float, optional
        A pixel's vote counts if it lands within this many pixels of a
        centre (see `astropais.pcr.decode`).  The default, 8, was chosen
        on validation fields (seeds 1000-1019, HST- and LSST-like) with
        the first shipped network, whose vectors are off by ~3 px
        (median) for the nearest source and more for the others, so with
        a 2 px tolerance many votes missed and their flux went to the
        nearest centre.
        With 8 px (the detections are unchanged) the median flux error
        of blended sources, against the true flux in the footprint, fell
        from 0.40 to 0.28 on HST-like fields and from 0.36 to 0.30 on
        LSST-like ones (4 px: 0.32 and 0.32; 16 px: 0.28 and 0.30).
    assignment : {'vote', 'rank'}, optional
        How a slot whose vector misses every centre is attributed (see
        `astropais.pcr.decode`): ``'vote'`` drops it, ``'rank'`` gives it
        to the pixel's ``k``-th nearest centre (only for a model trained
        with ``slots='nearest'``: refused otherwise).  'vote' is the default
        because it gave smaller flux errors with the first shipped model
        (validation fields, seeds 1000-1005; with ``vote_tolerance=8``
        few votes miss and the two agree closely, as they did on seeds
        5000-5019).
    prune : bool, optional
        Give the brightest pixel of every detection segment a centre when
        the network put none within 3 pixels of it
        (`astropais.pcr.missing_peaks`), and keep only the centres that
        earn their place (`astropais.pcr.prune_centres`): a second centre
        inside one detection segment must be a separate peak of the
        detection image
        (a saddle towards its brighter neighbour, or standing out of that
        neighbour's slope by three sigma), and of the centres inside one
        connected masked region (a masked saturated core) only one is
        kept.  The pixels of dropped centres are decoded again among
        those that remain.  Not applied to given ``centres``.
    contrast : float or None, optional
        With ``prune``, a centre that is not a separate peak is still kept
        if it holds at least this share of the flux of itself and its
        nearest brighter neighbour (photutils' ``contrast`` plays the same
        part there); None keeps separate peaks only.
    precision : {'auto', 'float32', 'bfloat16'}, optional
        The arithmetic of the network's hidden layers (its outputs are
        always float32; see `~astropais.model.precision`).  ``'auto'``
        uses bfloat16 under TensorFlow on a CPU with native bfloat16
        instructions (x86 ``avx512_bf16`` or ``amx_bf16``) and float32
        elsewhere.  With the shipped model on the benchmark fields (HST-
        and LSST-like, 2 CPU cores with ``avx512_bf16``) bfloat16 made the
        network pass ~1.5 times faster, with F1 within 0.001 and blended
        split errors within 0.006 of float32's; ``'float32'`` gives results
        that do not depend on the CPU.
    progress_bar : bool, optional
        Show a progress bar over the tiles (``tqdm``), as photutils'
        ``SourceFinder`` does by default.

    Raises
    ------
    FileNotFoundError
        If the model (or its sidecar) is missing.
    ValueError
        If the model file is corrupted (checksum mismatch) or an option is
        out of range.

    Notes
    -----
    Every detection segment gets at least one source: a segment in which
    the network finds no centre becomes one source centred on its
    flux-weighted centroid.  Centres outside the footprint are dropped.
    A source's fractions stay inside its own detection segment (as in
    photutils, separate detections never share flux).  Labels follow the
    raster order of the centres.
    """

    def __init__(self, n_pixels, *, model=None, connectivity=8,
                 tile_size=None, overlap=None, batch_size=8,
                 peak_threshold=0.5, min_distance=2, vote_tolerance=8.0,
                 assignment='vote', precision='auto', progress_bar=True,
                 prune=True, contrast=None):
        if connectivity not in (4, 8):
            raise ValueError(f'connectivity must be 4 or 8, got '
                             f'{connectivity!r}')
        self.n_pixels = check_positive_int(n_pixels, 'n_pixels')
        self.connectivity = connectivity
        self.batch_size = check_positive_int(batch_size, 'batch_size')
        self.peak_threshold = float(peak_threshold)
        if not self.peak_threshold > 0:
            # The heatmap is kept near the footprint only: 0 elsewhere
            # must never be a peak.
            raise ValueError(f'peak_threshold must be positive, got '
                             f'{peak_threshold!r}')
        self.min_distance = int(min_distance)
        self.vote_tolerance = float(vote_tolerance)
        if assignment not in ('rank', 'vote'):
            raise ValueError(f"assignment must be 'rank' or 'vote', got "
                             f'{assignment!r}')
        self.assignment = assignment
        self.prune = bool(prune)
        if contrast is not None and not 0 <= contrast <= 1:
            raise ValueError(f'contrast must lie in [0, 1] or be None, got '
                             f'{contrast!r}')
        self.contrast = None if contrast is None else float(contrast)
        self.progress_bar = bool(progress_bar)
        network = _load(model)
        if assignment == 'rank' and network.slots != 'nearest':
            raise ValueError(f"assignment='rank' gives a missed vote to the "
                             f"pixel's k-th nearest centre, which is what a "
                             f"slot means only for a model trained with "
                             f"slots='nearest'; this model was trained with "
                             f"slots={network.slots!r}: use "
                             f"assignment='vote'")
        self.model = network.cast(precision)
        # The field of view is probed in float32: bfloat16 rounding could
        # hide the faint far edge of an impulse response.
        self._probe_model = network
        multiple = self.model.size_multiple
        if tile_size is not None and (int(tile_size) != tile_size
                                      or tile_size % multiple):
            raise ValueError(f'tile_size must be an integer multiple of '
                             f'{multiple} for this model, got {tile_size!r}')
        if overlap is None:
            overlap = -(-self.field_of_view_radius() // multiple) * multiple
            if tile_size is not None and 2 * overlap >= tile_size:
                warnings.warn(f'tile_size {tile_size} is smaller than the '
                              f'network field of view (radius {overlap}); '
                              'tiles overlap by a quarter tile and seams may '
                              'differ slightly from a single pass',
                              AstropyUserWarning)
                overlap = tile_size // 4 // multiple * multiple
        self._auto_tile_size = tile_size is None
        if tile_size is None:
            tile_size = max(_MIN_DEFAULT_TILE, self.model.tile_size or 0,
                            4 * overlap)
            tile_size = -(-tile_size // multiple) * multiple
        self.tile_size = int(tile_size)
        if int(overlap) != overlap or not 0 <= 2 * overlap < self.tile_size:
            raise ValueError(f'overlap must be an integer with 0 <= 2 overlap'
                             f' < tile_size, got {overlap!r}')
        self.overlap = int(overlap)

    def field_of_view_radius(self):
        """
        The network's field-of-view radius in pixels.

        The model sidecar's ``receptive_radius`` when it records one (no
        probe runs); otherwise measured once with an impulse probe.

        Returns
        -------
        radius : int
            The largest distance at which one input pixel changes an
            output (see `~astropais.segmentation.tiling.receptive_radius`).

        Raises
        ------
        ValueError
            If the sidecar's ``receptive_radius`` is not a non-negative
            integer.
        """
        cached = getattr(self, '_fov_radius', None)
        if cached is not None:
            return cached
        recorded = self.model.metadata.get('receptive_radius')
        if recorded is not None:
            if (isinstance(recorded, bool)
                    or not isinstance(recorded, (int, np.integer))
                    or recorded < 0):
                raise ValueError(f'the model sidecar records receptive_radius'
                                 f' {recorded!r}; expected a non-negative '
                                 'integer number of pixels')
            self._fov_radius = int(recorded)
            return self._fov_radius
        multiple = self.model.size_multiple
        size = max(64, 2 * multiple)
        while True:
            size = -(-size // multiple) * multiple
            radius = receptive_radius(self._probe_model.predict, size,
                                      n_bands=self.model.n_bands)
            if radius is not None:
                break
            if size >= _MAX_PROBE:
                radius = size // 2
                warnings.warn(f'the network field of view exceeds '
                              f'{size} pixels; using overlap {radius}',
                              AstropyUserWarning)
                break
            size *= 2
        self._fov_radius = int(radius)
        return self._fov_radius

    def _sparse_tile_size(self, footprint):
        """
        The tile size, of the default one and its halves (down to
        ``4 overlap``), that runs the network over the fewest pixels
        for this footprint: small tiles for a few sources on empty sky,
        the default for a crowded field.
        """
        multiple = self.model.size_multiple
        best, best_cost = self.tile_size, None
        size = self.tile_size
        while size >= max(4 * self.overlap, 2 * multiple, 32):
            layout = tile_layout(
                tuple(padded_length(n, multiple) for n in footprint.shape),
                size, self.overlap, multiple)
            cost = len(needed_tiles(layout, footprint,
                                    self._needed_margin)) * size * size
            if best_cost is None or cost < best_cost:
                best, best_cost = size, cost
            size = size // 2 // multiple * multiple
        return best

    @property
    def _needed_margin(self):
        """The reach of the centre search around a footprint pixel."""
        return 4 * self.min_distance + 2

    @property
    def precision(self):
        """The network's arithmetic: ``'float32'`` or ``'bfloat16'``."""
        return self.model.precision

    def __repr__(self):
        return (f'{type(self).__name__}(n_pixels={self.n_pixels}, '
                f'model={self.model!r}, tile_size={self.tile_size}, '
                f'overlap={self.overlap}, precision={self.precision!r})')

    # Whether the detection map is let go through the network pass and
    # decoding and made again where it is read: for images of more than
    # _DETECT_AGAIN_PIXELS pixels (where the detection takes seconds
    # beside the network's minutes, and its map was part of the peak:
    # 256 MiB at 8192 x 8192), or always (the mosaic path).
    _detect_again = False

    def _detect(self, data, threshold, mask):
        """photutils' detection segmentation (None, with its warning, when
        nothing is detected), made a block of rows at a time
        (`~astropais.segmentation.mosaic.detect_footprints`: the same map
        as `~photutils.segmentation.detect_sources`, tested, without its
        whole-image temporaries: the int32 map and one block; 4.4 s
        against photutils' 10.4 s on the 8192 x 8192 benchmark field)."""
        from .mosaic import detect_footprints

        return detect_footprints(data, threshold, self.n_pixels,
                                 connectivity=self.connectivity, mask=mask)

    def _tiling(self, data, footprint):
        """The predictor (tile batches in, clipped PCR out), the batch
        transform (normalisation) and the tile size for one image."""
        def predict(batch):
            out = self.model.predict(batch, batch_size=self.batch_size)
            # Clipped tile by tile: no second full-size array.
            np.maximum(out['fractions'], 0, out=out['fractions'])
            return out

        tile_size = self.tile_size
        if (footprint is not None and self._auto_tile_size
                and max(data.shape[:2]) > self.tile_size):
            tile_size = self._sparse_tile_size(footprint)
        return predict, tile_size

    def _normaliser(self, noise_sigma):
        """The network's input transform of a batch of raw tiles (of one
        band, or with the bands last)."""
        return lambda batch: self.model.normalise(
            batch[..., None] if batch.ndim == 3 else batch, noise_sigma)

    def predict_pcr(self, data, noise_sigma, footprint=None):
        """
        The network's stitched PCR of a whole image.

        Parameters
        ----------
        data : `~numpy.ndarray`
            The 2-D background-subtracted image, or ``(H, W, b)`` for a
            ``b``-band model (no NaN; masked pixels 0).
        noise_sigma : float or array_like of shape (b,)
            The background noise (of each band) for the normalisation.
        footprint : `~numpy.ndarray` of bool, optional
            The pixels whose PCR is wanted.  Tiles whose kept part holds
            no footprint pixel within ``4 min_distance + 2`` pixels (the
            reach of the centre search around a footprint pixel) are not
            run and their PCR is 0; unless ``tile_size`` was given, the
            tiles are the default size or a half or quarter of it,
            whichever runs the network over the fewest pixels.  By
            default every tile runs.

        Returns
        -------
        pcr : dict of `~numpy.ndarray`
            ``heatmap`` (H, W), ``vectors`` (H, W, n, 2) in pixels and
            ``fractions`` (H, W, n) (``(H, W, b, n)`` for ``b > 1``
            bands), clipped at 0; all float32.  These
            whole-image maps take 40 bytes a pixel (n = 3): a call of the
            deblender keeps only what it decodes (`predict_sparse_pcr`).
        """
        predict, tile_size = self._tiling(data, footprint)
        if max(data.shape[:2]) <= self.tile_size:
            # One tile holds the image: the network's own prediction of it
            # (zero-padded only to the pooling multiple), no tiles.
            out = {key: value[0] for key, value in predict(
                self._normaliser(noise_sigma)(data[None])).items()}
        else:
            out = predict_tiled(predict, data, tile_size, self.overlap,
                                multiple=self.model.size_multiple,
                                batch_size=self.batch_size,
                                progress_bar=self.progress_bar,
                                needed=footprint,
                                needed_margin=self._needed_margin,
                                transform=self._normaliser(noise_sigma))
        fractions = out['fractions']
        return {'heatmap': out['heatmap'], 'vectors': out['vectors'],
                'fractions': (fractions[..., 0, :]
                              if fractions.shape[-2] == 1 else fractions)}

    def predict_sparse_pcr(self, data, noise_sigma, footprint):
        """
        The network's PCR where the deblender reads it, kept as the tiles
        complete.

        Only tiles near the footprint run (as in `predict_pcr`); of each
        tile's kept part only the vectors and fractions of the footprint
        pixels are kept, and the heatmap and nearest-source vector where
        the heatmap reaches ``peak_threshold`` within ``4 min_distance +
        2`` pixels of the footprint (the reach of the centre search).  The image
        is read and normalised a batch of tiles at a time.  Memory:
        ``O(footprint + tile)``, never the whole-image maps.

        Parameters
        ----------
        data : `~numpy.ndarray`
            The 2-D background-subtracted image, or ``(H, W, b)`` for a
            ``b``-band model (no NaN; masked pixels 0); it may be
            memory-mapped.
        noise_sigma : float or array_like of shape (b,)
            The background noise (of each band) for the normalisation.
        footprint : `~numpy.ndarray` of bool
            The pixels to attribute.

        Returns
        -------
        pcr : `~astropais.pcr.SparsePCR`
            Its `~astropais.pcr.SparsePCR.find_centres` and
            `~astropais.pcr.SparsePCR.decode` give what
            `~astropais.pcr.find_centres` and `~astropais.pcr.decode`
            give on `predict_pcr`'s maps (tested).
        """
        from astropais.pcr import SparsePCR

        predict, tile_size = self._tiling(data, footprint)
        parts = self._sparse_parts(predict, data, noise_sigma, footprint,
                                   tile_size)
        return SparsePCR.merge(list(parts), shape=data.shape[:2],
                               peak_floor=self.peak_threshold,
                               n_bands=self.model.n_bands)

    def _sparse_parts(self, predict, data, noise_sigma, footprint,
                      tile_size, layout=None, origin=(0, 0), shape=None,
                      full_batches=None):
        """
        The `~astropais.pcr.SparsePCR` part of every tile's kept part:
        ``data`` and ``footprint`` may be a window of the image at
        ``origin`` (of an image of ``shape``) holding the tiles of
        ``layout`` (in the window's coordinates) and ``4 min_distance +
        2`` pixels around them, or the image edge.
        """
        from astropais.pcr import SparsePCR
        from scipy import ndimage

        margin = self._needed_margin
        shape = data.shape[:2] if shape is None else shape
        for keep, out in iter_tiles(
                predict, data, tile_size, self.overlap,
                multiple=self.model.size_multiple,
                batch_size=self.batch_size, progress_bar=self.progress_bar,
                needed=footprint if layout is None else None,
                needed_margin=margin,
                transform=self._normaliser(noise_sigma), layout=layout,
                full_batches=full_batches):
            grown = tuple(slice(max(part.start - margin, 0),
                                part.stop + margin) for part in keep)
            near = ndimage.maximum_filter(footprint[grown],
                                          size=2 * margin + 1,
                                          mode='constant')
            near = near[tuple(slice(part.start - big.start,
                                    part.stop - big.start)
                              for part, big in zip(keep, grown))]
            yield SparsePCR.from_dense(
                out['heatmap'], out['vectors'], out['fractions'],
                footprint[keep], near, peak_floor=self.peak_threshold,
                origin=(origin[0] + keep[0].start,
                        origin[1] + keep[1].start), shape=shape)

    def __call__(self, data, threshold, mask=None, *, convolved_data=None,
                 centres=None, bands=None, detection_image=None):
        """
        Detect and deblend the sources of an image.

        Parameters
        ----------
        data : 2-D array_like, `~astropy.units.Quantity`, `~astropy.nddata.NDData` or bands
            The background-subtracted image.  For `~astropy.nddata.NDData`
            and `~astropy.nddata.CCDData` the mask, uncertainty (the noise
            for the normalisation), unit and wcs are used.  For a model
            of ``b`` bands: a ``(b, H, W)`` array or
            `~astropy.units.Quantity`, or a list of ``b`` 2-D images of
            one shape (arrays, Quantities or NDData, each with its own
            unit, mask and uncertainty); see Notes.
        threshold : float, 2-D array_like or `~astropy.units.Quantity`
            The per-pixel detection threshold, in the data's units (as in
            photutils; e.g. ``1.5 * noise_sigma``).  With several bands,
            in the units of the detection image: by default a number of
            sigmas.
        mask : array_like of bool, optional
            `True` for pixels to ignore: 2-D, or ``(b, H, W)`` per band.
        convolved_data : 2-D array_like or `~astropy.units.Quantity`, optional
            The image smoothed with a detection kernel (e.g. a PSF-matched
            Gaussian from `~photutils.segmentation.make_2dgaussian_kernel`),
            as photutils recommends for detection.  When given, the
            footprint is found on it (what photutils' ``SourceFinder`` does
            when called on convolved data), while the network always sees
            the unconvolved ``data``.
        centres : array_like, shape (N, 2), optional
            Known ``(y, x)`` source centres: the network's heatmap is then
            not used to find them, only to attribute the pixels.  Label
            ``k`` is row ``k - 1`` (a centre that receives no pixel
            leaves its label unused, with a warning); detection segments
            without a given centre get labels after ``N``.
        bands : sequence of str, optional
            With several bands: the names of the given bands, in order.
            They must be the model's bands (its sidecar's ``bands``), and
            are put in the model's order; by default the data are in the
            model's order.
        detection_image : 2-D array_like or `~astropy.units.Quantity`, optional
            With several bands: the image to detect on (e.g. a
            chi-square or a convolved image), in place of the S/N-weighted
            sum of the bands; ``threshold`` is in its units.

        Returns
        -------
        segm : `WeightedSegmentationImage` or `None`
            The weighted segmentation, or `None` (with photutils'
            `~photutils.utils.exceptions.NoDetectionsWarning`) if no
            source is found, as photutils' ``SourceFinder`` does.  As
            there, ``deblended_labels`` lists the sources that share a
            detection segment and ``deblended_label_to_parent`` maps them
            to the segment's label in photutils'
            `~photutils.segmentation.detect_sources` map.  With several
            bands it carries each band's fractions (``segm.n_bands``,
            ``segm.bands``, ``segm.band(k)``; see
            `~astropais.segmentation.bands.MultiBandAttribution`).

        Raises
        ------
        TypeError
            If the data are not numeric.
        ValueError
            If the data are not 2-D (or, with several bands, the bands
            differ in shape, number or names from the model's, or a
            band's noise is zero or unknown), the mask or threshold has
            the wrong shape, or ``centres`` are not finite, lie outside
            the image or repeat a pixel.

        Notes
        -----
        With several bands the sources are detected once, on the
        S/N-weighted sum ``sum_k I_k / sigma_k**2 / sqrt(sum_k
        1 / sigma_k**2)`` of the bands (``sigma_k``: band ``k``'s
        background noise, so the sum has unit noise) or on
        ``detection_image``, with every band's masked pixels masked; the
        footprint, centres and the labels of every pixel are those of
        this detection (the fractions averaged over the bands), and each
        band gets its own fractions of the same labels
        (`~astropais.pcr.SparsePCR.decode_bands`).  A band's masked pixels
        are 0 in the network's input.
        """
        from astropais.pcr import missing_peaks, prune_centres

        band_images = names = None
        if self.model.n_bands > 1 or (bands is not None
                                      or detection_image is not None):
            image, band_images, names = self._prepare_bands(
                data, mask, bands, detection_image, convolved_data)
        else:
            image = prepare_image(data, mask)
        threshold = threshold_value(threshold, image.unit, image.data.shape)
        detection_data = image.data
        if convolved_data is not None:
            convolved = prepare_image(convolved_data)
            if convolved.data.shape != image.data.shape:
                raise ValueError(f'convolved_data has shape '
                                 f'{convolved.data.shape}, the data '
                                 f'{image.data.shape}')
            if convolved.unit != image.unit:
                raise ValueError(f'convolved_data is in {convolved.unit}, '
                                 f'the data in {image.unit}')
            detection_data = convolved.data
        if centres is not None:
            centres = self._check_centres(centres, image.data.shape)
        if np.all(image.mask):
            warnings.warn('All pixels are masked; no sources were found.',
                          NoDetectionsWarning)
            return None
        # photutils warns (NoDetectionsWarning) when nothing is detected.
        if np.ndim(threshold) == 0:
            # Compared in float64 whatever the data's type, as photutils
            # compares float64 data (a Python float would be rounded to a
            # float32 image's type).
            threshold = np.float64(threshold)
        detection = self._detect(detection_data, threshold, image.mask)
        if detection is None:
            return None
        footprint = detection.data > 0

        # The noise only scales the network's input: 2**14 background
        # pixels pin it to ~1 % at a tenth of the cost of all of them.
        noise_sigma = estimate_noise(image, footprint,
                                     max_samples=_NOISE_SAMPLES)
        if not (np.isfinite(noise_sigma) and noise_sigma > 0):
            values = image.data[footprint]
            if np.ptp(values) == 0:
                warnings.warn('The detected pixels are constant; no sources '
                              'can be deblended.', NoDetectionsWarning)
                return None
            noise_sigma = 1e-3 * float(np.std(values))
            warnings.warn('The background noise is zero or unknown; the '
                          f'normalisation uses sigma={noise_sigma:.3g}',
                          AstropyUserWarning)

        def detect_again(detection):
            # With `again` the detection map (4 bytes a pixel) is
            # not held through the network pass or decoding: it is made
            # again where it is read, the same map.
            return (detection if detection is not None else
                    self._detect(detection_data, threshold, image.mask))

        again = self._detect_again or (
            int(np.prod(image.data.shape[:2])) > _DETECT_AGAIN_PIXELS)
        if again:
            detection = None
        if band_images is None:
            pcr = self.predict_sparse_pcr(image.data, noise_sigma, footprint)
        else:
            pcr = self.predict_sparse_pcr(
                np.stack([im.data for im in band_images], axis=-1),
                self._band_noise(band_images, footprint, names), footprint)
        # The network pass's freed working memory handed back.
        trim_heap()
        detection = detect_again(detection)
        given = centres is not None
        if not given:
            centres = pcr.find_centres(threshold=self.peak_threshold,
                                       min_distance=self.min_distance)
            centres = self._inside(centres, footprint)
            if self.prune:
                centres = np.vstack([centres, missing_peaks(
                    centres, detection.data, detection_data,
                    mask=image.mask)])
        n_given = len(centres)
        centres, segment_ids = self._complete(centres, detection, image.data)
        if len(centres) == 0:
            warnings.warn('No sources were found.', NoDetectionsWarning)
            return None
        if given:
            # Label k is the given row k - 1; added centres follow.
            order = np.arange(len(centres))
        else:
            order = np.lexsort((centres[:, 1], centres[:, 0]))
        centres, segment_ids = centres[order], segment_ids[order]
        if again:
            detection = None
        attribution = pcr.decode(centres, vote_tolerance=self.vote_tolerance,
                                 assignment=self.assignment)
        if self.prune and not given:
            detection = detect_again(detection)
            keep = prune_centres(attribution, image.data,
                                 smoothed=detection_data,
                                 noise_sigma=(
                                     noise_sigma if convolved_data is None
                                     else estimate_noise(
                                         convolved, footprint,
                                         max_samples=_NOISE_SAMPLES)),
                                 contrast=self.contrast,
                                 # (nothing masked: no masked regions to
                                 # label over the whole image)
                                 mask=image.mask if image.mask.any()
                                 else None,
                                 segments=detection.data)
            if not keep.all():
                centres, segment_ids = centres[keep], segment_ids[keep]
                if again:
                    detection = None
                attribution = None
                attribution = pcr.decode(
                    centres, vote_tolerance=self.vote_tolerance,
                    assignment=self.assignment)
        # The footprint, and with one band the network outputs, are not
        # read again: let go before the detection map is made again.
        footprint = None
        if band_images is None:
            pcr = None
        attribution = self._confine(attribution, detect_again(detection).data,
                                    segment_ids)
        if band_images is not None:
            from .bands import MultiBandAttribution

            _, per_band = pcr.decode_bands(
                attribution.centres, vote_tolerance=self.vote_tolerance,
                assignment=self.assignment, detection=attribution)
            attribution = MultiBandAttribution(per_band, bands=names,
                                               detection=attribution)
        # Nothing below reads the detection map, the footprint, the masks
        # or the network outputs: they are let go before the label map is
        # made (at 8192 x 8192 the call's peak was here, 5+ bytes a pixel
        # of them; docs/scaling.rst).
        detection = footprint = pcr = image = convolved = None
        band_images = detection_data = None
        segm = WeightedSegmentationImage(attribution)
        # (the segmentation holds the attribution: none beside the one it
        # makes when it renumbers below)
        n_sources, attribution = attribution.n_sources, None
        if segm.n_labels == 0:
            warnings.warn('No sources were found.', NoDetectionsWarning)
            return None
        # Old label -> final label (0: unused), for the deblending record.
        relabel_map = np.zeros(n_sources + 1, dtype=np.int64)
        relabel_map[segm.labels] = segm.labels
        unused = np.setdiff1d(np.arange(1, n_sources + 1), segm.labels)
        if given and np.any(unused <= n_given):
            rows = (unused[unused <= n_given] - 1).tolist()
            warnings.warn(f'the given centres of rows {rows} received no '
                          'pixel (outside the detection footprint, or no '
                          'vote); their labels are unused',
                          AstropyUserWarning)
        elif unused.size:
            # A centre that received no pixel (no vote, or outside the
            # footprint) is not a source: renumber the others 1..N, as
            # photutils' SourceFinder numbers its segments, so that labels,
            # centres and catalogue rows stay one-to-one.
            relabel_map[segm.labels] = np.arange(1, segm.n_labels + 1)
            segm.relabel_consecutive()
        segm._deblend_label_map = self._deblend_map(
            segment_ids, relabel_map, segm.data.dtype)
        # The freed working memory of decoding and relabelling handed back
        # before the caller's next step (at 8192 x 8192 the catalog after
        # this call was the peak).
        trim_heap()
        return segm

    def _prepare_bands(self, data, mask, bands, detection_image,
                       convolved_data):
        """The detection image, the prepared bands (in the model's order)
        and their names, of multi-band data."""
        if self.model.n_bands == 1:
            raise ValueError('bands and detection_image are for a model of '
                             'several bands; this model takes one 2-D image')
        if not is_multiband(data):
            raise ValueError(f'the model takes {self.model.n_bands} bands: '
                             'give a (bands, ny, nx) array or a list of one '
                             '2-D image per band')
        if convolved_data is not None:
            raise ValueError('convolved_data is for one band; with several '
                             'bands give a (convolved) detection_image')
        band_images, names = prepare_bands(
            data, mask, bands=bands,
            model_bands=self.model.metadata.get('bands'),
            n_bands=self.model.n_bands)
        if detection_image is None:
            # The noise from all pixels reads high in a crowded field: it
            # is estimated again without the pixels this first S/N sum
            # puts above 2 sigma (and their neighbours).
            from scipy import ndimage

            first = snr_image(band_images,
                              self._band_noise(band_images, None, names))
            sources = ndimage.binary_dilation(first.data > 2.0,
                                              iterations=2)
            return (snr_image(band_images,
                              self._band_noise(band_images, sources, names)),
                    band_images, names)
        any_mask = np.logical_or.reduce([im.mask for im in band_images])
        shape = np.shape(unpack_nddata(detection_image)[0])
        if shape != any_mask.shape:
            raise ValueError(f'detection_image has shape {shape}, the bands '
                             f'{any_mask.shape}')
        return prepare_image(detection_image, any_mask), band_images, names

    @staticmethod
    def _band_noise(band_images, footprint, names):
        """The background noise of every band (outside ``footprint``)."""
        sigma = np.array([estimate_noise(im, footprint,
                                         max_samples=_NOISE_SAMPLES)
                          for im in band_images])
        bad = np.flatnonzero(~(np.isfinite(sigma) & (sigma > 0)))
        if bad.size:
            which = [names[k] if names else int(k) for k in bad]
            raise ValueError(f'the background noise of band(s) {which} is '
                             'zero or unknown; give their uncertainty '
                             '(NDData) or more background pixels')
        return sigma

    @staticmethod
    def _deblend_map(parents, relabel_map, dtype):
        """
        photutils' deblending record: each detection segment split into
        several sources, mapped to their final labels (``parents[i]`` is
        the segment of old label ``i + 1``, ``relabel_map`` maps old
        labels to final ones, 0 for unused).
        """
        old = np.flatnonzero(relabel_map)
        segment = parents[old - 1]
        result = {}
        # A loop over the detection segments that hold several sources.
        split = np.unique(segment[segment > 0], return_counts=True)
        for parent in split[0][split[1] > 1]:
            result[int(parent)] = np.sort(
                relabel_map[old[segment == parent]]).astype(dtype)
        return result

    @staticmethod
    def _check_centres(centres, shape):
        """Validate given ``(y, x)`` centres (finite, inside, distinct)."""
        centres = np.asarray(centres, dtype=float)
        if centres.ndim != 2 or centres.shape[1] != 2:
            raise ValueError('centres must have shape (N, 2)')
        bad = ~np.all(np.isfinite(centres), axis=1)
        if np.any(bad):
            raise ValueError(f'centres rows {np.flatnonzero(bad).tolist()} '
                             'are not finite')
        pixel = np.rint(centres).astype(np.int64)
        outside = np.any((pixel < 0) | (pixel >= np.asarray(shape)), axis=1)
        if np.any(outside):
            raise ValueError(f'centres rows {np.flatnonzero(outside).tolist()}'
                             f' lie outside the image of shape {shape}')
        _, first, counts = np.unique(pixel, axis=0, return_index=True,
                                     return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f'centres rows {np.sort(first[counts > 1]).tolist()}'
                             ' share their pixel with later rows (duplicated '
                             'centres)')
        return centres

    @staticmethod
    def _inside(centres, footprint):
        """Drop centres that fall outside the footprint."""
        centres = np.asarray(centres, dtype=float).reshape(-1, 2)
        iy = np.clip(np.rint(centres[:, 0]).astype(int), 0,
                     footprint.shape[0] - 1)
        ix = np.clip(np.rint(centres[:, 1]).astype(int), 0,
                     footprint.shape[1] - 1)
        return centres[footprint[iy, ix]]

    @staticmethod
    def _segment_of(centres, segment_map):
        """The detection segment under each centre (0 outside)."""
        iy = np.clip(np.rint(centres[:, 0]).astype(int), 0,
                     segment_map.shape[0] - 1)
        ix = np.clip(np.rint(centres[:, 1]).astype(int), 0,
                     segment_map.shape[1] - 1)
        return segment_map[iy, ix]

    @classmethod
    def _complete(cls, centres, detection, data):
        """
        Add a centre (flux-weighted centroid) for every detection segment
        in which the network found none.

        Returns the centres and the detection segment each belongs to (0
        for a given centre outside the footprint).
        """
        centres = np.asarray(centres, dtype=float).reshape(-1, 2)
        segment_ids = cls._segment_of(centres, detection.data)
        empty = np.setdiff1d(detection.labels, segment_ids)
        if empty.size == 0:
            return centres, segment_ids
        # Sums over the pixels of the empty segments only (O(footprint)).
        pixels = np.flatnonzero(detection.data)
        segment = detection.data.ravel()[pixels]
        slot = np.zeros(int(detection.max_label) + 1, dtype=np.int64)
        slot[empty] = np.arange(1, empty.size + 1)
        rows = slot[segment]
        pixels, rows = pixels[rows > 0], rows[rows > 0]
        yy, xx = np.unravel_index(pixels, data.shape)
        weights = np.clip(data.ravel()[pixels], 0, None)

        def sums(values):
            return np.bincount(rows, weights=values,
                               minlength=empty.size + 1)[1:]

        with np.errstate(invalid='ignore', divide='ignore'):
            total = sums(weights)
            extra = np.column_stack([sums(weights * yy) / total,
                                     sums(weights * xx) / total])
            # A segment with no positive flux: its geometric centre.
            bad = ~(total > 0)
            if np.any(bad):
                count = sums(np.ones(rows.size))
                extra[bad] = np.column_stack([sums(yy * 1.0) / count,
                                              sums(xx * 1.0) / count])[bad]
        return (np.vstack([centres, extra]),
                np.concatenate([segment_ids, empty]))

    @staticmethod
    def _confine(attribution, segment_map, segment_ids):
        """
        Keep every source's fractions inside its own detection segment.

        A (pixel, source) pair whose source belongs to another segment is
        dropped and the pixel's weights renormalised; a pixel left with no
        source goes to the nearest centre of its own segment (every
        segment has one, see `_complete`).  The labels and weights of
        ``attribution`` (the call's own, just decoded) are edited in
        place, a chunk of rows at a time: no copy of them and only one
        chunk's temporaries (at 8192 x 8192 the in-memory call's peak was
        here, docs/scaling.rst).
        """
        from astropais.pcr.sparse import PixelAttribution, _row_chunks
        from scipy.spatial import cKDTree

        labels, weights = attribution.labels, attribution.weights
        pixel_segment = segment_map.ravel()[attribution.pixels]
        chunks = list(_row_chunks(labels.shape[0]))

        def foreign(rows):
            # The pairs of these rows whose source has another segment.
            label_segment = segment_ids[np.maximum(labels[rows] - 1, 0)]
            return ((labels[rows] > 0) & (label_segment > 0)
                    & (label_segment != pixel_segment[rows, None]))

        if not any(np.any(foreign(rows)) for rows in chunks):
            return attribution
        total = np.empty(labels.shape[0])
        for rows in chunks:
            drop = foreign(rows)
            weights[rows][drop] = 0.0
            labels[rows][drop] = 0
            total[rows] = weights[rows].sum(axis=1)
        orphans = np.flatnonzero(total <= 0)
        if orphans.size:
            # Nearest centre in the same segment: the segment id is a third
            # coordinate, scaled far beyond any distance in the image.
            scale = 4.0 * float(sum(segment_map.shape))
            points = np.column_stack([attribution.centres,
                                      segment_ids * scale])
            yy, xx = np.unravel_index(attribution.pixels[orphans],
                                      segment_map.shape)
            query = np.column_stack([yy, xx, pixel_segment[orphans] * scale])
            nearest = cKDTree(points).query(query)[1]
            labels[orphans] = 0
            weights[orphans] = 0.0
            labels[orphans, 0] = nearest + 1
            weights[orphans, 0] = 1.0
            total[orphans] = 1.0
        for rows in chunks:
            part = weights[rows]
            part /= total[rows, None]
            order = np.argsort(-part, axis=1, kind='stable')
            labels[rows] = np.take_along_axis(labels[rows], order, axis=1)
            weights[rows] = np.take_along_axis(part, order, axis=1)
        return PixelAttribution(attribution.shape, attribution.pixels,
                                labels, weights, attribution.centres)
