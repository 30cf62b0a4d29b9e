"""Sphinx configuration of the skdropbn documentation.

Build (from the repository root)::

    pip install -e ".[tensorflow,docs]"
    sphinx-build -W -b html docs docs/_build/html

Without running the examples (fast; the example pages then show no plots)::

    sphinx-build -W -b html -D plot_gallery=0 docs docs/_build/html

The user guide's figures are the PNG files in ``docs/images``, so that they
show in either build. The full build refreshes them from the examples it ran
(``_ship_user_guide_figures``): commit them when they change.
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
    "sphinx.ext.viewcode",  # [source] links from the API pages to the code
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
    "_benchmark_results/*",  # written by conf.py, included by the above
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
default_role = "py:obj"

# -- API reference -------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# The page's table of contents names a method "fit()", not
# "DropBNRegressor.fit()": the class is the page's title, and the long form
# did not fit the sidebar.
toc_object_entries_show_parents = "hide"
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
    # Install ... API in the top bar, the last two pages under "More": all
    # eight do not fit beside the search button at 1280 px.
    "header_links_before_dropdown": 6,
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


# benchmarks/results/*.md on the benchmarks page, each under its own heading:
# (file, heading, what it shows and which direction is better, how much of it
# is folded away). "notes" folds the measurement details (long paragraphs and
# lists) and shows the tables; "all" folds the whole file (the history of how
# the defaults were chosen, and runs superseded by later ones).
BENCHMARK_SECTIONS = {
    "Accuracy of the defaults": [
        (
            "accuracy-defaults.md",
            "Regression: the defaults against MLPRegressor and HistGradientBoosting",
            "Cross-validated error (MAE or RMSE: lower is better) of every model "
            "at its defaults. *DropBN vs HistGB* is DropBN's error relative to "
            "HistGradientBoosting's: negative means DropBN is better. *90% "
            "coverage* is the share of held-out targets inside the 90% intervals "
            "of ``predict(X, return_std=True)``: 0.90 is right.",
            "notes",
        ),
        (
            "committee.md",
            "A committee of networks (n_members) against the single network",
            "Cross-validated error of the regressor's defaults with each "
            "override, side by side in one run; *ratio* is the error relative "
            "to the first row's (below 1 is better). Chosen on these two "
            "datasets; not yet confirmed on others, so the default stays "
            "``n_members=1``.",
            "notes",
        ),
        (
            "accuracy-suite.md",
            "The wider evaluation: 12 regression and 8 classification sets",
            "Cross-validated error (RMSE or log loss: lower is better) of every "
            "model at its defaults on public data the defaults were not chosen "
            "on, with its ratio to HistGradientBoosting's (below 1 is better) "
            "and seconds per 5-fold CV; then the committee against the default.",
            "notes",
        ),
        (
            "embedding-indicators.md",
            "The periodic embedding on one-hot indicators: off against on",
            "Cross-validated RMSE (lower is better) of the regressor's defaults "
            "with two-valued columns left out of the periodic embedding (now) "
            "and embedded like the others (before), and seconds per 5-fold CV.",
            "notes",
        ),
        (
            "calibration.md",
            "Classification: predicted probabilities",
            "Held-out log loss, Brier score and expected calibration error (ECE): "
            "lower is better; accuracy: higher is better. The best value of each "
            "column is in bold.",
            "notes",
        ),
    ],
    "Grid searches": [
        (
            "accuracy-grid-red-mae.md",
            "Red wine: dropout x depth x units, trained on MAE",
            "The best candidate's cross-validated MAE (lower is better; slightly "
            "optimistic, being the best of the grid) against HistGradientBoosting "
            "on the same folds (0.4391).",
            "notes",
        ),
        (
            "accuracy-grid-white-mae.md",
            "White wine: dropout x depth, trained on MAE",
            "The best candidate's cross-validated MAE (lower is better) against "
            "HistGradientBoosting on the same folds (0.4897).",
            "notes",
        ),
    ],
    "Speed": [
        (
            "speed-tensorflow.md",
            "TensorFlow backend (the default)",
            "Times: lower is better. *ratio* is how many times faster skdropbn is "
            "than the first baseline; *target* is this project's own goal for the "
            "row, and *result* says whether it was met.",
            "notes",
        ),
        (
            "speed-jax.md",
            "JAX backend",
            "As above, under ``KERAS_BACKEND=jax``, where ``model.fit`` is itself "
            "compiled, so the ratios to it are smaller.",
            "notes",
        ),
        (
            "speed-torch.md",
            "PyTorch backend",
            "As above, under ``KERAS_BACKEND=torch``, where both skdropbn's epoch "
            "and ``model.fit`` run eagerly.",
            "notes",
        ),
        (
            "large-data.md",
            "Memory on 1,000,000 rows",
            "Peak memory and time of one epoch on 1,000,000 x 50 (lower is "
            "better); *extra memory* is what the fit needs beyond ``X`` itself.",
            "notes",
        ),
        (
            "import-time.md",
            "Import time",
            "What ``import skdropbn`` adds to ``import numpy, sklearn.base``, "
            "median of fresh interpreters (lower is better; the target is at "
            "most 60 ms), and the largest imports of other packages it makes.",
            "notes",
        ),
        (
            "cold-start.md",
            "The first fit",
            "A first fit in a fresh interpreter after the backend's import, and "
            "a new architecture's first fit in a warm process against a cached "
            "one (lower is better; the targets are 1.5 s and 1 s more).",
            "notes",
        ),
        (
            "n-jobs.md",
            "n_jobs",
            "A grid search with ``n_jobs=1``, ``n_jobs=2`` (loky) and two threads "
            "(lower time and higher speed-up are better), and the threads each "
            "worker of ``n_jobs=-1`` would start on bigger machines.",
            "notes",
        ),
        (
            "partial-fit.md",
            "partial_fit on 256-row chunks",
            "The time of a ``partial_fit`` call on 256 rows against what the same "
            "256 rows cost inside a ``fit`` epoch (lower is better; the target "
            "is at most 1.5x), and the compilations over calls of seven sizes.",
            "notes",
        ),
        (
            "out-of-core.md",
            "Fitting from an 8 GiB file",
            "A fit streamed from an on-disk ``memmap`` against a fit on a "
            "subsample held in memory: test RMSE (lower is better; the noise "
            "floor is 0.30), time, and the peak extra memory (target: at most "
            "1 GiB).",
            "notes",
        ),
    ],
    "Reliability and saved files": [
        (
            "reliability-soak-tensorflow.md",
            "Soak and failure cases, TensorFlow backend",
            "Each case in a fresh interpreter: lines printed (0 is right), RSS "
            "growth per fit over 60 fits cycling 20 architectures (lower is "
            "better; the target is at most 1 MB), a fit in a forked child "
            "(an immediate error is right), extreme targets and weights (finite "
            "predictions and a kept epoch are right), and a wide fit's peak "
            "memory as a multiple of its weights (lower is better).",
            "notes",
        ),
        (
            "reliability-soak-jax.md",
            "Soak and failure cases, JAX backend",
            "As above, under ``KERAS_BACKEND=jax``.",
            "notes",
        ),
        (
            "wide-fit-memory.md",
            "Peak memory of wide fits",
            "The peak resident memory of a fit of two wide hidden layers, as a "
            "multiple of the network's float32 weights, under both backends "
            "(lower is better; the target is at most 8x).",
            "notes",
        ),
        (
            "hostile-files.md",
            "Loading hostile files",
            "Crafted files (zip bombs, huge declared arrays, deep nesting) against "
            "``skdropbn.load``: extra memory and time (lower is better) before "
            "the ``ValueError`` that must come out.",
            "notes",
        ),
        (
            "cross-backend-fits.md",
            "Same-seed fits across backends",
            "The golden fits of the test suite under each backend: the largest "
            "difference from the file written under TensorFlow, relative to "
            "each value's scale (the test's tolerance is 1e-4; lower is closer).",
            "notes",
        ),
        (
            "cross-backend-files.md",
            "Files across backends",
            "Saved under one backend, loaded under the other: the largest "
            "difference of the predictions (0 is right).",
            "notes",
        ),
        (
            "mlflow-check.md",
            "MLflow",
            "Logging and loading through MLflow's skops flavour: identical "
            "predictions are right.",
            "notes",
        ),
    ],
    "History: how the defaults were chosen": [
        (
            "accuracy-ablation.md",
            "One change at a time",
            "The rounds of experiments that chose the defaults (errors: lower is "
            "better).",
            "all",
        ),
        (
            "calibration-embedding.md",
            "The classifier with the feature embedding",
            "Why the classifier does not embed its features by default (lower "
            "log loss is better).",
            "all",
        ),
        (
            "accuracy-wine.md",
            "Wine, before weight averaging",
            "Superseded by the tables above; kept as the squared-error searches "
            "that the MAE-trained ones are compared with.",
            "all",
        ),
        (
            "accuracy-grid-red.md",
            "Red wine search, before weight averaging",
            "Superseded likewise.",
            "all",
        ),
    ],
}
_NAN_CELL = re.compile(r"^[+-]?nan%?$")


def _split_blocks(text):
    """Markdown text as blocks separated by blank lines (fences kept whole)."""
    blocks, current, fenced = [], [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append(current)
            current = []
        else:
            current.append(line)
    if current:
        blocks.append(current)
    return blocks


def _clean_table(block):
    """Drop columns with no value (``nan``); mark a missing cell "not run"."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block]
    body = rows[2:]
    keep = [
        i
        for i in range(len(rows[0]))
        if not body or not all(_NAN_CELL.match(r[i]) for r in body if i < len(r))
    ]
    out = []
    for n, row in enumerate(rows):
        cells = [row[i] if i < len(row) else "" for i in keep]
        if n >= 2:
            cells = ["not run" if _NAN_CELL.match(c) else c for c in cells]
        else:
            better = "DropBN vs HistGB (negative: DropBN better)"
            cells = [c.replace("DropBN vs HistGB", better) for c in cells]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _results_markdown(text, fold):
    """A results file as shown: tables in view, the rest folded as asked."""
    shown, folded = [], []
    for block in _split_blocks(text):
        first = block[0]
        if first.startswith("# "):  # the page gives each file its own heading
            continue
        if first.startswith("#"):  # a subsection of the file: a bold line
            block = ["**" + first.lstrip("#").strip().replace("_", " ") + "**"]
        elif first.startswith("|"):
            block = _clean_table(block)
        is_detail = fold == "all" or (
            fold == "notes"
            and not first.startswith(("|", "#", "```"))
            and (first.startswith("- ") or len(" ".join(block)) > 300)
        )
        (folded if is_detail else shown).append("\n".join(block))
    if folded:
        summary = "the whole table" if fold == "all" else "how it was measured"
        shown += [
            f"<details><summary>Show {summary}</summary>",
            *folded,
            "</details>",
        ]
    return "\n\n".join(shown) + "\n"


