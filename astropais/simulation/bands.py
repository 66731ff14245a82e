"""
Multi-band scene parameters: the bands (wavelength, PSF FWHM, depth), the
source colours, and the named multi-band presets ``'grizy'`` (ground
based) and ``'hst_multi'`` (space based).

A multi-band scene is a single-band `SceneParameters` (``base``: pixel
scale, PSF family, zero point, source counts, sizes, morphologies and
magnitudes in the reference band) observed through several bands, each
with its own PSF FWHM and depth (and so its own noise).  Fluxes in every
band are in the units of ``base.zero_point`` (AB magnitudes).
"""

import dataclasses
import math
import re
from dataclasses import dataclass

import numpy as np

from ..utils.bands import band_index
from .presets import PRESETS, SceneParameters

__all__ = ['Band', 'MultiBandParameters', 'MULTIBAND_PRESETS',
           'seeing_fwhm']

_BAND_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_]*$')


@dataclass(frozen=True)
class Band:
    """
    One band of a multi-band scene.

    Parameters
    ----------
    name : str
        The band's name (letters, digits and ``_``; it names catalogue
        columns such as ``flux_<name>``).
    wavelength : float
        Effective wavelength in nm.
    psf_fwhm : float
        The PSF FWHM in this band, in arcsec.
    depth : float
        5-sigma point-source depth (AB magnitude, PSF-weighted); sets the
        band's sky noise.

    Examples
    --------
    >>> from astropais.simulation import Band
    >>> Band('i', 754.0, 0.67, 26.8).name
    'i'
    """

    name: str
    wavelength: float
    psf_fwhm: float
    depth: float

    def __post_init__(self):
        if not isinstance(self.name, str) or not _BAND_NAME.match(self.name):
            raise ValueError(f'a band name must be letters, digits and _, '
                             f'got {self.name!r}')
        for name in ('wavelength', 'psf_fwhm'):
            value = getattr(self, name)
            if not (np.isscalar(value) and math.isfinite(value)
                    and value > 0):
                raise ValueError(f'band {self.name!r}: {name} must be a '
                                 f'positive number, got {value!r}')
        if not (np.isscalar(self.depth) and math.isfinite(self.depth)):
            raise ValueError(f'band {self.name!r}: depth must be a finite '
                             f'number, got {self.depth!r}')


def seeing_fwhm(fwhm, wavelength, reference):
    """
    Atmospheric seeing at another wavelength (Kolmogorov turbulence).

    Parameters
    ----------
    fwhm : float
        The FWHM at ``reference``.
    wavelength, reference : float
        Wavelengths (same unit).

    Returns
    -------
    fwhm : float
        ``fwhm * (wavelength / reference) ** -0.2``, rounded to 1 mas.

    Examples
    --------
    >>> from astropais.simulation.bands import seeing_fwhm
    >>> seeing_fwhm(0.7, 477.0, 622.0)
    0.738
    """
    return round(float(fwhm) * (wavelength / reference) ** -0.2, 3)


