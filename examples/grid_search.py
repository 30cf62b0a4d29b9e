"""Grid search over dropout and depth, with a cross-validated score.

The main job of skdropbn's README: a ``StandardScaler`` -> ``DropBNRegressor``
pipeline tuned with ``GridSearchCV`` over dropout rate x number of layers, then
scored with ``cross_val_score``. Runs on scikit-learn's bundled diabetes data by
default, or on any CSV file::

    python examples/grid_search.py
    python examples/grid_search.py ../shared/data/red-wine.csv --target quality
    python examples/grid_search.py data.csv --sep ";" --target price

Text columns of a CSV are one-hot encoded and missing numbers imputed with the
median; the target is ``--target`` or the last column.
"""

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.datasets import load_diabetes
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skdropbn import DropBNRegressor


def load(args):
    if args.csv is None:
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        return X, y, "scikit-learn diabetes"
    frame = pd.read_csv(args.csv, sep=args.sep)
    target = args.target or frame.columns[-1]
    frame = frame.dropna(subset=[target])
    return frame.drop(columns=[target]), frame[target], f"{args.csv} (target {target})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", help="CSV file (default: diabetes data)")
    parser.add_argument("--target", help="target column (default: the last)")
    parser.add_argument("--sep", default=",", help="CSV separator")
    parser.add_argument("--cv", type=int, default=5, help="number of folds")
    parser.add_argument("--seed", type=int, default=0, help="random_state")
    args = parser.parse_args()

    X, y, name = load(args)
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    preprocess = make_column_transformer(
        (numeric, make_column_selector(dtype_include=np.number)),
        (
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            make_column_selector(dtype_exclude=np.number),
        ),
    )
    pipe = make_pipeline(preprocess, DropBNRegressor(random_state=args.seed))
    grid = {
        "dropbnregressor__dropout": [0.1, 0.3, 0.5],
        "dropbnregressor__n_layers": [1, 2, 3],
    }
    cv = KFold(args.cv, shuffle=True, random_state=args.seed)
    print(f"data: {name}, {X.shape[0]} rows x {X.shape[1]} columns")
    print(
        f"grid search: {len(grid['dropbnregressor__dropout']) * 3} candidates "
        f"x {args.cv} folds"
    )
    start = time.perf_counter()
    search = GridSearchCV(pipe, grid, cv=cv, scoring="neg_mean_absolute_error")
    search.fit(X, y)
    print(f"search took {time.perf_counter() - start:.1f} s\n")

    results = pd.DataFrame(search.cv_results_)
    table = results.pivot_table(
        index="param_dropbnregressor__n_layers",
        columns="param_dropbnregressor__dropout",
        values="mean_test_score",
    )
    print("CV mean absolute error (rows: n_layers, columns: dropout)")
    print((-table).round(4).to_string(), "\n")
    print("best:", search.best_params_)

    scores = -cross_val_score(
        search.best_estimator_, X, y, cv=cv, scoring="neg_mean_absolute_error"
    )
    print(
        f"cross-validated MAE of the best pipeline: {scores.mean():.4f} "
        f"+/- {scores.std():.4f}"
    )


if __name__ == "__main__":
    main()
