"""Sphinx configuration of the course website (``make site``; scripts/build_site.py stages the
sources: this folder, the lecture notebooks, the projects page, docs/teaching.md).

Notebooks are rendered from their stored outputs (``nb_execution_mode = "off"``): the site
shows exactly what nbval re-checks in CI, and building it takes seconds, not the hours of
training the lectures contain.
"""

import os
import sys

# The package documented by autodoc: the checkout the site is built from.
sys.path.insert(0, os.environ.get("COURSEKIT_SITE_ROOT", os.path.abspath("../..")))

import coursekit  # noqa: E402

project = "coursekit: deep learning for label-free microscopy"
author = "coursekit developers"
copyright = "coursekit developers; code BSD-3-Clause, course text and figures CC-BY-4.0"
release = version = coursekit.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_lectures_table.md"]  # included by index.md

nb_execution_mode = "off"  # stored outputs only
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_ivar = True  # "Attributes" sections as fields: no duplicate of autodoc's members

html_theme = "alabaster"
html_title = "coursekit"
html_theme_options = {"page_width": "1100px", "sidebar_width": "240px", "fixed_sidebar": True}
html_show_sourcelink = False
# Cross-references to other projects' docs would need the network: not resolved.
# Docstring types such as "shape" or "path" name attributes of several classes: ambiguous
# cross-references are left as plain text instead of a warning each.
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header", "ref.python"]
