# Sphinx configuration for astropais, built on sphinx-astropy.

import datetime
import os
import sys

from sphinx_astropy.conf.v2 import *  # noqa: F401,F403

sys.path.insert(0, os.path.abspath('..'))

from astropais import __version__  # noqa: E402

project = 'astropais'
author = 'The astropais developers'
copyright = f'{datetime.date.today().year}, {author}'
version = __version__.split('+')[0]
release = __version__

extensions += ['matplotlib.sphinxext.plot_directive',  # noqa: F405
               'sphinx_gallery.gen_gallery']

# The user guide and the tutorials are Python scripts executed at every
# build by sphinx-gallery (files named plot_*.py; the scarlet2 tutorial's
# fit takes about a minute).  Their pages are generated under generated/
# (not committed).  Keep them small: the whole build must stay within a few
# minutes on a two-core machine.
sphinx_gallery_conf = {
    'examples_dirs': ['guide', 'tutorials'],
    'gallery_dirs': ['generated/guide', 'generated/tutorials'],
    'filename_pattern': r'/plot_',
    'ignore_pattern': r'__init__\.py',
    'within_subsection_order': 'FileNameSortKey',
    'download_all_examples': False,
    'remove_config_comments': True,
    'reset_modules': ('matplotlib',),
    'show_memory': False,
    'min_reported_time': 1,
    'thumbnail_size': (320, 240),
    'capture_repr': ('_repr_html_', '__repr__'),
}

# The build machines have no network: never fetch remote inventories, so the
# build neither hangs nor warns.  Cross-references to numpy/astropy/photutils
# render as plain literals.
intersphinx_mapping = {}
nitpicky = False

html_theme_options = {
    'github_url': '',
    'use_edit_page_button': False,
    # The benchmark tables need the width of the page's right column.
    'secondary_sidebar_items': {'**': ['page-toc', 'sourcelink'],
                                'benchmarks': []},
}
html_title = f'{project} v{release}'
# _static/ holds MathJax 3 (es5/tex-svg.js from the mathjax npm package,
# Apache-2.0, LICENSE beside it): the mathematics renders without a network
# (SVG output needs no font files).
html_static_path = ['_static']
mathjax_path = 'mathjax/tex-svg.js'
html_css_files = ['astropais.css']
html_logo = None
html_favicon = None

plot_include_source = True
plot_formats = [('png', 100)]
plot_html_show_formats = False
plot_html_show_source_link = False

exclude_patterns += ['_build', '**.ipynb_checkpoints', 'scripts',  # noqa: F405
                     'guide/*.rst', 'tutorials/*.rst',
                     # The two guide pages are listed in index.rst; their
                     # gallery index page is not needed.
                     'generated/guide/index.rst',
                     'benchmarks/*.md', 'benchmarks/**/*.md',
                     'benchmarks/results.rst']
automodapi_toctreedirnm = 'api/generated'
automodsumm_inherited_members = False
numpydoc_show_class_members = False
