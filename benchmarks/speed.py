"""Speed of DropBNRegressor against raw Keras, the Keras wrappers and MLPRegressor.

Run from the repository root::

    python benchmarks/speed.py            # full run, about 8 minutes on 2 cores
    python benchmarks/speed.py --quick    # about 4 minutes, fewer repeats
    KERAS_BACKEND=jax python benchmarks/speed.py

Everything runs in this one process, side by side, on the same data and the
same architecture, and ends in one Markdown table (also written to
``benchmarks/results/speed-<backend>.md``, or ``speed-<backend>-quick.md``
with ``--quick``; ``--out`` chooses another file). Each row gives the
measurement, skdropbn's figure, the baselines', the ratio, the target of the
GitHub issue "Speed" and whether it is met. The rows:

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
    rows, where it takes ~20 s). Repeats: up to 200 on one row, within
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
printed in the header, and figures from a loaded machine are indicative only.
"""

import argparse
import contextlib
import functools
import gc
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skdropbn
from skdropbn import DropBNRegressor

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "red-wine.csv"
RESULTS = REPO / "benchmarks" / "results"

# The lesson's network and the small one, as skdropbn parameters.
NETS = {
    "lesson": {"n_layers": 3, "units": 1024, "dropout": 0.3, "batch_size": 256},
    "small": {"n_layers": 2, "units": 64, "dropout": 0.3, "batch_size": 32},
}
GRID = {"dropout": [0.1, 0.3, 0.5], "n_layers": [1, 2, 3]}


# -- data, models ----------------------------------------------------------------
def load_data():
    """Features, target and a note on where they came from."""
    if DATA.exists():
        frame = pd.read_csv(DATA)
        y = frame.pop("quality").to_numpy(float)
        return frame.to_numpy(float), y, f"red wine ({DATA.name})"
    X, y = load_diabetes(return_X_y=True)
    return X, y, f"diabetes: {DATA} not found, red wine NOT used"


def dropbn(net, **params):
    """The skdropbn estimator of one of ``NETS``."""
    return DropBNRegressor(
        n_layers=net["n_layers"],
        units=net["units"],
        dropout=net["dropout"],
        batch_norm="after",
        loss="absolute_error",
        batch_size=net["batch_size"],
        early_stopping=False,
        feature_embedding=None,  # the lesson's plain network, as Keras's
        ema_momentum=0,  # the last weights, as model.fit keeps them
        random_state=0,
    ).set_params(**params)


def keras_net(n_features, n_layers, units, dropout, loss="mae", jit_compile="auto"):
    """The lesson's Keras model, compiled as the lesson does."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(shape=(n_features,))])
    for _ in range(n_layers):
        model.add(layers.Dense(units, activation="relu"))
        model.add(layers.Dropout(dropout))
        model.add(layers.BatchNormalization())
    model.add(layers.Dense(1))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=loss, jit_compile=jit_compile
    )
    return model


def scikeras_model(n_layers, units, dropout, loss_name, meta):
    """Model function for scikeras' KerasRegressor."""
    return keras_net(meta["n_features_in_"], n_layers, units, dropout, loss_name)


def wrapper_model(X, y, n_layers, units, dropout, loss_name):
    """Model function for keras.wrappers.SKLearnRegressor."""
    return keras_net(X.shape[1], n_layers, units, dropout, loss_name)


def scikeras_est(net, epochs, loss_name="mae", batch_size=None):
    from scikeras.wrappers import KerasRegressor

    return KerasRegressor(
        model=scikeras_model,
        n_layers=net["n_layers"],
        units=net["units"],
        dropout=net["dropout"],
        loss_name=loss_name,
        epochs=epochs,
        batch_size=batch_size or net["batch_size"],
        verbose=0,
    )


def wrapper_est(net, epochs, loss_name="mae", batch_size=None):
    import keras

    return keras.wrappers.SKLearnRegressor(
        model=wrapper_model,
        model_kwargs={
            "n_layers": net["n_layers"],
            "units": net["units"],
            "dropout": net["dropout"],
            "loss_name": loss_name,
        },
        fit_kwargs={
            "epochs": epochs,
            "batch_size": batch_size or net["batch_size"],
            "verbose": 0,
        },
    )


