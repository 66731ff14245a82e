"""
Fingerprints of simulated data that survive a change of CPU.

A SHA-256 digest of simulated pixels can change with the CPU although
nothing a preset draws has changed (numpy's SIMD ``exp`` and ``log`` may
round a last bit differently; on 2026-12-03 a machine without AVX-512 gave
other digests for the same code).  A fingerprint keeps, for every array,
its shape, kind, NaN count, float64 sums of values and squares and 64
values at fixed positions: integers, booleans and strings must match
exactly, floating-point values to a relative ``1e-6`` of the array's
scale, far below any change of what a preset draws (one source more or
less, another position or flux, another noise realisation).

Record the reference fingerprints again, on purpose only (a change to
what a preset draws, noted in the commit)::

    python -m astropais.simulation.tests.fingerprints

Examples
--------
>>> import numpy as np
>>> ref = fingerprint({'x': np.arange(5.0)})
>>> assert_fingerprint_matches(fingerprint({'x': np.arange(5.0) + 1e-12}),
...                            ref)
"""

import json
from pathlib import Path

import numpy as np

__all__ = ['fingerprint', 'assert_fingerprint_matches', 'scene_arrays',
           'REFERENCE_PATH']

#: Where the recorded fingerprints live.
REFERENCE_PATH = Path(__file__).parent / 'data' / 'single_band_fingerprints.json'

#: Values kept per array, at evenly spaced flat indices.
N_SAMPLES = 64

#: Relative tolerance of floating-point values, against the array's scale.
RTOL = 1e-6


def scene_arrays(scene):
    """
    The arrays of a `~astropais.simulation.Scene` a fingerprint covers.

    Parameters
    ----------
    scene : `~astropais.simulation.Scene`
        A simulated scene.

    Returns
    -------
    arrays : dict
        Image, noise, the sum of the true sources, their origins and every
        catalogue column (``'catalog.<name>'``).
    """
    arrays = {'image': scene.image, 'noise': scene.noise,
              'total': scene.sources.total(),
              'origins': scene.sources.origins}
    for name in scene.catalog.colnames:
        arrays[f'catalog.{name}'] = np.asarray(scene.catalog[name])
    return arrays


def fingerprint(arrays):
    """
    The fingerprint of named arrays.

    Parameters
    ----------
    arrays : dict
        Name to array-like.

    Returns
    -------
    fingerprint : dict
        Name to ``{'shape', 'kind', 'samples'}`` plus, for numbers,
        ``'n_nan'`` and the ``'sum'`` and ``'sum_sq'`` of the other values
        (float64); JSON-serialisable.
    """
    out = {}
    for name, value in arrays.items():
        array = np.asarray(value)
        flat = array.ravel()
        index = np.unique(np.linspace(0, flat.size - 1, N_SAMPLES)
                          .astype(int)) if flat.size else np.array([], int)
        entry = {'shape': list(array.shape), 'kind': array.dtype.kind}
        if array.dtype.kind in 'fiub':
            as_float = flat.astype(np.float64)
            entry['n_nan'] = int(np.isnan(as_float).sum())
            entry['sum'] = float(np.nansum(as_float))
            entry['sum_sq'] = float(np.nansum(np.square(as_float)))
            entry['samples'] = as_float[index].tolist()
        else:
            entry['samples'] = [str(v) for v in flat[index]]
        out[name] = entry
    return out


def assert_fingerprint_matches(actual, reference):
    """
    Assert that two fingerprints describe the same arrays.

    Parameters
    ----------
    actual, reference : dict
        Fingerprints (see `fingerprint`).

    Raises
    ------
    AssertionError
        Naming the first array whose names, shape, kind, exact values
        (integers, booleans, strings) or floating-point values (beyond
        `RTOL` of the array's scale) differ.
    """
    assert sorted(actual) == sorted(reference), \
        f'arrays differ: {sorted(actual)} against {sorted(reference)}'
    for name, ref in reference.items():
        got = actual[name]
        assert got['shape'] == ref['shape'], f'{name}: shape differs'
        assert got['kind'] == ref['kind'], f'{name}: dtype kind differs'
        assert got.get('n_nan') == ref.get('n_nan'), \
            f'{name}: NaN count differs'
        if ref['kind'] != 'f':
            assert got == ref, f'{name}: values differ'
            continue
        n = max(int(np.prod(ref['shape'])), 1)
        scale = np.sqrt(ref['sum_sq'] / n) or 1.0
        # Each value may move by RTOL * scale: a sum of n of them by n
        # times that, a sum of squares by 2 n scale times that.
        atol = {'samples': RTOL * scale, 'sum': RTOL * scale * n,
                'sum_sq': 2 * RTOL * scale ** 2 * n}
        for key, tolerance in atol.items():
            np.testing.assert_allclose(got[key], ref[key], rtol=RTOL,
                                       atol=tolerance,
                                       err_msg=f'{name}: {key} differs')


def _record():  # pragma: no cover - run by hand, on purpose only
    from . import test_single_band_unchanged as t
    fingerprints = {key: fingerprint(make()) for key, make in
                    t.FINGERPRINTED.items()}
    REFERENCE_PATH.write_text(json.dumps(fingerprints, indent=1,
                                         sort_keys=True) + '\n')
    print(f'wrote {REFERENCE_PATH}')


if __name__ == '__main__':  # pragma: no cover
    _record()
