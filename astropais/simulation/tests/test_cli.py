"""Tests of ``astropais simulate``."""

import pytest

from astropais.cli.main import main
from astropais.cli.simulate import parse_override
from astropais.datasets import read_dataset

pcr = pytest.importorskip('astropais.pcr')
if not hasattr(pcr, 'encode'):  # pragma: no cover
    pytest.skip('astropais.pcr.encode is not available', allow_module_level=True)


def test_simulate_command_writes_and_resumes(tmp_path, capsys):
    out = tmp_path / 'ds'
    args = ['simulate', str(out), '--preset', 'lsst', '--n-crops', '3',
            '--crop-size', '16', '--seed', '4', '--shard-size', '2',
            '--set', 'density=800', '--set', 'pair_separation=[0.3, 1.5]',
            '--no-progress']
    assert main(args) == 0
    assert 'wrote 3 crops' in capsys.readouterr().out
    ds = read_dataset(out)
    assert len(ds) == 3 and ds.crop_shape == (16, 16)
    assert ds.manifest['parameters']['density'] == 800
    assert ds.manifest['parameters']['pair_separation'] == [0.3, 1.5]
    assert main(args) == 2  # exists, no --resume
    assert 'resume' in capsys.readouterr().err
    args[args.index('3')] = '5'
    assert main(args + ['--resume']) == 0
    assert len(read_dataset(out)) == 5


def test_simulate_command_bad_input(tmp_path, capsys):
    assert main(['simulate', str(tmp_path / 'x'), '--n-crops', '1',
                 '--set', 'pixel_scale=0', '--no-progress']) == 2
    assert 'pixel_scale' in capsys.readouterr().err
    with pytest.raises(ValueError, match='NAME=VALUE'):
        parse_override('density')
    assert parse_override('psf=gaussian') == ('psf', 'gaussian')
