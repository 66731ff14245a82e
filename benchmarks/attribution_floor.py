"""
How much of each method's blended-source flux error comes from what it
detected, and how much from how it split the light.

For every method's own detections on the benchmark's fields, the *ideal
split* shares each pixel of the method's own footprint among its detections
that match a true source, in proportion to the true images of the sources
they match (`astropais.metrics.attribution_from_source_images`; spurious
detections get nothing, undetected sources' light stays with the detected
ones).  Its median error over the blended sources is the floor a perfect
attribution would reach with those detections: the rest of the method's
error is its attribution.  Both are scored exactly as ``benchmarks/run.py``
scores ``deblend_err_median_blended`` (matched sources with blendedness >=
0.1 and S/N >= 10, against the true flux inside photutils' footprint, same
matching radius).

Usage (the field options are those of ``benchmarks/run.py``)::

    python benchmarks/attribution_floor.py --preset hst --fields 20
    python benchmarks/attribution_floor.py --preset hst --fields 40 \\
        --seed 3000 --density 1500

prints, per method, the number of blended sources scored, the median
split error and the median error of the ideal split.
"""

import dataclasses
import sys
import warnings

import numpy as np

import run
from peers import photutils_peer

# photutils first: the others are scored against its footprint.
_METHODS = ('photutils', 'sep', 'astropais')


def ideal_fluxes(result, scene, match):
    """
    Fluxes of a perfect split of a method's own footprint among its
    detections that match a true source (NaN for the others).

    Parameters
    ----------
    result : `peers.base.PeerResult`
        The method's result (positions and attribution).
    scene : `astropais.simulation.Scene`
        The field, with its true source images.
    match : `astropais.metrics.SourceMatch`
        The matching of the method's detections to true sources.

    Returns
    -------
    fluxes : `~numpy.ndarray`
        One flux per detection.
    """
    from astropais.metrics import attribution_from_source_images
    from astropais.pcr import SourceImages

    footprint = np.zeros(scene.image.shape, dtype=bool)
    footprint.flat[result.attribution.pixels] = True
    models = SourceImages(scene.image.shape,
                          [scene.sources.cutouts[t] for t in match.true_index],
                          scene.sources.origins[match.true_index])
    positions = np.asarray(result.positions).reshape(-1, 2)
    attribution = attribution_from_source_images(
        models, footprint, positions[match.detected_index])
    fluxes = np.full(len(positions), np.nan)
    fluxes[match.detected_index] = attribution.fluxes(scene.image)
    return fluxes


def main(argv=None):
    args = run.build_parser().parse_args(argv)
    ready, skipped = run.check_peers(args, list(_METHODS))
    for name, why in skipped.items():
        print(f'[skip] {name}: {why}')
    if 'photutils' not in ready:
        raise SystemExit('photutils is needed (its footprint defines the '
                         'true fluxes)')
    errors = {name: ([], []) for name in ready}
    for index in range(args.fields):
        scene = run.make_field(args, index)
        kernel = photutils_peer.detection_kernel(float(scene.psf_fwhm_pixels))
        results = {}
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            for name in ready:
                results[name] = run.run_method(name, ready, scene,
                                               results.get('photutils'),
                                               args, kernel)
        for name, result in results.items():
            # Scored exactly as the runner scores its deblend_err columns;
            # the ideal split only replaces the fluxes (same detections,
            # so the same matching).
            scores = run.score_result(scene, result, results['photutils'],
                                      args)
            ideal = dataclasses.replace(
                result, fluxes=ideal_fluxes(result, scene, scores.match))
            ideal_scores = run.score_result(scene, ideal,
                                            results['photutils'], args)
            blended = scores.true['blendedness'] >= run.BLENDED
            errors[name][0].append(scores.true['deblend_error'][blended])
            errors[name][1].append(
                ideal_scores.true['deblend_error'][blended])
    print(f'{args.fields} {args.preset} fields, seeds {args.seed}-'
          f'{args.seed + args.fields - 1}, density {args.density}')
    for name, (real, ideal) in errors.items():
        real, ideal = np.concatenate(real), np.concatenate(ideal)
        print(f'{name:10s} blended sources {np.isfinite(real).sum():4d}: '
              f'split error {np.nanmedian(real):.3f}, ideal split of its '
              f'own detections {np.nanmedian(ideal):.3f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
