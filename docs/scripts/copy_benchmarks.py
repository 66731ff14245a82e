#!/usr/bin/env python
"""
Copy the outputs of ``benchmarks/run.py`` into the documentation.

Usage (from the repository root, after a benchmark run)::

    python docs/scripts/copy_benchmarks.py benchmarks/results/hst

copies ``summary.md``, ``summary.ecsv``, ``curves.ecsv``, ``meta.json``
and the PNG plots of that run, unchanged, into ``docs/benchmarks/<name>/``
(``<name>`` is the run directory's name) and rewrites
``docs/benchmarks/results.rst``, which the Benchmarks page includes, to
show them with the command, the date and the machine recorded by the
runner in ``meta.json``.  No number is written by this script: the table
is the runner's Markdown, included verbatim.  Several run directories
may be given (e.g. one per preset).
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
FILES = ('summary.md', 'summary.ecsv', 'curves.ecsv', 'meta.json')
PLOTS = ('recall_vs_separation.png', 'flux_error_vs_blendedness.png')


def section(name, meta, plots):
    """The reST of one run."""
    title = f'Run ``{name}``'
    versions = ', '.join(f'{k} {v}' for k, v in
                         sorted(meta.get('versions', {}).items()))
    lines = [title, '-' * len(title), '',
             'Made on {} with::'.format(meta.get('date', '(date not recorded)')),
             '', f'    python benchmarks/{meta.get("command", "run.py")}', '',
             f'Machine: {meta.get("machine", "?")}, '
             f'{meta.get("cpu_count", "?")} CPUs.  Versions: {versions}.', '',
             'The summary table, as written by the runner '
             f'(``docs/benchmarks/{name}/summary.md``; the same numbers '
             f'with more digits are in ``summary.ecsv``):', '',
             f'.. literalinclude:: /benchmarks/{name}/summary.md', '   :language: text',
             '']
    for plot in plots:
        lines += [f'.. image:: /benchmarks/{name}/{plot}', f'   :alt: {plot}', '']
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('runs', nargs='+', help='benchmark output directories')
    args = parser.parse_args(argv)
    lines = []
    for run in map(Path, args.runs):
        missing = [f for f in ('summary.md', 'meta.json')
                   if not (run / f).exists()]
        if missing:
            print(f'{run}: missing {missing}; run benchmarks/run.py first',
                  file=sys.stderr)
            return 1
        target = DOCS / 'benchmarks' / run.name
        target.mkdir(parents=True, exist_ok=True)
        for name in FILES + PLOTS:
            if (run / name).exists():
                shutil.copy2(run / name, target / name)
        meta = json.loads((run / 'meta.json').read_text())
        lines += section(run.name, meta,
                         [p for p in PLOTS if (run / p).exists()])
    (DOCS / 'benchmarks' / 'results.rst').write_text('\n'.join(lines) + '\n')
    print(f'wrote {DOCS / "benchmarks" / "results.rst"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
