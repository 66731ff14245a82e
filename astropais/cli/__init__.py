"""
The ``astropais`` command line.

Every module in this package (other than :mod:`astropais.cli.main`) that
defines ``add_parser(subparsers)`` contributes one subcommand; the function
registers an :mod:`argparse` sub-parser and sets its ``func`` default to a
callable taking the parsed arguments and returning an exit status.  The
commands are thin: they parse, call the library and report.
"""
