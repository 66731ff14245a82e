# Sphinx configuration for astropais, built on sphinx-astropy.

import datetime
import os
import sys

from sphinx_astropy.conf.v2 import *  # noqa: F401,F403

sys.path.insert(0, os.path.abspath('..'))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from astropais import __version__  # noqa: E402

project = 'astropais'
author = 'The astropais developers'
copyright = f'{datetime.date.today().year}, {author}'
version = __version__.split('+')[0]
release = __version__

extensions += ['matplotlib.sphinxext.plot_directive']  # noqa: F405

# The build machines have no network: never fetch remote inventories, so the
# build neither hangs nor warns.  Cross-references to numpy/astropy/photutils
# render as plain literals.
intersphinx_mapping = {}
nitpicky = False

html_theme_options = {
    'github_url': '',
    'use_edit_page_button': False,
}
html_title = f'{project} v{release}'
html_static_path = []
html_logo = None
html_favicon = None

plot_include_source = True
plot_formats = [('png', 100)]
plot_html_show_formats = False
plot_html_show_source_link = False

exclude_patterns += ['_build', '**.ipynb_checkpoints']  # noqa: F405
automodapi_toctreedirnm = 'api/generated'
automodsumm_inherited_members = False
numpydoc_show_class_members = False
