"""The machine a benchmark ran on, as a plain dict for its JSON results.

``machine(backend)`` records the CPU model (from ``/proc/cpuinfo``), the core
count, the platform, Python and the versions of the packages the benchmarks
time, the Keras backend and the date; ``load_average()`` the 1, 5 and 15
minute load averages, which a benchmark reads at its start and its end (the
machine is usually shared, and figures from a loaded one are indicative).
Everything is JSON-serialisable, so that two runs can be compared by a
program.
"""

import contextlib
import datetime
import importlib.metadata
import os
import platform

# The distributions whose versions a results file records, in this order.
DISTRIBUTIONS = (
    "skdropbn",
    "numpy",
    "scikit-learn",
    "keras",
    "tensorflow",
    "jax",
    "scikeras",
)


def cpu_model():
    """The CPU's model name from ``/proc/cpuinfo``, else ``platform``'s guess."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average():
    """The 1, 5 and 15 minute load averages, or ``None`` where unknown."""
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def versions(distributions=DISTRIBUTIONS):
    """``{distribution: version}``; ``None`` for one not installed."""
    found = {}
    for dist in distributions:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = None
    return found


def machine(backend=None, distributions=DISTRIBUTIONS):
    """The machine record: CPU, cores, platform, versions, backend and date."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions(distributions),
        "backend": backend,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
