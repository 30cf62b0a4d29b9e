"""MLflow logging of a skdropbn pipeline, checked by hand (not a test dependency).

MLflow (3.17's ``mlflow-skinny`` alone pulls in about 30 packages, a web
server among them) is too heavy for the test extra, so this script is run by
hand in a separate environment:

    python -m venv /tmp/mlvenv
    echo /path/to/skdropbn/.venv/lib/python3.11/site-packages \
        > /tmp/mlvenv/lib/python3.11/site-packages/main-venv.pth
    /tmp/mlvenv/bin/pip install mlflow-skinny
    MLFLOW_ALLOW_FILE_STORE=true PYTHONPATH=. /tmp/mlvenv/bin/python \
        benchmarks/mlflow_check.py

It saves a fitted pipeline with ``mlflow.sklearn.save_model`` and logs it
with ``log_model`` to a local file store, in the skops format (MLflow's
default), trusting only ``skdropbn.DropBNRegressor``; loads both back with
MLflow, and the logged ``model.skops`` with ``skdropbn.load``; and prints
whether each predicts identically.
"""

import os
import tempfile

import mlflow
import mlflow.sklearn
import numpy as np
from sklearn.datasets import make_regression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skdropbn
from skdropbn import DropBNRegressor

TRUSTED = ["skdropbn.DropBNRegressor"]


def main():
    X, y = make_regression(200, 5, noise=5.0, random_state=0)
    net = DropBNRegressor(n_layers=1, units=16, epochs=5, random_state=0)
    pipe = make_pipeline(StandardScaler(), net).fit(X, y)
    expected = pipe.predict(X)
    print(f"mlflow {mlflow.__version__}")

    folder = tempfile.mkdtemp()
    mlflow.sklearn.save_model(
        pipe,
        f"{folder}/saved",
        serialization_format="skops",
        skops_trusted_types=TRUSTED,
    )
    loaded = mlflow.sklearn.load_model(f"{folder}/saved")
    print(f"save_model files: {sorted(os.listdir(f'{folder}/saved'))}")
    same = np.array_equal(loaded.predict(X), expected)
    print(f"save_model -> load_model identical: {same}")

    mlflow.set_tracking_uri(f"file:{folder}/mlruns")
    mlflow.set_experiment("skdropbn")
    with mlflow.start_run():
        # serialization_format left to MLflow's default (skops).
        info = mlflow.sklearn.log_model(pipe, name="model", skops_trusted_types=TRUSTED)
    loaded = mlflow.sklearn.load_model(info.model_uri)
    same = np.array_equal(loaded.predict(X), expected)
    print(f"log_model -> load_model identical: {same}")
    local = mlflow.artifacts.download_artifacts(info.model_uri)
    ours = skdropbn.load(os.path.join(local, "model.skops"))
    print(
        "logged model.skops -> skdropbn.load identical: "
        f"{np.array_equal(ours.predict(X), expected)}"
    )


if __name__ == "__main__":
    main()
