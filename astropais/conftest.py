"""pytest configuration shared by every test in the package."""

# TensorFlow's start-up logging is silenced by astropais itself
# (astropais._backend, installed by ``import astropais``).

try:
    from pytest_astropy_header.display import (PYTEST_HEADER_MODULES,
                                               TESTED_VERSIONS)
except ImportError:  # pragma: no cover
    PYTEST_HEADER_MODULES = {}
    TESTED_VERSIONS = {}


def pytest_configure(config):
    config.option.astropy_header = True
    PYTEST_HEADER_MODULES.clear()
    PYTEST_HEADER_MODULES.update({
        'NumPy': 'numpy', 'SciPy': 'scipy', 'Astropy': 'astropy',
        'photutils': 'photutils', 'GalSim': 'galsim', 'Keras': 'keras',
    })
    from astropais import __version__
    TESTED_VERSIONS['astropais'] = __version__
