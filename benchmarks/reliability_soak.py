"""Soak and failure cases of a production user, each in a fresh interpreter.

Cases (``--cases``, default all):

``noise``
    Import, fit (data of seven sizes, both estimators) and predict in a clean
    interpreter without TF_CPP_MIN_LOG_LEVEL or PYTHONWARNINGS; counts the
    lines printed.
``rss-soak``
    One fit of each of 20 architectures (n_layers 1-4 x units 8-24), then 60
    more fits cycling through them; RSS after each fit. Growth per fit is the
    least-squares slope over the 60 (the first 20 compile, as any new
    architecture must).
``fork``
    A fit in the parent, then a fit in a child started with ``fork``: how the
    child ends, and how soon.
``targets``
    Huge (x1e300), tiny (x1e-300) and constant targets, weights of 1e-40,
    weights of 0 on 90% of the rows: whether the predictions are finite and
    early stopping kept an epoch.
``wide-fit``
    Peak RSS of one fit of ``n_layers=2, units=--wide-units`` (float32
    weights of tens to hundreds of MB) over the RSS just before it, as a
    multiple of the weights' bytes; and the time to refuse a fit of 2 x
    200,000 units (149 GiB of weights).

Run ``python benchmarks/reliability_soak.py`` (about 15 minutes on 2 cores) under
each backend (``KERAS_BACKEND=jax``); the table goes to stdout and, with its
figures as JSON, to ``benchmarks/results/reliability-soak-<backend>.{md,json}``.
Only the public API and ``/proc`` are used, so the same script measures an
older checkout (``PYTHONPATH=old_checkout``) for a before/after comparison.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

COMMON = """
import gc, json, os, sys, time
import numpy as np
from skdropbn import DropBNClassifier, DropBNRegressor

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
rng = np.random.RandomState(0)
X = rng.normal(size=(300, 5))
y = X @ rng.normal(size=5) + np.sin(2 * X[:, 0])
"""

CASES = {
    "noise": """
small = dict(n_layers=1, units=8, epochs=2, random_state=0)
est = DropBNRegressor(**small).fit(X, y)
est.predict(X[:3])
for n in (40, 60, 80, 100, 120, 140, 160):
    DropBNRegressor(**small).fit(X[:n], y[:n])
DropBNClassifier(**small).fit(X, y > 0).predict_proba(X[:3])
""",
    "rss-soak": """
archs = [(l, u) for l in (1, 2, 3, 4) for u in (8, 12, 16, 20, 24)]
rss, seconds = [], []
for i in range(80):
    n_layers, units = archs[i % 20]
    start = time.perf_counter()
    DropBNRegressor(n_layers=n_layers, units=units, epochs=3, random_state=0).fit(X, y)
    seconds.append(time.perf_counter() - start)
    gc.collect()
    rss.append(status("VmRSS"))
print(json.dumps({"rss": rss, "seconds": seconds}))
""",
    "fork": """
import multiprocessing
DropBNRegressor(n_layers=1, units=8, epochs=2, random_state=0).fit(X, y)
def child(queue):
    start = time.perf_counter()
    try:
        DropBNRegressor(n_layers=1, units=8, epochs=2, random_state=0).fit(X, y)
        queue.put(("fitted", time.perf_counter() - start))
    except Exception as exc:
        message = type(exc).__name__ + ": " + str(exc)[:60]
        queue.put((message, time.perf_counter() - start))
context = multiprocessing.get_context("fork")
queue = context.Queue()
process = context.Process(target=child, args=(queue,))
process.start()
process.join(60)
if process.is_alive():
    process.kill()
    outcome, seconds = "hung (killed after 60 s)", 60.0
else:
    outcome, seconds = queue.get(timeout=5)
print(json.dumps({"outcome": outcome, "seconds": seconds}))
""",
    "targets": """
small = dict(n_layers=1, units=8, epochs=6, random_state=0)
n = len(X)
cases = {
    "y x 1e300": (y * 1e300, None),
    "y x 1e-300": (y * 1e-300, None),
    "constant y = 3": (np.full(n, 3.0), None),
    "sample_weight 1e-40": (y, np.full(n, 1e-40)),
    "sample_weight 0 on 90% of rows": (y, np.where(np.arange(n) % 10 == 0, 1.0, 0.0)),
}
out = {}
for name, (target, weight) in cases.items():
    try:
        with np.errstate(all="ignore"):
            est = DropBNRegressor(**small).fit(X, target, sample_weight=weight)
        pred = est.predict(X)
        val = np.asarray(est.history_["val_loss"])
        out[name] = {
            "finite": bool(np.isfinite(pred).all()),
            "range": [float(pred.min()), float(pred.max())],
            "val_loss_finite": bool(np.isfinite(val).all()),
            "best_epoch": est.best_epoch_,
        }
    except Exception as exc:
        out[name] = {"error": type(exc).__name__ + ": " + str(exc)[:80]}
print(json.dumps(out))
""",
    "wide-fit": """
