"""Sphinx configuration of the skdropbn documentation.

Build (from the repository root)::

    pip install -e ".[tensorflow,docs]"
    sphinx-build -W -b html docs docs/_build/html

Without running the examples (fast; the pages that show their plots then
have none)::

    sphinx-build -W -b html -D plot_gallery=0 docs docs/_build/html
"""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout, installed or not
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # this build's process only
os.environ.setdefault("MPLBACKEND", "Agg")

import skdropbn  # noqa: E402

project = "skdropbn"
author = "the skdropbn developers"
copyright = "the skdropbn developers"
version = release = skdropbn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "**/GALLERY_HEADER.rst",
    "sg_execution_times.rst",
    "_benchmark_results.rst",  # included by benchmarks.rst
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
default_role = "py:obj"

# -- API reference -------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# Methods are listed by the autosummary class template, not by numpydoc.
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

# -- examples gallery ----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # The gallery is examples/plot_*.py; the command-line scripts beside them
    # (grid_search.py, red_wine_lesson.py) are not gallery examples.
    "filename_pattern": r"plot_",
    "ignore_pattern": r"^((?!plot_).)*$",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skdropbn",),
    "reference_url": {"skdropbn": None},
    "backreferences_dir": "gen_modules/backreferences",
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "min_reported_time": 1,
    "show_memory": False,
    "download_all_examples": False,
}

# -- HTML ------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skdropbn {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# The section navigation on the left only where there are sibling pages to
# jump between (the API reference); elsewhere the text gets the room.
html_sidebars = {
    page: []
    for page in [
        "index",
        "install",
        "quickstart",
        "user_guide",
        "persistence",
        "distributed",
        "benchmarks",
        "api",
    ]
} | {"auto_examples/**": []}


def _write_benchmark_results(app):
    """List ``benchmarks/results/*.md`` for benchmarks.rst to include."""
    folder = ROOT / "benchmarks" / "results"
    sections = [  # (title or None when the files bring their own, pattern)
        ("Speed", "speed-*.md"),
        ("Accuracy and interval coverage", "accuracy-*.md"),
        (None, "calibration*.md"),
        ("Large data", "large-data*.md"),
    ]
    results, lines = [], []
    for title, pattern in sections:
        paths = sorted(folder.glob(pattern))
        if paths and title:
            lines += [title, "-" * len(title), ""]
        for path in paths:
            rel = os.path.relpath(path, DOCS)
            lines += [f".. include:: {rel}", "   :parser: myst_parser.sphinx_", ""]
        results += paths
    if not results:
        lines = [
            ".. note::",
            "",
            "   No benchmark results in this checkout: run the scripts in",
            "   ``benchmarks/``, which write ``benchmarks/results/*.md``, and",
            "   rebuild the documentation.",
            "",
        ]
    target = DOCS / "_benchmark_results.rst"
    text = "\n".join(lines)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def _quiet_missing_plots(app, config):
    """Without running the examples, their images are missing: not an error."""
    if str(config.sphinx_gallery_conf.get("plot_gallery", True)).lower() in (
        "0",
        "false",
        "no",
    ) or str(getattr(config, "plot_gallery", True)).lower() in ("0", "false", "no"):
        config.suppress_warnings = [*config.suppress_warnings, "image.not_readable"]


_SHAPE = re.compile(r"of shape \(([^)]*)\)")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])(\w+_)(?![`\w])")
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<([^>]*)>)?`")


def _fix_docstring(app, what, name, obj, options, lines):
    """Make docstrings written for scikit-learn's own site build here.

    - ``of shape (n_features_in_,)``: a word ending in ``_`` is a reference
      target in reStructuredText; quote it as scikit-learn does.
    - Methods inherited from scikit-learn (``score``, ``set_params``, the
      metadata-routing ``set_*_request``) refer to labels and glossary terms
      of scikit-learn's site: keep their text, drop the link.
    """
    from_sklearn = getattr(obj, "__module__", "").startswith("sklearn")
    for i, line in enumerate(lines):
        line = _SHAPE.sub(
            lambda m: "of shape (" + _TRAILING_UNDERSCORE.sub(r"`\1`", m[1]) + ")",
            line,
        )
        if from_sklearn:
            line = _SKLEARN_ROLE.sub(lambda m: m[1] or m[2], line)
        lines[i] = line


def setup(app):
    app.connect("autodoc-process-docstring", _fix_docstring)
    app.connect("builder-inited", _write_benchmark_results)
    app.connect("config-inited", _quiet_missing_plots, priority=900)
