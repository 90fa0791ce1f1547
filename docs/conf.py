"""Sphinx configuration of the igmtf-sklearn documentation.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (needs the
``docs`` extra). The gallery runs ``examples/plot_*.py`` on the simulated market;
the other example scripts need real data and are shown, not run.
"""

from __future__ import annotations

import os
import warnings

# Small networks: one torch thread is the fastest, and the build may share the machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import igmtf_sklearn

project = "igmtf-sklearn"
author = "igmtf-sklearn contributors"
copyright = "igmtf-sklearn contributors"
release = igmtf_sklearn.__version__
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "**.zip"]
templates_path = ["_templates"]

# -- MyST: the docs/*.md pages are plain GitHub Markdown ----------------------
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 4

# -- API reference ----------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False

# -- Gallery -----------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Run only the plot_*.py scripts (simulated market, seconds each); the others
    # need real data and show their recorded output in their docstring.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
}
# The estimators' progress output and numba's first compilation are not errors.
warnings.filterwarnings("ignore", message=".*non-interactive.*")

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"igmtf-sklearn {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"changelog": [], "qlib_migration": []}
