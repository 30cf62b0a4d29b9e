"""A committee (``n_members``) against a single network, side by side.

Runs DropBNRegressor's defaults with each ``--configs`` override on each
dataset, ``--seeds`` seeds, with ``accuracy.py``'s protocol (5-fold
``KFold(shuffle=True, random_state=0)``, the same preprocessing), and prints
per dataset and config: the CV error (mean +/- std over seeds), its ratio to
the first config's, the 90%-interval coverage and the seconds per 5-fold CV.
The configs run interleaved, seed by seed, so that a load on the machine
falls on all of them alike::

    python benchmarks/committee.py
    python benchmarks/committee.py --datasets red_wine,diabetes --seeds 3 \\
        --configs '[{}, {"n_members": 4, "units": 128}]'
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine  # noqa: E402
from accuracy import cross_validate, load, preprocessor  # noqa: E402

from skdropbn import DropBNRegressor  # noqa: E402

DEFAULT_CONFIGS = (
    '[{}, {"n_members": 4, "units": 128}, {"n_members": 8, "units": 128}, '
    '{"n_members": 8, "units": 256}]'
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="red_wine,diabetes,white_wine")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help="JSON list")
    parser.add_argument("--out", help="also write the Markdown table here")
    args = parser.parse_args()
    configs = json.loads(args.configs)
    lines = [
        f"`python benchmarks/committee.py --datasets {args.datasets} "
        f"--seeds {args.seeds} --configs '{json.dumps(configs)}'`",
        "",
        "DropBNRegressor's defaults with each override; 5-fold CV error (mean +/- "
        f"std over {args.seeds} seeds), ratio to the first row's mean, 90% "
        "interval coverage, seconds per 5-fold CV (median over seeds).",
        "",
        "| dataset | metric | config | CV error | ratio | 90% coverage | s/CV |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in args.datasets.split(","):
        loaded = load(name)
        if loaded is None:
            print(f"{name}: data not found, skipped", file=sys.stderr)
            continue
        X, y, metric = loaded
        runs = {i: [] for i in range(len(configs))}
        for seed in range(args.seeds):
            for i, params in enumerate(configs):
                run = cross_validate(
                    lambda p=params, s=seed: make_pipeline(
                        preprocessor(), DropBNRegressor(random_state=s, **p)
                    ),
                    X, y, metric, with_std=True,
                )  # fmt: skip
                runs[i].append(run)
                print(f"{name} seed {seed} {params}: {run}", file=sys.stderr)
        first = np.mean([r[0] for r in runs[0]])
        for i, params in enumerate(configs):
            errs = np.array([r[0] for r in runs[i]])
            cover = np.mean([r[1] for r in runs[i]])
            secs = np.median([r[2] for r in runs[i]])
            lines.append(
                f"| {name} | {metric} | `{json.dumps(params)}` | {errs.mean():.4f} "
                f"+/- {errs.std():.4f} | {errs.mean() / first:.3f} | {cover:.3f} | "
                f"{secs:.0f} |"
            )
    info = machine(os.environ.get("KERAS_BACKEND", "tensorflow"))
    lines += ["", f"Machine: {json.dumps(info)}"]
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
