"""Package-level behaviour: version, lazy imports, the command line."""

import subprocess
import sys

import pytest

import astropais
from astropais.cli.main import build_parser, main

HEAVY_MODULES = ('tensorflow', 'keras', 'jax')


def test_version_is_a_string():
    assert isinstance(astropais.__version__, str)
    assert astropais.__version__[0].isdigit()


def test_import_does_not_load_network_stack():
    code = ('import sys, astropais; '
            f'print([m for m in {HEAVY_MODULES!r} if m in sys.modules])')
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == '[]'


def test_cli_modules_do_not_load_network_stack():
    # Building the full parser imports every subcommand module; none of them
    # may pull in the network stack just to show --help.
    code = ('import sys; from astropais.cli.main import build_parser; '
            'build_parser(); '
            f'print([m for m in {HEAVY_MODULES!r} if m in sys.modules])')
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == '[]'


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(['--version'])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f'astropais {astropais.__version__}'


def test_cli_console_script_version():
    out = subprocess.run([sys.executable, '-m', 'astropais.cli.main',
                          '--version'], check=True, capture_output=True,
                         text=True).stdout
    assert astropais.__version__ in out


def test_cli_help_lists_usage():
    text = build_parser().format_help()
    assert 'astropais' in text and '--version' in text


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError, match='no attribute'):
        astropais.not_a_public_name


def test_public_classes_resolve_lazily():
    from photutils.segmentation import SegmentationImage, SourceCatalog
    assert issubclass(astropais.WeightedSegmentationImage, SegmentationImage)
    assert issubclass(astropais.WeightedSourceCatalog, SourceCatalog)
    assert callable(astropais.PAISDeblender)
    assert {'PAISDeblender', 'WeightedSegmentationImage',
            'WeightedSourceCatalog'} <= set(dir(astropais))