def _write_benchmark_results(app):
    """Write the results section of benchmarks.rst from benchmarks/results."""
    folder = ROOT / "benchmarks" / "results"
    out = DOCS / "_benchmark_results"
    out.mkdir(exist_ok=True)
    lines, listed = [], set()
    for section, files in BENCHMARK_SECTIONS.items():
        present = [f for f in files if (folder / f[0]).exists()]
        if present:
            lines += [section, "-" * len(section), ""]
        for name, title, intro, fold in present:
            listed.add(name)
            target = out / name
            text = _results_markdown((folder / name).read_text(), fold)
            if not target.exists() or target.read_text() != text:
                target.write_text(text)
            label = "results-" + name.removesuffix(".md")
            lines += [f".. _{label}:", "", title, "~" * len(title), "", intro, ""]
            lines += [f"From ``benchmarks/results/{name}``.", ""]
            lines += [
                f".. include:: _benchmark_results/{name}",
                "   :parser: myst_parser.sphinx_",
                "",
            ]
    unlisted = sorted(p.name for p in folder.glob("*.md") if p.name not in listed)
    if unlisted:
        # A new results file must be given a heading above, not dropped.
        raise RuntimeError(f"benchmarks/results files not on the page: {unlisted}")
    if not listed:
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


def _runs_gallery(config):
    """Whether this build runs the examples (not ``-D plot_gallery=0``)."""
    values = [config.sphinx_gallery_conf.get("plot_gallery", True)]
    values.append(getattr(config, "plot_gallery", True))
    return not any(str(v).lower() in ("0", "false", "no") for v in values)


