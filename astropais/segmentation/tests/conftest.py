"""A tiny real PCR network, built once per test session."""

import pytest

from astropais.segmentation.tests.helpers import tiny_model_file


@pytest.fixture(scope='session')
def tiny_model_path():
    """
    Path of a tiny (untrained) network saved with its checksum sidecar by
    the model package's own builder and writer.  Its accuracy is
    irrelevant: the tests check the API, tiling and bookkeeping.
    """
    return tiny_model_file()


@pytest.fixture(scope='session')
def tiny_model(tiny_model_path):
    """The tiny network, loaded through the checked loader."""
    from astropais.model import load_model
    return load_model(tiny_model_path)
