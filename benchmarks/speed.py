"""Speed of DropBNRegressor against raw Keras, the Keras wrappers and MLPRegressor.

Run from the repository root::

    python benchmarks/speed.py            # full run, about 9 minutes on 2 cores
    python benchmarks/speed.py --quick    # about 4 minutes, fewer repeats
    KERAS_BACKEND=jax python benchmarks/speed.py
    python benchmarks/speed.py --report-only benchmarks/results/speed-tensorflow.json

(The times are those of this project's 2-core machine when quiet: a full
run took 532 s on 2026-12-01; with another tenant's load of 3-5 a
``--quick`` run took 12.7 minutes on 2026-12-02.)

Everything runs in this one process, side by side, on the same data and the
same architecture. The figures (with the machine, the versions, the settings
and the samples behind each median) are written as JSON to
``benchmarks/results/speed-<backend>.json``, and the Markdown report
rendered from that JSON alone to ``speed-<backend>.md`` beside it (and
printed). ``--quick`` writes to ``benchmarks/results/quick/`` instead (not
committed, not on the documentation's page), ``--out DIR`` to ``DIR``;
``--report-only FILE.json`` re-renders a report from its JSON without
timing anything, so that two runs can be compared by a program and the
prose changed without re-running. The modules beside this one hold the
parts: ``_speed_models.py`` (data, networks, estimators),
``_speed_epochs.py`` and ``_speed_measure.py`` (the measurements, plain
numbers), ``_speed_report.py`` (the Markdown) and ``_machine.py`` (the
machine record). Each row of the table gives the measurement, skdropbn's
figure, the baselines', the ratio, the target of the GitHub issue "Speed"
and whether it is met. The rows:

Epoch time
    Red-wine data (``../shared/data/red-wine.csv``, target ``quality``; the
    diabetes data when absent), 70% of the rows (1119), features
    standardised. The lesson's network (3 x Dense(1024, relu) -> Dropout(0.3)
    -> BatchNormalization, Adam, MAE, batch 256) and a small one (2 x 64,
    batch 32). skdropbn is timed from outside only: the same estimator
    (``early_stopping=False``) is fitted with ``E1`` and then ``E2`` epochs,
    so that the second and later fits reuse the compiled trainer, and
    ``(t(E2) - t(E1)) / (E2 - E1)`` is one epoch; median of 5 such pairs
    (3 with ``--quick``). ``model.fit`` is the identical Keras model
    compiled as a user would (``compile(optimizer=Adam(1e-3), loss="mae")``,
    Keras's default ``jit_compile="auto"``), timed per epoch by a callback
    after a warm-up fit (its per-fit set-up is left out, which favours it),
    two epochs after each skdropbn pair, median over those epochs; the same
    with ``jit_compile=True`` is shown too. Everything in the row is timed in
    one interleaved round, so that the machine's changing load hits skdropbn
    and ``model.fit`` alike. The notes add, timed in the same round: the
    epoch with the default weight averaging (the table times
    ``ema_momentum=0``, what ``model.fit`` computes), and the same trainer
    with everything but the matrix products and ReLU switched off (no
    dropout, no batch norm, plain SGD): the floor that dropout, batch norm
    and Adam add to; and that trainer with Adam (the floor that dropout and
    batch norm add to); and, in NumPy, the epoch's matrix products alone
    (``NumpyProducts``: a floor under any float32 trainer on this machine).
    skdropbn splits an epoch into ``ceil(n / batch)``
    equal batches, so it computes a row or so more than ``n`` (5 x 224 =
    1120 rows for the lesson's 1119, where ``model.fit`` runs four batches
    of 256 and one of 95).
GFLOP/s
    Training work of an epoch, ``6 * n_rows * sum(fan_in * fan_out)`` over the
    Dense layers (forward 2x, backward 4x; dropout, batch norm and Adam left
    out), divided by the epoch time; compared with NumPy's float32 matrix
    product ``a @ b`` of (1024, 1024) @ (1024, 1024), the machine's practical
    peak, timed in the same interleaved round as the epochs (eight products
    after each pair of ``model.fit`` epochs, median), so that the machine's
    changing load hits the reference and the epochs alike. A note gives
    NumPy's median rates before the round on (1024, 1024) @ (1024, 1024),
    (256, 1024) @ (1024, 1024) and (1024, 256) @ (256, 1024), and the rates
    of the backend's own compiled (XLA) products of a training step
    (forward, inputs' gradient, kernel's gradient; 256 rows, 1024 x 1024)
    with the epoch time they imply for the products alone.
Grid search
    ``GridSearchCV`` over dropout [0.1, 0.3, 0.5] x n_layers [1, 2, 3],
    ``KFold(5, shuffle=True, random_state=0)``, 20 epochs of 64 units, batch
    32, MSE, no early stopping, ``n_jobs=1``, on all rows behind a
    ``StandardScaler`` pipeline: skdropbn against scikeras' ``KerasRegressor``
    with a model function of the identical architecture (under JAX, where
    scikeras cannot run, against ``keras.wrappers.SKLearnRegressor``).
    ``--quick``: 3 folds, 5 epochs.
Predict latency
    Median wall time of one call on 1, 1,000 and 100,000 rows (the lesson's
    net: 20,000 with ``--quick``) of skdropbn's ``predict``, the Keras model's
    ``predict(verbose=0)`` and direct ``model(x, training=False)`` call,
    scikeras' and ``keras.wrappers``' ``predict`` (up to 1,000 rows: beyond,
    they are ``model.predict``) and ``MLPRegressor``'s (same hidden sizes,
    float64, fitted for 5 iterations; not on the lesson's net beyond 1,000
    rows, where it took ~20 s a call when tried). Repeats: up to 200 on one row, within
    a time budget per measurement, after a warm-up call. Also the largest
    difference between skdropbn's ``predict`` (NumPy) and ``model_.predict``
    on the original target scale, relative to the target's standard
    deviation.
Memory
    Resident memory (``/proc/self/statm``) grown per fit over 50 consecutive
    small fits (2 x 64, 5 epochs) after 5 warm-up fits, ``gc.collect()``
    before each reading; skdropbn, scikeras (``keras.wrappers`` under JAX;
    20 fits, each of which traces a new model) and ``MLPRegressor``.
    ``--quick``: 10 fits after 2.
Import time
    In fresh interpreters (median of 5): the time ``import skdropbn`` adds
    to ``import numpy, sklearn.base, sklearn.utils``, and whether it loaded
    Keras; ``import tensorflow`` (``import jax`` under JAX) then ``import
    keras``, for context: what the first fit adds.

The machine is usually shared: the load average at the start and the end is
recorded and printed in the header, and figures from a loaded machine are
indicative only.
"""

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _machine import load_average, machine
from _speed_epochs import compiled_gemm_rates, gemm_rates, measure_epochs
from _speed_measure import (
    fit_predict_baselines,
    measure_agreement,
    measure_grid,
    measure_imports,
    measure_memory,
    measure_predict,
)
from _speed_models import NETS, load_data
from _speed_report import render
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

