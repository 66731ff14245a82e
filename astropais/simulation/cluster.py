"""
Star clusters of a scene: many stars whose positions follow a King (1962)
surface-density profile and whose magnitudes follow a steep luminosity
function, as in a globular (or open) cluster.

Crowded star fields are what a network trained on sparse fields merges
into large labels (the core of M13); a scene with a `ClusterParameters`
(`SceneParameters.cluster`) adds one cluster on top of its ordinary
sources, each member its own point source in the truth.  numpy only.
"""

import math
from dataclasses import dataclass

import numpy as np

from .bright import bright_star_radius
from .catalog import sample_loguniform, sample_magnitudes
from .profiles import stamp_radius

__all__ = ['ClusterParameters', 'ClusterDistribution', 'king_enclosed',
           'sample_king_radii', 'draw_cluster_catalog', 'member_stamp',
           'draw_members', 'PHASES']

#: Grid points of the tabulated King profile that `sample_king_radii`
#: inverts.
_GRID = 4097
#: Members' centres lie on a grid of ``1 / PHASES`` pixel, so that the faint
#: ones are scaled copies of a few GalSim stamps (`draw_members`).
PHASES = 8


def king_enclosed(radius, core_radius, tidal_radius):
    """
    The number of stars inside a projected radius of a King (1962) cluster.

    The surface density is ``Sigma(r) = k * (1 / sqrt(1 + (r / r_c) ** 2)
    - 1 / sqrt(1 + (r_t / r_c) ** 2)) ** 2`` for ``r < r_t`` (0 beyond),
    whose integral over the disc of radius ``r`` is (King 1962, eq. 18,
    with ``x = (r / r_c) ** 2``, ``x_t = (r_t / r_c) ** 2``)
    ``pi * r_c ** 2 * k * (ln(1 + x) - 4 * (sqrt(1 + x) - 1) / sqrt(1 + x_t)
    + x / (1 + x_t))``.

    Parameters
    ----------
    radius : float or array_like
        Projected radii (any length unit; radii beyond ``tidal_radius``
        count as ``tidal_radius``).
    core_radius, tidal_radius : float
        The King core and tidal radii (same unit, ``0 < r_c < r_t``).

    Returns
    -------
    enclosed : float or `~numpy.ndarray`
        The number of stars inside ``radius`` for a central surface density
        of one star per unit area (``Sigma(0) = 1``).

    Examples
    --------
    >>> from astropais.simulation.cluster import king_enclosed
    >>> core = king_enclosed(1.0, 1.0, 30.0) / king_enclosed(30.0, 1.0, 30.0)
    >>> round(float(core), 3)
    0.162
    """
    if not 0 < core_radius < tidal_radius:
        raise ValueError(f'the core radius must be positive and below the '
                         f'tidal radius, got {core_radius!r} and '
                         f'{tidal_radius!r}')
    x = (np.minimum(np.asarray(radius, dtype=float), tidal_radius)
         / core_radius) ** 2
    c = 1.0 / math.sqrt(1.0 + (tidal_radius / core_radius) ** 2)
    k = 1.0 / (1.0 - c) ** 2
    return (math.pi * core_radius ** 2 * k
            * (np.log1p(x) - 4 * c * (np.sqrt(1 + x) - 1) + c * c * x))


def sample_king_radii(rng, size, core_radius, tidal_radius, max_radius=None):
    """
    Projected radii of stars drawn from a King (1962) profile.

    Parameters
    ----------
    rng : `numpy.random.Generator`
        The random generator.
    size : int
        Number of radii.
    core_radius, tidal_radius : float
        The King core and tidal radii.
    max_radius : float, optional
        Draw from the profile truncated at this radius (default the tidal
        radius).

    Returns
    -------
    radii : `~numpy.ndarray`
        The radii: the inverse of `king_enclosed` (tabulated on a grid
        dense near the centre, interpolated linearly) at uniform deviates.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.simulation.cluster import sample_king_radii
    >>> r = sample_king_radii(np.random.default_rng(0), 1000, 5.0, 100.0)
    >>> bool(r.min() >= 0 and r.max() <= 100)
    True
    """
    r_max = tidal_radius if max_radius is None else min(max_radius,
                                                        tidal_radius)
    if not r_max > 0:
        raise ValueError(f'max_radius must be positive, got {max_radius!r}')
    grid = r_max * np.linspace(0.0, 1.0, _GRID) ** 2
    enclosed = king_enclosed(grid, core_radius, tidal_radius)
    return np.interp(rng.random(size) * enclosed[-1], enclosed, grid)


