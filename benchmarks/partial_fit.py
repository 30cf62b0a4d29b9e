"""``partial_fit`` on 256-row chunks against the same rows inside one ``fit`` epoch.

Issue 19's target: a call of ``partial_fit`` on 256 rows costs at most 1.5x
what those rows cost inside a ``fit`` epoch. Both sides train the same
network with the same batch (256 rows, one step), no weight averaging and
no early stopping, on synthetic data (``make_regression``, 16,384 rows,
``--features`` columns):

- ``fit``: the median over ``--repeats`` of (fit with 6 epochs - fit with 2
  epochs) / 4, divided by the 64 batches of an epoch, so that tracing,
  compilation and a fit's fixed costs cancel;
- ``partial_fit``: the median over ``--repeats`` of the time of 64 calls on
  consecutive 256-row chunks / 64, after a first pass that compiles.

The per-call cost includes everything a user pays: validation, loading the
training state into the compiled trainer and taking it out, and the NumPy
inference layers rebuilt after each call. The last two columns time the
compiled epoch alone (no estimator), called with 1 batch and with 16. A line
below counts the
compilations over calls of 7 different sizes (JAX: the jitted epoch's cache
size; TensorFlow: traces, which with fixed shapes is also what XLA compiles).

    python benchmarks/partial_fit.py [--repeats 5]
    KERAS_BACKEND=jax python benchmarks/partial_fit.py

Prints Markdown tables and the machine; writes nothing.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_regression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import load_average, machine  # noqa: E402

NETS = {
    "small (2 x 64)": {"n_layers": 2, "units": 64},
    "default (3 x 256)": {"n_layers": 3, "units": 256},
    "lesson (3 x 1024)": {"n_layers": 3, "units": 1024, "dropout": 0.3},
}
CHUNK = 256
N_CHUNKS = 64


def estimator(net, **params):
    from skdropbn import DropBNRegressor

    return DropBNRegressor(
        **net,
        batch_size=CHUNK,
        ema_momentum=0.0,
        early_stopping=False,
        feature_embedding=None,
        random_state=0,
        **params,
    )


def fit_per_batch(net, X, y, repeats):
    estimator(net, epochs=1).fit(X, y)  # build, trace and compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        estimator(net, epochs=6).fit(X, y)
        six = time.perf_counter() - start
        start = time.perf_counter()
        estimator(net, epochs=2).fit(X, y)
        two = time.perf_counter() - start
        times.append((six - two) / 4 / N_CHUNKS)
    return statistics.median(times)


def partial_fit_per_call(net, X, y, repeats):
    model = estimator(net)
    chunks = [slice(i * CHUNK, (i + 1) * CHUNK) for i in range(N_CHUNKS)]
    for rows in chunks:  # the first pass compiles
        model.partial_fit(X[rows], y[rows])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for rows in chunks:
            model.partial_fit(X[rows], y[rows])
        times.append((time.perf_counter() - start) / N_CHUNKS)
    return statistics.median(times)


def epoch_call(net, X, y, repeats):
    """One compiled epoch call of 1 batch and of 16, per batch (ms).

    What a call of one step costs against a step inside a longer epoch,
    without the estimator around it: the trainer of ``net`` from the pool
    (fitted above), loaded with fresh weights, run directly.
    """
    from skdropbn import _data
    from skdropbn._keras import FitConfig, pool

    (trainer, *_) = next(
        v
        for k, v in pool._TRAINERS.items()
        if k[1].architecture.units == net["units"] and k[1].batch_size == CHUNK
    )
    trainer.load(trainer.initial_weights(0), FitConfig(1e-3, 0, 0.1, 0.0))
    Y = ((y - y.mean()) / y.std())[:, None]
    out = []
    for n_batches in (1, 16):
        n = n_batches * CHUNK
        data = _data.training_data(X[:n], Y[:n], np.ones(n), np.arange(n), None, CHUNK)
        batches = np.arange(n, dtype=np.int32).reshape(n_batches, CHUNK)
        trainer.run_epoch(data, batches)  # compiles this shape
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            trainer.run_epoch(data, batches)
            times.append((time.perf_counter() - start) / n_batches)
        out.append(statistics.median(times))
    return out


def compilations(X, y):
    """Compiled programs after partial_fit calls of 7 sizes, per backend."""
    from skdropbn._keras import pool

    model = estimator({"n_layers": 1, "units": 48})
    sizes = (256, 100, 1, 1000, 257, 37, 5000)
    for n in sizes:
        model.partial_fit(X[:n], y[:n])
    (trainer,) = next(
        v for k, v in pool._TRAINERS.items() if k[1].architecture.units == 48
    )
    epoch = trainer._epoch
    if isinstance(epoch, dict):  # TensorFlow: one tf.function per validate flag
        return sizes, sum(f.experimental_get_tracing_count() for f in epoch.values())
    if hasattr(epoch, "_cache_size"):  # jax.jit
        return sizes, epoch._cache_size()
    return sizes, None  # PyTorch: eager, nothing compiled


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--features", type=int, default=20)
    args = parser.parse_args()
    import keras

    X, y = make_regression(CHUNK * N_CHUNKS, args.features, noise=10.0, random_state=0)
    X = X.astype(np.float32)
    load_before = load_average()
    rows = []
    for name, net in NETS.items():
        fit_time = fit_per_batch(net, X, y, args.repeats)
        call_time = partial_fit_per_call(net, X, y, args.repeats)
        one, sixteen = epoch_call(net, X, y, args.repeats)
        rows.append((name, fit_time, call_time, one, sixteen))
    sizes, compiled = compilations(X, y)
    backend = keras.backend.backend()
    print(
        f"partial_fit on {CHUNK}-row chunks, {backend} backend, "
        f"{args.features} features, median of {args.repeats}\n"
    )
    print(
        "| network | 256 rows in a fit epoch | partial_fit call | ratio "
        "| epoch call of 1 batch | of 16, per batch |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, fit_time, call_time, one, sixteen in rows:
        print(
            f"| {name} | {fit_time * 1e3:.2f} ms | {call_time * 1e3:.2f} ms "
            f"| {call_time / fit_time:.2f}x | {one * 1e3:.2f} ms "
            f"| {sixteen * 1e3:.2f} ms |"
        )
    print(f"\nCalls of {', '.join(map(str, sizes))} rows: {compiled} compilation(s)")
    record = machine(backend)
    record["load_average"] = {"start": load_before, "end": load_average()}
    print("\nmachine:", json.dumps(record))


if __name__ == "__main__":
    main()