units = int(sys.argv[1])
Xw = rng.normal(size=(2000, 20)).astype(np.float32)
yw = Xw[:, :5].sum(axis=1)
DropBNRegressor(n_layers=1, units=8, epochs=1, random_state=0).fit(Xw, yw)
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM, the peak RSS, to the current RSS
before = status("VmRSS")
start = time.perf_counter()
est = DropBNRegressor(n_layers=2, units=units, epochs=3, random_state=0).fit(Xw, yw)
seconds = time.perf_counter() - start
peak = status("VmHWM")
weights = 4 * sum(int(np.prod(w.shape)) for w in est._weights)
start = time.perf_counter()
try:
    DropBNRegressor(n_layers=2, units=200_000, epochs=1).fit(Xw, yw)
    refused = "fitted"
except MemoryError as exc:
    refused = "MemoryError: " + str(exc)[:70]
except Exception as exc:
    refused = type(exc).__name__
print(json.dumps({"weights": weights, "before": before, "peak": peak,
                  "seconds": seconds, "refused": refused,
                  "refuse_seconds": time.perf_counter() - start}))
""",
}


def run_case(name, args, timeout):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}  # fmt: skip
    script = COMMON + textwrap.dedent(CASES[name])
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    wall = time.perf_counter() - start
    lines = result.stdout.strip().splitlines()
    payload = json.loads(lines[-1]) if name != "noise" and lines else None
    return {"returncode": result.returncode, "wall": wall, "stdout": lines,
            "stderr": result.stderr.splitlines(), "payload": payload}  # fmt: skip


def slope(values):
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    return num / sum((i - mean_x) ** 2 for i in range(n))


def rows_for(name, result):
    p = result["payload"]
    if result["returncode"] != 0 and name != "noise":
        return [(name, "failed", (result["stderr"] or ["?"])[-1][:100], "")]
    if name == "noise":
        printed = result["stdout"] + result["stderr"]
        first = printed[0][:90] if printed else ""
        return [("noise", "lines printed by import + 9 fits + predict",
                 str(len(printed)), first)]  # fmt: skip
    if name == "rss-soak":
        mb = [r / 2**20 for r in p["rss"]]
        times = [sorted(p["seconds"][:20])[10], sorted(p["seconds"][20:])[30]]
        warm, soak = mb[:20], mb[20:]
        return [
            ("rss-soak", "RSS after the 1st / 20th / 80th fit",
             f"{mb[0]:.0f} / {mb[19]:.0f} / {mb[-1]:.0f} MB", ""),
            ("rss-soak", "growth per fit, fits 21-80 (slope)", f"{slope(soak):.2f} MB",
             "target <= 1 MB/fit"),
            ("rss-soak", "growth per new architecture, fits 1-20",
             f"{(warm[-1] - warm[0]) / 19:.1f} MB", "compiled programs"),
            ("rss-soak", "median fit time, fits 1-20 / 21-80",
             f"{times[0]:.2f} / {times[1]:.2f} s",
             ""),
        ]  # fmt: skip
    if name == "fork":
        return [("fork", "child's fit after a fit in the parent", p["outcome"],
                 f"{p['seconds']:.2f} s")]  # fmt: skip
    if name == "targets":
        out = []
        for case, r in p.items():
            if "error" in r:
                out.append(("targets", case, r["error"], ""))
            else:
                out.append(
                    (
                        "targets",
                        case,
                        f"finite {r['finite']}, val_loss finite "
                        f"{r['val_loss_finite']}, best epoch {r['best_epoch']}",
                        f"predictions {r['range'][0]:.4g} .. {r['range'][1]:.4g}",
                    )
                )
        return out  # fmt: skip
    if name == "wide-fit":
        extra, weights_mb = p["peak"] - p["before"], p["weights"] / 2**20
        return [
            ("wide-fit", f"peak RSS over weights, weights {weights_mb:.0f} MB",
             f"{extra / p['weights']:.1f}x ({extra / 2**20:.0f} MB)",
             f"target <= 8x; fit {p['seconds']:.1f} s"),
            ("wide-fit", "2 x 200,000 units (149 GiB of weights)", p["refused"],
             f"{p['refuse_seconds']:.2f} s"),
        ]  # fmt: skip
    raise ValueError(name)


def machine():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))  # fmt: skip
    except (OSError, StopIteration):
        pass
    versions = subprocess.run(
        [sys.executable, "-c",
         "import numpy, sklearn, keras; print(f'NumPy {numpy.__version__}, "
         "scikit-learn {sklearn.__version__}, Keras {keras.__version__}, backend "
         "{keras.backend.backend()}')"],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    python = platform.python_version()
    return f"{cpu}, {os.cpu_count()} cores, Python {python}, {versions}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--wide-units", type=int, default=6000)
    parser.add_argument("--out", default=None, help="results file stem")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    table = []
    figures = {}
    for name in args.cases.split(","):
        extra = [str(args.wide_units)] if name == "wide-fit" else []
        result = run_case(name, extra, args.timeout)
        figures[name] = result
        table.extend(rows_for(name, result))
        print(f"{name}: done in {result['wall']:.0f} s", file=sys.stderr, flush=True)
    lines = [
        f"# Reliability soak, {backend} backend",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}; {machine()}.",
        "",
        "| case | measurement | result | note |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    stem = Path(args.out) if args.out else RESULTS / f"reliability-soak-{backend}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
