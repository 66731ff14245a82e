"""
The user-facing layer: `PAISDeblender` (detection and deblending with the
network), `WeightedSegmentationImage` (a photutils segmentation image
carrying each pixel's partial attribution) and `WeightedSourceCatalog`
(a photutils source catalog whose photometry uses the fractions).

The public names (the ``__all__`` of the submodules below) are imported
on first access (PEP 562), so that importing one light submodule, such
as `~astropais.segmentation.background` for the command line's options,
does not import photutils' segmentation and the deblender.
"""

import importlib

# The submodules whose __all__ make up this package's, in that order.
_PUBLIC_MODULES = ('deblender', 'weighted', 'catalog', 'pipeline',
                   'background', 'uncertainty', 'bands', 'band_catalog',
                   'band_pipeline')


def _public():
    """Public name -> the submodule defining it (imports them all)."""
    names = {}
    for sub in _PUBLIC_MODULES:
        module = importlib.import_module(f'.{sub}', __name__)
        names.update(dict.fromkeys(module.__all__, module))
    return names


def __getattr__(name):
    if name == '__all__':
        value = list(_public())
    elif name in _PUBLIC_MODULES:
        value = importlib.import_module(f'.{name}', __name__)
    else:
        public = _public()
        if name not in public:
            raise AttributeError(f'module {__name__!r} has no attribute '
                                 f'{name!r}')
        value = getattr(public[name], name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__getattr__('__all__')))
