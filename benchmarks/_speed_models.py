"""What benchmarks/speed.py times: the data, the two networks and the estimators.

The lesson's network (3 x Dense(1024, relu) -> Dropout(0.3) ->
BatchNormalization, Adam, MAE, batch 256) and a small one (2 x 64, batch 32),
as skdropbn's ``DropBNRegressor``, as the identical Keras model compiled as a
user would, and behind scikeras' ``KerasRegressor``,
``keras.wrappers.SKLearnRegressor`` and, with the same hidden sizes,
``MLPRegressor``.
"""

from pathlib import Path

import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.neural_network import MLPRegressor

from skdropbn import DropBNRegressor

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "red-wine.csv"

# The lesson's network and the small one, as skdropbn parameters.
NETS = {
    "lesson": {"n_layers": 3, "units": 1024, "dropout": 0.3, "batch_size": 256},
    "small": {"n_layers": 2, "units": 64, "dropout": 0.3, "batch_size": 32},
}
GRID = {"dropout": [0.1, 0.3, 0.5], "n_layers": [1, 2, 3]}


def load_data():
    """Features, target and a note on where they came from."""
    if DATA.exists():
        frame = pd.read_csv(DATA)
        y = frame.pop("quality").to_numpy(float)
        return frame.to_numpy(float), y, f"red wine ({DATA.name})"
    X, y = load_diabetes(return_X_y=True)
    return X, y, f"diabetes: {DATA} not found, red wine NOT used"


def dropbn(net, **params):
    """The skdropbn estimator of one of ``NETS``."""
    return DropBNRegressor(
        n_layers=net["n_layers"],
        units=net["units"],
        dropout=net["dropout"],
        batch_norm="after",
        loss="absolute_error",
        batch_size=net["batch_size"],
        early_stopping=False,
        feature_embedding=None,  # the lesson's plain network, as Keras's
        ema_momentum=0,  # the last weights, as model.fit keeps them
        random_state=0,
    ).set_params(**params)


def keras_net(n_features, n_layers, units, dropout, loss="mae", jit_compile="auto"):
    """The lesson's Keras model, compiled as the lesson does."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(shape=(n_features,))])
    for _ in range(n_layers):
        model.add(layers.Dense(units, activation="relu"))
        model.add(layers.Dropout(dropout))
        model.add(layers.BatchNormalization())
    model.add(layers.Dense(1))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=loss, jit_compile=jit_compile
    )
    return model


def scikeras_model(n_layers, units, dropout, loss_name, meta):
    """Model function for scikeras' KerasRegressor."""
    return keras_net(meta["n_features_in_"], n_layers, units, dropout, loss_name)


def wrapper_model(X, y, n_layers, units, dropout, loss_name):
    """Model function for keras.wrappers.SKLearnRegressor."""
    return keras_net(X.shape[1], n_layers, units, dropout, loss_name)


def scikeras_est(net, epochs, loss_name="mae", batch_size=None):
    from scikeras.wrappers import KerasRegressor

    return KerasRegressor(
        model=scikeras_model,
        n_layers=net["n_layers"],
        units=net["units"],
        dropout=net["dropout"],
        loss_name=loss_name,
        epochs=epochs,
        batch_size=batch_size or net["batch_size"],
        verbose=0,
    )


def wrapper_est(net, epochs, loss_name="mae", batch_size=None):
    import keras

    return keras.wrappers.SKLearnRegressor(
        model=wrapper_model,
        model_kwargs={
            "n_layers": net["n_layers"],
            "units": net["units"],
            "dropout": net["dropout"],
            "loss_name": loss_name,
        },
        fit_kwargs={
            "epochs": epochs,
            "batch_size": batch_size or net["batch_size"],
            "verbose": 0,
        },
    )


def mlp_est(net, max_iter=5):
    return MLPRegressor(
        hidden_layer_sizes=(net["units"],) * net["n_layers"],
        batch_size=net["batch_size"],
        max_iter=max_iter,
        random_state=0,
    )


def has_scikeras(backend):
    """scikeras needs TensorFlow: only under the TensorFlow backend."""
    if backend != "tensorflow":
        return False
    try:
        import scikeras.wrappers  # noqa: F401
    except ImportError:
        return False
    return True


def train_flops(n_rows, n_features, net):
    """Training FLOPs of one epoch: 6 per multiply-add of the Dense layers."""
    sizes = [n_features] + [net["units"]] * net["n_layers"] + [1]
    return 6 * n_rows * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def baseline_wrapper(backend):
    """The Keras wrapper to compare with: ``(name, make, pipeline step name)``.

    scikeras' ``KerasRegressor`` where it runs (TensorFlow), else
    ``keras.wrappers.SKLearnRegressor``.
    """
    if has_scikeras(backend):
        return "scikeras", scikeras_est, "kerasregressor"
    return "keras.wrappers", wrapper_est, "sklearnregressor"
