"""The documentation: its pages' code runs as written, and the site builds.

The quick start and the user guide are doctests: every ``>>>`` block runs,
top to bottom, and must print what the page shows. The home page's and the
README's example are the quick start's first lines, so they run with it.
They run under TensorFlow only, the default backend, to keep the JAX run of
the suite short; they pass under JAX too.

The site is built with Sphinx, warnings as errors, without running the
examples (``-D plot_gallery=0``): their fits would double the suite's time,
and what they draw is tested in test_plot_*.py. The user guide's figures are
the images shipped in ``docs/images`` (see docs/conf.py). The full build,
which runs the examples, is ``sphinx-build -W -b html docs docs/_build/html``.
"""

import doctest
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Building the docs fits nothing, so it is the same under every backend.
built_once = pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
    reason="backend-independent: built once, under TensorFlow",
)

# The pages' fits run once, under the default backend; they pass under JAX
# too (KERAS_BACKEND=jax), but would add as much time again to its run.
fits_once = pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
    reason="the pages' fits run once, under TensorFlow",
)

_DECIMAL = re.compile(r"-?\d+\.\d+")


class _LastDigitChecker(doctest.OutputChecker):
    """Decimals may differ by one unit in the last digit the page shows.

    The networks train in float32, whose round-off differs between CPUs and
    backends, so a score printed with two decimals may move by one in the
    second. Everything else (words, integers, shapes) must match exactly.
    """

    def check_output(self, want, got, optionflags):
        if super().check_output(want, got, optionflags):
            return True
        wants, gots = _DECIMAL.findall(want), _DECIMAL.findall(got)
        same_words = super().check_output(
            _DECIMAL.sub("#", want), _DECIMAL.sub("#", got), optionflags
        )
        if not same_words or len(wants) != len(gots):
            return False
        return all(
            abs(float(w) - float(g)) <= 1.01 * 10 ** -len(w.split(".")[1])
            for w, g in zip(wants, gots)
        )


def _run_doctest(text, name):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from threadpoolctl import threadpool_limits

    test = doctest.DocTestParser().get_doctest(text, {}, name, name, 0)
    assert test.examples, f"{name} has no >>> examples"
    runner = doctest.DocTestRunner(
        checker=_LastDigitChecker(), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    report = io.StringIO()
    # HistGradientBoosting's OpenMP threads spin-wait: on two cores shared
    # with the network's own threads they ran 10x slower than one thread.
    with threadpool_limits(1, user_api="openmp"):
        runner.run(test, out=report.write)
    plt.close("all")
    assert runner.failures == 0, report.getvalue()[-5000:]


@fits_once
@pytest.mark.parametrize("page", ["quickstart.rst", "user_guide.rst"])
def test_page_runs_as_written(page):
    _run_doctest((DOCS / page).read_text(), page)


def _pycon_lines(text):
    """The ``>>>`` lines and their output, without the page's indentation."""
    kept, inside = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">>>"):
            inside = True
        elif not stripped or stripped.startswith("```"):
            inside = False
        if inside:
            kept.append(stripped)
    return kept


def test_home_page_and_readme_run_in_the_quickstart():
    """The home page's and the README's example open the quick start.

    So the quick start's doctest runs them too, and the three say the same.
    """
    home = _pycon_lines((DOCS / "index.rst").read_text())
    readme = _pycon_lines((ROOT / "README.md").read_text())
    quickstart = _pycon_lines((DOCS / "quickstart.rst").read_text())
    assert home and readme == home
    assert quickstart[: len(home)] == home


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    for module in [
        "sphinx",
        "numpydoc",
        "sphinx_gallery",
        "pydata_sphinx_theme",
        "myst_parser",
    ]:
        pytest.importorskip(module, reason=f'{module} missing: pip install ".[docs]"')
    out = tmp_path_factory.mktemp("docs")
    cmd = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
        "-D", "plot_gallery=0", "-d", str(out / "doctrees"),
        str(ROOT / "docs"), str(out / "html"),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-5000:]
    return out / "html"


@built_once
def test_every_page_is_built(html):
    for page in ["index", "install", "quickstart", "user_guide", "benchmarks", "api"]:
        assert (html / f"{page}.html").exists(), page
    examples = [
        "red_wine_lesson",
        "dropout_gap",
        "batchnorm_input",
        "grid_search",
        "uncertainty",
        "classifier",
    ]
    for example in examples:
        assert (html / "auto_examples" / f"plot_{example}.html").exists(), example


@built_once
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


@built_once
def test_benchmarks_page_shows_results_or_says_how_to_get_them(html):
    page = (html / "benchmarks.html").read_text()
    if list((ROOT / "benchmarks" / "results").glob("*.md")):
        assert "<table" in page
    else:
        assert "No benchmark results in this checkout" in page


@built_once
def test_benchmarks_page_has_no_nan_cells(html):
    page = (html / "benchmarks.html").read_text()
    assert not re.search(r"<td[^>]*>\s*(<p>)?\s*[+-]?nan%?\s*(</p>)?\s*</td>", page)


@built_once
def test_pages_show_no_broken_image(html):
    pages = [*html.glob("*.html"), html / "auto_examples" / "index.html"]
    for page in pages:
        for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', page.read_text()):
            if not src.startswith(("http:", "https:", "data:")):
                assert (page.parent / src).exists(), f"{page.name}: {src}"


@built_once
def test_api_pages_give_no_scikit_learn_version_as_ours(html):
    for name in ["DropBNRegressor", "DropBNClassifier"]:
        page = (html / "generated" / f"skdropbn.{name}.html").read_text()
        assert "Added in version" not in page, name
