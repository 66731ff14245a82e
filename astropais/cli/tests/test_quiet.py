"""The command line prints nothing from TensorFlow or Keras on stderr."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

M13 = (Path(__import__('astropy').__file__).parent
       / 'io/fits/hdu/compressed/tests/data/m13.fits')


def _clean_environment():
    """This environment without the logging variables tests set."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('TF_', 'KERAS_'))}
    env['PYTHONWARNINGS'] = 'default'
    return env


def _python(*args, cwd=None):
    """Run ``python ARGS`` in the clean environment; it must succeed."""
    completed = subprocess.run([sys.executable, *args], capture_output=True,
                               text=True, env=_clean_environment(), cwd=cwd,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr
    return completed


@pytest.mark.skipif(not M13.exists(), reason="astropy's m13.fits test "
                    'file is not installed')
def test_deblend_m13_prints_nothing_on_stderr(tmp_path):
    completed = _python('-m', 'astropais.cli.main', 'deblend', str(M13),
                        '-o', str(tmp_path), cwd=tmp_path)
    assert completed.stderr == ''
    assert 'sources' in completed.stdout
    assert (tmp_path / 'm13_catalog.ecsv').exists()


def test_backend_import_is_quiet_and_import_astropais_is_cheap():
    code = ('import sys, astropais; '
            "assert 'keras' not in sys.modules and "
            "'tensorflow' not in sys.modules; "
            'import keras; keras.ops.convert_to_tensor([1.0]); '
            "print('ok')")
    completed = _python('-c', code)
    assert completed.stdout.strip() == 'ok'
    assert completed.stderr == ''


def test_quiet_stderr_replays_the_text_of_a_failed_block(capfd):
    from astropais._backend import quiet_stderr

    with quiet_stderr():
        os.write(2, b'hidden on success\n')
    with pytest.raises(RuntimeError):
        with quiet_stderr():
            os.write(2, b'shown on failure\n')
            raise RuntimeError('boom')
    err = capfd.readouterr().err
    assert 'hidden on success' not in err
    assert 'shown on failure' in err


def test_several_deblenders_and_shapes_log_no_retracing(tmp_path):
    code = '\n'.join([
        'import numpy as np',
        'from astropais import PAISDeblender',
        'rng = np.random.default_rng(0)',
        'for i in range(4):',
        '    d = PAISDeblender(5, progress_bar=False)',
        '    for shape in ((40, 48), (56, 40), (64, 64)):',
        '        image = rng.normal(size=shape)',
        '        image[20:24, 20:24] += 30.0',
        '        d(image, 3.0)',
        "print('ok')"])
    completed = _python('-c', code, cwd=tmp_path)
    assert completed.stdout.strip() == 'ok'
    assert 'retracing' not in completed.stderr
    assert completed.stderr == ''


def test_building_the_parser_imports_no_photutils_or_network():
    code = ('import sys; from astropais.cli.main import build_parser; '
            'parser = build_parser(); '
            "heavy = [m for m in ('photutils', 'keras', 'tensorflow', "
            "'astropais.segmentation.deblender') if m in sys.modules]; "
            'assert not heavy, heavy; '
            "print(parser.parse_args(['deblend', 'x.fits']).threshold)")
    completed = _python('-c', code)
    from astropais.segmentation import DEFAULT_N_SIGMA
    assert float(completed.stdout) == DEFAULT_N_SIGMA == 1.5
