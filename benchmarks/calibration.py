"""Calibration of DropBNClassifier's predicted probabilities on real data.

Compares the held-out probabilities of ``DropBNClassifier`` (defaults, one
deterministic pass) and of the same fitted network with Monte-Carlo dropout
(``predict_proba(X, mc_dropout=True)``, the mean of ``n_mc_passes=100``
stochastic passes) with ``LogisticRegression(max_iter=1000)``,
``MLPClassifier`` and ``HistGradientBoostingClassifier`` defaults::

    python benchmarks/calibration.py --quick      # smoke run, about 2 minutes
    python benchmarks/calibration.py              # full run, 1 seed
    python benchmarks/calibration.py --seeds 3    # mean +/- std over 3 seeds
    python benchmarks/calibration.py --datasets breast_cancer,red_wine
    python benchmarks/calibration.py --params '{"feature_embedding": "auto"}'

Datasets:

* ``red_wine``: ``../shared/data/red-wine.csv``, the 11 physico-chemical
  columns predicting ``quality >= 7`` (binary, 13.6% positive);
* ``breast_cancer``: scikit-learn's bundled data (binary);
* ``spotify``: ``../shared/data/spotify_songs.csv``, the 12 audio features
  predicting ``playlist_genre`` (6 classes), rows with a missing value dropped
  (32,828 left; ``--quick`` takes a stratified sample of 5,000).

Files under ``../shared/data`` (beside the repository) are skipped, with a
message, when absent.

Protocol: every model is ``make_pipeline(StandardScaler(), model)``, scored on
the held-out folds of ``StratifiedKFold(5, shuffle=True, random_state=0)``
(3 folds with ``--quick``). Per fold:

* log loss, ``sklearn.metrics.log_loss(y, proba, labels=classes)``;
* Brier score, ``sklearn.metrics.brier_score_loss(y, proba, labels=classes)``:
  for two classes the usual mean squared error of the positive-class
  probability (range [0, 1]); for more, the mean over rows of the sum over
  classes of the squared difference to the one-hot target (range [0, 2]);
* expected calibration error (ECE) of the top-label confidence: rows are put
  in 10 equal-width bins of ``max(proba)``, and ECE is the row-weighted mean
  over bins of ``|accuracy in bin - mean confidence in bin|``;
* accuracy of the most probable class.

The table shows the mean over folds (with ``--seeds N > 1``, the mean +/- std
over seeds of that CV mean; seeds set ``random_state`` of DropBN, MLP and
HistGB, while the folds stay fixed) and the wall time of one whole CV run
(fit + predict_proba on every fold). The MC-dropout row reuses the
deterministic row's fitted networks, so its time is the same fits plus the
stochastic passes. Lower is better except for accuracy; the best value of
each column is in bold.

The Markdown is printed and also written to ``benchmarks/results/
calibration.md`` (``--out`` to change). On 2 CPU cores a ``--quick`` run
takes about 2 minutes (Spotify is 60% of it); a full 1-seed run is dominated
by the 5 folds on the 32,828 Spotify rows, an estimated 15-20 minutes, and
``--seeds 3`` triples that. The first DropBN fit also pays TensorFlow's
start-up and graph compilation (a few seconds).
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdropbn import DropBNClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results" / "calibration.md"
DATASETS = ("red_wine", "breast_cancer", "spotify")
SPOTIFY_AUDIO = [
    "danceability", "energy", "key", "loudness", "mode", "speechiness",
    "acousticness", "instrumentalness", "liveness", "valence", "tempo",
    "duration_ms",
]  # fmt: skip
QUICK_SPOTIFY_ROWS = 5000
N_BINS = 10

DROPBN, DROPBN_MC = "DropBNClassifier", "DropBNClassifier, MC dropout"
BASELINES = {
    "LogisticRegression": lambda seed: LogisticRegression(max_iter=1000),
    "MLPClassifier": lambda seed: MLPClassifier(random_state=seed),
    "HistGradientBoostingClassifier": lambda seed: HistGradientBoostingClassifier(
        random_state=seed
    ),
}
MODELS = (DROPBN, DROPBN_MC, *BASELINES)
METRICS = ("log loss", "Brier", "ECE", "accuracy", "time")


def load(name, quick=False):
    """``(X, y, description)`` of a dataset, or a string saying why it is absent."""
    if name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        return X, y.to_numpy(), "scikit-learn's breast cancer data, malignant = 0"
    file = {"red_wine": "red-wine.csv", "spotify": "spotify_songs.csv"}[name]
    if not (DATA / file).exists():
        return f"{DATA / file} not found"
    frame = pd.read_csv(DATA / file)
    if name == "red_wine":
        y = (frame.pop("quality") >= 7).to_numpy(int)
        return frame, y, "red wine, positive class quality >= 7"
    frame = frame.dropna()
    X, y = frame[SPOTIFY_AUDIO], frame["playlist_genre"].to_numpy()
    description = "Spotify songs, 12 audio features -> playlist_genre"
    if quick and len(y) > QUICK_SPOTIFY_ROWS:
        X, _, y, _ = train_test_split(
            X, y, train_size=QUICK_SPOTIFY_ROWS, stratify=y, random_state=0
        )
        description += f", stratified sample of {QUICK_SPOTIFY_ROWS} rows"
    return X, y, description


def expected_calibration_error(y, proba, classes, n_bins=N_BINS):
    """Top-label ECE with ``n_bins`` equal-width bins of the confidence.

    The confidence of a row is its largest probability, and the row counts as
    correct when that class is the true one. Bin ``b`` holds the rows with
    confidence in ``(b / n_bins, (b + 1) / n_bins]`` (the first bin also
    holds 0). ECE is ``sum_b n_b / n * |accuracy_b - mean confidence_b|``.
    """
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            gap = abs(correct[in_bin].mean() - confidence[in_bin].mean())
            ece += in_bin.mean() * gap
    return float(ece)


def scores(y, proba, classes):
    """Log loss, Brier score, ECE and accuracy of probabilities on one fold."""
    return {
        "log loss": log_loss(y, proba, labels=classes),
        "Brier": brier_score_loss(y, proba, labels=classes),
        "ECE": expected_calibration_error(y, proba, classes),
        "accuracy": accuracy_score(y, classes[proba.argmax(axis=1)]),
    }


def cross_validate(X, y, seed, n_folds, params):
    """``{model: {metric: mean over folds}}``, with ``time`` summed over folds."""
    classes = np.unique(y)
    folds = {model: [] for model in MODELS}
    times = dict.fromkeys(MODELS, 0.0)
    cv = StratifiedKFold(n_folds, shuffle=True, random_state=0)
    for train, test in cv.split(X, y):
        X_train, X_test = X.iloc[train], X.iloc[test]

        start = time.perf_counter()
        net = make_pipeline(
            StandardScaler(), DropBNClassifier(random_state=seed, **params)
        )
        net.fit(X_train, y[train])
        fitted = time.perf_counter()
        proba = net.predict_proba(X_test)
        predicted = time.perf_counter()
        # Pipeline passes the keyword on to DropBNClassifier.predict_proba.
        proba_mc = net.predict_proba(X_test, mc_dropout=True)
        times[DROPBN] += predicted - start
        times[DROPBN_MC] += (fitted - start) + (time.perf_counter() - predicted)
        folds[DROPBN].append(scores(y[test], proba, classes))
        folds[DROPBN_MC].append(scores(y[test], proba_mc, classes))

        for name, make in BASELINES.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = make_pipeline(StandardScaler(), make(seed))
                proba = model.fit(X_train, y[train]).predict_proba(X_test)
            times[name] += time.perf_counter() - start
            folds[name].append(scores(y[test], proba, classes))
    return {
        model: {
            **{m: float(np.mean([f[m] for f in folds[model]])) for m in METRICS[:4]},
            "time": times[model],
        }
        for model in MODELS
    }


def table(runs):
    """Markdown table of ``[{model: {metric: value}}]``, one dict per seed."""
    values = {
        model: {m: np.array([run[model][m] for run in runs]) for m in METRICS}
        for model in MODELS
    }
    means = {m: [values[model][m].mean() for model in MODELS] for m in METRICS}
    best = {
        "log loss": np.argmin(means["log loss"]),
        "Brier": np.argmin(means["Brier"]),
        "ECE": np.argmin(means["ECE"]),
        "accuracy": np.argmax(means["accuracy"]),
    }
    lines = [
        "| model | log loss | Brier | ECE | accuracy | fit+predict time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for i, model in enumerate(MODELS):
        cells = []
        for m in METRICS:
            v = values[model][m]
            digits = 1 if m == "time" else 4
            cell = f"{v.mean():.{digits}f}"
            if len(runs) > 1:
                cell += f" +/- {v.std():.{digits}f}"
            if best.get(m) == i:
                cell = f"**{cell}**"
            cells.append(cell)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


def header(args, n_folds):
    import keras

    extra = f" --params '{args.params}'" if args.params != "{}" else ""
    return [
        "# Calibration of predicted probabilities",
        "",
        f"{time.strftime('%Y-%m-%d')}; {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}, NumPy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, Keras {keras.__version__} "
        f"({keras.backend.backend()} backend)",
        "",
        f"`python benchmarks/calibration.py{' --quick' if args.quick else ''} "
        f"--seeds {args.seeds}"
        f"{extra}`"
        f": held-out folds of StratifiedKFold({n_folds}, "
        "shuffle=True, random_state=0); every model after a StandardScaler; "
        "mean over folds"
        + (f", then mean +/- std over {args.seeds} seeds" if args.seeds > 1 else "")
        + f"; ECE on {N_BINS} equal-width bins of the top-label confidence; "
        "time is one whole CV run (all folds). Best value per column in bold.",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 folds, small data")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--out", default=str(RESULTS), help="Markdown output file")
    parser.add_argument(
        "--params", default="{}", help="JSON DropBNClassifier overrides"
    )
    args = parser.parse_args()
    params = json.loads(args.params)
    n_folds = 3 if args.quick else 5

    lines = header(args, n_folds)
    print("\n".join(lines), flush=True)
    for name in args.datasets.split(","):
        loaded = load(name, quick=args.quick)
        if isinstance(loaded, str):
            print(f"\n{name}: skipped, {loaded}", file=sys.stderr)
            continue
        X, y, description = loaded
        start = time.perf_counter()
        runs = [
            cross_validate(X, y, seed, n_folds, params) for seed in range(args.seeds)
        ]
        classes, counts = np.unique(y, return_counts=True)
        section = [
            "",
            f"## {name}",
            "",
            f"{description}: {X.shape[0]} rows, {X.shape[1]} features, "
            f"{len(classes)} classes (smallest {counts.min() / len(y):.1%} of rows); "
            f"{time.perf_counter() - start:.0f} s in all.",
            "",
            *table(runs),
        ]
        print("\n".join(section), flush=True)
        lines += section
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n")
        print(f"\nwritten to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
