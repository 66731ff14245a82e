"""
Spectral energy distributions of simulated sources, as per-band flux
factors.

A galaxy is made of light components (`~astropais.simulation.profiles.COMPONENTS`:
a bulge, a disk, star-forming knots, or one Sérsic body), each with a
power-law SED ``f_nu ~ lambda ** beta`` (larger ``beta``: redder).  Every
galaxy draws its own disk slope; its bulge is redder and its knots bluer
than its disk by random amounts.  Stars have a black-body SED of a random
temperature, so their colours lie on one curved locus.  Fluxes are given in
a reference band: a component's flux in band ``k`` is its reference-band
flux times ``f_nu(lambda_k) / f_nu(lambda_ref)``.
"""

import numpy as np

__all__ = ['power_law_factors', 'blackbody_factors', 'draw_colours',
           'component_betas']

#: h c / k in nm K (second radiation constant).
_HC_OVER_K = 1.438777e7


def power_law_factors(beta, wavelengths, reference):
    """
    Flux factors of a power-law SED ``f_nu ~ lambda ** beta``.

    Parameters
    ----------
    beta : float or array_like
        The slope(s).
    wavelengths : array_like of float
        The band wavelengths (any unit, that of ``reference``).
    reference : float
        The reference wavelength (factor 1).

    Returns
    -------
    factors : `~numpy.ndarray`
        ``(wavelengths / reference) ** beta``, shape
        ``(*np.shape(beta), len(wavelengths))``.

    Examples
    --------
    >>> from astropais.simulation.seds import power_law_factors
    >>> power_law_factors(1.0, [500.0, 1000.0], 1000.0).tolist()
    [0.5, 1.0]
    """
    ratio = np.asarray(wavelengths, dtype=float) / float(reference)
    return ratio ** np.asarray(beta, dtype=float)[..., None]


def blackbody_factors(temperature, wavelengths, reference):
    """
    Flux factors of a black body, ``B_nu(lambda, T)``.

    Parameters
    ----------
    temperature : float or array_like
        Temperature(s) in kelvin.
    wavelengths : array_like of float
        The band wavelengths in nm.
    reference : float
        The reference wavelength in nm (factor 1).

    Returns
    -------
    factors : `~numpy.ndarray`
        ``B_nu(lambda_k, T) / B_nu(reference, T)``, shape
        ``(*np.shape(temperature), len(wavelengths))``.

    Examples
    --------
    >>> from astropais.simulation.seds import blackbody_factors
    >>> f = blackbody_factors([3000.0, 10000.0], [480.0, 760.0], 760.0)
    >>> bool(f[0, 0] < f[1, 0])          # the cool star is redder
    True
    """
    wavelengths = np.asarray(wavelengths, dtype=float)
    temperature = np.asarray(temperature, dtype=float)[..., None]

    def b_nu(lam):
        return lam ** -3.0 / np.expm1(_HC_OVER_K / (lam * temperature))

    return b_nu(wavelengths) / b_nu(float(reference))


def draw_colours(params, n_sources, rng):
    """
    The SED parameters of ``n_sources`` sources.

    Parameters
    ----------
    params : `~astropais.simulation.bands.MultiBandParameters`
        ``disk_beta``, ``bulge_redder``, ``knots_bluer`` and
        ``star_temperature``.
    n_sources : int
        How many sources.
    rng : `numpy.random.Generator`
        The generator (four draws of ``n_sources`` values, in a fixed
        order, whatever the sources' kinds).

    Returns
    -------
    colours : dict of `~numpy.ndarray`
        ``beta_disk``, ``beta_bulge`` (> ``beta_disk``), ``beta_knots``
        (< ``beta_disk``) and ``temperature`` (K, log-uniform), one value
        per source.
    """
    mean, scatter = params.disk_beta
    disk = rng.normal(mean, scatter, n_sources)
    bulge = disk + rng.uniform(*params.bulge_redder, n_sources)
    knots = disk - rng.uniform(*params.knots_bluer, n_sources)
    low, high = np.log(params.star_temperature)
    temperature = np.exp(rng.uniform(low, high, n_sources))
    return {'beta_disk': disk, 'beta_bulge': bulge, 'beta_knots': knots,
            'temperature': temperature}


def component_betas(kind, morphology, colours, index, params):
    """
    The SED slope of each light component of one galaxy.

    Parameters
    ----------
    kind : str
        The galaxy kind (a key of
        `~astropais.simulation.profiles.COMPONENTS`).
    morphology : dict
        Its `~astropais.simulation.profiles.draw_morphology` parameters.
    colours : dict
        `draw_colours`'s output.
    index : int
        The source's row in ``colours``.
    params : `~astropais.simulation.bands.MultiBandParameters`
        ``edge_on_reddening``.

    Returns
    -------
    betas : dict
        Component name to slope: a bulge-disk galaxy's bulge is redder than
        its disk, a clumpy galaxy's knots bluer; a Sérsic galaxy goes from
        the disk colour (index 1 or less) to the bulge colour (index 4); an
        edge-on disk is ``edge_on_reddening`` redder (dust).
    """
    disk = colours['beta_disk'][index]
    bulge = colours['beta_bulge'][index]
    if kind == 'sersic':
        weight = np.clip((morphology['sersic_n'] - 1.0) / 3.0, 0.0, 1.0)
        return {'sersic': disk + weight * (bulge - disk)}
    if kind == 'bulge_disk':
        return {'bulge': bulge, 'disk': disk}
    if kind == 'knots':
        return {'disk': disk, 'knots': colours['beta_knots'][index]}
    if kind == 'edge_on':
        return {'disk': disk + params.edge_on_reddening}
    raise ValueError(f'unknown galaxy kind {kind!r}')
