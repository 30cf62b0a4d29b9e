"""Accuracy and interval coverage of DropBNRegressor's defaults on real data.

Protocol of ``../shared/data/README.md``: 5-fold ``KFold(shuffle=True,
random_state=0)``, numeric columns median-imputed and standardised, text
columns one-hot encoded. Prints, per dataset, the CV error (mean over folds;
for DropBN the mean and std over ``--seeds`` seeds) of DropBN's defaults,
``MLPRegressor`` and ``HistGradientBoostingRegressor`` defaults, and the share
of held-out targets inside DropBN's nominal 90% intervals
(``predict(X, return_std=True)``, mean +/- 1.645 std)::

    python benchmarks/accuracy.py                       # all datasets
    python benchmarks/accuracy.py --datasets red_wine --seeds 1 --no-baselines
    python benchmarks/accuracy.py --params '{"n_layers": 2}'   # try a variant
    python benchmarks/accuracy.py --grid                # also the grid search
    python benchmarks/accuracy.py --embedding-sigma 0.3  # ablation of the embedding
    python benchmarks/accuracy.py --baseline-seeds 3    # baselines' spread over seeds

Datasets other than scikit-learn's diabetes data are read from
``../shared/data`` and skipped when absent.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skdropbn import DropBNRegressor

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
Z90 = 1.6448536269514722


def load(name):
    """(X, y, metric) of a dataset, or None when its file is absent."""
    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        return X, y.to_numpy(float), "MAE"
    files = {
        "red_wine": ("red-wine.csv", ",", "quality", "MAE"),
        "white_wine": ("winequality-white.csv", ";", "quality", "MAE"),
        "california": ("housing.csv", ",", "median_house_value", "RMSE"),
        "spotify": ("spotify_songs.csv", ",", "track_popularity", "RMSE"),
    }
    file, sep, target, metric = files[name]
    if not (DATA / file).exists():
        return None
    frame = pd.read_csv(DATA / file, sep=sep)
    if name == "spotify":
        audio = [
            "danceability", "energy", "key", "loudness", "mode", "speechiness",
            "acousticness", "instrumentalness", "liveness", "valence", "tempo",
            "duration_ms",
        ]  # fmt: skip
        frame = frame.dropna()[[*audio, "playlist_genre", target]]
    y = frame.pop(target).to_numpy(float)
    if name == "california":
        y = y / 1e5  # the reference table's units (100,000 dollars)
    return frame, y, metric


def preprocessor():
    return make_column_transformer(
        (
            make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
            make_column_selector(dtype_include=np.number),
        ),
        (
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            make_column_selector(dtype_exclude=np.number),
        ),
    )


def error(metric, y, pred):
    if metric == "MAE":
        return float(np.mean(np.abs(y - pred)))
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def cross_validate(make_model, X, y, metric, with_std=False):
    """Mean CV error over the 5 folds, the 90%-interval coverage, seconds."""
    errors, covered, start = [], [], time.perf_counter()
    for train, test in KFold(5, shuffle=True, random_state=0).split(X):
        model = make_model().fit(X.iloc[train], y[train])
        if with_std:
            pred, std = model.predict(X.iloc[test], return_std=True)
            covered.append(np.mean(np.abs(y[test] - pred) <= Z90 * std))
        else:
            pred = model.predict(X.iloc[test])
        errors.append(error(metric, y[test], pred))
    coverage = float(np.mean(covered)) if covered else float("nan")
    return float(np.mean(errors)), coverage, time.perf_counter() - start


def baseline(errors):
    """A baseline's CV error, with its std over seeds when there are several."""
    if len(errors) == 1:
        return f"{errors[0]:.4f}"
    return f"{errors.mean():.4f} +/- {errors.std():.4f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", default="red_wine,white_wine,california,spotify,diabetes"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--params", default="{}", help="JSON DropBN overrides")
    parser.add_argument("--grid", action="store_true", help="run the grid search")
    parser.add_argument(
        "--grid-space",
        default='{"dropout": [0.0, 0.1, 0.3], "n_layers": [2, 3, 4]}',
        help="JSON: DropBN parameter -> values searched by --grid",
    )
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument(
        "--baseline-seeds",
        type=int,
        default=1,
        help="random_state values 0..N-1 of MLPRegressor and HistGB (mean +/- std)",
    )
    parser.add_argument(
        "--embedding-sigma",
        type=float,
        help="ablation: standard deviation of the embedding's initial frequencies "
        "(skdropbn._keras.network.EMBEDDING_SIGMA, 1.0 by default)",
    )
    parser.add_argument("--out", help="also write the Markdown table here")
    args = parser.parse_args()
    params = json.loads(args.params)
    space = json.loads(args.grid_space)
    if args.embedding_sigma is not None:
        from skdropbn._keras import network as _network

        _network.EMBEDDING_SIGMA = args.embedding_sigma

    sigma = args.embedding_sigma
    lines = [
        f"DropBN parameters: defaults{' + ' + json.dumps(params) if params else ''}"
        f"{f'; embedding sigma {sigma}' if sigma is not None else ''}; "
        f"{args.seeds} seed(s); 5-fold KFold(shuffle=True, random_state=0)",
        "",
        "| dataset | metric | DropBN (mean +/- std over seeds) | 90% coverage | "
        "DropBN s/CV | MLPRegressor | MLP s/CV | HistGB | HistGB s/CV | "
        "DropBN vs HistGB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    grid_lines = []
    for name in args.datasets.split(","):
        loaded = load(name)
        if loaded is None:
            print(f"{name}: data not found under {DATA}, skipped", file=sys.stderr)
            continue
        X, y, metric = loaded
        print(f"{name}: {X.shape}", file=sys.stderr)
        runs = [
            cross_validate(
                lambda s=seed: make_pipeline(
                    preprocessor(), DropBNRegressor(random_state=s, **params)
                ),
                X,
                y,
                metric,
                with_std=True,
            )  # fmt: skip
            for seed in range(args.seeds)
        ]
        errs = np.array([r[0] for r in runs])
        cover = np.mean([r[1] for r in runs])
        secs = np.mean([r[2] for r in runs])
        print(f"  DropBN {errs} coverage {cover:.3f} {secs:.0f}s", file=sys.stderr)
        if args.no_baselines:
            mlp = hgb = np.full((1, 3), np.nan)
        else:
            mlp, hgb = (
                np.array([
                    cross_validate(
                        lambda s=s, cls=cls: make_pipeline(
                            preprocessor(), cls(random_state=s)
                        ),
                        X, y, metric,
                    )
                    for s in range(args.baseline_seeds)
                ])
                for cls in (MLPRegressor, HistGradientBoostingRegressor)
            )  # fmt: skip
        # Rows: seeds; columns: cross_validate's (error, coverage, seconds).
        (mlp_errs, _, mlp_secs), (hgb_errs, _, hgb_secs) = mlp.T, hgb.T
        print(f"  MLPRegressor {mlp_errs} HistGB {hgb_errs}", file=sys.stderr)
        hgb_mean = hgb_errs.mean()
        lines.append(
            f"| {name} | {metric} | {errs.mean():.4f} +/- {errs.std():.4f} | "
            f"{cover:.3f} | {secs:.0f} | {baseline(mlp_errs)} | "
            f"{mlp_secs.mean():.0f} | {baseline(hgb_errs)} | {hgb_secs.mean():.0f} | "
            f"{100 * (errs.mean() / hgb_mean - 1):+.1f}% |"
        )
        if args.grid:
            start = time.perf_counter()
            search = GridSearchCV(
                make_pipeline(
                    preprocessor(), DropBNRegressor(random_state=0, **params)
                ),
                {f"dropbnregressor__{k}": v for k, v in space.items()},
                cv=KFold(5, shuffle=True, random_state=0),
                scoring="neg_mean_absolute_error"
                if metric == "MAE"
                else "neg_root_mean_squared_error",
            ).fit(X, y)
            best = {k.split("__", 1)[1]: v for k, v in search.best_params_.items()}
            grid_lines.append(
                f"| {name} | {metric} | {-search.best_score_:.4f} | "
                f"{best} | {time.perf_counter() - start:.0f} s | {hgb_mean:.4f} |"
            )
    if grid_lines:
        grid_lines = [
            "",
            f"Grid search over {space} (best candidate's 5-fold CV error; "
            "slightly optimistic, being the best of the grid)",
            "",
            "| dataset | metric | best CV error | best params | wall time | HistGB |",
            "|---|---|---|---|---|---|",
            *grid_lines,
        ]
    print("\n".join([*lines, *grid_lines]))
    machine = (
        f"\n{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"scikit-learn {sklearn.__version__}, "
        f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND', 'tensorflow')}, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print(machine)
    if args.out:
        Path(args.out).write_text("\n".join([*lines, *grid_lines, machine]) + "\n")


if __name__ == "__main__":
    main()
