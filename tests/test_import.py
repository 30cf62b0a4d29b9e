"""``import skdropbn`` loads no backend, no plotting and no model selection.

Each check runs in a fresh interpreter, since this one has imported all of
them. How long the import takes is measured by benchmarks/import_time.py
(results in benchmarks/results/import-time.md).
"""

import json
import subprocess
import sys

import pytest

# Loaded on first use, never by the import: the Keras backends, the optional
# extras, and sklearn.model_selection (about 100 ms of a 120 ms import).
DEFERRED = [
    "tensorflow",
    "jax",
    "keras",
    "torch",
    "matplotlib",
    "skops",
    "sklearn.model_selection",
]

# Imported where they are used, for time: together 130 of the 148 ms that
# `import skdropbn` added to numpy + sklearn.base (benchmarks/import_time.py).
# Checked against what numpy and sklearn.base load themselves.
DEFERRED_FOR_TIME = ["sklearn.preprocessing", "sklearn.pipeline"]

LIST_MODULES = "import json, sys\n{imports}\nprint(json.dumps(sorted(sys.modules)))"


def loaded_by(imports):
    """Every module in ``sys.modules`` of a fresh interpreter after ``imports``."""
    out = subprocess.run(
        [sys.executable, "-c", LIST_MODULES.format(imports=imports)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.splitlines()[-1])


def starting_with(prefix, modules):
    return [m for m in modules if m.startswith(prefix)]


@pytest.fixture(scope="module")
def after_import():
    modules = loaded_by("import skdropbn")
    assert "skdropbn" in modules and "skdropbn._plot" in modules
    return modules


@pytest.mark.parametrize("prefix", DEFERRED)
def test_import_loads_none_of(after_import, prefix):
    assert starting_with(prefix, after_import) == []


@pytest.mark.parametrize("prefix", DEFERRED_FOR_TIME)
def test_import_loads_no_more_of(after_import, prefix):
    baseline = set(loaded_by("import numpy, sklearn.base"))
    assert starting_with(prefix, sorted(set(after_import) - baseline)) == []


def test_the_check_sees_a_loaded_module():
    # The same check, on an import that does load one: it must not pass.
    modules = loaded_by("import skdropbn\nimport sklearn.model_selection")
    assert "sklearn.model_selection" in starting_with(
        "sklearn.model_selection", modules
    )
