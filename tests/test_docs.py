"""The documentation builds with Sphinx, warnings as errors.

The examples are not run here (``-D plot_gallery=0``): their fits would
double the suite's time under each backend, and what they draw is tested in
test_plot.py. The full build, which runs them, is
``sphinx-build -W -b html docs docs/_build/html``.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
    # Building the docs fits nothing, so it is the same under every backend.
    pytest.skip(
        "backend-independent: built once, under TensorFlow", allow_module_level=True
    )

for module in ("sphinx", "numpydoc", "sphinx_gallery", "pydata_sphinx_theme"):
    pytest.importorskip(module, reason=f'{module} not installed: pip install ".[docs]"')
pytest.importorskip(
    "myst_parser", reason='myst_parser not installed: pip install ".[docs]"'
)


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    cmd = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
        "-D", "plot_gallery=0", "-d", str(out / "doctrees"),
        str(ROOT / "docs"), str(out / "html"),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-5000:]
    return out / "html"


def test_every_page_is_built(html):
    for page in ["index", "install", "quickstart", "user_guide", "benchmarks", "api"]:
        assert (html / f"{page}.html").exists(), page
    for example in ["red_wine_lesson", "dropout_gap", "batchnorm_input", "grid_search"]:
        assert (html / "auto_examples" / f"plot_{example}.html").exists(), example


@pytest.mark.parametrize(
    "name, methods",
    [
        ("DropBNRegressor", ["fit", "predict", "score", "get_params"]),
        ("TrainingHistoryDisplay", ["from_estimator", "plot"]),
        ("SearchResultsDisplay", ["from_search", "plot"]),
    ],
)
def test_api_page_has_the_docstring_sections(html, name, methods):
    page = (html / "generated" / f"skdropbn.{name}.html").read_text()
    for section in ["Parameters", "Attributes", "Examples"]:
        assert f">{section}<" in page, section
    for method in methods:
        assert f'id="skdropbn.{name}.{method}"' in page, method


def test_benchmarks_page_shows_results_or_says_how_to_get_them(html):
    page = (html / "benchmarks.html").read_text()
    if list((ROOT / "benchmarks" / "results").glob("*.md")):
        assert "<table" in page
    else:
        assert "No benchmark results in this checkout" in page
