"""What ``import skdropbn`` adds to ``import numpy, sklearn.base``.

The target: at most 60 ms added, the median over fresh interpreters, loading
no backend and no ``sklearn.model_selection`` (tests/test_import.py checks
the modules; this measures the time).

Each of ``--runs`` rounds (default 15) starts two fresh interpreters in turn,
so that a change in the machine's load falls on both:

- *baseline*: ``import numpy, sklearn.base``;
- *skdropbn*: the same, then ``import skdropbn``.

Inside each child ``time.perf_counter`` times the imports; *added* is the
median of the skdropbn child's own ``import skdropbn`` (numpy and
sklearn.base already imported). The parent also times each whole process,
start to exit; there *added* is the difference of the two medians (it
includes what exiting with more modules costs).

An installed package has its bytecode (``.pyc``) written at install, so the
children read and write bytecode under a temporary ``PYTHONPYCACHEPREFIX``
(the checkout stays clean, whatever ``PYTHONDONTWRITEBYTECODE`` says), after
``--warmup`` rounds (default 2) that fill it. ``--no-bytecode`` measures a
checkout run with ``PYTHONDONTWRITEBYTECODE=1`` instead: every module of
skdropbn compiled from source at each import.

The largest imports that skdropbn's modules make of other packages come
from ``python -X importtime`` (median of ``--importtime-runs`` children,
default 5), to show what to defer when the target is missed.

Run ``python benchmarks/import_time.py`` (about a minute on 2 cores); the
table goes to stdout and, with every time as JSON, to
``benchmarks/results/import-time.{md,json}`` (``--out STEM`` elsewhere).
``PYTHONPATH=other_checkout`` measures another checkout, for a before/after.
"""

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
TARGET_MS = 60.0

CHILD = """
import sys, time
t0 = time.perf_counter()
import numpy, sklearn.base
t1 = time.perf_counter()
n1 = len(sys.modules)
{extra}
t2 = time.perf_counter()
n2 = len(sys.modules)
import json
where = getattr(sys.modules.get("skdropbn"), "__file__", None)
print(json.dumps({{"base": t1 - t0, "added": t2 - t1, "modules": n2 - n1,
                  "skdropbn": where}}))
"""
IMPORTS = {"baseline": "pass", "skdropbn": "import skdropbn"}


def child_env(bytecode, cache):
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = cache
    else:
        env.pop("PYTHONPYCACHEPREFIX", None)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_child(which, env):
    """One fresh interpreter: its in-child times, and its whole wall time."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(extra=IMPORTS[which])],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    return {**json.loads(out.stdout.splitlines()[-1]), "process": wall}


def _entries(stderr):
    """``(depth, name, cumulative µs)`` of ``-X importtime`` output, in order."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        rows.append((depth, name.strip(), int(cumulative)))
    return rows


def outside_imports(stderr):
    """``{(module, imported by): ms}``: each import a skdropbn module makes of
    another package (the entries are printed after their children)."""
    rows = _entries(stderr)
    found = {}
    for i, (depth, name, cumulative) in enumerate(rows):
        if name.startswith("skdropbn"):
            continue
        parent = next((n for d, n, _ in rows[i + 1 :] if d < depth), None)
        if parent is not None and parent.startswith("skdropbn"):
            found[(name, parent)] = cumulative / 1000
    return found


def importtime_breakdown(env, runs):
    """Median ms of each outside import over ``runs`` children."""
    samples = {}
    code = "import numpy, sklearn.base; import skdropbn"
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        for key, ms in outside_imports(out.stderr).items():
            samples.setdefault(key, []).append(ms)
    medians = {key: statistics.median(v) for key, v in samples.items()}
    return sorted(medians.items(), key=lambda item: -item[1])


def checkout(package_file):
    """The measured skdropbn: its folder, commit, and whether it has changes."""
    folder = Path(package_file).resolve().parents[1]

    def git(*cmd):
        return subprocess.run(
            ["git", "-C", str(folder), *cmd], capture_output=True, text=True
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--", "skdropbn"):
        commit += " with uncommitted changes"
    return {"folder": str(folder), "commit": commit}


def machine():
    def version(dist):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
            cpu,
        )
    load = "unknown"
    with contextlib.suppress(OSError), open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": load,
        "python": platform.python_version(),
        "numpy": version("numpy"),
        "scikit-learn": version("scikit-learn"),
    }


def ms(seconds):
    return f"{seconds * 1e3:.0f} ms"


