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
is the runner's Markdown, its cells copied verbatim into a reST table with
one row per metric and one column per method (the Markdown has 29 columns,
too wide for a page).  Several run directories may be given (e.g. one per
preset).  ``--rst-only`` rewrites ``results.rst`` from the runs already
copied into ``docs/benchmarks/`` (give their names).
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
FILES = ('summary.md', 'summary.ecsv', 'curves.ecsv', 'meta.json')
PLOTS = ('recall_vs_separation.png', 'flux_error_vs_blendedness.png')


def markdown_table(text):
    """
    The header and rows of the first Markdown pipe table in ``text``, and
    the text after it.
    """
    lines = text.strip().splitlines()
    table = [line for line in lines if line.startswith('|')]
    rest = [line for line in lines if line.strip() and not line.startswith('|')]
    cells = [[cell.strip() for cell in line.strip().strip('|').split('|')]
             for line in table]
    header, rows = cells[0], [row for row in cells[2:]]
    return header, rows, rest


def transposed_list_table(header, rows, caption):
    """A reST list-table: one row per column of the Markdown table."""
    lines = [f'.. list-table:: {caption}', '   :header-rows: 1',
             '   :stub-columns: 1', '   :class: benchmark-table', '']
    columns = list(zip(header, *rows))
    for index, column in enumerate(columns):
        name, *values = column
        if index == 0:
            name = 'metric'
        cells = [name] + list(values)
        lines.append(f'   * - {cells[0]}')
        lines += [f'     - {cell}' for cell in cells[1:]]
    return lines + ['']


def wrapped_command(command, width=72):
    r"""
    The lines of ``command`` broken before its options (shell continuation
    lines), none longer than ``width`` where an option allows it, so that
    the page shows the whole command without scrolling.

    Examples
    --------
    >>> wrapped_command('python run.py --a 1 --b 2', width=16)
    ['python run.py \\', '    --a 1 --b 2']
    """
    words = command.split(' --')
    parts = [words[0]] + ['--' + word for word in words[1:]]
    lines, line = [], ''
    for part in parts:
        if line.strip() and len(line) + 1 + len(part) > width:
            lines.append(line + ' \\')
            line = '    ' + part
        else:
            line = f'{line} {part}' if line else part
    return lines + [line]


def section(name, meta, plots, summary):
    """The reST of one run."""
    title = f'Run ``{name}``'
    versions = ', '.join(f'{k} {v}' for k, v in
                         sorted(meta.get('versions', {}).items()))
    lines = [title, '-' * len(title), '',
             'Made on {} with::'.format(meta.get('date', '(date not recorded)')),
             '', *(f'    {line}' for line in wrapped_command(
                 f'python benchmarks/{meta.get("command", "run.py")}')), '',
             f'Machine: {meta.get("machine", "?")}, '
             f'{meta.get("cpu_count", "?")} CPUs.  Versions: {versions}.', '',
             'The summary table, as written by the runner '
             f'(``docs/benchmarks/{name}/summary.md``, one row per metric '
             'here; the same numbers with more digits are in '
             '``summary.ecsv``; the metrics are defined above):', '']
    header, rows, rest = markdown_table(summary)
    lines += transposed_list_table(header, rows, f'Summary of run {name}')
    lines += [' '.join(rest), '']
    for plot in plots:
        lines += [f'.. image:: /benchmarks/{name}/{plot}', f'   :alt: {plot}', '']
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('runs', nargs='+', help='benchmark output directories')
    parser.add_argument('--rst-only', action='store_true',
                        help='only rewrite results.rst from docs/benchmarks/RUN')
    args = parser.parse_args(argv)
    lines = []
    for run in map(Path, args.runs):
        if args.rst_only:
            run = DOCS / 'benchmarks' / run.name
        missing = [f for f in ('summary.md', 'meta.json')
                   if not (run / f).exists()]
        if missing:
            print(f'{run}: missing {missing}; run benchmarks/run.py first',
                  file=sys.stderr)
            return 1
        target = DOCS / 'benchmarks' / run.name
        if not args.rst_only:
            target.mkdir(parents=True, exist_ok=True)
            for name in FILES + PLOTS:
                if (run / name).exists():
                    shutil.copy2(run / name, target / name)
        meta = json.loads((run / 'meta.json').read_text())
        lines += section(run.name, meta,
                         [p for p in PLOTS if (run / p).exists()],
                         (run / 'summary.md').read_text())
    (DOCS / 'benchmarks' / 'results.rst').write_text('\n'.join(lines) + '\n')
    print(f'wrote {DOCS / "benchmarks" / "results.rst"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
