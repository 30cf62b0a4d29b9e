"""Peak memory of a fit on 1,000,000 rows x 50 features, against the size of X.

Run (one epoch is enough: memory does not grow with epochs)::

    nice -n 10 python benchmarks/large_data.py --rows 1000000 --features 50 \
        --epochs 1

It prints the resident set size (RSS) before ``X`` exists, with ``X`` and
``y`` in memory, and the peak during ``fit``, then the extra memory the fit
needed in units of ``X.nbytes`` ("copies of X"). The backend is loaded (one
tiny fit) before ``X`` is built, so its own memory is not counted as a copy.
``--out benchmarks/results/large-data.md`` appends the figures, with the
machine and versions, to that file (the documentation's benchmark page shows
it).
"""

import argparse
import os
import platform
import resource
import time
from datetime import date

import numpy as np

from skdropbn import DropBNRegressor


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mib():
    # ru_maxrss is in KiB on Linux: the high-water mark of this process.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--out", help="also append the figures to this Markdown file")
    args = parser.parse_args()

    params = dict(
        n_layers=2,
        units=64,
        epochs=args.epochs,
        batch_size=args.batch_size,
        early_stopping=True,
        random_state=0,
    )
    rng = np.random.default_rng(0)
    # Load the backend and compile nothing big: its memory is not X's.
    DropBNRegressor(**{**params, "epochs": 1}).fit(
        rng.standard_normal((64, args.features)), rng.standard_normal(64)
    )
    before = rss_mib()
    peak_before = peak_rss_mib()

    X = rng.standard_normal((args.rows, args.features), dtype=np.float32)
    if args.dtype == "float64":
        X = X.astype(np.float64)
    y = X[:, :5].sum(axis=1, dtype=np.float64) + rng.standard_normal(args.rows)
    with_data = rss_mib()
    x_mib = X.nbytes / 2**20

    start = time.perf_counter()
    est = DropBNRegressor(**params).fit(X, y)
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    after = rss_mib()

    extra = peak - with_data
    lines = [
        f"X: {X.shape} {X.dtype}, {x_mib:.0f} MiB (y {y.nbytes / 2**20:.0f} MiB)",
        f"RSS before X:           {before:8.0f} MiB (peak so far {peak_before:.0f})",
        f"RSS with X and y:       {with_data:8.0f} MiB",
        f"peak RSS during fit:    {peak:8.0f} MiB",
        f"RSS after fit:          {after:8.0f} MiB",
        f"fit: {seconds:.1f} s for {est.n_iter_} epoch(s)",
        f"extra memory during fit: {extra:.0f} MiB = {extra / x_mib:.2f} x X",
    ]
    print("\n".join(lines))
    if args.out:
        import keras
        import sklearn

        header = (
            f"{date.today()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, NumPy {np.__version__}, scikit-learn "
            f"{sklearn.__version__}, Keras {keras.__version__} "
            f"({keras.backend.backend()})"
        )
        with open(args.out, "a") as f:
            f.write("```text\n" + "\n".join([header, *lines]) + "\n```\n\n")


if __name__ == "__main__":
    main()