def mlp_est(net, max_iter=5):
    return MLPRegressor(
        hidden_layer_sizes=(net["units"],) * net["n_layers"],
        batch_size=net["batch_size"],
        max_iter=max_iter,
        random_state=0,
    )


def has_scikeras(backend):
    """scikeras needs TensorFlow: only under the TensorFlow backend."""
    if backend != "tensorflow":
        return False
    try:
        import scikeras.wrappers  # noqa: F401
    except ImportError:
        return False
    return True


# -- measuring -------------------------------------------------------------------
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


def gemm_rates(budget_s):
    """Median GFLOP/s of NumPy's float32 ``a @ b`` on the network's shapes."""
    rng = np.random.default_rng(0)
    rates = {}
    for m, k, n in [(1024, 1024, 1024), (256, 1024, 1024), (1024, 256, 1024)]:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        seconds = median_time(lambda a=a, b=b: a @ b, 100, budget_s)
        rates[f"({m},{k})@({k},{n})"] = 2 * m * k * n / seconds / 1e9
    return rates


def train_flops(n_rows, n_features, net):
    """Training FLOPs of one epoch: 6 per multiply-add of the Dense layers."""
    sizes = [n_features] + [net["units"]] * net["n_layers"] + [1]
    return 6 * n_rows * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def dropbn_epochs(X, y, net, e1, e2, repeats, variants, keras_fits=(), k_epochs=2):
    """skdropbn's epoch time and fixed cost per fit for each of ``variants``.

    ``variants`` maps a name to estimator parameters; the variants are timed
    in turn within each repeat (interleaved), and so are ``k_epochs`` epochs
    of each of ``keras_fits`` (``KerasFit``, ``NumpyProducts``,
    ``NumpyGemm``), so that a change in the machine's load hits them all
    alike. Returns ``{name: (epoch, fixed, est)}``, medians over the repeats.
    """
    ests = {k: dropbn(net, epochs=e1, **p).fit(X, y) for k, p in variants.items()}
    epochs = {k: [] for k in variants}
    fixed = {k: [] for k in variants}
    for _ in range(repeats):
        for k, est in ests.items():  # the first fit above compiled each trainer
            t1 = timed(lambda est=est: est.set_params(epochs=e1).fit(X, y))
            t2 = timed(lambda est=est: est.set_params(epochs=e2).fit(X, y))
            epochs[k].append((t2 - t1) / (e2 - e1))
            fixed[k].append(t1 - e1 * epochs[k][-1])
        for keras_fit in keras_fits:
            keras_fit.run(k_epochs)
    return {
        k: (statistics.median(epochs[k]), statistics.median(fixed[k]), ests[k])
        for k in variants
    }


