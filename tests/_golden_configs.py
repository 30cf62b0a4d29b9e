"""The fits whose predictions tests/test_golden.py pins (see that module).

Shared by the test and by ``python tests/_golden_configs.py``, which
rewrites ``tests/data/golden.json``: do that only for a deliberate change
of behaviour, and say so in the commit.
"""

import json
import platform
import sys
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent / "data" / "golden.json"

# SGD, not Adam: Adam's first steps move a weight whose gradient is within
# round-off of 0 by up to a full learning rate either way, so its results
# differ between CPUs by far more than float32 round-off; SGD's do not.
_COMMON = dict(optimizer="sgd", learning_rate=0.05, epochs=4, random_state=3)
CONFIGS = {
    "regressor-bn-after": (
        "DropBNRegressor",
        dict(n_layers=2, units=16, dropout=0.2, batch_norm="after"),
    ),
    "regressor-embedding-bn-before": (
        "DropBNRegressor",
        dict(
            n_layers=1,
            units=12,
            dropout=0.1,
            batch_norm="before",
            input_batch_norm=True,
            feature_embedding="periodic",
        ),
    ),
    "regressor-early-stopping-plateau": (
        "DropBNRegressor",
        dict(
            n_layers=1,
            units=8,
            dropout=0.0,
            batch_norm=None,
            early_stopping=True,
            n_iter_no_change=50,  # never stops: best epoch is the last or near it
            lr_schedule="plateau",
        ),
    ),
    "classifier-binary-bn": (
        "DropBNClassifier",
        dict(n_layers=2, units=16, dropout=0.2, batch_norm="after"),
    ),
    "classifier-multiclass-embedding": (
        "DropBNClassifier",
        dict(n_layers=1, units=16, dropout=0.1, feature_embedding="periodic"),
    ),
}


def data(kind):
    """Seeded toy data: 120 rows to fit, 20 to predict."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(140, 4))
    score = X @ np.array([1.0, -0.5, 0.25, 0.0]) + 0.5 * np.sin(2 * X[:, 0])
    if kind == "DropBNRegressor":
        y = 10.0 * score + 3.0
    elif "multiclass" in kind:
        y = np.digitize(score, [-0.5, 0.5])
    else:
        y = (score > 0).astype(int)
    return X[:120], y[:120], X[120:]


def predictions(name):
    """What the fitted configuration ``name`` predicts, as lists of floats."""
    import skdropbn

    cls_name, params = CONFIGS[name]
    X, y, X_new = data(name if cls_name == "DropBNClassifier" else cls_name)
    est = getattr(skdropbn, cls_name)(**_COMMON, **params).fit(X, y)
    if cls_name == "DropBNClassifier":
        return {"predict_proba": est.predict_proba(X_new).tolist()}
    mean, std = est.predict(X_new, return_std=True)
    return {"predict": mean.tolist(), "std": std.tolist(), "loss": est.history_["loss"]}


def main():
    import keras

    out = {
        "_machine": {
            "cpu": next(
                (
                    line.split(":", 1)[1].strip()
                    for line in open("/proc/cpuinfo")
                    if line.startswith("model name")
                ),
                platform.processor(),
            ),
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
        }
    }
    out.update({name: predictions(name) for name in CONFIGS})
    GOLDEN.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
