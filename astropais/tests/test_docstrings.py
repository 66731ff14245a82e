"""Every public name of the package carries a docstring."""

import importlib
import inspect
import pkgutil

import pytest

import astropais

# Modules whose import needs the network stack are still checked: importing
# Keras here is fine, only ``import astropais`` must stay light.
SKIP_PARTS = {'tests', 'conftest'}


def _public_modules():
    names = ['astropais']
    for info in pkgutil.walk_packages(astropais.__path__, 'astropais.'):
        if SKIP_PARTS.isdisjoint(info.name.split('.')):
            names.append(info.name)
    return names


def _public_objects(module):
    exported = getattr(module, '__all__', None)
    if exported is None:
        return []
    return [(name, getattr(module, name)) for name in exported
            if not name.startswith('__')]


def _own_public_methods(cls):
    for name, member in vars(cls).items():
        if name.startswith('_'):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if inspect.isfunction(member) or isinstance(member, property) or (
                type(member).__name__ == 'lazyproperty'):
            yield name, member


@pytest.mark.parametrize('module_name', _public_modules())
def test_public_names_have_docstrings(module_name):
    module = importlib.import_module(module_name)
    assert inspect.getdoc(module), f'module {module_name} has no docstring'
    missing = []
    for name, obj in _public_objects(module):
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not (obj.__doc__ or '').strip():
            missing.append(name)
        if inspect.isclass(obj) and obj.__module__.startswith('astropais'):
            missing += [f'{name}.{meth}' for meth, member in
                        _own_public_methods(obj)
                        if not (getattr(member, '__doc__', None) or '').strip()]
    assert not missing, f'{module_name}: no docstring for {missing}'


def test_every_module_declares_all():
    # Plain modules say what they export; packages re-export their modules.
    modules = [info.name for info in
               pkgutil.walk_packages(astropais.__path__, 'astropais.')
               if not info.ispkg
               and SKIP_PARTS.isdisjoint(info.name.split('.'))
               and not info.name.split('.')[-1].startswith('_')]
    undeclared = [name for name in modules
                  if not hasattr(importlib.import_module(name), '__all__')]
    assert not undeclared, f'modules without __all__: {undeclared}'
