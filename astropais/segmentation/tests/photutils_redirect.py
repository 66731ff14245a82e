"""
A pytest plugin that runs photutils' own segmentation tests against
astropais: in every collected test module, the names ``SegmentationImage``
and ``SourceCatalog`` are redirected to `WeightedSegmentationImage` and
`WeightedSourceCatalog`; nothing else changes (no adapter).

Used by ``test_photutils_suite.py`` as
``pytest -p astropais.segmentation.tests.photutils_redirect
--pyargs photutils.segmentation.tests``.
"""

REDIRECTED = {'SegmentationImage': 'WeightedSegmentationImage',
              'SourceCatalog': 'WeightedSourceCatalog'}


def pytest_collection_modifyitems(session, config, items):
    import astropais.segmentation as ours

    modules = {id(item.module): item.module for item in items
               if getattr(item, 'module', None) is not None}
    for module in modules.values():
        for theirs, mine in REDIRECTED.items():
            if hasattr(module, theirs):
                setattr(module, theirs, getattr(ours, mine))