@dataclass(frozen=True)
class MultiBandParameters:
    """
    The parameters of a multi-band scene.

    Parameters
    ----------
    name : str
        A label (the preset name).
    base : `~astropais.simulation.SceneParameters`
        Everything but the bands: its ``psf_fwhm`` and ``depth`` are
        replaced by each band's; ``mag_range`` and the pair separations
        (in PSF FWHM) refer to the reference band.  Bright stars, large
        galaxies, saturation and image PSFs are single-band only.
    bands : tuple of `Band`
        The bands, in order (the image's first axis).
    reference_band : str
        The band whose magnitudes the catalogue draws (``mag``, ``flux``)
        and whose PSF sets the pair separations.
    disk_beta : tuple of float
        Mean and standard deviation of a galaxy disk's SED slope ``beta``
        (``f_nu ~ lambda ** beta``; 0 is flat in ``f_nu``, larger is
        redder).
    bulge_redder, knots_bluer : tuple of float
        Ranges of how much larger a bulge's slope is, and how much smaller
        the star-forming knots' slope is, than the galaxy's disk's.
    edge_on_reddening : float
        Slope added to an edge-on disk (dust).
    star_temperature : tuple of float
        Range of the stars' black-body temperatures in K (log-uniform).
    """

    name: str
    base: SceneParameters
    bands: tuple
    reference_band: str
    disk_beta: tuple = (1.0, 0.4)
    bulge_redder: tuple = (0.5, 1.5)
    knots_bluer: tuple = (1.0, 2.0)
    edge_on_reddening: float = 0.5
    star_temperature: tuple = (3000.0, 10000.0)

    def __post_init__(self):
        object.__setattr__(self, 'bands', tuple(self.bands))
        self.validate()

    def validate(self):
        """
        Check every parameter.

        Raises
        ------
        ValueError
            Naming the first invalid parameter.
        """
        base = self.base
        if not isinstance(base, SceneParameters):
            raise ValueError(f'base must be a SceneParameters, got '
                             f'{type(base).__name__}')
        if base.is_image_psf:
            raise ValueError('a multi-band scene needs an analytic psf '
                             '(an image PSF has one FWHM)')
        if (base.large_galaxies or base.bright_stars
                or base.saturation_snr is not None):
            raise ValueError('bright stars, large galaxies and saturation '
                             'are not simulated in several bands: set '
                             'large_galaxies=0, bright_stars=0, '
                             'saturation_snr=None')
        if not self.bands or not all(isinstance(b, Band)
                                     for b in self.bands):
            raise ValueError('bands must be a non-empty sequence of Band')
        names = self.band_names
        if len(set(names)) != len(names):
            raise ValueError(f'band names must be unique, got {names}')
        if self.reference_band not in names:
            raise ValueError(f'reference_band {self.reference_band!r} is '
                             f'not one of the bands {names}')
        for name in ('disk_beta', 'bulge_redder', 'knots_bluer',
                     'star_temperature'):
            value = getattr(self, name)
            if (np.ndim(value) != 1 or len(value) != 2
                    or not np.all(np.isfinite(value))):
                raise ValueError(f'{name} must be a pair of finite numbers, '
                                 f'got {value!r}')
        if self.disk_beta[1] < 0:
            raise ValueError(f'disk_beta scatter must be >= 0, got '
                             f'{self.disk_beta!r}')
        for name in ('bulge_redder', 'knots_bluer', 'star_temperature'):
            low, high = getattr(self, name)
            floor_ok = low > 0 if name == 'star_temperature' else low >= 0
            if not (floor_ok and low <= high):
                raise ValueError(f'{name} must be an increasing pair of '
                                 f'numbers (>= 0; temperatures > 0), got '
                                 f'{(low, high)!r}')
        if not (np.isscalar(self.edge_on_reddening)
                and math.isfinite(self.edge_on_reddening)):
            raise ValueError(f'edge_on_reddening must be a finite number, '
                             f'got {self.edge_on_reddening!r}')

    @property
    def band_names(self):
        """The band names, in order."""
        return tuple(band.name for band in self.bands)

    @property
    def n_bands(self):
        """The number of bands."""
        return len(self.bands)

    @property
    def wavelengths(self):
        """The band wavelengths in nm, shape (b,)."""
        return np.array([band.wavelength for band in self.bands])

    @property
    def reference_index(self):
        """The index of the reference band."""
        return self.band_names.index(self.reference_band)

    def band_index(self, band):
        """
        The index of a band.

        Parameters
        ----------
        band : int or str
            An index or a band name.

        Returns
        -------
        index : int
        """
        return band_index(band, self.band_names, self.n_bands)

    def band_parameters(self, band):
        """
        The single-band parameters of one band.

        Parameters
        ----------
        band : int or str
            An index or a band name.

        Returns
        -------
        params : `~astropais.simulation.SceneParameters`
            ``base`` with the band's PSF FWHM and depth, named
            ``'<name>:<band>'``.
        """
        band = self.bands[self.band_index(band)]
        return self.base.replace(name=f'{self.name}:{band.name}',
                                 psf_fwhm=band.psf_fwhm, depth=band.depth)

    @property
    def psf_fwhm_pixels(self):
        """The largest PSF FWHM of the bands, in pixels."""
        return max(band.psf_fwhm for band in self.bands) \
            / self.base.pixel_scale

    def replace(self, **overrides):
        """
        A copy with some parameters changed.

        Parameters
        ----------
        **overrides
            Fields of this class, or of ``base`` (e.g. ``density``).

        Returns
        -------
        params : `MultiBandParameters`
            The new, validated parameters.
        """
        own = {f.name for f in dataclasses.fields(self)}
        mine = {k: v for k, v in overrides.items() if k in own}
        rest = {k: v for k, v in overrides.items() if k not in own}
        if rest:
            mine['base'] = mine.get('base', self.base).replace(**rest)
        return dataclasses.replace(self, **mine)

    def to_dict(self):
        """
        The parameters as a JSON-serialisable dict.

        Returns
        -------
        params : dict
        """
        out = {f.name: getattr(self, f.name)
               for f in dataclasses.fields(self)}
        out['base'] = self.base.to_dict()
        out['bands'] = [dataclasses.asdict(band) for band in self.bands]
        for name in ('disk_beta', 'bulge_redder', 'knots_bluer',
                     'star_temperature'):
            out[name] = [float(v) for v in out[name]]
        return out


def _grizy():
    # LSST-like: 10-year coadd 5-sigma depths (Ivezic et al. 2019, table 1)
    # and 0.7" median r-band seeing scaled as lambda ** -0.2.
    table = (('g', 477.0, 27.4), ('r', 622.0, 27.5), ('i', 754.0, 26.8),
             ('z', 869.0, 26.1), ('y', 971.0, 24.9))
    bands = tuple(Band(name, lam, seeing_fwhm(0.7, lam, 622.0), depth)
                  for name, lam, depth in table)
    return MultiBandParameters(
        name='grizy', base=PRESETS['lsst'].replace(name='grizy'),
        bands=bands, reference_band='i')


def _hst_multi():
    # A CANDELS/GOODS-like HST mosaic on one 0.06" drizzled grid: ACS
    # F435W, F606W, F814W and WFC3/IR F125W, F160W, their PSF FWHM growing
    # with wavelength, depths of the order of the deep fields'.
    table = (('F435W', 432.0, 0.09, 27.4), ('F606W', 592.0, 0.10, 27.8),
             ('F814W', 806.0, 0.11, 27.5), ('F125W', 1250.0, 0.15, 27.4),
             ('F160W', 1540.0, 0.18, 27.5))
    bands = tuple(Band(*row) for row in table)
    return MultiBandParameters(
        name='hst_multi', base=PRESETS['hst'].replace(name='hst_multi'),
        bands=bands, reference_band='F160W')


#: The named multi-band presets: ``'grizy'`` (ground-based, LSST-like,
#: magnitudes in i) and ``'hst_multi'`` (space-based, five HST filters,
#: magnitudes in F160W).
MULTIBAND_PRESETS = {'grizy': _grizy(), 'hst_multi': _hst_multi()}
