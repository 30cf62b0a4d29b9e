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


def test_the_check_sees_a_loaded_module():
    # The same check, on an import that does load one: it must not pass.
    modules = loaded_by("import skdropbn\nimport sklearn.model_selection")
    assert "sklearn.model_selection" in starting_with(
        "sklearn.model_selection", modules
    )
