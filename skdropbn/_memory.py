"""How much memory a fit needs, and refusing one the machine cannot hold.

A fit of a wide network needs a small multiple of its weights: the trainer's
float32 weights, the optimizer's slots (two for Adam), the weights' moving
average, the best epoch's copy for early stopping, the gradients and the
compiled step's temporaries, then the fitted arrays (the float32 weights and
the float64 inference layers, 3x). ``FIT_MEMORY_FACTOR``
is that multiple, measured by ``benchmarks/reliability_soak.py`` (the
``wide-fit`` case) on both backends. A fit whose estimate exceeds the memory
available is refused before anything is allocated, instead of being killed
by the operating system halfway (with the rest of the machine's memory).
"""

import math
import os

# Peak RSS of a fit over the float32 weights' bytes, rounded up from the
# largest measured (benchmarks/reliability_soak.py, "wide-fit", 2 x units):
# TensorFlow 8.6x at 4,000 units, 7.7x at 6,000, 7.3x at 10,000, 7.1x at
# 20,000 (1.55 GB of weights; its compiled program and the allocator's
# leftovers weigh less as the network grows); JAX 6.9x, 6.6x, 6.2x, 6.1x.
# Before the JAX template's variables were released and the calibration of
# return_std folded the network in float32: 8.8x and 9.8x at 6,000 units
# (benchmarks/results/wide-fit-memory.md).
FIT_MEMORY_FACTOR = 9


def n_weights(spec):
    """Number of values in the network described by ``spec`` (a NetworkSpec)."""
    return sum(math.prod(shape) for _, shape in spec.iter_weight_shapes())


def fit_bytes(spec, n_samples):
    """Estimated peak bytes of a fit: the network's state and one copy of the data."""
    data = 4 * n_samples * (spec.n_features + spec.n_outputs + 1)
    return FIT_MEMORY_FACTOR * 4 * n_weights(spec) + data


def available_bytes():
    """Memory this process can still take, or None where it cannot be read.

    The smaller of the system's available memory (``MemAvailable``) and what
    is left under the cgroup's limit, where there is one (containers).
    """
    found = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current") as f:
                found.append(int(limit) - int(f.read().strip()))
    except (OSError, ValueError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            return None
    return max(0, min(found))


def check_fit_fits_in_memory(spec, n_samples, estimator_name):
    """Raise ``MemoryError`` before a fit whose estimate exceeds the memory left."""
    needed = fit_bytes(spec, n_samples)
    available = available_bytes()
    if available is None or needed <= available:
        return
    weights = 4 * n_weights(spec)
    raise MemoryError(
        f"{estimator_name} with n_layers={spec.n_layers} and units={spec.units} "
        f"has {n_weights(spec):,} weights ({_gib(weights)} in float32); a fit "
        f"needs about {FIT_MEMORY_FACTOR}x that plus a float32 copy of the "
        f"data, {_gib(needed)} in all, and {_gib(available)} is available. "
        "Use fewer units or layers, or a machine with more memory."
    )


def _gib(n_bytes):
    return f"{n_bytes / 2**30:.2f} GiB"
