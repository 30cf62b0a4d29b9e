"""Files saved under one Keras backend, loaded, refitted and saved under the other.

Fits a bare regressor (with early stopping, for ``predict(return_std=True)``),
a pipeline, a fitted ``GridSearchCV`` and a classifier under the backend this
process runs (``KERAS_BACKEND``), saves them, and starts a process under the
other backend that loads each file, compares its predictions with the saved
ones, rebuilds ``model_`` (a Keras model of that backend) and compares it with
the NumPy predictions, warm-starts the regressor for one epoch, and saves
everything again; this process then loads those files and compares once
more. Prints a Markdown table.

Usage::

    KERAS_BACKEND=tensorflow python benchmarks/cross_backend_files.py
    KERAS_BACKEND=jax python benchmarks/cross_backend_files.py
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

NAMES = ["bare", "pipeline", "search", "classifier"]

OTHER = r"""
import json, sys
import numpy as np
import skdropbn
from skdropbn._keras import backend_name

folder = sys.argv[1]
X = np.load(f"{folder}/X.npy")
y = np.load(f"{folder}/y.npy")
report = {"backend": backend_name()}

def predictions(obj):
    if hasattr(obj, "predict_proba"):
        return obj.predict_proba(X)
    if getattr(obj, "early_stopping", False):
        return np.stack(obj.predict(X, return_std=True))
    return obj.predict(X)

for name in NAMES:
    obj = skdropbn.load(f"{folder}/{name}.skdropbn")
    same = np.array_equal(predictions(obj), np.load(f"{folder}/{name}.npy"))
    report[name] = {"identical": bool(same)}
    skdropbn.save(obj, f"{folder}/{name}.back.skdropbn")
    np.save(f"{folder}/{name}.back.npy", predictions(obj))

bare = skdropbn.load(f"{folder}/bare.skdropbn")
keras_out = bare.model_.predict(X, verbose=0).ravel() * bare.y_scale_ + bare.y_mean_
report["keras_max_abs_diff"] = float(np.abs(keras_out - bare.predict(X)).max())
bare.set_params(warm_start=True, epochs=1).fit(X, y)
report["refit_n_iter"] = bare.n_iter_
skdropbn.save(bare, f"{folder}/refit.skdropbn")
np.save(f"{folder}/refit.npy", predictions(bare))
print(json.dumps(report))
""".replace("NAMES", repr(NAMES))


def predictions(obj):
    if hasattr(obj, "predict_proba"):
        return obj.predict_proba(X_)
    if getattr(obj, "early_stopping", False):
        return np.stack(obj.predict(X_, return_std=True))
    return obj.predict(X_)


X_ = None


def main():
    global X_
    from sklearn.datasets import make_regression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import skdropbn
    from skdropbn import DropBNClassifier, DropBNRegressor
    from skdropbn._keras import backend_name

    X, y = make_regression(200, 5, noise=5.0, random_state=0)
    X_ = X
    small = dict(n_layers=1, units=16, epochs=5, random_state=0)
    models = {
        "bare": DropBNRegressor(**small, early_stopping=True).fit(X, y),
        "pipeline": make_pipeline(StandardScaler(), DropBNRegressor(**small)).fit(X, y),
        "search": GridSearchCV(
            DropBNRegressor(**small), {"learning_rate": [0.001, 0.01]}, cv=2
        ).fit(X, y),
        "classifier": DropBNClassifier(**small).fit(X, y > 0),
    }
    here = backend_name()
    other = "jax" if here == "tensorflow" else "tensorflow"
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/X.npy", X)
        np.save(f"{tmp}/y.npy", y)
        for name, obj in models.items():
            skdropbn.save(obj, f"{tmp}/{name}.skdropbn")
            np.save(f"{tmp}/{name}.npy", predictions(obj))
        result = subprocess.run(
            [sys.executable, "-c", OTHER, tmp],
            env={**os.environ, "KERAS_BACKEND": other},
            capture_output=True,
            text=True,
        )
        if result.returncode:
            sys.exit(result.stderr[-3000:])
        report = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"Saved under {here}, loaded under {report['backend']}, and back.\n")
        print(
            f"| object | {here} -> {other}: predictions identical "
            f"| {other} -> {here}: identical |"
        )
        print("|---|---|---|")
        for name in NAMES:
            back = skdropbn.load(Path(tmp) / f"{name}.back.skdropbn")
            same = np.array_equal(predictions(back), np.load(f"{tmp}/{name}.npy"))
            print(f"| {name} | {report[name]['identical']} | {same} |")
        refit = skdropbn.load(Path(tmp) / "refit.skdropbn")
        same = np.array_equal(predictions(refit), np.load(f"{tmp}/refit.npy"))
        print(
            f"\n`model_` rebuilt under {other}: largest difference from the "
            f"NumPy predictions {report['keras_max_abs_diff']:.2e} (float32). "
            f"Warm-started under {other} for {report['refit_n_iter']} epoch "
            f"from the {here} weights, saved, and loaded under {here}: "
            f"predictions identical: {same}."
        )


if __name__ == "__main__":
    main()
