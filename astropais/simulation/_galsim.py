"""GalSim, imported where a simulation needs it, with an error that says how to get it."""

__all__ = ['require_galsim']


def require_galsim():
    """
    Import and return the ``galsim`` module.

    Returns
    -------
    galsim : module

    Raises
    ------
    ImportError
        Naming the ``simulation`` extra, when GalSim is not installed
        (``pip install astropais`` deblends without it).

    Examples
    --------
    >>> galsim = require_galsim()
    >>> galsim.Gaussian(sigma=1.0).flux
    1.0
    """
    try:
        import galsim
    except ImportError as exc:
        raise ImportError(
            'astropais.simulation needs GalSim, which the slim install '
            'leaves out: pip install "astropais[simulation]"') from exc
    return galsim
