"""
Draw the true source list of a scene: positions (with close pairs and
groups), kinds, magnitudes, sizes and shapes.  numpy only.
"""

import numpy as np

from .presets import MORPHOLOGIES

__all__ = ['draw_catalog', 'sample_separations', 'sample_magnitudes',
           'sample_loguniform']


def sample_magnitudes(rng, size, mag_range, slope):
    """
    Magnitudes with number counts ``dN/dm ~ 10 ** (slope * m)``.

    Parameters
    ----------
    rng : `numpy.random.Generator`
        The random generator.
    size : int
        Number of magnitudes.
    mag_range : tuple of float
        ``(bright, faint)`` limits.
    slope : float
        ``d log10 N / dm``.

    Returns
    -------
    mags : `~numpy.ndarray`
        The magnitudes.
    """
    lo, hi = mag_range
    u = rng.random(size)
    if slope == 0 or hi == lo:
        return lo + (hi - lo) * u
    k = slope * np.log(10.0)
    # Inverse of the truncated exponential CDF.
    return lo + np.log1p(u * np.expm1(k * (hi - lo))) / k


def sample_separations(rng, size, limits, distribution):
    """
    Separations drawn from the pair-separation distribution.

    Parameters
    ----------
    rng : `numpy.random.Generator`
        The random generator.
    size : int
        Number of separations.
    limits : tuple of float
        ``(min, max)``.
    distribution : {'uniform', 'loguniform'}
        The distribution between the limits.

    Returns
    -------
    separations : `~numpy.ndarray`
        The separations, in the units of ``limits``.
    """
    if distribution == 'loguniform':
        return sample_loguniform(rng, limits, size)
    lo, hi = limits
    return lo + (hi - lo) * rng.random(size)


def sample_loguniform(rng, limits, size=None):
    """
    Values distributed uniformly in their logarithm.

    Parameters
    ----------
    rng : `numpy.random.Generator`
        The random generator.
    limits : tuple of float
        ``(min, max)``, both positive.
    size : int or None, optional
        Number of values (None: one float).

    Returns
    -------
    values : float or `~numpy.ndarray`
        ``exp(log(min) + u * (log(max) - log(min)))`` with ``u`` uniform in
        [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from astropais.simulation.catalog import sample_loguniform
    >>> bool(1 <= sample_loguniform(np.random.default_rng(0), (1, 100)) < 100)
    True
    """
    lo, hi = np.log(limits[0]), np.log(limits[1])
    return np.exp(lo + rng.random(size) * (hi - lo))


def _group_sizes(rng, n_grouped, max_group_size):
    """Split ``n_grouped`` sources into groups of 2..max_group_size."""
    ks = np.arange(2, max_group_size + 1)
    p = 2.0 ** -(ks - 2)
    p /= p.sum()
    sizes = []
    remaining = n_grouped
    # A loop over groups (few): sizes are drawn until the sources run out.
    while remaining >= 2:
        k = int(rng.choice(ks, p=p))
        k = min(k, remaining)
        if remaining - k == 1 and k < max_group_size:
            k += 1  # never strand a single source (it stays isolated)
        sizes.append(k)
        remaining -= k
    return sizes


