"""Time of ``predict(X, return_std=True)``: Monte-Carlo dropout passes.

Run::

    python benchmarks/mc_speed.py            # 100 passes over 1,000 rows

Fits the default ``DropBNRegressor`` (3 x 256, dropout 0.1) for 20 epochs on
2,000 synthetic rows of 11 features, then prints the median wall time of
``predict(X, return_std=True)`` on ``--rows`` rows with ``--passes``
passes (after one warm-up call), and of the deterministic ``predict``.
"""

import argparse
import os
import statistics
import time

import numpy as np

from skdropbn import DropBNRegressor


def median_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 11))
    y = X @ rng.normal(size=11) + rng.normal(size=2000)
    est = DropBNRegressor(random_state=0, epochs=20, n_mc_passes=args.passes)
    est.fit(X, y)
    rows = X[: args.rows]
    mc = median_time(lambda: est.predict(rows, return_std=True), args.repeats)
    plain = median_time(lambda: est.predict(rows), args.repeats)
    print(f"{os.cpu_count()} cores; default network, {args.rows} rows")
    print(f"predict(return_std=True), {args.passes} passes: {mc * 1e3:.0f} ms (median)")
    print(f"predict (deterministic):                  {plain * 1e3:.1f} ms (median)")


if __name__ == "__main__":
    main()
