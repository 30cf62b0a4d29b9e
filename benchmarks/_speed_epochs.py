"""The training measurements of benchmarks/speed.py: epochs and matrix products.

``measure_epochs`` times, in one interleaved round, skdropbn's epochs (the
table's estimator and its variants), the identical Keras model's
``model.fit`` epochs, the epoch's matrix products alone in NumPy and
NumPy's float32 GEMM, so that the machine's changing load hits them all
alike. ``gemm_rates`` and ``compiled_gemm_rates`` give the GEMM rates of
NumPy and of the backend's compiler on the network's shapes. Each returns
plain numbers (seconds, GFLOP/s; JSON-serialisable) and prints nothing.
"""

import functools
import statistics
import time

import numpy as np
from _speed_measure import median_time, timed
from _speed_models import dropbn, keras_net, train_flops

# The estimators timed per epoch: the table's and, interleaved with it, the
# default weight averaging and the same trainer with everything but the
# matrix products (and ReLU) switched off (no dropout, no batch norm, plain
# SGD's one pass over the weights): about what the products alone take, the
# floor of an epoch; and the same with the table's optimizer, Adam.
VARIANTS = {
    "table": {},
    "averaged": {"ema_momentum": "auto"},
    "products": {"dropout": 0.0, "batch_norm": None, "optimizer": "sgd"},
    "products_adam": {"dropout": 0.0, "batch_norm": None},
}


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


def dropbn_epochs(X, y, net, e1, e2, repeats, variants, keras_fits=(), k_epochs=2):
    """skdropbn's epoch times and fixed costs per fit for each of ``variants``.

    ``variants`` maps a name to estimator parameters; the variants are timed
    in turn within each repeat (interleaved), and so are ``k_epochs`` epochs
    of each of ``keras_fits`` (``KerasFit``, ``NumpyProducts``,
    ``NumpyGemm``), so that a change in the machine's load hits them all
    alike. An estimator is fitted with ``e1`` and then ``e2`` epochs (the
    first fit, before the round, compiled its trainer), and
    ``(t(e2) - t(e1)) / (e2 - e1)`` is one epoch. Returns
    ``({name: [epoch per repeat]}, {name: [fixed cost per repeat]}, est)``,
    ``est`` the table's (``variants``' first) fitted estimator.
    """
    ests = {k: dropbn(net, epochs=e1, **p).fit(X, y) for k, p in variants.items()}
    epochs = {k: [] for k in variants}
    fixed = {k: [] for k in variants}
    for _ in range(repeats):
        for k, est in ests.items():
            t1 = timed(lambda est=est: est.set_params(epochs=e1).fit(X, y))
            t2 = timed(lambda est=est: est.set_params(epochs=e2).fit(X, y))
            epochs[k].append((t2 - t1) / (e2 - e1))
            fixed[k].append(t1 - e1 * epochs[k][-1])
        for keras_fit in keras_fits:
            keras_fit.run(k_epochs)
    return epochs, fixed, next(iter(ests.values()))


def _backend_ops(backend, x, w):
    """``(compile_fn, transpose, x, w, run)`` for timing ``backend``'s products."""
    if backend == "tensorflow":
        import tensorflow as tf

        xt, wt = tf.constant(x), tf.constant(w)

        def run(f):
            return f(xt, wt).numpy()

        return functools.partial(tf.function, jit_compile=True), tf.transpose, run
    if backend == "torch":
        import torch

        # Eager, as the torch trainer's steps: each product is one call.
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)

        def run(f):
            return f(xt, wt).numpy()

        return (lambda f: f), (lambda a: a.T), run
    import jax

    xt, wt = jax.numpy.asarray(x), jax.numpy.asarray(w)

    def run(f):
        return f(xt, wt).block_until_ready()

    return jax.jit, jax.numpy.transpose, run


def compiled_gemm_rates(backend, budget_s, batch=256, units=1024, chain=8):
    """GFLOP/s of the backend's compiled (XLA) float32 matrix products.

    The three products of a training step of a ``units`` x ``units`` Dense
    layer on ``batch`` rows: forward ``x @ W``, the inputs' gradient
    ``g @ W.T`` and the kernel's gradient ``x.T @ g``, each ``chain`` times
    in one compiled function (forward and input gradient chained through
    their outputs, kernel gradients summed), median over calls. Under
    PyTorch, whose trainer is eager, the products are eager calls.
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, units), dtype=np.float32)
    w = (rng.standard_normal((units, units)) / np.sqrt(units)).astype(np.float32)
    compile_fn, transpose, run = _backend_ops(backend, x, w)

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


def _samples(times):
    return {"median": statistics.median(times), "samples": list(times)}


def measure_epochs(X, y, net, e1, e2, repeats, reference=False):
    """Epoch seconds of skdropbn, ``model.fit`` and NumPy, one interleaved round.

    Returns ``(record, (est, model))``: the plain figures, and skdropbn's
    fitted estimator and the Keras model (``jit_compile="auto"``), which the
    predict measurements reuse. ``reference``: also time NumPy's (1024,
    1024) @ (1024, 1024) GEMM in the round (the GFLOP/s row's reference).
    """
    n_rows, n_features = X.shape
    keras_fits = {jit: KerasFit(X, y, net, jit_compile=jit) for jit in ("auto", True)}
    products = NumpyProducts(n_rows, n_features, net)
    gemm = [NumpyGemm()] if reference else []
    epochs, fixed, est = dropbn_epochs(
        X, y, net, e1, e2, repeats, VARIANTS, [*keras_fits.values(), products, *gemm]
    )
    model = keras_fits["auto"].model
    record = {
        "net": net,
        "rows": n_rows,
        "features": n_features,
        "e1": e1,
        "e2": e2,
        "repeats": repeats,
        "flops": train_flops(n_rows, n_features, net),
        "skdropbn": {
            k: {"epoch": _samples(epochs[k]), "fixed": _samples(fixed[k])}
            for k in VARIANTS
        },
        "model_fit": {
            "jit_compile": model.jit_compile,
            **_samples(keras_fits["auto"].times),
        },
        "model_fit_xla": {"jit_compile": True, **_samples(keras_fits[True].times)},
        "numpy_products": {
            "batches": products.n_batches,
            "rows_per_batch": products.rows,
            "flops": products.flops,
            "best": min(products.times),
            **_samples(products.times),
        },
        "gemm_reference": (
            {"n": 1024, "gflops": gemm[0].rate, "seconds": list(gemm[0].times)}
            if gemm
            else None
        ),
    }
    return record, (est, model)
