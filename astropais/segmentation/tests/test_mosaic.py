"""DaskDeblender: network tiles as Dask tasks, the in-memory result."""

import numpy as np
import pytest

from astropais.segmentation import PAISDeblender
from astropais.segmentation.tests.helpers import gaussian_scene

pytest.importorskip('dask')
distributed = pytest.importorskip('distributed')

SOURCES = [(20, 24, 2.0, 800.0), (23, 29, 1.8, 500.0), (90, 100, 2.5, 900.0),
           (150, 160, 2.0, 600.0), (186, 20, 2.0, 700.0),
           (100, 188, 1.5, 400.0)]


@pytest.fixture(scope='module')
def field():
    image, _ = gaussian_scene((192, 200), SOURCES, noise=1.0, seed=11)
    return image.astype(np.float32)


def assert_same(got, want):
    np.testing.assert_array_equal(got.data, want.data)
    for name in ('pixels', 'labels', 'weights', 'centres'):
        np.testing.assert_array_equal(getattr(got.attribution, name),
                                      getattr(want.attribution, name))


def test_two_worker_cluster_gives_the_in_memory_result(tiny_model_path,
                                                       field):
    import dask.array as da

    from astropais.segmentation.mosaic import DaskDeblender
    options = dict(model=tiny_model_path, tile_size=32, overlap=12,
                   batch_size=3, precision='float32', progress_bar=False)
    want = PAISDeblender(5, **options)(field, 3.0)
    assert want.n_labels >= 4
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                  processes=False, dashboard_address=None
                                  ) as cluster, \
            distributed.Client(cluster) as client:
        # Detection in 2 x 2 chunks, segments crossing their borders.
        deblender = DaskDeblender(5, client=client, chunks=100, **options)
        with distributed.get_task_stream(client) as stream:
            got = deblender(field, 3.0)
        assert_same(got, want)
        # One task a batch of tiles, on both workers.
        batches = [task for task in stream.data
                   if 'run_batch' in str(task['key'])]
        assert len(batches) >= 4
        assert len({task['worker'] for task in batches}) == 2
        # A Dask array in.
        assert_same(deblender(da.from_array(field, chunks=64), 3.0), want)
    # Above _DETECT_AGAIN_PIXELS (here: this field) the detection map is
    # made again where it is read, as in memory: the same result.
    from astropais.segmentation import deblender as module
    again = module._DETECT_AGAIN_PIXELS
    module._DETECT_AGAIN_PIXELS = field.size - 1
    try:
        assert_same(DaskDeblender(5, **options)(field, 3.0), want)
    finally:
        module._DETECT_AGAIN_PIXELS = again
    # Dask's default (local threads) scheduler without a client.
    assert_same(DaskDeblender(5, **options)(field, 3.0), want)


def test_loaded_network_is_refused(tiny_model):
    from astropais.segmentation.mosaic import DaskDeblender
    with pytest.raises(TypeError, match='every worker'):
        DaskDeblender(5, model=tiny_model)


@pytest.mark.parametrize('connectivity', [8, 4])
def test_chunked_detection_is_photutils(connectivity):
    # Segments crossing chunk borders, masked pixels, a threshold map and
    # small segments dropped: the same map, numbered the same, as
    # photutils' detect_sources.
    from photutils.segmentation import detect_sources

    from astropais.segmentation.mosaic import detect_footprints
    rng = np.random.default_rng(3)
    image = rng.normal(size=(150, 170))
    image[40:90, 60:64] += 5.0                 # a bar across chunks
    mask = np.zeros(image.shape, bool)
    mask[100:110, 20:40] = True
    threshold = np.full(image.shape, 1.2)
    threshold[:, :50] = 1.0
    for args in ((1.2, None), (threshold, mask)):
        want = detect_sources(image, args[0], 4, connectivity=connectivity,
                              mask=args[1])
        got = detect_footprints(image, args[0], 4, connectivity=connectivity,
                                mask=args[1], chunks=(60, 90))
        assert want.n_labels > 20
        np.testing.assert_array_equal(got.data, want.data)
        assert got.data.dtype == want.data.dtype == np.int32
        # (its labels are given, not searched for)
        np.testing.assert_array_equal(got.labels, want.labels)
        assert got.slices == want.slices
    from photutils.utils.exceptions import NoDetectionsWarning
    with pytest.warns(NoDetectionsWarning, match='No sources'):
        assert detect_footprints(image, 100.0, 4, chunks=(60, 90)) is None
    with pytest.raises(ValueError, match='connectivity'):
        detect_footprints(image, 1.0, 4, connectivity=6)


@pytest.mark.parametrize('rows', [1, 7, 64])
def test_block_borders_join_segments_as_photutils(rows):
    # Noise at a low threshold: many segments, U shapes and diagonal
    # contacts crossing block borders every `rows` rows (one row at a
    # time included); a Dask array and threshold map give the same map.
    import dask.array as da
    from photutils.segmentation import detect_sources

    from astropais.segmentation.mosaic import detect_footprints
    image = np.random.default_rng(5).normal(size=(97, 83))
    image[10:60, 20] = image[10:60, 30] = image[60, 20:31] = 4.0  # a U
    threshold = np.full(image.shape, 0.8)
    for connectivity in (8, 4):
        want = detect_sources(image, 0.8, 3, connectivity=connectivity)
        got = detect_footprints(image, 0.8, 3, connectivity=connectivity,
                                chunks=rows)
        assert want.n_labels > 100
        np.testing.assert_array_equal(got.data, want.data)
        got = detect_footprints(da.from_array(image, chunks=40),
                                da.from_array(threshold, chunks=40), 3,
                                connectivity=connectivity, chunks=rows)
        np.testing.assert_array_equal(got.data, want.data)


def _worker_tensorflow_threads():
    from astropais.segmentation.mosaic import _worker_threads

    import tensorflow as tf
    return (_worker_threads(),
            tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads())


def test_worker_process_network_uses_its_threads():
    # A worker process of its own runs TensorFlow on threads_per_worker
    # threads (1 worker = 1 core); a worker in the client's process
    # leaves TensorFlow's threads alone.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert client.submit(_worker_tensorflow_threads).result() \
            == (1, 1, 1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1,
                                  processes=False, dashboard_address=None
                                  ) as cluster, \
            distributed.Client(cluster) as client:
        assert client.submit(_worker_tensorflow_threads).result()[0] is None