def draw_catalog(params, shape, rng):
    """
    Draw the sources of one scene.

    Parameters
    ----------
    params : `~astropais.simulation.SceneParameters`
        The scene parameters.
    shape : tuple of int
        The ``(ny, nx)`` image shape.
    rng : `numpy.random.Generator`
        The random generator (the only source of randomness).

    Returns
    -------
    columns : dict of `~numpy.ndarray`
        ``x``, ``y`` (0-based pixel centroids), ``mag``, ``flux``, ``kind``,
        ``size`` (half-light radius, pixels; 0 for stars), ``g1``, ``g2``
        (reduced-shear ellipticity), ``group`` (0 for isolated sources, else
        a group number), ``separation`` (pixels from the group's primary; 0
        for primaries and isolated sources).

    Raises
    ------
    ValueError
        When the density is impossible for the image or a group cannot fit.
    """
    ny, nx = shape
    fwhm = params.psf_fwhm_pixels
    area_arcmin2 = ny * nx * (params.pixel_scale / 60.0) ** 2
    expected = params.density * area_arcmin2
    if expected > ny * nx / 4.0:
        raise ValueError(
            f'density {params.density} per arcmin^2 is impossible: it puts '
            f'{expected:.0f} sources on {ny * nx} pixels (at most one '
            f'source per 4 pixels)')
    max_sep = params.pair_separation[1] * fwhm
    if params.pair_fraction > 0 and max_sep >= min(ny, nx):
        raise ValueError(
            f'pair_separation {params.pair_separation} (PSF FWHM units, up '
            f'to {max_sep:.1f} pixels) is too large for an image of shape '
            f'{tuple(shape)}')
    n_sources = int(rng.poisson(expected))

    # Groups: a primary anywhere, members at a drawn separation and angle
    # from it, the whole group shifted so that every centre is inside.
    n_grouped = int(rng.binomial(n_sources, params.pair_fraction))
    sizes = _group_sizes(rng, n_grouped, params.max_group_size)
    n_members = sum(k - 1 for k in sizes)
    seps = sample_separations(rng, n_members, params.pair_separation,
                              params.pair_separation_distribution) * fwhm
    angles = rng.uniform(0, 2 * np.pi, n_members)
    dx, dy = seps * np.cos(angles), seps * np.sin(angles)

    x = np.empty(n_sources)
    y = np.empty(n_sources)
    group = np.zeros(n_sources, dtype=np.int64)
    separation = np.zeros(n_sources)
    i, j = 0, 0
    # A loop over groups: each places its members around one primary.
    for g, k in enumerate(sizes, start=1):
        ox = np.concatenate([[0.0], dx[j:j + k - 1]])
        oy = np.concatenate([[0.0], dy[j:j + k - 1]])
        x_lo, x_hi = -0.5 - ox.min(), nx - 0.5 - ox.max()
        y_lo, y_hi = -0.5 - oy.min(), ny - 0.5 - oy.max()
        if x_lo >= x_hi or y_lo >= y_hi:
            raise ValueError(
                f'pair_separation {params.pair_separation} (PSF FWHM units) '
                f'is too large for an image of shape {tuple(shape)}')
        x0, y0 = rng.uniform(x_lo, x_hi), rng.uniform(y_lo, y_hi)
        x[i:i + k] = x0 + ox
        y[i:i + k] = y0 + oy
        group[i:i + k] = g
        separation[i + 1:i + k] = seps[j:j + k - 1]
        i += k
        j += k - 1
    n_single = n_sources - i
    x[i:] = rng.uniform(-0.5, nx - 0.5, n_single)
    y[i:] = rng.uniform(-0.5, ny - 0.5, n_single)

    mag = sample_magnitudes(rng, n_sources, params.mag_range,
                            params.mag_slope)
    flux = 10.0 ** (-0.4 * (mag - params.zero_point))
    is_star = rng.random(n_sources) < params.star_fraction
    names = [m for m in MORPHOLOGIES if params.morphology_weights.get(m, 0)]
    weights = np.array([params.morphology_weights[m] for m in names], float)
    morph = rng.choice(len(names), size=n_sources, p=weights / weights.sum())
    kind = np.where(is_star, 'star', np.array(names, dtype='<U10')[morph])

    log_r = (np.log10(params.size_median)
             + params.size_mag_slope * (mag - params.size_ref_mag)
             + params.size_scatter * rng.standard_normal(n_sources))
    hlr = np.clip(10.0 ** log_r, *params.size_range) / params.pixel_scale
    hlr[is_star] = 0.0

    g = np.minimum(params.ellipticity_rms / np.sqrt(2)
                   * np.sqrt(-2 * np.log1p(-rng.random(n_sources))), 0.85)
    beta = rng.uniform(0, np.pi, n_sources)
    g1, g2 = g * np.cos(2 * beta), g * np.sin(2 * beta)
    g1[is_star] = 0.0
    g2[is_star] = 0.0
    return dict(x=x, y=y, mag=mag, flux=flux, kind=kind.astype('<U10'),
                size=hlr, g1=g1, g2=g2, group=group, separation=separation)
