"""A fit streamed from an on-disk array of gigabytes, against one on a subsample.

Issue 19's target: ``fit`` on a ``memmap`` of at least 8 GB with a peak extra
RSS of at most 1 GB, as accurate (within seed noise) as a fit on a subsample
that fits in memory. Run::

    nice -n 10 python benchmarks/out_of_core.py --gigabytes 8 --seeds 3

It writes ``X`` (float32, ``--features`` standard normal columns) and ``y``
(``x0 + 2 sin(2 x1) + x2 x3 + 0.3 noise``) to ``--dir`` a chunk at a time,
then for each seed fits the same network twice: streamed from the memmaps
(``fit(np.load(..., mmap_mode="r"), y)``) for ``--epochs`` epochs, and in
memory on ``--subsample`` rows for as many gradient steps. Both are scored
on 200,000 fresh rows. The peak RSS of each fit is sampled every 20 ms by a
thread, over the RSS after a warm-up fit of the same network (TensorFlow's
or JAX's one-time allocations are then not counted as the fit's). The files
are removed at the end unless ``--keep``.

Prints a Markdown table and the machine.
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import load_average, machine  # noqa: E402

CHUNK_ROWS = 1 << 20


def target(X, rng):
    y = X[:, 0] + 2 * np.sin(2 * X[:, 1]) + X[:, 2] * X[:, 3]
    return (y + 0.3 * rng.standard_normal(len(X))).astype(np.float32)


def write_data(directory, n_rows, n_features):
    rng = np.random.default_rng(0)
    X = np.lib.format.open_memmap(
        directory / "X.npy", mode="w+", dtype=np.float32, shape=(n_rows, n_features)
    )
    y = np.lib.format.open_memmap(
        directory / "y.npy", mode="w+", dtype=np.float32, shape=(n_rows,)
    )
    for start in range(0, n_rows, CHUNK_ROWS):
        block = rng.standard_normal((min(CHUNK_ROWS, n_rows - start), n_features))
        X[start : start + len(block)] = block
        y[start : start + len(block)] = target(block, rng)
        X.flush()
        y.flush()
    del X, y


class PeakRSS:
    """The highest RSS seen by a sampling thread while the context runs."""

    def __enter__(self):
        self.peak, self._stop = rss_mib(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mib())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=8.0)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--subsample", type=int, default=2_000_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to write X.npy, y.npy")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    import keras

    from skdropbn import DropBNRegressor

    directory = Path(args.dir or tempfile.mkdtemp(prefix="skdropbn-ooc-"))
    n_rows = int(args.gigabytes * 2**30 / (4 * args.features))
    start = time.perf_counter()
    write_data(directory, n_rows, args.features)
    print(f"wrote {n_rows:,} x {args.features} float32 rows "
          f"({n_rows * args.features * 4 / 2**30:.2f} GiB) in "
          f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    rng = np.random.default_rng(1)
    X_test = rng.standard_normal((200_000, args.features)).astype(np.float32)
    y_test = target(X_test, rng)
    # No feature embedding: with it an epoch of 33.5M rows x 64 took about an
    # hour on 2 cores (its first layer is 17x wider); the streaming is the same.
    net = dict(
        n_layers=2, units=64, batch_size=256, learning_rate=3e-3,
        feature_embedding=None,
    )  # fmt: skip
    # The warm-up: the backend's start, compilation and pools, counted out.
    DropBNRegressor(**net, epochs=2).fit(X_test[:50_000], y_test[:50_000])
    load_before = load_average()
    rows = []
    for seed in range(args.seeds):
        X = np.load(directory / "X.npy", mmap_mode="r")
        y = np.load(directory / "y.npy", mmap_mode="r")
        base = rss_mib()
        start = time.perf_counter()
        with PeakRSS() as peak:
            streamed = DropBNRegressor(**net, epochs=args.epochs, random_state=seed)
            streamed.fit(X, y)
        stream_time, stream_peak = time.perf_counter() - start, peak.peak - base
        stream_rmse = np.sqrt(np.mean((streamed.predict(X_test) - y_test) ** 2))
        # As many steps on a subsample held in memory (random rows).
        pick = np.sort(np.random.default_rng(seed).choice(n_rows, args.subsample))
        X_sub, y_sub = np.asarray(X[pick]), np.asarray(y[pick])
        steps = args.epochs * n_rows / args.subsample
        base = rss_mib()
        start = time.perf_counter()
        with PeakRSS() as peak:
            sub = DropBNRegressor(
                **net, epochs=max(1, round(steps)), random_state=seed
            ).fit(X_sub, y_sub)
        sub_time, sub_peak = time.perf_counter() - start, peak.peak - base
        sub_rmse = np.sqrt(np.mean((sub.predict(X_test) - y_test) ** 2))
        del X, y, X_sub, y_sub
        row = (
            seed,
            stream_rmse,
            stream_time,
            stream_peak,
            sub_rmse,
            sub_time,
            sub_peak,
        )
        rows.append(row)
        print(row, flush=True)
    backend = keras.backend.backend()
    print(
        f"\nStreamed fit of {n_rows:,} rows x {args.features} "
        f"({n_rows * args.features * 4 / 2**30:.2f} GiB on disk) against "
        f"{args.subsample:,} rows in memory, {backend} backend, 2 x 64 units, "
        "no embedding\n"
    )
    print("| seed | streamed RMSE | time | peak extra RSS | subsample RMSE | "
          "time | peak extra RSS |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for seed, s_rmse, s_time, s_peak, u_rmse, u_time, u_peak in rows:
        print(f"| {seed} | {s_rmse:.4f} | {s_time:.0f} s | {s_peak:.0f} MiB | "
              f"{u_rmse:.4f} | {u_time:.0f} s | {u_peak:.0f} MiB |")  # fmt: skip
    medians = [statistics.median(col) for col in list(zip(*rows))[1:]]
    print("| median | {:.4f} | {:.0f} s | {:.0f} MiB | {:.4f} | {:.0f} s | "
          "{:.0f} MiB |".format(*medians))  # fmt: skip
    print("\nnoise floor (RMSE of the true function): 0.3000")
    record = machine(backend)
    record["load_average"] = {"start": load_before, "end": load_average()}
    print("\nmachine:", json.dumps(record))
    if not args.keep:
        for name in ("X.npy", "y.npy"):
            (directory / name).unlink()


if __name__ == "__main__":
    main()
