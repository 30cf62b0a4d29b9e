"""The thread arithmetic of ``n_jobs=-1``: how many threads each worker starts.

scikit-learn's ``n_jobs`` runs fits in joblib's loky worker processes, one
per job; joblib sets ``OMP_NUM_THREADS`` (and the BLAS libraries' variables)
in each to ``cores // n_jobs``. A backend that sizes its thread pools by the
cores it sees instead starts ``cores`` compute threads in every worker:
with ``n_jobs=-1`` on ``c`` cores, ``c`` workers of ``c`` threads each.

This script measures, in fresh interpreters that see 1 and then 2 of this
machine's cores (``os.sched_setaffinity`` before the backend starts), the
operating system threads a process has after importing the backend and
fitting a small network, with ``OMP_NUM_THREADS`` unset and set to 1 (what
a loky worker of ``n_jobs=cores`` gets). From the two core counts it fits
``threads = a + b * cores`` and prints what that predicts for ``n_jobs=-1``
on 16 and 64 cores: threads per worker and in all. Run::

    python benchmarks/worker_threads.py
    KERAS_BACKEND=jax python benchmarks/worker_threads.py

Prints Markdown tables and the machine; writes nothing. (Threads are not all
busy: most wait. The figure that matters is the compute pool, which the
line for each backend names.)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402

CHILD = r"""
import json, os, sys
os.sched_setaffinity(0, list(os.sched_getaffinity(0))[: int(sys.argv[1])])
import numpy as np
from skdropbn import DropBNRegressor
from skdropbn._keras import backend_name

rng = np.random.RandomState(0)
X = rng.normal(size=(300, 5)); y = X @ rng.normal(size=5)
DropBNRegressor(units=16, epochs=3, random_state=0).fit(X, y)
pools = {}
if backend_name() == "tensorflow":
    import tensorflow as tf
    pools = {"tf intra-op": tf.config.threading.get_intra_op_parallelism_threads(),
             "tf inter-op": tf.config.threading.get_inter_op_parallelism_threads()}
elif backend_name() == "torch":
    import torch
    pools = {"torch": torch.get_num_threads()}
with open("/proc/self/status") as f:
    threads = next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
print(json.dumps({"threads": threads, "pools": pools}))
"""


def measure(cores, omp):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp is not None:
        env["OMP_NUM_THREADS"] = str(omp)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(cores)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main():
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    available = len(os.sched_getaffinity(0))
    if available < 2:
        sys.exit("needs at least 2 cores to fit threads against cores")
    rows, fits = [], {}
    for omp in (None, 1):
        seen = {c: measure(c, omp) for c in (1, 2)}
        b = seen[2]["threads"] - seen[1]["threads"]
        a = seen[1]["threads"] - b
        fits[omp] = (a, b)
        for c, r in seen.items():
            label = "unset" if omp is None else omp
            rows.append(f"| {label} | {c} | {r['threads']} | {r['pools'] or '-'} |")
    print(f"Threads of one process after a small fit, {backend} backend\n")
    print("| OMP_NUM_THREADS | cores seen | OS threads | compute pools |")
    print("|---|---:|---:|---|")
    print("\n".join(rows))
    print(
        "\n`n_jobs=-1` on bigger machines, from threads = a + b * cores "
        "(fitted above; a loky worker sees every core and OMP_NUM_THREADS=1):\n"
    )
    print("| cores = workers | OMP_NUM_THREADS | threads per worker | in all |")
    print("|---:|---|---:|---:|")
    for cores in (2, 16, 64):
        for omp, (a, b) in fits.items():
            per = a + b * cores
            label = "unset" if omp is None else "1 (joblib's)"
            print(f"| {cores} | {label} | {per} | {per * cores:,} |")
    print("\nmachine:", json.dumps(machine(backend)))


if __name__ == "__main__":
    main()
