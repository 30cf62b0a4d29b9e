"""Thread limits for worker processes of a distributed search (Dask, joblib).

A search on ``n`` worker processes over ``n`` cores oversubscribes the machine
when every process also runs the backend's and BLAS's own thread pools, each
sized for all cores. ``limit_worker_threads`` sizes those pools for one worker.
It configures the process it runs in, so it is meant to run *on the workers*,
through ``distributed.Client.register_worker_callbacks``; the library never
calls it by itself.
"""

import os
import sys
import warnings

# The threadpoolctl limiter must stay referenced to stay in force.
_LIMITS = []


def _keras_backend():
    backend = os.environ.get("KERAS_BACKEND")
    if backend:
        return backend
    import keras

    return keras.backend.backend()


def limit_worker_threads(dask_worker=None, *, n_threads=1):
    """Limit the compute threads of this process to ``n_threads``.

    Meant for the worker processes of a Dask cluster, so that ``n`` workers on
    ``n`` cores do not oversubscribe them::

        client.register_worker_callbacks(skdropbn.limit_worker_threads)

    which runs it on every current and future worker. It sets, for this
    process only:

    - the BLAS / OpenMP pools (NumPy, SciPy, scikit-learn) with
      ``threadpoolctl``;
    - TensorFlow's intra- and inter-op thread pools, when Keras runs on
      TensorFlow;
    - XLA's CPU thread pool, when Keras runs on JAX (through ``XLA_FLAGS`` of
      this process, read when JAX starts its CPU backend);
    - PyTorch's intra- and inter-op threads, when Keras runs on PyTorch.

    Parameters
    ----------
    dask_worker : distributed.Worker or None, default=None
        Filled in by Dask when run as a worker callback; unused.
    n_threads : int, default=1
        Threads per pool. Use ``functools.partial(limit_worker_threads,
        n_threads=k)`` for workers that own ``k`` cores.

    Returns
    -------
    limits : dict
        What was limited: ``{"blas": n}`` and the backend's, e.g.
        ``{"blas": n, "tensorflow": n}``.

    Warns
    -----
    RuntimeWarning
        If the backend already started its thread pools in this process (the
        limit then cannot apply; run it before the first fit).

    See Also
    --------
    DropBNRegressor : The estimator whose searches the workers run.

    Examples
    --------
    >>> from functools import partial
    >>> from skdropbn import limit_worker_threads
    >>> callback = partial(limit_worker_threads, n_threads=2)
    >>> callback.keywords  # then: client.register_worker_callbacks(callback)
    {'n_threads': 2}

    """
    from threadpoolctl import threadpool_limits

    n_threads = int(n_threads)
    if n_threads < 1:
        raise ValueError(f"n_threads must be an int >= 1, got {n_threads}.")
    _LIMITS.append(threadpool_limits(limits=n_threads))
    limits = {"blas": n_threads}

    backend = _keras_backend()
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(n_threads)
            tf.config.threading.set_inter_op_parallelism_threads(n_threads)
            limits["tensorflow"] = n_threads
        except RuntimeError as exc:  # the TF runtime is already initialised
            warnings.warn(
                f"TensorFlow threads not limited: {exc}", RuntimeWarning, stacklevel=2
            )
    elif backend == "jax":
        if _jax_started():
            warnings.warn(
                "JAX's CPU backend already started in this process; its threads "
                "are not limited.",
                RuntimeWarning,
                stacklevel=2,
            )
        else:
            flags = os.environ.get("XLA_FLAGS", "")
            os.environ["XLA_FLAGS"] = (
                f"{flags} --xla_cpu_multi_thread_eigen=false "
                f"intra_op_parallelism_threads={n_threads}"
            ).strip()
            limits["jax"] = n_threads
    elif backend == "torch":
        _limit_torch_threads(n_threads)
        limits["torch"] = n_threads
    return limits


def _limit_torch_threads(n_threads):
    import torch

    torch.set_num_threads(n_threads)
    try:  # possible only before PyTorch's first parallel work in this process
        torch.set_num_interop_threads(n_threads)
    except RuntimeError as exc:
        warnings.warn(
            f"PyTorch inter-op threads not limited: {exc}", RuntimeWarning, stacklevel=3
        )


def _jax_started():
    if "jax" not in sys.modules:
        return False
    from jax._src import xla_bridge

    started = getattr(xla_bridge, "backends_are_initialized", None)
    if started is not None:
        return started()
    return bool(getattr(xla_bridge, "_backends", {}))
