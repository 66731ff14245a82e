"""A tiny real PCR network, built once per test session."""

import pytest

from astropais.segmentation.tests.helpers import tiny_model_file


@pytest.fixture(scope='session')
def tiny_model_path():
    """
    Path of a tiny network trained for a few steps with astropais'
    training API (see `tiny_model_file`).
    """
    return tiny_model_file()


@pytest.fixture(scope='session')
def tiny_model(tiny_model_path):
    """The tiny network, loaded through the checked loader."""
    from astropais.model import load_model
    return load_model(tiny_model_path)
