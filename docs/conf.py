"""Sphinx configuration of pdeflow's documentation.

    python -m sphinx -W -b html docs docs/_build          # the site, gallery examples run
    python -m sphinx -W -b html -D plot_gallery=0 docs docs/_build   # without running them

The gallery runs every script of ``examples/`` in its short setting (``PDEFLOW_DOCS_SHORT=1``,
under a minute each on two cores) and shows the figure it writes. The spec reference and the
preset list are generated when the build starts, from ``python -m pdeflow.spec_reference`` and
``pdeflow presets`` (``docs/_ext/pdeflow_docs.py``), so they cannot drift from the code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the checkout's pdeflow, not an installed copy
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("PDEFLOW_DOCS_SHORT", "1")  # the gallery's short setting
os.environ.setdefault("MPLBACKEND", "Agg")

import pdeflow  # noqa: E402

project = "pdeflow"
author = "the pdeflow developers"
copyright = "the pdeflow developers"  # noqa: A001
release = version = pdeflow.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinxarg.ext",
    "sphinx_gallery.gen_gallery",
    "pdeflow_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json",
                    "_generated/*"]
root_doc = "index"
smartquotes_action = "qe"  # curly quotes and ellipses, but "--out" stays two hyphens

# -- MyST: the guide is Markdown with $…$ / $$…$$ math ---------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- API reference ---------------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
python_maximum_signature_line_length = 90
autodoc_typehints_format = "short"
autodoc_class_signature = "mixed"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
napoleon_use_param = False  # types as text: no ambiguous cross-references
napoleon_use_ivar = True  # attributes as fields, not second descriptions of the members
napoleon_preprocess_types = False
python_use_unqualified_type_names = True
add_module_names = False

# -- gallery ---------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",          # run every example (they are scripts, not plot_*.py)
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "pdeflow_docs.ExampleOrder",
    "reset_argv": "pdeflow_docs.reset_argv",  # --out into the build directory
    "image_scrapers": ("pdeflow_docs.scrape_pngs",),  # the PNG files each example writes
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "show_memory": False,
    "show_signature": False,
    "min_reported_time": 0,
    "capture_repr": (),
    "first_notebook_cell": None,
}

# -- HTML ------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"pdeflow {release}"
html_static_path = ["_static"]
html_css_files = ["pdeflow.css"]
html_show_sourcelink = False
# MathJax from its CDN (Sphinx's default); an offline build can point this at a local copy, e.g.
# PDEFLOW_DOCS_MATHJAX="file:///usr/share/javascript/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML"
if os.environ.get("PDEFLOW_DOCS_MATHJAX"):
    mathjax_path = os.environ["PDEFLOW_DOCS_MATHJAX"]
    if "MathJax.js" in mathjax_path:  # MathJax 2 (Debian's libjs-mathjax): its own configuration
        myst_update_mathjax = False
        mathjax2_config = {"tex2jax": {"inlineMath": [["\\(", "\\)"]],
                                       "displayMath": [["\\[", "\\]"]]}}