RESULTS = Path(__file__).resolve().parent / "results"
SCHEMA = 1  # of the JSON file: raise it when a key changes meaning

# The targets of the GitHub issue "Speed", recorded in each results file.
TARGETS = {
    "epoch_vs_model_fit": {"lesson": 3, "small": 5},  # times faster
    "gflops_share_of_gemm": 0.7,
    "grid_vs_wrapper": 5,  # times faster
    "predict_agreement": 1e-4,  # max abs difference / y std
    "predict_one_row_s": 5e-4,
    "rss_mb_per_fit": 1.0,
    "import_s": 0.2,
}


def plan(quick):
    """Sizes and repeats of every measurement; fewer and smaller with ``quick``."""
    return {
        "quick": quick,
        "gemm_budget_s": 1.0 if quick else 2.0,
        # skdropbn's (E1, E2) epochs and the repeats of the interleaved round.
        "epoch_plans": {"lesson": [2, 7 if quick else 12],
                        "small": [5, 45 if quick else 105]},
        "epoch_repeats": 3 if quick else 5,
        "grid": {"cv": 3 if quick else 5, "epochs": 5 if quick else 20},
        # The lesson's net does ~4 GFLOP per 10,000 rows: 100,000 rows take
        # seconds per call, 20,000 in --quick give the same rows/s sooner.
        "predict_sizes": {
            "lesson": [1, 1000, 20_000 if quick else 100_000],
            "small": [1, 1000, 100_000],
        },
        "predict_repeats": {"1": 50 if quick else 200, "1000": 10 if quick else 30},
        "predict_repeats_more": 1 if quick else 3,
        "predict_budget_s": 0.5 if quick else 3.0,
        # A Keras wrapper's fit traces a new model (seconds): fewer of them.
        "memory": {"warmup": 2 if quick else 5, "fits": 10 if quick else 50,
                   "wrapper_fits": 10 if quick else 20},
        "import_runs": 3 if quick else 5,
    }  # fmt: skip


