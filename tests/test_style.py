"""The code base stays ruff-clean (lint and format), with the pinned ruff."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ruff():
    exe = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(exe).exists():
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    return exe


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]])
def test_ruff(args):
    out = subprocess.run(
        [ruff(), *args, "skdropbn", "tests", "examples", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