@dataclass(frozen=True)
class ClusterParameters:
    """
    One star cluster of a scene.

    Parameters
    ----------
    centre : tuple of float
        ``(y, x)`` of the cluster centre in units of the image shape:
        ``(0, 0)`` is the outer corner of pixel ``[0, 0]``, ``(1, 1)`` that
        of the last pixel; values outside [0, 1] put the centre outside the
        image (its outskirts then reach in).
    core_radius, tidal_radius : float
        King (1962) core and tidal radii in pixels.
    central_density : float
        Stars (of every magnitude in ``mag_range``) per square pixel at the
        centre.
    mag_range : tuple of float
        ``(bright, faint)`` magnitude limits of the members.
    mag_slope : float
        Slope of the luminosity function, ``d log10 N / dm`` (steep: a few
        bright members, many faint ones).
    max_members : int
        At most this many members on an image: beyond it a random subset
        is kept (the density is scaled down, the profile and luminosity
        function stay), which bounds the cost of a scene.

    Examples
    --------
    >>> from astropais.simulation.cluster import ClusterParameters
    >>> ClusterParameters((0.5, 0.5), 10.0, 300.0, 0.05, (16.0, 28.0),
    ...                   0.35).core_radius
    10.0
    """

    centre: tuple
    core_radius: float
    tidal_radius: float
    central_density: float
    mag_range: tuple
    mag_slope: float = 0.35
    max_members: int = 3000

    #: Largest central density (stars per square pixel).
    max_density = 1.0

    def __post_init__(self):
        if (np.ndim(self.centre) != 1 or len(self.centre) != 2
                or not np.all(np.isfinite(self.centre))):
            raise ValueError(f'centre must be a finite (y, x) pair, got '
                             f'{self.centre!r}')
        if not (math.isfinite(self.core_radius) and math.isfinite(
                self.tidal_radius) and 0 < self.core_radius
                < self.tidal_radius):
            raise ValueError(f'core_radius and tidal_radius must be finite '
                             f'with 0 < core_radius < tidal_radius, got '
                             f'{self.core_radius!r} and '
                             f'{self.tidal_radius!r}')
        if not 0 <= self.central_density <= self.max_density:
            raise ValueError(f'central_density must lie in [0, '
                             f'{self.max_density}] stars per square pixel, '
                             f'got {self.central_density!r}')
        if (np.ndim(self.mag_range) != 1 or len(self.mag_range) != 2
                or not np.all(np.isfinite(self.mag_range))
                or self.mag_range[0] > self.mag_range[1]):
            raise ValueError(f'mag_range must be an increasing pair '
                             f'(bright, faint), got {self.mag_range!r}')
        if not math.isfinite(self.mag_slope):
            raise ValueError(f'mag_slope must be finite, got '
                             f'{self.mag_slope!r}')
        if (isinstance(self.max_members, bool) or not isinstance(
                self.max_members, (int, np.integer))
                or self.max_members < 0):
            raise ValueError(f'max_members must be an integer >= 0, got '
                             f'{self.max_members!r}')

    def to_dict(self):
        """
        The parameters as a JSON-serialisable dict.

        Returns
        -------
        params : dict
        """
        return dict(centre=[float(v) for v in self.centre],
                    core_radius=float(self.core_radius),
                    tidal_radius=float(self.tidal_radius),
                    central_density=float(self.central_density),
                    mag_range=[float(v) for v in self.mag_range],
                    mag_slope=float(self.mag_slope),
                    max_members=int(self.max_members))