def _quiet_missing_plots(app, config):
    """Without running the examples, their images are missing: not an error."""
    if not _runs_gallery(config):
        config.suppress_warnings = [*config.suppress_warnings, "image.not_readable"]


_SHAPE = re.compile(r"of shape \(([^)]*)\)")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])(\w+_)(?![`\w])")
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<([^>]*)>)?`")
_VERSION_NOTE = re.compile(r"^(\s*)\.\. version(?:added|changed|deprecated)::")


def _fix_docstring(app, what, name, obj, options, lines):
    """Make docstrings written for scikit-learn's own site build here.

    - ``of shape (n_features_in_,)``: a word ending in ``_`` is a reference
      target in reStructuredText; quote it as scikit-learn does.
    - Methods inherited from scikit-learn (``score``, ``set_params``, the
      metadata-routing ``set_*_request``) refer to labels and glossary terms
      of scikit-learn's site: keep their text, drop the link. Their
      ``.. versionadded:: 1.3`` notes give scikit-learn's versions, which on
      this site read as skdropbn's: drop them, and name scikit-learn where
      the text gives a version.
    """
    from_sklearn = getattr(obj, "__module__", "").startswith("sklearn")
    kept, note_indent = [], None
    for line in lines:
        if note_indent is not None:
            # The note's own lines are indented deeper than the directive.
            if not line.strip() or len(line) - len(line.lstrip()) > note_indent:
                continue
            note_indent = None
        match = _VERSION_NOTE.match(line) if from_sklearn else None
        if match:
            note_indent = len(match[1])
            continue
        line = _SHAPE.sub(
            lambda m: "of shape (" + _TRAILING_UNDERSCORE.sub(r"`\1`", m[1]) + ")",
            line,
        )
        if from_sklearn:
            line = _SKLEARN_ROLE.sub(lambda m: m[1] or m[2], line)
            line = line.replace("from version 0.", "since scikit-learn 0.")
        kept.append(line)
    lines[:] = kept


# The examples' figures that the user guide shows, from docs/images.
USER_GUIDE_FIGURES = [
    f"sphx_glr_plot_{name}_001.png"
    for name in [
        "red_wine_lesson",
        "dropout_gap",
        "batchnorm_input",
        "uncertainty",
        "classifier",
        "grid_search",
    ]
]


def _ship_user_guide_figures(app, exception):
    """After a build that ran the examples, copy the user guide's figures."""
    made = DOCS / "auto_examples" / "images"
    if exception is not None or not _runs_gallery(app.config):
        return
    for name in USER_GUIDE_FIGURES:
        source, target = made / name, DOCS / "images" / name
        if source.exists() and (
            not target.exists() or target.read_bytes() != source.read_bytes()
        ):
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(source.read_bytes())


def setup(app):
    app.connect("build-finished", _ship_user_guide_figures)
    app.connect("autodoc-process-docstring", _fix_docstring)
    app.connect("builder-inited", _write_benchmark_results)
    app.connect("config-inited", _quiet_missing_plots, priority=900)