def compiled_gemm_rates(backend, budget_s, batch=256, units=1024, chain=8):
    """GFLOP/s of the backend's compiled (XLA) float32 matrix products.

    The three products of a training step of a ``units`` x ``units`` Dense
    layer on ``batch`` rows: forward ``x @ W``, the inputs' gradient
    ``g @ W.T`` and the kernel's gradient ``x.T @ g``, each ``chain`` times
    in one compiled function (forward and input gradient chained through
    their outputs, kernel gradients summed), median over calls.
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, units), dtype=np.float32)
    w = (rng.standard_normal((units, units)) / np.sqrt(units)).astype(np.float32)

    if backend == "tensorflow":
        import tensorflow as tf

        compile_fn = functools.partial(tf.function, jit_compile=True)
        transpose = tf.transpose
        x, w = tf.constant(x), tf.constant(w)

        def run(f):
            return f(x, w).numpy()
    else:
        import jax

        compile_fn = jax.jit
        transpose = jax.numpy.transpose
        x, w = jax.numpy.asarray(x), jax.numpy.asarray(w)

        def run(f):
            return f(x, w).block_until_ready()

    def forward(x, w):
        for _ in range(chain):
            x = x @ w
        return x

    def input_gradient(x, w):
        for _ in range(chain):
            x = x @ transpose(w)
        return x

    def kernel_gradient(x, w):
        return sum(transpose(x * float(i + 1)) @ x for i in range(chain))

    flops = 2 * batch * units * units * chain
    rates = {}
    for name, fn in [
        ("x @ W", forward),
        ("g @ W.T", input_gradient),
        ("x.T @ g", kernel_gradient),
    ]:
        f = compile_fn(fn)
        rates[name] = flops / median_time(lambda f=f: run(f), 50, budget_s) / 1e9
    return rates


class KerasFit:
    """The lesson's Keras model and its ``model.fit`` epoch times.

    ``run(epochs)`` fits on, timing each epoch with a callback (from its
    start to its end: the per-fit set-up is left out, which favours
    ``model.fit``); ``epoch`` is the median of every epoch timed so far.
    """

    def __init__(self, X, y, net, jit_compile="auto"):
        import keras

        times = self.times = []

        class EpochTimer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.start)

        self.X, self.y, self.timer = X, y, EpochTimer()
        self.model = keras_net(
            X.shape[1],
            net["n_layers"],
            net["units"],
            net["dropout"],
            "mae",
            jit_compile,
        )
        self.fit_args = {"batch_size": net["batch_size"], "verbose": 0}
        self.model.fit(X, y, epochs=1, **self.fit_args)  # traces the train function

    def run(self, epochs):
        self.model.fit(
            self.X, self.y, epochs=epochs, callbacks=[self.timer], **self.fit_args
        )

    @property
    def epoch(self):
        return statistics.median(self.times)


class NumpyProducts:
    """The float32 matrix products of a training epoch alone, in NumPy.

    Every product that training the network needs, on the exact shapes of
    skdropbn's steps (``ceil(n / batch)`` equal batches): per Dense layer
    ``x @ W`` forward, ``x.T @ g`` for the kernel's gradient and, past the
    first layer, ``g @ W.T`` for the inputs' gradient, written into
    preallocated arrays. Nothing else: no bias, activation, dropout, batch
    norm, loss, optimizer or loop. NumPy hands them to its BLAS (OpenBLAS),
    the machine's fastest float32 products (the GEMM reference of the
    table), so this is a floor under any float32 trainer of the network on
    this machine, compiled or not. Same interface as ``KerasFit``:
    ``run(epochs)`` times that many epochs, ``epoch`` is the median.
    """

    def __init__(self, n_rows, n_features, net):
        n_batches = -(-n_rows // net["batch_size"])
        self.n_batches, self.rows = n_batches, -(-n_rows // n_batches)
        sizes = [n_features] + [net["units"]] * net["n_layers"] + [1]
        shapes = list(zip(sizes[:-1], sizes[1:]))
        rng = np.random.default_rng(0)

        def arr(*shape):
            return rng.standard_normal(shape, dtype=np.float32)

        b = self.rows
        # (x, W, g, x @ W, x.T @ g, g @ W.T or None) per Dense layer.
        self.layers = [
            (arr(b, a), arr(a, c), arr(b, c), arr(b, c), arr(a, c),
             arr(b, a) if i else None)
            for i, (a, c) in enumerate(shapes)
        ]  # fmt: skip
        self.flops = n_batches * sum(
            2 * b * a * c * (3 if i else 2) for i, (a, c) in enumerate(shapes)
        )
        self.times = []
        self.run(1)  # warm-up: BLAS threads started, pages touched
        self.times.clear()

    def run(self, epochs):
        for _ in range(epochs):
            start = time.perf_counter()
            for _ in range(self.n_batches):
                for x, w, g, out, grad_w, grad_x in self.layers:
                    np.matmul(x, w, out=out)
                    np.matmul(x.T, g, out=grad_w)
                    if grad_x is not None:
                        np.matmul(g, w.T, out=grad_x)
            self.times.append(time.perf_counter() - start)

    @property
    def epoch(self):
        return statistics.median(self.times)


class NumpyGemm:
    """NumPy's float32 ``a @ b`` on (n, n) matrices, timed alongside the epochs.

    ``run(epochs)`` times ``per_epoch`` products, one at a time; ``rate`` is
    their median in GFLOP/s: the machine's practical peak under the same
    load as the epochs it is compared with.
    """

    def __init__(self, n=1024, per_epoch=8):
        rng = np.random.default_rng(0)
        self.a, self.b = (rng.standard_normal((n, n), dtype=np.float32) for _ in "ab")
        self.out = np.empty((n, n), dtype=np.float32)
        self.per_epoch, self.flops, self.times = per_epoch, 2 * n**3, []
        self.run(1)  # warm-up
        self.times.clear()

    def run(self, epochs):
        for _ in range(epochs * self.per_epoch):
            start = time.perf_counter()
            np.matmul(self.a, self.b, out=self.out)
            self.times.append(time.perf_counter() - start)

    @property
    def rate(self):
        return self.flops / statistics.median(self.times) / 1e9


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


IMPORT_CODE = """
import sys, time
t0 = time.perf_counter()
import numpy, sklearn.base, sklearn.utils
t1 = time.perf_counter()
import skdropbn
t2 = time.perf_counter()
loaded = [m for m in ("keras", "tensorflow", "jax") if m in sys.modules]
t3 = time.perf_counter()
import {backend_module}
t4 = time.perf_counter()
import keras
t5 = time.perf_counter()
print(t1 - t0, t2 - t1, t4 - t3, t5 - t4, ",".join(loaded) or "none")
"""


def import_times(backend, runs):
    """Medians (sklearn, skdropbn on top, backend, keras on top) and what loaded."""
    code = IMPORT_CODE.format(
        backend_module="tensorflow" if backend == "tensorflow" else "jax"
    )
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
    return [statistics.median(col) for col in zip(*rows)], loaded


# -- formatting ------------------------------------------------------------------
def fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def verdict(ok):
    return "pass" if ok else "**miss**"


def faster(baseline, ours):
    ratio = baseline / ours
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


def header(backend, data_note, quick, load_start):
    def version(dist):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load_end = " ".join(f.read().split()[:3])
    versions = ", ".join(
        f"{name} {version(dist)}"
        for name, dist in [
            ("numpy", "numpy"),
            ("scikit-learn", "scikit-learn"),
            ("keras", "keras"),
            ("tensorflow", "tensorflow"),
            ("jax", "jax"),
            ("scikeras", "scikeras"),
        ]
    )
    return [
        f"# skdropbn speed, Keras backend `{backend}`"
        + (" (`--quick`: fewer repeats, smaller searches)" if quick else ""),
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} CPUs ({cpu}); "
        f"load average {load_start} at start, {load_end} at end",
        "",
        f"Python {platform.python_version()}, skdropbn {skdropbn.__version__}, "
        f"{versions}",
        "",
        f"Data: {data_note}.",
        "",
    ]


# -- the benchmark ---------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 4 minutes")
    parser.add_argument("--out", help="Markdown file to write (default: results/)")
    args = parser.parse_args()
    quick = args.quick
    with open("/proc/loadavg") as f:
        load_start = " ".join(f.read().split()[:3])

    # Drop TensorFlow's C++ INFO and warning lines (CUDA probing on CPU hosts).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    backend = keras.backend.backend()
    use_scikeras = has_scikeras(backend)
    wrapper_name = "scikeras" if use_scikeras else "keras.wrappers"
    make_wrapper = scikeras_est if use_scikeras else wrapper_est

    def log(msg):
        print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", file=sys.stderr)

    t_start = time.perf_counter()
    X_all, y_all, data_note = load_data()
    X_train, X_test, y_train, _ = train_test_split(
        X_all, y_all, train_size=0.7, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    n_rows, n_features = X_train.shape
    rows, notes = [], []

    # 1-2. Epoch time and GFLOP/s ------------------------------------------------
    log("GEMM rate")
    gemm = gemm_rates(budget_s=1.0 if quick else 2.0)
    fitted = {}
    # skdropbn's (E1, E2) epochs; repeats of the interleaved round.
    plans = {"lesson": (2, 7 if quick else 12), "small": (5, 45 if quick else 105)}
    repeats = 3 if quick else 5
    # The same trainer with everything but the matrix products (and ReLU)
    # switched off (no dropout, no batch norm, plain SGD's one pass over the
    # weights): about what the products alone take, the floor of an epoch.
    variants = {
        "table": {},
        "averaged": {"ema_momentum": "auto"},
        "products": {
            "dropout": 0.0,
            "batch_norm": None,
            "optimizer": "sgd",
        },
        # ... and the same with the table's optimizer, Adam.
        "products_adam": {"dropout": 0.0, "batch_norm": None},
    }
    for name, net in NETS.items():
        e1, e2 = plans[name]
        log(f"epoch time, {name} net")
        keras_fits = [KerasFit(X_train, y_train, net, jit_compile=jit)
                      for jit in ("auto", True)]  # fmt: skip
        numpy_products = NumpyProducts(n_rows, n_features, net)
        # The GEMM reference of the GFLOP/s row, which only the lesson net has.
        references = [NumpyGemm()] if name == "lesson" else []
        times = dropbn_epochs(
            X_train,
            y_train,
            net,
            e1,
            e2,
            repeats,
            variants,
            [*keras_fits, numpy_products, *references],
        )
        ours, fixed, est = times["table"]
        theirs, xla = (keras_fit.epoch for keras_fit in keras_fits)
        model = keras_fits[0].model
        fitted[name] = (est, model)
        target = 3 if name == "lesson" else 5
        label = (
            f"{net['n_layers']} x {net['units']}, batch {net['batch_size']}, "
            f"{n_rows} rows"
        )
        rows.append(
            [
                f"Epoch time, {label}",
                fmt_time(ours),
                f"model.fit {fmt_time(theirs)} (jit_compile={model.jit_compile}); "
                f"jit_compile=True {fmt_time(xla)}",
                faster(theirs, ours),
                f">= {target}x model.fit",
                verdict(theirs / ours >= target),
            ]
        )
        notes.append(
            f"{name} net: skdropbn's fixed cost per fit, t(E1) - E1 x epoch "
            f"(E1={e1}, E2={e2}): {fmt_time(fixed)}."
        )
        averaged, floor = times["averaged"][0], times["products"][0]
        notes.append(
            f"{name} net: the table times ema_momentum=0 (the last weights, as "
            "model.fit); with the default weight averaging (ema_momentum='auto') "
            f"an epoch takes {fmt_time(averaged)}, {averaged / ours:.2f}x "
            "(timed interleaved with it)."
        )
        # skdropbn splits the rows into ceil(n / batch) equal batches.
        n_batches = -(-n_rows // net["batch_size"])
        n_computed = n_batches * -(-n_rows // n_batches)
        notes.append(
            f"{name} net: the matrix products and ReLU alone (the same trainer "
            "with no dropout, no batch norm and SGD) take "
            f"{fmt_time(floor)} per epoch of {n_computed} rows ({n_rows} rows in "
            f"{n_batches} equal batches), {100 * floor / ours:.0f}% of the "
            f"epoch; {target}x model.fit needs {fmt_time(theirs / target)}. "
            "With Adam's update instead of SGD's (still no dropout, no batch "
            f"norm): {fmt_time(times['products_adam'][0])}."
        )
        # The fastest of its epochs: a floor is what the products can take.
        floor_np = min(numpy_products.times)
        notes.append(
            f"{name} net: the float32 matrix products of an epoch alone, as NumPy "
            f"(its BLAS) computes them on the steps' exact shapes ({n_batches} x "
            f"{numpy_products.rows} rows; no dropout, batch norm, optimizer or "
            f"loop), timed in the same round, take {fmt_time(floor_np)} at best "
            f"({numpy_products.flops / floor_np / 1e9:.1f} GFLOP/s; median "
            f"{fmt_time(numpy_products.epoch)}): "
            f"{100 * floor_np * target / theirs:.0f}% of the "
            f"{fmt_time(theirs / target)} that {target}x model.fit allows a "
            "whole epoch."
        )
        flops = train_flops(n_rows, n_features, net)
        if name == "lesson":
            achieved, peak = flops / ours / 1e9, references[0].rate
            rows.append(
                [
                    f"GFLOP/s in training, {label} ({flops / 1e9:.1f} GFLOP/epoch)",
                    f"{achieved:.1f}",
                    f"NumPy float32 GEMM {peak:.1f} (1024,1024)@(1024,1024), "
                    f"timed in the epochs' round; model.fit {flops / theirs / 1e9:.1f}",
                    f"{100 * achieved / peak:.0f}% of GEMM",
                    ">= 70% of GEMM",
                    verdict(achieved >= 0.7 * peak),
                ]
            )
            compiled = compiled_gemm_rates(backend, budget_s=1.0 if quick else 2.0)
            # A third of the work is each kind of product.
            computed_flops = flops * n_computed / n_rows
            bound = sum(computed_flops / 3 / rate / 1e9 for rate in compiled.values())
            notes.append(
                f"{backend}'s compiled (XLA) float32 products of a training step, "
                "256 rows x 1024 x 1024, median GFLOP/s: "
                + ", ".join(f"{k} {v:.1f}" for k, v in compiled.items())
                + f"; at these rates the products of an epoch of {n_computed} rows "
                f"take at least {fmt_time(bound)}."
            )
    notes.append(
        "NumPy float32 GEMM before the epochs' rounds, median GFLOP/s: "
        + ", ".join(f"{k} {v:.1f}" for k, v in gemm.items())
    )

    # 3. Grid search ------------------------------------------------------------
    cv, grid_epochs = (3, 5) if quick else (5, 20)
    grid_net = {"units": 64, "batch_size": 32, "dropout": 0.3, "n_layers": 1}
    searches = {
        "skdropbn": (
            dropbn(grid_net, epochs=grid_epochs, loss="squared_error"),
            "dropbnregressor",
        ),
        wrapper_name: (
            make_wrapper(grid_net, grid_epochs, loss_name="mse"),
            "kerasregressor" if use_scikeras else "sklearnregressor",
        ),
    }
    grid_times = {}
    for who, (est, step) in searches.items():
        log(f"grid search, {who}")
        if who == "keras.wrappers":
            kwargs = est.model_kwargs
            grid = {
                f"{step}__model_kwargs": [
                    {**kwargs, "dropout": d, "n_layers": n}
                    for d in GRID["dropout"]
                    for n in GRID["n_layers"]
                ]
            }
        else:
            grid = {f"{step}__{k}": v for k, v in GRID.items()}
        search = GridSearchCV(
            make_pipeline(StandardScaler(), est),
            grid,
            cv=KFold(cv, shuffle=True, random_state=0),
            n_jobs=1,
        )
        with quiet():
            grid_times[who] = timed(lambda s=search: s.fit(X_all, y_all))
    n_candidates = len(GRID["dropout"]) * len(GRID["n_layers"])
    n_fits = n_candidates * cv + 1
    rows.append(
        [
            f"GridSearchCV wall time, {n_candidates} candidates, {cv}-fold, "
            f"{grid_epochs} epochs "
            f"({n_fits} fits), 64 units, batch 32, MSE, n_jobs=1",
            fmt_time(grid_times["skdropbn"]),
            f"{wrapper_name} {fmt_time(grid_times[wrapper_name])}",
            faster(grid_times[wrapper_name], grid_times["skdropbn"]),
            f">= 5x {wrapper_name}",
            verdict(grid_times[wrapper_name] / grid_times["skdropbn"] >= 5),
        ]
    )

    # 4. Predict latency --------------------------------------------------------
    rng = np.random.default_rng(0)
    for name, net in NETS.items():
        est, model = fitted[name]
        log(f"predict, {name} net: fitting the wrappers")
        with quiet():
            others = {"keras.wrappers": wrapper_est(net, 1).fit(X_train, y_train)}
            if use_scikeras:
                others["scikeras"] = scikeras_est(net, 1).fit(X_train, y_train)
            others["MLPRegressor"] = mlp_est(net).fit(X_train, y_train)
            pred_keras = est.model_.predict(X_test, verbose=0)
        pred_keras = (pred_keras * est.y_scale_ + est.y_mean_).ravel()
        diff = float(np.max(np.abs(est.predict(X_test) - pred_keras)))
        rel = diff / float(est.y_scale_[0])
        rows.append(
            [
                f"predict vs model_.predict, {name} net, max abs difference / y std",
                f"{rel:.1e}",
                f"max abs difference {diff:.1e}, {len(X_test)} rows",
                "",
                "<= 1e-4 (float32 round-off)",
                verdict(rel <= 1e-4),
            ]
        )
        # The lesson's net does ~4 GFLOP per 10,000 rows: 100,000 rows take
        # seconds per call, 20,000 in --quick give the same rows/s sooner.
        sizes = [1, 1000, 20_000 if quick and name == "lesson" else 100_000]
        for size in sizes:
            big = size > 1000
            log(f"predict, {name} net, {size} rows")
            X = X_test[rng.integers(0, len(X_test), size)]
            repeats = {1: 50 if quick else 200, 1000: 10 if quick else 30}
            repeats = repeats.get(size, 1 if quick else 3)
            budget = 0.5 if quick else 3.0
            callers = {
                "skdropbn": lambda X=X, est=est: est.predict(X),
                "model.predict": lambda X=X, m=model: m.predict(X, verbose=0),
                "model(x)": lambda X=X, m=model: keras.ops.convert_to_numpy(
                    m(X, training=False)
                ),
                **{
                    k: (lambda X=X, o=o: o.predict(X))
                    for k, o in others.items()
                    # On many rows the Keras wrappers are model.predict; the
                    # float64 MLP on the lesson's net would take ~20 s.
                    if not (big and k in ("scikeras", "keras.wrappers"))
                    and not (big and name == "lesson" and k == "MLPRegressor")
                },
            }
            times = {}
            with quiet():
                for who, call in callers.items():
                    times[who] = median_time(call, repeats, budget, warmup=not big)
            ours, theirs = times.pop("skdropbn"), times["model.predict"]
            if size == 1:
                target, ok = "<= 0.5 ms", ours <= 5e-4
            elif big:
                target, ok = ">= model.predict's rows/s", ours <= theirs
            else:
                target, ok = "", None
            rows.append(
                [
                    f"predict, {name} net ({net['n_layers']} x {net['units']}), "
                    f"{size:,} row{'s' if size > 1 else ''}",
                    fmt_time(ours),
                    "; ".join(f"{k} {fmt_time(v)}" for k, v in times.items()),
                    faster(theirs, ours) + " than model.predict",
                    target,
                    "" if ok is None else verdict(ok),
                ]
            )

    # 5. Memory per fit ---------------------------------------------------------
    warmup, n_fits = (2, 10) if quick else (5, 50)
    # A Keras wrapper's fit traces a new model (about 2 s): fewer of them.
    n_wrapper_fits = 10 if quick else 20
    small = NETS["small"]
    makers = {
        "skdropbn": (lambda: dropbn(small, epochs=5), n_fits),
        wrapper_name: (lambda: make_wrapper(small, 5), n_wrapper_fits),
        "MLPRegressor": (lambda: mlp_est(small), n_fits),
    }
    growth = {}
    for who, (make, n) in makers.items():
        log(f"memory, {who}")
        growth[who] = rss_per_fit(make, X_train, y_train, warmup, n), n
    ours = growth.pop("skdropbn")[0]
    rows.append(
        [
            f"RSS growth per fit, {n_fits} fits after {warmup} warm-up, "
            f"{small['n_layers']} x {small['units']}, 5 epochs",
            f"{ours:.2f} MB",
            "; ".join(
                f"{k} {mb:.2f} MB" + (f" ({n} fits)" if n != n_fits else "")
                for k, (mb, n) in growth.items()
            ),
            "",
            "<= 1 MB/fit",
            verdict(ours <= 1.0),
        ]
    )

    # 6. Import time ------------------------------------------------------------
    runs = 3 if quick else 5
    log("import time")
    (t_sk, t_ours, t_backend, t_keras), loaded = import_times(backend, runs)
    backend_module = "tensorflow" if backend == "tensorflow" else "jax"
    rows.append(
        [
            f"import skdropbn on top of numpy + sklearn.base + sklearn.utils "
            f"(median of {runs} fresh interpreters)",
            fmt_time(t_ours),
            f"numpy + sklearn.base + sklearn.utils {fmt_time(t_sk)}; "
            f"import {backend_module} + keras {fmt_time(t_backend + t_keras)}",
            "",
            "<= 0.2 s, loads no backend",
            verdict(t_ours <= 0.2 and loaded == {"none"}),
        ]
    )
    notes.append(f"Backend modules loaded by import skdropbn: {', '.join(loaded)}.")
    if not use_scikeras:
        notes.append(
            "scikeras needs TensorFlow and was not run"
            + ("" if backend == "tensorflow" else f" under the {backend} backend")
            + "; keras.wrappers.SKLearnRegressor is the baseline of the grid "
            "search and the memory row."
        )
    log("done")

    table = [
        "| measurement | skdropbn | baselines | ratio | target | result |",
        "|---|---|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    text = "\n".join(
        [
            *header(backend, data_note, quick, load_start),
            *table,
            "",
            *(f"- {n}" for n in notes),
            f"- Total run time {time.perf_counter() - t_start:.0f} s.",
        ]
    )
    print(text)
    out = Path(args.out) if args.out else None
    if out is None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"speed-{backend}{'-quick' if quick else ''}.md"
    out.write_text(text + "\n")
    print(f"\nwritten to {out}", file=sys.stderr)


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        main()
