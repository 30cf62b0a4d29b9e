"""Every public class, function and method: a valid numpydoc docstring whose
Examples run.

pytest's ``--doctest-modules`` only collects ``testpaths`` (``tests/``), so the
package's doctests are run here, one test per public item.
"""

import doctest
import inspect

import pytest

import skdropbn

numpydoc_validate = pytest.importorskip("numpydoc.validate")

# numpydoc error code -> why it does not apply here. Kept short.
IGNORED = {
    # The project (like scikit-learn) ends a docstring with a blank line before
    # the closing quotes; these two codes flag only that. Real double blank
    # lines are caught by test_no_double_blank_lines below.
    "GL02": "blank line before the closing quotes (project layout)",
    "GL03": "blank line before the closing quotes (project layout)",
    # scikit-learn's convention: named returns, ``self : DropBNRegressor``.
    "RT02": "named return values",
}
IGNORED_FOR_METHODS = {
    "ES01": "a method's one-line summary is enough; the class explains",
    "SA01": "See Also belongs to the class docstring",
}


def _public_items():
    """``(import path, object, is_method)`` of every public item of skdropbn."""
    items = []
    for name in sorted(skdropbn.__all__):
        obj = getattr(skdropbn, name)
        if name.startswith("__"):
            continue
        items.append((f"skdropbn.{name}", obj, False))
        if inspect.isclass(obj):
            # Methods written in skdropbn, inherited ones included (e.g. from
            # the shared base class); scikit-learn's own are its business.
            for attr in sorted(dir(obj)):
                member = inspect.getattr_static(obj, attr)
                if isinstance(member, classmethod | staticmethod):
                    member = member.__func__
                if (
                    not attr.startswith("_")
                    and inspect.isfunction(member)
                    and member.__module__.startswith("skdropbn")
                ):
                    items.append((f"skdropbn.{name}.{attr}", member, True))
    return items


ITEMS = _public_items()

# Docstrings of files this test's author does not own, fixed separately.
NO_EXAMPLES_YET = {}


def _params(items, xfail=True):
    return [
        pytest.param(
            path,
            obj,
            is_method,
            id=path,
            marks=[pytest.mark.xfail(reason=NO_EXAMPLES_YET[path], strict=True)]
            if xfail and path in NO_EXAMPLES_YET
            else [],
        )
        for path, obj, is_method in items
    ]


def test_public_items_are_found():
    paths = [path for path, _, _ in ITEMS]
    assert "skdropbn.DropBNRegressor.fit" in paths
    assert "skdropbn.TrainingHistoryDisplay.from_estimator" in paths
    assert "skdropbn.DropBNRegressor.get_params" not in paths  # scikit-learn's


@pytest.mark.parametrize("path, obj, is_method", _params(ITEMS))
def test_numpydoc_validates(path, obj, is_method):
    ignored = IGNORED | (IGNORED_FOR_METHODS if is_method else {})
    errors = [
        f"{code}: {message}"
        for code, message in numpydoc_validate.validate(path)["errors"]
        if code not in ignored
    ]
    assert not errors, f"{path}:\n" + "\n".join(errors)


@pytest.mark.parametrize("path, obj, is_method", _params(ITEMS, xfail=False))
def test_no_double_blank_lines(path, obj, is_method):
    assert "\n\n\n" not in inspect.getdoc(obj)


@pytest.mark.parametrize("path, obj, is_method", _params(ITEMS))
def test_examples_run(path, obj, is_method):
    (test,) = doctest.DocTestFinder(recurse=False).find(obj, path)
    assert test.examples, f"{path} has no Examples"
    report = []
    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    )
    result = runner.run(test, out=report.append, clear_globs=True)
    assert result.failed == 0, "".join(report)