@dataclass(frozen=True)
class ClusterDistribution:
    """
    How often a scene holds a star cluster, and the cluster it holds.

    Sizes are in pixels and densities in PSF FWHM units, so that a crop
    of any sampling sees the same crowding; magnitudes are relative to the
    scene's 5-sigma point-source depth.

    Parameters
    ----------
    probability : float
        Fraction of scenes with a cluster.
    core_radius : tuple of float
        ``(min, max)`` King core radius in pixels (log-uniform): from
        clusters much smaller than a crop to crops inside one core.
    concentration : tuple of float
        ``(min, max)`` of ``log10(r_t / r_c)`` (uniform); open clusters
        ~0.5-1, globular clusters ~0.7-2.5.
    central_density : tuple of float
        ``(min, max)`` stars per square PSF FWHM at the centre, every
        member counted (log-uniform); 0.3 makes half of the members' nearest
        neighbours closer than 1.5 FWHM.  Capped at ``max_density``.
    max_density : float
        Largest central density in stars per square pixel (bounds the
        number of members, and the cost, when the PSF is small).
    mag_slope : tuple of float
        ``(min, max)`` slope of the luminosity function (uniform).
    brightest : tuple of float
        ``(min, max)`` magnitudes by which the brightest possible member is
        brighter than the depth (uniform): bright members saturate.
    faintest : float
        Magnitudes by which the faintest member is fainter than the depth
        (the unresolved glow of a cluster core).
    centre_margin : float
        The centre lies up to this fraction of the image outside it.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.simulation.cluster import ClusterDistribution
    >>> cluster = ClusterDistribution(probability=1.0).draw(
    ...     np.random.default_rng(1), depth=27.0, fwhm_pixels=3.0)
    >>> cluster.mag_range[1]
    28.0
    """

    probability: float = 0.6
    core_radius: tuple = (4.0, 150.0)
    concentration: tuple = (0.7, 2.2)
    central_density: tuple = (0.3, 5.0)
    max_density: float = 0.25
    mag_slope: tuple = (0.25, 0.4)
    brightest: tuple = (7.0, 11.0)
    faintest: float = 1.0
    centre_margin: float = 0.25

    def __post_init__(self):
        if not 0 <= self.probability <= 1:
            raise ValueError(f'probability must lie in [0, 1], got '
                             f'{self.probability!r}')
        if not 0 < self.max_density <= ClusterParameters.max_density:
            raise ValueError(f'max_density must lie in (0, '
                             f'{ClusterParameters.max_density}], got '
                             f'{self.max_density!r}')
        for name in ('core_radius', 'central_density', 'concentration',
                     'mag_slope', 'brightest'):
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi
                    and (lo > 0 or name == 'mag_slope')):
                raise ValueError(f'{name} must be an increasing pair of '
                                 f'positive numbers, got '
                                 f'{getattr(self, name)!r}')

    def to_dict(self):
        """
        The distribution as a JSON-serialisable dict.

        Returns
        -------
        description : dict
        """
        return dict(probability=self.probability,
                    core_radius=list(self.core_radius),
                    concentration=list(self.concentration),
                    central_density=list(self.central_density),
                    max_density=self.max_density,
                    mag_slope=list(self.mag_slope),
                    brightest=list(self.brightest), faintest=self.faintest,
                    centre_margin=self.centre_margin)

    def draw(self, rng, depth, fwhm_pixels):
        """
        Draw the cluster of one scene, or none.

        Parameters
        ----------
        rng : `numpy.random.Generator`
            The random generator.
        depth : float
            The scene's 5-sigma point-source depth (magnitudes).
        fwhm_pixels : float
            The scene's PSF FWHM in pixels.

        Returns
        -------
        cluster : `ClusterParameters` or None
            None for a scene without a cluster (a fraction
            ``1 - probability`` of them).
        """
        if not rng.random() < self.probability:
            return None
        core = float(sample_loguniform(rng, self.core_radius))
        tidal = core * 10.0 ** rng.uniform(*self.concentration)
        density = min(float(sample_loguniform(rng, self.central_density))
                      / fwhm_pixels ** 2, self.max_density)
        lo, hi = -self.centre_margin, 1.0 + self.centre_margin
        return ClusterParameters(
            centre=(float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi))),
            core_radius=core, tidal_radius=tidal, central_density=density,
            mag_range=(depth - rng.uniform(*self.brightest),
                       depth + self.faintest),
            mag_slope=float(rng.uniform(*self.mag_slope)))


