"""A tiny real PCR network, built once per test session."""

import pytest


@pytest.fixture(scope='session')
def tiny_model_path(tmp_path_factory):
    """
    Path of a tiny (untrained) network saved with its checksum sidecar by
    the model package's own builder and writer.  Its accuracy is
    irrelevant: the tests check the API, tiling and bookkeeping.
    """
    model = pytest.importorskip('astropais.model')
    try:
        build_network, save_model = model.build_network, model.save_model
    except (AttributeError, ImportError) as exc:  # pragma: no cover
        pytest.skip(f'the model builder is not available: {exc}')
    network = build_network(n_bands=1, n=3, depth=2, base_filters=4)
    path = tmp_path_factory.mktemp('model') / 'tiny.keras'
    save_model(network, path, n=3, sigma=2.0, vector_scale=16.0,
               tile_size=32)
    return path


@pytest.fixture(scope='session')
def tiny_model(tiny_model_path):
    """The tiny network, loaded through the checked loader."""
    from astropais.model import load_model
    return load_model(tiny_model_path)
