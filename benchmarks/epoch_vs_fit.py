"""One epoch of skdropbn's trainer against the same backend's ``model.fit``.

A quick, backend-generic companion of ``speed.py`` (which times much more):
the lesson's network and the small one from ``_speed_models.py``, on red wine
(or diabetes), standardised. skdropbn's epoch is the median over ``--repeats``
of (fit with 3 epochs - fit with 1 epoch) / 2, so that tracing, compilation
and the fit's fixed costs cancel; Keras's is the median of a 2-epoch
``model.fit`` / 2 after a first epoch that builds and compiles. Written for
the experimental PyTorch backend (docs/user_guide.rst, developer notes)::

    KERAS_BACKEND=torch python benchmarks/epoch_vs_fit.py

Prints a Markdown table and the machine; writes nothing.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import DISTRIBUTIONS, load_average, machine  # noqa: E402
from _speed_models import NETS, dropbn, keras_net, load_data  # noqa: E402


def skdropbn_epoch(net, X, y, repeats):
    dropbn(net, epochs=1).fit(X, y)  # the trainer's first build and trace
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        dropbn(net, epochs=3).fit(X, y)
        three = time.perf_counter() - start
        start = time.perf_counter()
        dropbn(net, epochs=1).fit(X, y)
        times.append((three - (time.perf_counter() - start)) / 2)
    return statistics.median(times)


def keras_epoch(net, X, y, repeats):
    model = keras_net(X.shape[1], net["n_layers"], net["units"], net["dropout"])
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    model.fit(X32, y32, batch_size=net["batch_size"], epochs=1, verbose=0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(X32, y32, batch_size=net["batch_size"], epochs=2, verbose=0)
        times.append((time.perf_counter() - start) / 2)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import keras

    X, y, source = load_data()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    load_before = load_average()
    rows = []
    for name, net in NETS.items():
        ours = skdropbn_epoch(net, X, y, args.repeats)
        theirs = keras_epoch(net, X, y, args.repeats)
        rows.append((name, ours, theirs))
    backend = keras.backend.backend()
    print(f"Epoch time, {backend} backend, {source}, median of {args.repeats}\n")
    print("| network | skdropbn epoch | model.fit epoch | model.fit / skdropbn |")
    print("|---|---:|---:|---:|")
    for name, ours, theirs in rows:
        ratio = theirs / ours
        ms = f"{ours * 1e3:.1f} ms | {theirs * 1e3:.1f} ms"
        print(f"| {name} | {ms} | {ratio:.2f}x |")
    record = machine(backend, (*DISTRIBUTIONS, "torch"))
    record["load_average"] = {"start": load_before, "end": load_average()}
    record["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND")
    print("\nmachine:", json.dumps(record))


if __name__ == "__main__":
    main()
