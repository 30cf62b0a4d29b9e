"""The package builds as a wheel and an sdist, and each installs and imports.

Built once, under the default backend (packaging does not depend on it).
Each archive is installed without dependencies into a folder of its own and
imported from there, by a fresh interpreter started outside the checkout, so
that the import cannot pick up the source tree.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
    reason="backend-independent: built once, under TensorFlow",
)

IMPORT_CHECK = """
import sys, skdropbn
assert skdropbn.__file__.startswith(sys.argv[1]), skdropbn.__file__
skdropbn.DropBNRegressor(), skdropbn.DropBNClassifier()
print(skdropbn.__version__)
"""


def test_wheel_and_sdist_build_install_and_import(tmp_path):
    pytest.importorskip("build", reason="needs 'build' (the test extra)")
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    archives = sorted(dist.glob("skdropbn-*"))
    assert sorted(a.suffix for a in archives) == [".gz", ".whl"]
    for archive in archives:
        target = tmp_path / archive.name.replace(".", "_")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
             "--target", str(target), str(archive)],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(target)}
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_CHECK, str(target)],
            cwd=tmp_path, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        import skdropbn

        assert out.stdout.strip() == skdropbn.__version__