def draw_cluster_catalog(cluster, shape, zero_point, rng):
    """
    Draw the members of a cluster that lie on an image.

    The number of members whose centre falls within the disc that covers
    the image is Poisson (its mean from `king_enclosed` and the central
    density), their radii follow the King profile inside that disc, their
    angles are uniform, and those centred outside the image are dropped.
    Centres are rounded to multiples of ``1 / PHASES`` pixel (the truth is
    the rounded centre).  Beyond ``cluster.max_members`` members on the
    image, a random subset of that many is kept.

    Parameters
    ----------
    cluster : `ClusterParameters`
        The cluster.
    shape : tuple of int
        The ``(ny, nx)`` image shape.
    zero_point : float
        Magnitude of unit flux.
    rng : `numpy.random.Generator`
        The random generator.

    Returns
    -------
    columns : dict of `~numpy.ndarray`
        As `~astropais.simulation.catalog.draw_catalog` gives them, one row
        per member: kind ``'star'``, size, shear, group and separation 0.

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.simulation.cluster import (ClusterParameters,
    ...                                           draw_cluster_catalog)
    >>> cluster = ClusterParameters((0.5, 0.5), 10.0, 300.0, 0.05,
    ...                             (16.0, 28.0))
    >>> cols = draw_cluster_catalog(cluster, (64, 64), 30.0,
    ...                             np.random.default_rng(0))
    >>> bool(len(cols['x']) > 20 and set(cols['kind']) == {'star'})
    True
    """
    ny, nx = shape
    cy = cluster.centre[0] * ny - 0.5
    cx = cluster.centre[1] * nx - 0.5
    # The farthest image corner bounds the radii that can land on it.
    reach = math.hypot(max(abs(cy + 0.5), abs(ny - 0.5 - cy)),
                       max(abs(cx + 0.5), abs(nx - 0.5 - cx)))
    expected = cluster.central_density * float(king_enclosed(
        reach, cluster.core_radius, cluster.tidal_radius))
    n = int(rng.poisson(expected))
    radius = sample_king_radii(rng, n, cluster.core_radius,
                               cluster.tidal_radius, max_radius=reach)
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.round((cx + radius * np.cos(angle)) * PHASES) / PHASES
    y = np.round((cy + radius * np.sin(angle)) * PHASES) / PHASES
    mag = sample_magnitudes(rng, n, cluster.mag_range, cluster.mag_slope)
    inside = np.flatnonzero((x >= -0.5) & (x < nx - 0.5) & (y >= -0.5)
                            & (y < ny - 0.5))
    if inside.size > cluster.max_members:
        inside = np.sort(rng.choice(inside, cluster.max_members,
                                    replace=False))
    x, y, mag = x[inside], y[inside], mag[inside]
    m = len(x)
    zeros = np.zeros(m)
    return dict(x=x, y=y, mag=mag, flux=10.0 ** (-0.4 * (mag - zero_point)),
                kind=np.full(m, 'star', dtype='<U10'), size=zeros,
                g1=zeros.copy(), g2=zeros.copy(),
                group=np.zeros(m, dtype=np.int64), separation=zeros.copy())


def member_stamp(peak_snr, fwhm_pixels):
    """
    How a cluster member is drawn: its stamp half-size and PSF.

    A member gets the ordinary stamp of a point source, or the larger one
    of a bright star (`~astropais.simulation.bright.bright_star_radius`)
    when its wings stay above the noise further out.  Only such a member
    needs the full PSF profile; the others are drawn with the compact PSF
    (`~astropais.simulation.psf.compact_psf`, which spans the ordinary
    stamp) at a small fraction of the cost of an optical PSF.

    Parameters
    ----------
    peak_snr : float
        The member's peak pixel in sky noise sigmas.
    fwhm_pixels : float
        PSF FWHM in pixels.

    Returns
    -------
    radius : int
        The stamp half-size in pixels.
    full_profile : bool
        Whether the stamp reaches beyond the compact PSF.

    Examples
    --------
    >>> from astropais.simulation.cluster import member_stamp
    >>> member_stamp(10.0, 3.0), member_stamp(1e4, 3.0)
    ((19, False), (98, True))
    """
    ordinary = stamp_radius(0.0, fwhm_pixels)
    bright = bright_star_radius(peak_snr, fwhm_pixels)
    return max(ordinary, bright), bright > ordinary


