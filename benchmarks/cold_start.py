"""The first fit's cost: in a fresh interpreter, and for a new architecture.

Issue 20's first two targets, on 300 x 5 rows with ``units=16, epochs=5``
and every other parameter at its default (3 layers, early stopping):

- **fresh**: a new interpreter imports the backend and fits; printed are
  the import (``skdropbn._keras.import_keras()``, what a first fit pays to
  load Keras and its backend) and the fit after it (tracing, compilation,
  the run), medians over ``--repeats`` interpreters. Target: the fit at most
  1.5 s.
- **warm**: in one process that has fitted before, the first fit of a new
  architecture (a width not seen yet) against a fit of one already cached.
  Target: at most 1 s more.

Both backends by default (each in its own interpreters)::

    python benchmarks/cold_start.py [--repeats 3] [--backends tensorflow jax]

Prints a Markdown table and the machine; writes nothing.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import load_average, machine  # noqa: E402

CHILD = r"""
import json, time
import numpy as np
start = time.perf_counter()
from skdropbn import DropBNRegressor
from skdropbn._keras import import_keras
import_keras()
imported = time.perf_counter() - start
rng = np.random.RandomState(0)
X = rng.normal(size=(300, 5)); y = X @ rng.normal(size=5)
def fit(units):
    start = time.perf_counter()
    DropBNRegressor(units=units, epochs=5, random_state=0).fit(X, y)
    return time.perf_counter() - start
first = fit(16)
cached = fit(16)
new = [fit(17 + i) for i in range(3)]
print(json.dumps({"import": imported, "first": first, "cached": cached,
                  "new": sorted(new)[1]}))
"""


def run_child(backend):
    env = {**os.environ, "KERAS_BACKEND": backend}
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    args = parser.parse_args()
    load_before = load_average()
    rows = []
    for backend in args.backends:
        runs = [run_child(backend) for _ in range(args.repeats)]
        rows.append(
            (backend, *(statistics.median(r[k] for r in runs) for k in runs[0]))
        )
    print(
        f"First fits, 300 x 5 rows, units=16, epochs=5, median of "
        f"{args.repeats} fresh interpreters\n"
    )
    print(
        "| backend | import | first fit | cached architecture | new architecture "
        "| new - cached |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for backend, imported, first, cached, new in rows:
        print(
            f"| {backend} | {imported:.2f} s | {first:.2f} s | {cached:.3f} s "
            f"| {new:.2f} s | {new - cached:.2f} s |"
        )
    record = machine()
    record["load_average"] = {"start": load_before, "end": load_average()}
    print("\nmachine:", json.dumps(record))


if __name__ == "__main__":
    main()
