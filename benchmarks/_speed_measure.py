"""The measurements of benchmarks/speed.py after training: search, predict, memory.

Each ``measure_*`` function times one thing and returns plain numbers in a
dict (seconds, megabytes, counts; JSON-serialisable), and prints nothing:
``benchmarks/_speed_report.py`` turns them into prose. Also the timing
primitives the training measurements (``_speed_epochs.py``) share.
"""

import contextlib
import gc
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from _speed_models import (
    GRID,
    REPO,
    baseline_wrapper,
    dropbn,
    mlp_est,
    scikeras_est,
    wrapper_est,
)
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def _no_log(msg):
    pass


# -- timing primitives -----------------------------------------------------------
def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn, repeats, budget_s, warmup=True):
    """Median seconds of ``fn()`` over up to ``repeats`` calls within ``budget_s``."""
    if warmup:
        fn()
    times, start = [], time.perf_counter()
    while len(times) < repeats:
        times.append(timed(fn))
        if times[0] > budget_s or (
            len(times) >= 3 and time.perf_counter() - start > budget_s
        ):
            break
    return statistics.median(times)


@contextlib.contextmanager
def quiet():
    """Silence stdout (progress bars of keras.wrappers' predict) and warnings."""
    with (
        open(os.devnull, "w") as devnull,
        contextlib.redirect_stdout(devnull),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


# -- grid search -----------------------------------------------------------------
GRID_NET = {"units": 64, "batch_size": 32, "dropout": 0.3, "n_layers": 1}


def _param_grid(who, est, step):
    """``GRID`` for the pipeline step ``step`` (keras.wrappers: model_kwargs)."""
    if who != "keras.wrappers":
        return {f"{step}__{k}": v for k, v in GRID.items()}
    kwargs = est.model_kwargs
    return {
        f"{step}__model_kwargs": [
            {**kwargs, "dropout": d, "n_layers": n}
            for d in GRID["dropout"]
            for n in GRID["n_layers"]
        ]
    }


def measure_grid(X, y, backend, cv, epochs, log=_no_log):
    """Wall seconds of one ``GridSearchCV`` by skdropbn and by a Keras wrapper.

    ``GRID`` over ``GRID_NET``, ``KFold(cv, shuffle=True, random_state=0)``,
    ``epochs`` epochs, MSE, no early stopping, ``n_jobs=1``, behind a
    ``StandardScaler`` pipeline, on all of ``X``.
    """
    wrapper_name, make_wrapper, wrapper_step = baseline_wrapper(backend)
    searches = {
        "skdropbn": (
            dropbn(GRID_NET, epochs=epochs, loss="squared_error"),
            "dropbnregressor",
        ),
        wrapper_name: (make_wrapper(GRID_NET, epochs, loss_name="mse"), wrapper_step),
    }
    seconds = {}
    for who, (est, step) in searches.items():
        log(f"grid search, {who}")
        search = GridSearchCV(
            make_pipeline(StandardScaler(), est),
            _param_grid(who, est, step),
            cv=KFold(cv, shuffle=True, random_state=0),
            n_jobs=1,
        )
        # clone() drops keras.wrappers' fit_kwargs (the cloned wrapper trains
        # one epoch), so its epochs reach each fit as fit parameters instead.
        kwargs = getattr(est, "fit_kwargs", None) or {}
        params = {f"{step}__{k}": v for k, v in kwargs.items()}
        with quiet():
            seconds[who] = timed(lambda s=search, p=params: s.fit(X, y, **p))
    n_candidates = len(GRID["dropout"]) * len(GRID["n_layers"])
    return {
        "net": GRID_NET,
        "grid": GRID,
        "cv": cv,
        "epochs": epochs,
        "loss": "squared_error",
        "n_candidates": n_candidates,
        "n_fits": n_candidates * cv + 1,
        "baseline": wrapper_name,
        "seconds": seconds,
    }


# -- predict ---------------------------------------------------------------------
def fit_predict_baselines(net, X, y, backend):
    """The Keras wrappers and MLPRegressor of ``net``, fitted briefly."""
    with quiet():
        others = {"keras.wrappers": wrapper_est(net, 1).fit(X, y)}
        if baseline_wrapper(backend)[0] == "scikeras":
            others["scikeras"] = scikeras_est(net, 1).fit(X, y)
        others["MLPRegressor"] = mlp_est(net).fit(X, y)
    return others


def measure_agreement(est, X):
    """The largest difference of ``est.predict`` from ``est.model_.predict``.

    On the original target scale; ``relative`` divides it by the target's
    standard deviation (``y_scale_``).
    """
    with quiet():
        pred_keras = est.model_.predict(X, verbose=0)
    pred_keras = (pred_keras * est.y_scale_ + est.y_mean_).ravel()
    diff = float(np.max(np.abs(est.predict(X) - pred_keras)))
    return {"max_abs": diff, "relative": diff / float(est.y_scale_[0]), "rows": len(X)}


def _callers(est, model, others, X, lesson, big):
    """Who predicts ``X``: skdropbn, the Keras model two ways and ``others``."""
    import keras

    return {
        "skdropbn": lambda: est.predict(X),
        "model.predict": lambda: model.predict(X, verbose=0),
        "model(x)": lambda: keras.ops.convert_to_numpy(model(X, training=False)),
        **{
            k: (lambda o=o: o.predict(X))
            for k, o in others.items()
            # On many rows the Keras wrappers are model.predict; the float64
            # MLP on the lesson's net took ~20 s a call when tried.
            if not (big and k in ("scikeras", "keras.wrappers"))
            and not (big and lesson and k == "MLPRegressor")
        },
    }


def measure_predict(est, model, others, X, repeats, budget_s, lesson):
    """Median seconds of one ``predict`` on ``X`` by each of the callers.

    Up to ``repeats`` calls within ``budget_s`` each, after a warm-up call
    (none beyond 1,000 rows).
    """
    big = len(X) > 1000
    callers = _callers(est, model, others, X, lesson, big)
    with quiet():
        return {
            who: median_time(call, repeats, budget_s, warmup=not big)
            for who, call in callers.items()
        }


# -- memory ----------------------------------------------------------------------
def rss_mb():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_per_fit(make, X, y, warmup, n_fits):
    """MB of resident memory grown per fit of ``make()`` over ``n_fits`` fits."""
    with quiet():
        for _ in range(warmup):
            make().fit(X, y)
        gc.collect()
        before = rss_mb()
        for _ in range(n_fits):
            make().fit(X, y)
        gc.collect()
    return (rss_mb() - before) / n_fits


def measure_memory(X, y, net, backend, warmup, n_fits, n_wrapper_fits, log=_no_log):
    """Resident MB grown per fit (``epochs=5``) by skdropbn and the baselines.

    A Keras wrapper's fit traces a new model (seconds): ``n_wrapper_fits``
    of them, ``n_fits`` of the others.
    """
    wrapper_name, make_wrapper, _ = baseline_wrapper(backend)
    makers = {
        "skdropbn": (lambda: dropbn(net, epochs=5), n_fits),
        wrapper_name: (lambda: make_wrapper(net, 5), n_wrapper_fits),
        "MLPRegressor": (lambda: mlp_est(net), n_fits),
    }
    growth = {}
    for who, (make, n) in makers.items():
        log(f"memory, {who}")
        growth[who] = {"mb_per_fit": rss_per_fit(make, X, y, warmup, n), "fits": n}
    return {"net": net, "epochs": 5, "warmup": warmup, "fits": n_fits, "rss": growth}


# -- import time -----------------------------------------------------------------
IMPORT_CODE = """
import sys, time
t0 = time.perf_counter()
import numpy, sklearn.base, sklearn.utils
t1 = time.perf_counter()
import skdropbn
t2 = time.perf_counter()
loaded = [m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules]
t3 = time.perf_counter()
import {backend_module}
t4 = time.perf_counter()
import keras
t5 = time.perf_counter()
print(t1 - t0, t2 - t1, t4 - t3, t5 - t4, ",".join(loaded) or "none")
"""


def measure_imports(backend, runs):
    """Median import seconds in ``runs`` fresh interpreters, and what loaded.

    ``seconds``: numpy + sklearn.base + sklearn.utils; skdropbn on top of
    them; the backend's module; keras on top of it. ``loaded``: the backend
    modules ``import skdropbn`` loaded (``["none"]`` when none did).
    """
    backend_module = backend  # tensorflow, jax or torch
    code = IMPORT_CODE.format(backend_module=backend_module)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    rows, loaded = [], set()
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        rows.append([float(v) for v in out[:4]])
        loaded.add(out[4])
    medians = [statistics.median(col) for col in zip(*rows)]
    return {
        "runs": runs,
        "backend_module": backend_module,
        "seconds": dict(zip(["sklearn", "skdropbn", "backend", "keras"], medians)),
        "loaded": sorted(loaded),
    }