def draw_members(members, psf_profile, kernel, peak_per_flux, fwhm_pixels,
                 pixel_scale, method, shape):
    """
    The truth images of a cluster's members.

    A member that `member_stamp` gives the full profile is drawn alone by
    `~astropais.simulation.scene.draw_stamp` (clipped to the image, as
    bright stars are); every other member is its flux times the unit
    stamp of the compact PSF drawn by the same function at the member's
    sub-pixel phase (its centre is on the ``1 / PHASES`` grid, so that
    ``(PHASES + 1) ** 2`` GalSim draws serve any number of members).

    Parameters
    ----------
    members : dict of `~numpy.ndarray`
        ``x``, ``y`` and ``flux`` of the members
        (`draw_cluster_catalog`).
    psf_profile, kernel : `galsim.GSObject`
        The unit-flux PSF and its compact version
        (`~astropais.simulation.psf.compact_psf`).
    peak_per_flux : float
        Peak pixel, in sky noise sigmas, of a unit-flux point source.
    fwhm_pixels : float
        PSF FWHM in pixels.
    pixel_scale : float
        Arcsec per pixel.
    method : str
        GalSim's drawing method.
    shape : tuple of int
        The image shape.

    Returns
    -------
    cutouts : list of `~numpy.ndarray`
        One stamp per member, in order.
    origins : list of tuple of int
        Image ``(y, x)`` of each stamp's ``[0, 0]``.

    Examples
    --------
    >>> import galsim, numpy as np
    >>> from astropais.simulation.cluster import draw_members
    >>> psf = galsim.Moffat(beta=3, fwhm=0.3)
    >>> members = dict(x=np.array([10.25, 20.0]), y=np.array([5.0, 9.5]),
    ...                flux=np.array([100.0, 1e6]))
    >>> cutouts, origins = draw_members(members, psf, psf, 0.1, 3.0, 0.1,
    ...                                 'auto', (32, 32))
    >>> [c.shape for c in cutouts], origins
    ([(39, 39), (32, 32)], [(-14, -9), (0, 0)])
    >>> round(float(cutouts[0].sum()), 1)
    100.0
    """
    from .scene import draw_stamp

    x, y = np.asarray(members['x'], float), np.asarray(members['y'], float)
    flux = np.asarray(members['flux'], float)
    stamps = [member_stamp(f * peak_per_flux, fwhm_pixels) for f in flux]
    cutouts, origins = [None] * len(flux), [None] * len(flux)
    # A loop over the few members drawn with the full profile.
    for i in (i for i, (_, full) in enumerate(stamps) if full):
        cutouts[i], origins[i] = draw_stamp(
            psf_profile.withFlux(flux[i]), x[i], y[i], stamps[i][0],
            pixel_scale, method, clip_to=shape)
    faint = np.flatnonzero([not full for _, full in stamps])
    if faint.size:
        radius = stamp_radius(0.0, fwhm_pixels)
        offsets = np.arange(-PHASES // 2, PHASES // 2 + 1) / PHASES
        # (PHASES + 1) ** 2 unit stamps centred near pixel (0, 0).
        bank = np.array([[draw_stamp(kernel, dx, dy, radius, pixel_scale,
                                     method)[0] for dx in offsets]
                         for dy in offsets])
        ix, iy = np.round(x[faint]), np.round(y[faint])
        col = np.round((x[faint] - ix) * PHASES).astype(int) + PHASES // 2
        row = np.round((y[faint] - iy) * PHASES).astype(int) + PHASES // 2
        scaled = bank[row, col] * flux[faint, None, None]
        for k, i in enumerate(faint):
            cutouts[i] = scaled[k]
            origins[i] = (int(iy[k]) - radius, int(ix[k]) - radius)
    return cutouts, origins
