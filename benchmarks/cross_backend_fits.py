"""Same seed, same fit, three backends: how far apart are the predictions?

Runs the fits of ``tests/_golden_configs.py`` (both estimators; batch norm
after and before the activation, input batch norm, the periodic embedding,
early stopping with a plateau schedule, Monte-Carlo standard deviations) in
a fresh interpreter under each installed Keras backend, and prints, per
configuration and backend, the largest difference from the golden file
(``tests/data/golden.json``, written under TensorFlow) relative to each
value's scale (the largest magnitude among that prediction's values), as
``tests/test_golden.py`` measures it (its tolerance: 1e-4). Run::

    python benchmarks/cross_backend_fits.py

Prints a Markdown table and the machine; writes nothing.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import DISTRIBUTIONS, machine  # noqa: E402

TESTS = Path(__file__).resolve().parents[1] / "tests"

CHILD = f"""
import json, sys
sys.path.insert(0, {str(TESTS)!r})
import numpy as np
from _golden_configs import CONFIGS, GOLDEN, predictions
golden = json.loads(GOLDEN.read_text())
out = {{}}
for name in CONFIGS:
    worst = 0.0
    for key, values in predictions(name).items():
        ours, ref = np.asarray(values), np.asarray(golden[name][key])
        scale = max(float(np.abs(ref).max()), 1e-12)
        worst = max(worst, float(np.abs(ours - ref).max()) / scale)
    out[name] = worst
print(json.dumps(out))
"""


def main():
    backends = [
        b for b in ("tensorflow", "jax", "torch") if importlib.util.find_spec(b)
    ]
    results = {}
    for backend in backends:
        out = subprocess.run(
            [sys.executable, "-c", CHILD],
            env={**os.environ, "KERAS_BACKEND": backend},
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        results[backend] = json.loads(out.strip().splitlines()[-1])
    golden = json.loads((TESTS / "data" / "golden.json").read_text())["_machine"]
    print(
        f"Largest difference from tests/data/golden.json (written under "
        f"{golden['backend']} on {golden['cpu']}), relative to each value's "
        "scale; the test's tolerance is 1e-4\n"
    )
    print("| configuration | " + " | ".join(backends) + " |")
    print("|---|" + "---:|" * len(backends))
    for name in results[backends[0]]:
        cells = " | ".join(f"{results[b][name]:.1e}" for b in backends)
        print(f"| {name} | {cells} |")
    print("\nmachine:", json.dumps(machine(None, (*DISTRIBUTIONS, "torch"))))


if __name__ == "__main__":
    main()
