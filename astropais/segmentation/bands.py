"""
`MultiBandAttribution`: the partial attribution of one set of sources in
several bands (the paper's per-band contribution maps ``C^m``).

Every band has its own fractions ``M_i^k(p)`` (a source's share of a
pixel's flux changes with its colour), while the sources, their centres
and the disjoint label map are shared: the label map is that of a
*detection* attribution (by default the band-averaged fractions).
"""

import numpy as np

from astropais.pcr.sparse import PixelAttribution
from astropais.utils.bands import band_index

__all__ = ['MultiBandAttribution']


class MultiBandAttribution:
    """
    Per-band partial attributions of one set of sources.

    Parameters
    ----------
    attributions : sequence of `~astropais.pcr.PixelAttribution`
        One per band, of one image shape and one list of sources (the same
        centres).
    bands : sequence of str, optional
        The band names (unique), in order.
    detection : `~astropais.pcr.PixelAttribution`, optional
        The attribution whose disjoint label map the bands share (e.g.
        the fractions of a detection image).  By default the mean of the
        bands' weights, which needs band attributions with the same pixels
        and the same labels in every slot (as a decoder gives them; see
        `from_weights`).

    Raises
    ------
    TypeError
        If an attribution is not a `~astropais.pcr.PixelAttribution`.
    ValueError
        If there is no band, the shapes or sources differ, the band names
        are not unique strings, or no ``detection`` is given for bands
        whose pixels or labels differ.

    Notes
    -----
    The edits of `~astropais.pcr.PixelAttribution` (`relabel`,
    `follow_label_map`, `sliced`, `without_labels`) apply to the
    detection attribution and to every band, so that a
    `~astropais.segmentation.WeightedSegmentationImage` keeps them in step.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.segmentation.bands import MultiBandAttribution
    >>> multi = MultiBandAttribution.from_weights(
    ...     (1, 2), [0, 1], [[1, 2], [2, 1]],
    ...     [[[0.75, 0.25], [0.5, 0.5]],          # band g
    ...      [[0.25, 0.75], [1.0, 0.0]]],         # band i
    ...     [[0, 0], [0, 1]], bands=['g', 'i'])
    >>> multi.detection.weights.tolist()
    [[0.5, 0.5], [0.75, 0.25]]
    >>> multi.fluxes(np.array([[[8.0, 8.0]], [[4.0, 4.0]]])).tolist()
    [[10.0, 1.0], [6.0, 7.0]]
    """

    def __init__(self, attributions, bands=None, detection=None):
        attributions = tuple(attributions)
        if not attributions:
            raise ValueError('a multi-band attribution needs at least one '
                             'band')
        for k, att in enumerate((*attributions, detection)):
            if att is not None and not isinstance(att, PixelAttribution):
                raise TypeError(f'attribution {k} is a '
                                f'{type(att).__name__}, not an '
                                'astropais.pcr.PixelAttribution')
        first = attributions[0]
        for k, att in enumerate((*attributions, detection)):
            if att is None:
                continue
            if att.shape != first.shape:
                raise ValueError(f'attribution {k} has shape {att.shape}, '
                                 f'band 0 has {first.shape}')
            if not np.array_equal(att.centres, first.centres,
                                  equal_nan=True):
                raise ValueError(f'attribution {k} has other sources '
                                 f'(centres) than band 0')
        if bands is not None:
            bands = tuple(bands)
            if (len(bands) != len(attributions)
                    or not all(isinstance(b, str) and b for b in bands)
                    or len(set(bands)) != len(bands)):
                raise ValueError(f'bands must be {len(attributions)} unique '
                                 f'non-empty names, got {bands!r}')
        if detection is None:
            detection = _mean_attribution(attributions)
        self._bands = attributions
        self._names = bands
        self.detection = detection

    @classmethod
    def from_weights(cls, shape, pixels, labels, weights, centres,
                     bands=None):
        """
        Per-band fractions of shared pixels and slots.

        Parameters
        ----------
        shape : tuple of int
            The ``(ny, nx)`` image shape.
        pixels : array_like of int, shape (P,)
            Flat indices of the footprint pixels, strictly increasing.
        labels : array_like of int, shape (P, n)
            The source labels of each pixel's slots (0: unused), the same
            in every band.
        weights : array_like of float, shape (b, P, n)
            Band ``k``'s fraction of each pixel's flux for each slot.
        centres : array_like, shape (N, 2)
            The ``(y, x)`` centre of each label.
        bands : sequence of str, optional
            The band names.

        Returns
        -------
        attribution : `MultiBandAttribution`
            The detection attribution is the mean of the bands' weights.
        """
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 3:
            raise ValueError(f'weights must have shape (b, P, n), got '
                             f'{weights.shape}')
        return cls([PixelAttribution(shape, pixels, labels, band, centres)
                    for band in weights], bands=bands)

    @classmethod
    def from_pcr(cls, heatmap, vectors, fractions, footprint, *, bands=None,
                 centres=None, **kwargs):
        """
        Decode a multi-band PCR: one set of centres, fractions per band.

        The centres come from the heatmap (or are given); the slots vote
        once for them, the detection attribution weighs the votes with
        the band-averaged fractions and band ``k`` with
        ``fractions[:, :, k]``, on the detection's labels
        (`astropais.pcr.decode_bands`).

        Parameters
        ----------
        heatmap : array_like, shape (H, W)
            The centre heatmap.
        vectors : array_like, shape (H, W, n, 2)
            The vectors to the ``n`` nearest centres (shared by the bands).
        fractions : array_like, shape (H, W, b, n)
            Per band, the fraction of each pixel's flux per slot.
        footprint : array_like of bool, shape (H, W)
            The source pixels.
        bands : sequence of str, optional
            The band names.
        centres : array_like, shape (N, 2), optional
            Known ``(y, x)`` centres (label ``i`` is row ``i - 1``).
        **kwargs
            `astropais.pcr.decode`'s options (``peak_threshold``,
            ``min_distance``, ``vote_tolerance``, ``refine``,
            ``assignment``).

        Returns
        -------
        attribution : `MultiBandAttribution`

        Examples
        --------
        >>> import numpy as np
        >>> from astropais.pcr import SourceImages, encode
        >>> from astropais.segmentation.bands import MultiBandAttribution
        >>> blue = np.stack([np.full((3, 5), 3.0), np.ones((3, 5))])
        >>> red = np.stack([np.ones((3, 5)), np.full((3, 5), 3.0)])
        >>> src = SourceImages((5, 8), [blue, red], [(1, 0), (1, 3)])
        >>> pcr = encode(src, [(2, 2), (2, 5)], n=2)
        >>> multi = MultiBandAttribution.from_pcr(
        ...     pcr.heatmap, pcr.vectors, pcr.fractions, pcr.source_mask,
        ...     bands=['g', 'i'])
        >>> multi.fluxes(src.total()).tolist()
        [[45.0, 15.0], [15.0, 45.0]]
        """
        from astropais.pcr import decode_bands

        fractions = np.asarray(fractions)
        if fractions.ndim != 4:
            raise ValueError(f'fractions must have shape (H, W, b, n), got '
                             f'{fractions.shape}')
        detection, per_band = decode_bands(heatmap, vectors, fractions,
                                           footprint, centres=centres,
                                           **kwargs)
        return cls(per_band, bands=bands, detection=detection)

    def __len__(self):
        return len(self._bands)

    @property
    def n_bands(self):
        """The number of bands."""
        return len(self._bands)

    @property
    def bands(self):
        """The band names (a tuple), or None when the bands are unnamed."""
        return self._names

    @property
    def shape(self):
        """The ``(ny, nx)`` image shape."""
        return self.detection.shape

    @property
    def centres(self):
        """The ``(y, x)`` centre of every source, shape (N, 2)."""
        return self.detection.centres

    @property
    def n_sources(self):
        """The number of sources."""
        return self.detection.n_sources

    def band_index(self, band):
        """
        The index of a band.

        Parameters
        ----------
        band : int or str
            An index (negative counts from the end) or a band name.

        Returns
        -------
        index : int

        Raises
        ------
        ValueError
            For an unknown name or an index out of range.
        """
        return band_index(band, self._names, self.n_bands)

    def band(self, band):
        """
        One band's attribution.

        Parameters
        ----------
        band : int or str
            An index or a band name.

        Returns
        -------
        attribution : `~astropais.pcr.PixelAttribution`
        """
        return self._bands[self.band_index(band)]

    def fluxes(self, data):
        """
        Per-source, per-band fluxes ``sum_p M_i^k(p) I_k(p)``.

        Parameters
        ----------
        data : array_like, shape (b, ny, nx)
            The background-subtracted images.

        Returns
        -------
        fluxes : `~numpy.ndarray`, shape (N, b)
            Label ``i`` at row ``i - 1``.
        """
        if np.ndim(data) != 3 or len(data) != self.n_bands:
            raise ValueError(f'data must have shape ({self.n_bands}, ny, '
                             f'nx), got {np.shape(data)}')
        return np.column_stack([att.fluxes(image)
                                for att, image in zip(self._bands, data)])

    def _each(self, operation, *args, **kwargs):
        """One edit applied to the detection attribution and every band."""
        return MultiBandAttribution(
            [getattr(att, operation)(*args, **kwargs) for att in self._bands],
            bands=self._names,
            detection=getattr(self.detection, operation)(*args, **kwargs))

    def relabel(self, relabel_map, keep_centre=None):
        """`~astropais.pcr.PixelAttribution.relabel`, in every band."""
        return self._each('relabel', relabel_map, keep_centre=keep_centre)

    def follow_label_map(self, old_map, new_map):
        """`~astropais.pcr.PixelAttribution.follow_label_map`, in every
        band."""
        return self._each('follow_label_map', old_map, new_map)

    def sliced(self, key):
        """`~astropais.pcr.PixelAttribution.sliced`, in every band."""
        return self._each('sliced', key)

    def without_labels(self, labels):
        """`~astropais.pcr.PixelAttribution.without_labels`, in every
        band."""
        return self._each('without_labels', labels)

    @classmethod
    def repeated(cls, attribution, n_bands, bands=None):
        """
        ``n_bands`` copies of one attribution (e.g. a disjoint one).

        Parameters
        ----------
        attribution : `~astropais.pcr.PixelAttribution`
            The attribution of every band and of the detection.
        n_bands : int
            The number of bands.
        bands : sequence of str, optional
            The band names.

        Returns
        -------
        attribution : `MultiBandAttribution`
        """
        return cls([attribution] * int(n_bands), bands=bands,
                   detection=attribution)


def _mean_attribution(attributions):
    """The band-averaged weights of attributions with the same slots."""
    first = attributions[0]
    for k, att in enumerate(attributions[1:], start=1):
        if not (np.array_equal(att.pixels, first.pixels)
                and np.array_equal(att.labels, first.labels)):
            raise ValueError(f'band {k} has other pixels or slot labels '
                             'than band 0: give the detection attribution '
                             'that sets the label map')
    weights = np.mean([att.weights for att in attributions], axis=0)
    return PixelAttribution(first.shape, first.pixels, first.labels, weights,
                            first.centres)