def report(times, breakdown, info, args):
    med = {
        (which, key): statistics.median(t[key] for t in times[which])
        for which in IMPORTS
        for key in ("base", "added", "process", "modules")
    }
    added = med["skdropbn", "added"]
    process_added = med["skdropbn", "process"] - med["baseline", "process"]
    code = "bytecode cached" if args.bytecode else "no bytecode (compiled each time)"
    base = [t["base"] for which in IMPORTS for t in times[which]]
    q1, _, q3 = statistics.quantiles(base, n=4) if len(base) > 1 else base * 3
    lines = [
        "# Import time",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}; {info['cpu']}, {info['cores']} cores "
        f"(load average {info['load_average']}), Python {info['python']}, NumPy "
        f"{info['numpy']}, scikit-learn {info['scikit-learn']}; skdropbn at "
        f"{info['commit']}; {code}; median of {args.runs} fresh interpreters each.",
        "",
        "| measurement | numpy + sklearn.base | + skdropbn | added | target | result |",
        "|---|---|---|---|---|---|",
        f"| import, inside the interpreter | {ms(med['baseline', 'base'])} | "
        f"{ms(med['skdropbn', 'base'] + added)} | {ms(added)} | "
        f"<= {TARGET_MS:.0f} ms | "
        + ("pass" if added * 1e3 <= TARGET_MS else "**miss**")
        + " |",
        f"| whole process, start to exit | {ms(med['baseline', 'process'])} | "
        f"{ms(med['skdropbn', 'process'])} | {ms(process_added)} |  |  |",
        f"| modules loaded by import skdropbn |  |  | "
        f"{med['skdropbn', 'modules']:.0f} |  |  |",
        "",
        "## Largest imports of other packages by skdropbn's modules",
        "",
        "| module | imported by | cumulative |",
        "|---|---|---|",
        *(
            f"| {name} | {parent} | {value:.1f} ms |"
            for (name, parent), value in breakdown[: args.top]
        ),
        "",
        f"- Added, inside: the median of `import skdropbn` alone, timed with "
        f"`time.perf_counter` in a child that has imported numpy and "
        f"sklearn.base; the + skdropbn column is that child's median "
        f"numpy + sklearn.base time plus it. Whole process: each child timed by "
        f"the parent from start to exit, the difference of the medians. "
        f"Baseline and skdropbn children alternate, {args.runs} of each, after "
        f"{args.warmup} warm-up rounds. Largest imports: `python -X importtime`, "
        f"cumulative time of each import a skdropbn module makes of another "
        f"package (what it pulls in included), median of {args.importtime_runs} "
        f"children. Run: `python benchmarks/import_time.py`.",
        f"- numpy + sklearn.base is the same code in both children, so its two "
        f"medians differ only by the machine's load, which moved it between "
        f"{ms(q1)} and {ms(q3)} (quartiles of all {len(base)} children): the "
        f"whole-process difference carries that noise, the inside time of "
        f"`import skdropbn` alone much less.",
    ]
    return "\n".join(lines) + "\n", med


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--importtime-runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=10, help="rows of imports shown")
    parser.add_argument(
        "--no-bytecode",
        dest="bytecode",
        action="store_false",
        help="compile every module from source, as PYTHONDONTWRITEBYTECODE=1",
    )
    parser.add_argument("--out", default=None, help="results file stem")
    args = parser.parse_args()
    info = machine()
    with tempfile.TemporaryDirectory(prefix="skdropbn-pyc-") as cache:
        env = child_env(args.bytecode, cache)
        for _ in range(args.warmup):
            for which in IMPORTS:
                run_child(which, env)
        times = {which: [] for which in IMPORTS}
        for _ in range(args.runs):
            for which in IMPORTS:
                times[which].append(run_child(which, env))
        breakdown = importtime_breakdown(env, args.importtime_runs)
    info.update(checkout(times["skdropbn"][0]["skdropbn"]))
    text, med = report(times, breakdown, info, args)
    print(text)
    stem = Path(args.out) if args.out else RESULTS / "import-time"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text(text)
    figures = {
        "machine": info,
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "target_ms": TARGET_MS,
        "median_s": {f"{w}/{k}": v for (w, k), v in med.items()},
        "runs": times,
        "largest_imports_ms": [
            {"module": name, "imported_by": parent, "ms": value}
            for (name, parent), value in breakdown
        ],
    }
    stem.with_suffix(".json").write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
