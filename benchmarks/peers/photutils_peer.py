"""photutils ``SourceFinder(deblend=True)`` with the documented usual settings."""

import numpy as np

from astropais.metrics import attribution_from_label_map
from astropais.segmentation import detection_kernel

from .base import PeerResult, Unavailable

__all__ = ['available', 'detection_kernel', 'run_photutils']


def available():
    """Raise `Unavailable` unless photutils can be imported."""
    try:
        import photutils.segmentation  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f'photutils is not installed ({exc})') from exc


def run_photutils(image, noise_sigma, psf_fwhm_pixels, *, n_pixels=5,
                  n_sigma=1.5, mask=None, kernel=None):
    """
    Detect and deblend with photutils, fluxes from ``segment_flux``.

    The image is background-free by construction (the simulation has no
    sky level), so, following the photutils segmentation guide, it is
    convolved with a PSF-matched Gaussian kernel, thresholded at
    ``n_sigma`` times the noise, segmented with ``SourceFinder(n_pixels,
    deblend=True)``, and measured with ``SourceCatalog(image, segm,
    convolved_data=convolved)``.

    Parameters
    ----------
    image : `~numpy.ndarray`
        Background-subtracted image.
    noise_sigma : float
        Noise standard deviation.
    psf_fwhm_pixels : float
        PSF FWHM in pixels (for the smoothing kernel).
    n_pixels : int
        Minimum connected pixels of a source.
    n_sigma : float
        Detection threshold in units of the noise.
    mask : `~numpy.ndarray` of bool, optional
        Pixels to ignore (interpolated over by the convolution, never
        detected).
    kernel : `~numpy.ndarray`, optional
        The smoothing kernel (default: the PSF-matched one).

    Returns
    -------
    result : `PeerResult`
        ``info['footprint']`` is the detection footprint (segmentation > 0).
    """
    from astropy.convolution import convolve
    from photutils.segmentation import SourceCatalog, SourceFinder

    if kernel is None:
        kernel = detection_kernel(psf_fwhm_pixels)
    convolved = convolve(image, kernel, normalize_kernel=True, mask=mask)
    finder = SourceFinder(n_pixels=n_pixels, deblend=True, progress_bar=False)
    segm = finder(convolved, n_sigma * noise_sigma, mask=mask)
    if segm is None:  # nothing detected
        labels = np.zeros(image.shape, dtype=np.int64)
        att = attribution_from_label_map(labels, np.zeros((0, 2)))
        return PeerResult(np.zeros((0, 2)), np.zeros(0), att,
                          info={'footprint': labels > 0})
    segm.relabel_consecutive()
    cat = SourceCatalog(image, segm, convolved_data=convolved)
    positions = np.column_stack([cat.y_centroid, cat.x_centroid])
    # Row k of the catalogue is label k + 1 after relabel_consecutive.
    if not np.array_equal(cat.label, np.arange(1, len(cat) + 1)):
        raise RuntimeError('photutils catalogue labels are not 1..N')
    att = attribution_from_label_map(segm.data.astype(np.int64))
    bad = ~np.all(np.isfinite(positions), axis=1)
    positions[bad] = att.centres[bad]
    fluxes = np.asarray(cat.segment_flux, dtype=np.float64)
    att.centres = positions
    return PeerResult(positions, fluxes, att,
                      total_fluxes=lambda: np.asarray(cat.kron_flux,
                                                      dtype=np.float64),
                      info={'footprint': segm.data > 0})
