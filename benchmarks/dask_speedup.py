"""Speed-up of a grid search on a Dask cluster against ``n_jobs=1``.

Run::

    nice -n 10 python benchmarks/dask_speedup.py --workers 2

It times the same ``GridSearchCV`` (dropout x depth, 3-fold, no refit) twice:
in this process with ``n_jobs=1``, then through joblib's ``"dask"`` backend on
a ``LocalCluster`` of ``--workers`` single-threaded processes whose thread
pools are limited with ``skdropbn.limit_worker_threads``. Starting the cluster
(each worker imports the backend) is timed separately, as it is paid once per
cluster, not per search. ``--scheduler tcp://host:8786`` runs the same search
on an existing cluster instead.
"""

import argparse
import time

import joblib
import numpy as np
from sklearn.datasets import make_regression
from sklearn.model_selection import GridSearchCV

import skdropbn
from skdropbn import DropBNRegressor


def search(n_jobs=None):
    return GridSearchCV(
        DropBNRegressor(units=64, epochs=40, n_iter_no_change=40, random_state=0),
        {"dropout": [0.0, 0.2], "n_layers": [1, 2]},
        cv=3,
        refit=False,
        n_jobs=n_jobs,
    )


def _warm_up():
    # Import the backend in the worker: paid once per worker process.
    from skdropbn._keras import backend_name

    return backend_name()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--scheduler", default=None, help="address of a scheduler")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    X, y = make_regression(
        n_samples=args.samples, n_features=20, noise=5.0, random_state=0
    )

    start = time.perf_counter()
    local = search().fit(X, y)
    t_local = time.perf_counter() - start

    start = time.perf_counter()
    if args.scheduler:
        cluster, client = None, Client(args.scheduler)
    else:
        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
    client.register_worker_callbacks(skdropbn.limit_worker_threads)
    client.run(_warm_up)
    n_workers = len(client.nthreads())
    t_start = time.perf_counter() - start

    with client, joblib.parallel_backend("dask"):
        start = time.perf_counter()
        remote = search().fit(X, y)
        t_dask = time.perf_counter() - start
    if cluster is not None:
        cluster.close()

    n_fits = len(local.cv_results_["params"]) * 3
    same = np.allclose(
        local.cv_results_["mean_test_score"],
        remote.cv_results_["mean_test_score"],
        rtol=1e-4,
    )
    print(f"{n_fits} fits, {args.samples} rows, {n_workers} workers")
    print(f"n_jobs=1 in this process:     {t_local:7.1f} s")
    print(f"cluster start (once):         {t_start:7.1f} s")
    print(f"dask backend, {n_workers} workers:      {t_dask:7.1f} s")
    print(f"speed-up (search only):       {t_local / t_dask:7.2f} x")
    print(f"speed-up (with cluster start): {t_local / (t_dask + t_start):6.2f} x")
    print(f"same mean_test_score: {same}")


if __name__ == "__main__":
    main()
