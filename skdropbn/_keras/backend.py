"""Starting the Keras backend, and the one lookup that picks a backend's module.

Keras is imported here, inside functions, and only here: importing
skdropbn, constructing, cloning, printing or ``get_params`` of an estimator
never load TensorFlow or JAX. Everything that differs between backends (the
compiled epoch, the dropout mask's bit operations, sharing a NumPy buffer,
one-time warm-up) is in that backend's module, named in ``BACKENDS``;
adding a backend is one module and one line there.
"""

import functools
import importlib
import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager

# The module that implements each supported Keras backend (see
# skdropbn/_keras/trainer.py for what such a module provides).
BACKENDS = {
    "tensorflow": "skdropbn._keras.trainer_tensorflow",
    "jax": "skdropbn._keras.trainer_jax",
    "torch": "skdropbn._keras.trainer_torch",
}

# whatever TF_CPP_MIN_LOG_LEVEL says (measured with TensorFlow 2.21: levels 1
# and 2 still print all of them): absl's pre-initialisation banner, "no CUDA
# driver" notices and a failed cuInit on a machine without a GPU, the CPU
# feature notice, and XLA's one-time service and "Compiled cluster" lines.
_STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_(platform|executor|driver)\.cc:\d+\] failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"
    r"|^To enable the following instructions: .* rebuild TensorFlow"
    r"|oneDNN custom operations are on"
    r"|service\.cc:\d+\] (XLA service 0x|  StreamExecutor \[\d+\]: Host)"
    r"|device_compiler\.h:\d+\] Compiled cluster using XLA"
    r"|dump_mlir_util\.cc:\d+\] disabling MLIR crash reproducer"
)
_BACKEND_LOCK = threading.Lock()
# The process in which this module started the backend: a fork() of it
# inherits the backend's state but not its threads.
_BACKEND_PID = None


@contextmanager
def native_stderr_filtered(noise=_STARTUP_NOISE):
    """Hold what is written to file descriptor 2, then pass on all but ``noise``.

    Native libraries write to the descriptor itself, past ``sys.stderr``.
    For the duration of the block it points to a temporary file; afterwards
    it is restored and every held line that is not start-up noise is written
    to it, in order (so a real error, or another thread's output, is delayed,
    never lost). Nothing is changed if descriptor 2 cannot be duplicated.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (AttributeError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not noise.search(line))
            if kept:
                os.write(2, kept.encode())


def check_not_forked():
    if _BACKEND_PID is not None and os.getpid() != _BACKEND_PID:
        raise RuntimeError(
            f"The Keras backend was started in process {_BACKEND_PID}, and this "
            "process is a fork() of it: the backend's thread pools do not "
            "survive fork(), so fitting here would hang. Start worker "
            "processes with the 'spawn' or 'forkserver' method, e.g. "
            "multiprocessing.get_context('spawn'), or use joblib's default "
            "'loky' backend (what scikit-learn's n_jobs uses), which does not "
            "fork. predict needs no backend and works in a forked process."
        )


def import_keras():
    """Import Keras and start its backend, without the backend's start-up noise.

    The first call imports Keras, initialises the backend's devices and
    compiles a trivial function, all under ``native_stderr_filtered``, so
    that TensorFlow's native start-up lines (see ``_STARTUP_NOISE``) never
    reach the user; anything else it writes is passed on. Under JAX, the
    trainers' programs follow ``OMP_NUM_THREADS`` when it is 1
    (``thread_budget``). No environment variable or logging setting is
    changed. In a process forked after the
    backend was started here, it raises ``RuntimeError`` at once instead of
    letting the backend hang.
    """
    global _BACKEND_PID
    check_not_forked()
    if _BACKEND_PID is None:
        with _BACKEND_LOCK:
            if _BACKEND_PID is None:
                with native_stderr_filtered():
                    import keras

                    if keras.backend.backend() in BACKENDS:  # else: fits raise
                        module = backend_module(keras.backend.backend())
                        module.warm_up(thread_budget())
                _BACKEND_PID = os.getpid()
    return sys.modules["keras"]


def thread_budget():
    """The threads this process is to use, from ``OMP_NUM_THREADS``; None if unset.

    joblib sets it, in the worker processes of scikit-learn's ``n_jobs``, to
    ``cores // n_jobs``, and NumPy's BLAS, scikit-learn's OpenMP code,
    TensorFlow's intra- and inter-op pools and PyTorch size their thread
    pools by it (``benchmarks/worker_threads.py``: TensorFlow's pools are 1
    and 1 with ``OMP_NUM_THREADS=1``). XLA under JAX does not read it; JAX's
    ``warm_up`` applies it to the trainers' own programs.
    """
    try:
        threads = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    return threads if threads >= 1 else None


def backend_name():
    """Name of the Keras backend, importing Keras on first use."""
    return import_keras().backend.backend()


@functools.cache
def backend_module(name=None):
    """The module implementing backend ``name`` (default: Keras's backend)."""
    name = backend_name() if name is None else name
    if name not in BACKENDS:
        raise ValueError(
            f"The Keras backend {name!r} is not supported; set KERAS_BACKEND "
            f"to one of {sorted(BACKENDS)}."
        )
    return importlib.import_module(BACKENDS[name])
