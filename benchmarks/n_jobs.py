"""Does ``n_jobs`` help a grid search? Loky processes and threads against one job.

Run::

    python benchmarks/n_jobs.py                 # issue 20's search, ~5 minutes
    python benchmarks/n_jobs.py --search readme # the README's main job's search
    KERAS_BACKEND=jax python benchmarks/n_jobs.py

Each measurement runs in a fresh interpreter that has already imported the
Keras backend (as a notebook has after its first fit), and times
``GridSearchCV(...).fit`` alone: with ``n_jobs=1``; with ``n_jobs=2`` on
joblib's default ``loky`` backend (worker processes, each of which imports
the backend and compiles its own trainers: that is part of its cost and is
timed); and with ``n_jobs=2`` under ``joblib.parallel_backend("threading")``.
The modes run in turn, ``--repeats`` times, so that the machine's changing
load hits them alike; the table gives medians and the ratio of medians, and
checks that every mode's ``cv_results_`` scores equal ``n_jobs=1``'s.

Searches:

``issue20``
    Issue 20's: 3 x 3 over dropout x depth, 5 folds, 64 units, 2,000 rows of
    ``make_friedman1`` (10 features), 60 epochs without early stopping (about
    a minute with ``n_jobs=1`` on 2 cores).
``readme``
    ``examples/grid_search.py``'s: a scaler -> ``DropBNRegressor()``
    pipeline, 3 x 3 over dropout x depth, 5 folds, the diabetes data.

Prints a Markdown table; ``--out FILE`` also writes it there.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap

from _machine import load_average, machine

CHILD = """
import json, sys, time
import joblib
import numpy as np
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skdropbn import DropBNRegressor
from skdropbn._keras import backend_name

search_name, mode = sys.argv[1], sys.argv[2]
backend_name()  # the backend imported and started, as after a first fit
if search_name == "issue20":
    X, y = make_friedman1(n_samples=2000, n_features=10, noise=0.5, random_state=0)
    model = DropBNRegressor(units=64, epochs=60, early_stopping=False, random_state=0)
    grid = {"dropout": [0.0, 0.2, 0.4], "n_layers": [1, 2, 3]}
else:
    X, y = load_diabetes(return_X_y=True)
    model = make_pipeline(StandardScaler(), DropBNRegressor(random_state=0))
    grid = {"dropbnregressor__dropout": [0.1, 0.3, 0.5],
            "dropbnregressor__n_layers": [1, 2, 3]}
cv = KFold(5, shuffle=True, random_state=0)
n_jobs = 1 if mode == "n_jobs=1" else 2
search = GridSearchCV(model, grid, cv=cv, n_jobs=n_jobs, refit=False,
                      scoring="neg_mean_absolute_error")
start = time.perf_counter()
if mode == "threading":
    with joblib.parallel_backend("threading"):
        search.fit(X, y)
else:
    search.fit(X, y)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "scores": search.cv_results_["mean_test_score"].tolist()}))
"""

MODES = ("n_jobs=1", "loky n_jobs=2", "threading n_jobs=2")


def run(search, mode, timeout):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), search, mode.split()[0]],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search", choices=("issue20", "readme"), default="issue20")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args()

    load_before = load_average()
    times = {mode: [] for mode in MODES}
    scores = {}
    for _ in range(args.repeats):
        for mode in MODES:
            result = run(args.search, mode, args.timeout)
            times[mode].append(result["seconds"])
            scores.setdefault(mode, result["scores"])
            print(f"# {mode}: {result['seconds']:.1f} s", file=sys.stderr)

    base = statistics.median(times["n_jobs=1"])
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    lines = [
        f"`python benchmarks/n_jobs.py --search {args.search} --repeats "
        f"{args.repeats}`, backend {backend}",
        "",
        "| mode | search wall time, median (all runs) | speed-up over n_jobs=1 "
        "| cv_results_ scores equal n_jobs=1's |",
        "|---|---|---|---|",
    ]
    for mode in MODES:
        median = statistics.median(times[mode])
        runs = ", ".join(f"{t:.1f}" for t in times[mode])
        same = scores[mode] == scores["n_jobs=1"]
        lines.append(
            f"| {mode} | {median:.1f} s ({runs}) | {base / median:.2f}x | {same} |"
        )
    info = machine(backend)
    info["load_average"] = {"start": load_before, "end": load_average()}
    lines += ["", f"Machine: {json.dumps(info)}"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