def load_split():
    """All rows, and 70% for training (standardised) and 30% to predict."""
    X_all, y_all, note = load_data()
    X_train, X_test, y_train, _ = train_test_split(
        X_all, y_all, train_size=0.7, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return {
        "all": (X_all, y_all),
        "train": (scaler.transform(X_train), y_train),
        "test": scaler.transform(X_test),
        "note": note,
    }


def run_training(data, backend, settings, log):
    """Epoch and GEMM figures, and each net's fitted (estimator, Keras model)."""
    X, y = data["train"]
    log("GEMM rate")
    out = {"gemm": gemm_rates(settings["gemm_budget_s"]), "epochs": {}}
    fitted = {}
    for name, net in NETS.items():
        e1, e2 = settings["epoch_plans"][name]
        log(f"epoch time, {name} net")
        out["epochs"][name], fitted[name] = measure_epochs(
            X, y, net, e1, e2, settings["epoch_repeats"], reference=name == "lesson"
        )
    log("compiled GEMM rates")
    out["compiled_gemm"] = {
        "batch": 256,
        "units": 1024,
        "chain": 8,
        "gflops": compiled_gemm_rates(backend, settings["gemm_budget_s"]),
    }
    return out, fitted


def run_predict(data, fitted, backend, settings, log):
    """Agreement with ``model_.predict`` and predict latencies, per net."""
    X_train, y_train = data["train"]
    X_test = data["test"]
    rng = np.random.default_rng(0)
    out = {}
    for name, net in NETS.items():
        est, model = fitted[name]
        log(f"predict, {name} net: fitting the wrappers")
        others = fit_predict_baselines(net, X_train, y_train, backend)
        record = {"net": net, "agreement": measure_agreement(est, X_test)}
        record["calls"] = []
        for size in settings["predict_sizes"][name]:
            log(f"predict, {name} net, {size} rows")
            X = X_test[rng.integers(0, len(X_test), size)]
            repeats = settings["predict_repeats"].get(
                str(size), settings["predict_repeats_more"]
            )
            seconds = measure_predict(
                est, model, others, X, repeats, settings["predict_budget_s"],
                lesson=name == "lesson",
            )  # fmt: skip
            record["calls"].append(
                {"rows": size, "repeats": repeats, "seconds": seconds}
            )
        out[name] = record
    return out


def run(args, argv, log):
    """Time everything; the results dict that ``write`` saves as JSON."""
    start, load_start = time.perf_counter(), load_average()
    import keras

    backend = keras.backend.backend()
    settings = plan(args.quick)
    data = load_split()
    X_train, y_train = data["train"]
    results = {"benchmark": "speed", "schema": SCHEMA, "machine": machine(backend)}
    results["targets"] = TARGETS
    training, fitted = run_training(data, backend, settings, log)
    results.update(training)
    log("grid search")
    grid = settings["grid"]
    results["grid"] = measure_grid(
        *data["all"], backend, grid["cv"], grid["epochs"], log=log
    )
    results["predict"] = run_predict(data, fitted, backend, settings, log)
    memory = settings["memory"]
    results["memory"] = measure_memory(
        X_train, y_train, NETS["small"], backend,
        memory["warmup"], memory["fits"], memory["wrapper_fits"], log=log,
    )  # fmt: skip
    log("import time")
    results["imports"] = measure_imports(backend, settings["import_runs"])
    results["load_average"] = {"start": load_start, "end": load_average()}
    results["settings"] = {
        "argv": argv,
        "options": vars(args),
        "data": data["note"],
        "train_rows": len(X_train),
        "test_rows": len(data["test"]),
        "features": X_train.shape[1],
        **settings,
    }
    results["total_seconds"] = time.perf_counter() - start
    return results


def _plain(value):
    """NumPy scalars as Python numbers, for ``json.dumps``."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def write(results, folder):
    """``speed-<backend>.json`` and the Markdown rendered from it, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"speed-{results['machine']['backend']}"
    text = json.dumps(results, indent=1, default=_plain) + "\n"
    stem.with_suffix(".json").write_text(text)
    # Rendered from the file's own text, as --report-only would.
    return report(stem.with_suffix(".json"), folder)


def report(path, folder=None):
    """Render the Markdown of the JSON file ``path`` into ``folder`` (or beside)."""
    results = json.loads(Path(path).read_text())
    target = Path(folder or Path(path).parent) / (Path(path).stem + ".md")
    text = render(results)
    target.write_text(text)
    return text, target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 4 minutes")
    parser.add_argument(
        "--out",
        help="folder of the .json and .md (default: benchmarks/results/, "
        "or benchmarks/results/quick/ with --quick)",
    )
    parser.add_argument(
        "--report-only",
        metavar="JSON",
        help="time nothing: re-render the Markdown of this results file",
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.report_only:
        text, target = report(args.report_only, args.out)
    else:
        # Drop TensorFlow's C++ INFO and warning lines (CUDA probing on CPU).
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        t_start = time.perf_counter()

        def log(msg):
            print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", file=sys.stderr)

        results = run(args, argv, log)
        log("done")
        folder = (
            Path(args.out) if args.out else RESULTS / ("quick" if args.quick else "")
        )
        text, target = write(results, folder)
    print(text, end="")
    print(f"\nwritten to {target}", file=sys.stderr)


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        main()
