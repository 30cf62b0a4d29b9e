"""Behaviour of DropBNRegressor: fitting, prediction, parameters, bad input."""

import os
import pickle
import random
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import TINY, make_regression_data
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skdropbn import DropBNRegressor


def run_python(code):
    """Run ``code`` in a fresh interpreter and return its stdout."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return out.stdout


# -- lazy backend -------------------------------------------------------------


def test_import_construct_clone_print_touch_no_backend():
    code = """
import sys
import skdropbn
from sklearn.base import clone
est = skdropbn.DropBNRegressor(dropout=0.3)
clone(est).get_params()
repr(est); est._repr_html_()
print(sorted(m for m in ("keras", "tensorflow", "jax") if m in sys.modules))
"""
    assert run_python(code).strip() == "[]"


def test_unpickled_fitted_estimator_predicts_without_backend(fitted, data, tmp_path):
    path = tmp_path / "est.pkl"
    path.write_bytes(pickle.dumps(fitted))
    np.save(tmp_path / "X.npy", data[0][:5])
    code = f"""
import pickle, sys
import numpy as np
est = pickle.loads(open({str(path)!r}, "rb").read())
pred = est.predict(np.load({str(tmp_path / "X.npy")!r}))
np.save({str(tmp_path / "pred.npy")!r}, pred)
print(sorted(m for m in ("keras", "tensorflow", "jax") if m in sys.modules))
"""
    assert run_python(code).strip() == "[]"
    np.testing.assert_array_equal(
        np.load(tmp_path / "pred.npy"), fitted.predict(data[0][:5])
    )


# -- fitting and prediction -----------------------------------------------------


def test_learns_and_loss_drops(fitted, data):
    X, y = data
    assert fitted.history_["loss"][-1] < 0.5 * fitted.history_["loss"][0]
    assert fitted.score(X, y) > 0.8


def test_prediction_shapes(fitted, data):
    X, _ = data
    assert fitted.predict(X).shape == (len(X),)
    assert fitted.predict(X[:1]).shape == (1,)
    assert fitted.predict(X).dtype == np.float64


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_2d_y_gives_2d_predictions(n_outputs):
    X, y = make_regression_data(n_outputs=n_outputs)
    est = DropBNRegressor(**TINY).fit(X, y)
    assert est.n_outputs_ == n_outputs
    assert est.predict(X).shape == (len(X), n_outputs)
    assert est.predict(X[:1]).shape == (1, n_outputs)
    assert est.score(X, y) > 0.7


def test_history_is_a_plain_dict_of_epoch_lists(fitted):
    h = fitted.history_
    assert set(h) == {"loss", "val_loss", "learning_rate"}
    assert len(h["loss"]) == len(h["val_loss"]) == fitted.n_iter_
    assert h["learning_rate"] == [fitted.learning_rate] * fitted.n_iter_
    assert all(isinstance(v, float) for v in h["loss"])
    frame = pd.DataFrame(h)
    assert list(frame.columns) == ["loss", "val_loss", "learning_rate"]
    assert len(frame) == fitted.n_iter_


def test_early_stopping_stops_and_keeps_best_epoch(data):
    X, y = data
    est = DropBNRegressor(
        n_layers=1, units=16, epochs=500, n_iter_no_change=5, tol=0.0, random_state=0
    ).fit(X, y)
    val = est.history_["val_loss"]
    assert est.n_iter_ < 500
    assert est.best_epoch_ == int(np.argmin(val)) + 1
    assert est.n_iter_ == est.best_epoch_ + 5


def test_plateau_schedule_halves_the_learning_rate(data):
    X, y = data
    est = DropBNRegressor(
        **{**TINY, "epochs": 300}, lr_schedule="plateau", n_iter_no_change=8
    ).fit(X, y)
    lrs = est.history_["learning_rate"]
    assert lrs[0] == est.learning_rate and min(lrs) < est.learning_rate
    ratios = {b / a for a, b in zip(lrs, lrs[1:]) if b != a}
    assert ratios == {0.5}


def test_without_early_stopping_runs_all_epochs(data):
    X, y = data
    est = DropBNRegressor(**{**TINY, "epochs": 7}, early_stopping=False).fit(X, y)
    assert est.n_iter_ == 7 and est.best_epoch_ is None
    assert set(est.history_) == {"loss", "learning_rate"}


def test_feature_embedding_makes_the_fit_insensitive_to_feature_scale(data):
    # The embedding standardises each feature with the training data's mean
    # and standard deviation, so features in other units (x 1000, shifted)
    # train the same network, to float32 round-off; without it they do not.
    X, y = data
    X_units = X * [1000.0, 1.0, 0.001, 50.0, 1.0] + [5.0, -3.0, 0.0, 1e4, 0.0]
    params = dict(n_layers=1, units=16, epochs=5, random_state=0)
    for embedding, same in [("periodic", True), (None, False)]:
        a = DropBNRegressor(**params, feature_embedding=embedding).fit(X, y)
        b = DropBNRegressor(**params, feature_embedding=embedding).fit(X_units, y)
        close = np.allclose(a.predict(X), b.predict(X_units), atol=1e-3 * y.std())
        assert close == same, embedding


def test_embedded_features_are_the_columns_with_more_than_two_values():
    from skdropbn._data import embedded_features

    rng = np.random.RandomState(0)
    late = np.r_[np.zeros(98), 1.0, 2.0]  # the third value in the last rows
    X = np.c_[
        rng.randn(100), rng.randint(0, 2, 100), np.full(100, 4.0),
        rng.randint(0, 3, 100), np.r_[np.zeros(99), 5.0], late,
    ]  # fmt: skip
    # Blocks of 2 rows (12 values / 6 columns) as well as one block.
    for block_values in (12, 1 << 20):
        assert embedded_features(X, block_values) == (0, 3, 5)
        assert embedded_features(X.astype(np.float32), block_values) == (0, 3, 5)
    assert embedded_features(X[:, [0, 3]]) is None  # every column: None
    assert embedded_features(X[:, [1, 2, 4]]) == ()


def test_two_valued_columns_skip_the_periodic_embedding(data):
    # One-hot indicators get only the embedding's smooth path: their
    # frequencies are not in the network, and inference agrees with Keras.
    X, y = data
    rng = np.random.RandomState(0)
    X = np.c_[X[:, :2], rng.randint(0, 2, (len(X), 3)), X[:, 2:]]
    params = dict(n_layers=1, units=8, epochs=2, random_state=0)
    est = DropBNRegressor(**params, feature_embedding="periodic").fit(X, y)
    assert est._spec.embedded_features == (0, 1, 5, 6, 7)
    embedding = est.model_.get_layer("embedding")
    assert tuple(embedding.frequencies.shape) == (5, 16)
    assert est.model_.output_shape == (None, 1)
    assert est.model_.get_layer("dense_0").kernel.shape[0] == 8 + 5 * 16
    raw = est.model_.predict(X.astype(np.float32), verbose=0).ravel()
    np.testing.assert_allclose(
        est.predict(X), raw * est.y_scale_ + est.y_mean_, rtol=1e-4, atol=1e-5
    )
    # Only indicators: nothing to embed, so no embedding at all.
    only = DropBNRegressor(**params, feature_embedding="periodic").fit(X[:, 2:5], y)
    assert only._spec.feature_embedding is None


def test_auto_embedding_from_1000_rows_and_kept_by_warm_start():
    X, y = make_regression_data(n_samples=1000, n_features=3, seed=3)
    params = dict(n_layers=1, units=4, epochs=1, random_state=0)

    def embedded(est):
        return any("Embedding" in type(la).__name__ for la in est.model_.layers)

    assert embedded(DropBNRegressor(**params).fit(X, y))
    small = DropBNRegressor(**params, warm_start=True).fit(X[:999], y[:999])
    assert not embedded(small)
    # A warm start on more rows continues the same network.
    assert not embedded(small.fit(X, y))


def test_model_is_keras_and_predict_matches_it(fitted, data):
    import keras

    X, _ = data
    assert isinstance(fitted.model_, keras.Model)
    raw = fitted.model_.predict(X.astype(np.float32), verbose=0).ravel()
    np.testing.assert_allclose(
        fitted.predict(X), raw * fitted.y_scale_ + fitted.y_mean_, rtol=1e-5, atol=1e-5
    )


# Keras 3.15's saving calls np.array on its variables, whose __array__ lacks
# NumPy 2's copy keyword: NumPy 2.4 warns inside Keras, not in skdropbn.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_model_saves_and_loads_with_keras_in_a_new_process(fitted, data, tmp_path):
    # The embedding layer is skdropbn's own: keras_custom_objects registers
    # it, so that a new process can read a saved model_.
    X, _ = data
    fitted.model_.save(tmp_path / "net.keras")
    np.save(tmp_path / "X.npy", X[:20])
    code = f"""
import keras, numpy as np, skdropbn
skdropbn.keras_custom_objects()
model = keras.models.load_model({str(tmp_path / "net.keras")!r})
print(type(model.layers[1]).__name__)
X = np.load({str(tmp_path / "X.npy")!r})
np.save({str(tmp_path / "p.npy")!r}, model.predict(X, verbose=0))
"""
    assert run_python(code).strip().splitlines()[-1] == "PeriodicEmbedding"
    np.testing.assert_allclose(
        np.load(tmp_path / "p.npy"),
        fitted.model_.predict(X[:20], verbose=0),
        atol=1e-5,
    )


@pytest.mark.parametrize("batch_norm", ["after", "before", None])
@pytest.mark.parametrize("input_batch_norm", [False, True])
@pytest.mark.parametrize("feature_embedding", ["periodic", None])
def test_folded_inference_equals_keras_for_every_placement(
    data, batch_norm, input_batch_norm, feature_embedding
):
    # Unscaled inputs make batch-norm statistics far from the identity, so a
    # wrong fold would show.
    X, y = data
    X = X * 7.0 + 3.0
    est = DropBNRegressor(
        n_layers=2,
        units=8,
        epochs=3,
        batch_norm=batch_norm,
        input_batch_norm=input_batch_norm,
        feature_embedding=feature_embedding,
        activation="elu",
        random_state=0,
    ).fit(X, y)
    bn_layers = [la for la in est.model_.layers if "batch_norm" in la.name]
    assert len(bn_layers) == (2 if batch_norm else 0) + input_batch_norm
    raw = est.model_.predict(X.astype(np.float32), verbose=0).ravel()
    np.testing.assert_allclose(
        est.predict(X), raw * est.y_scale_ + est.y_mean_, rtol=1e-4, atol=1e-5
    )


def test_predict_blocks_follow_the_widest_layer_and_rows_stay_independent(fitted, data):
    # Rows go through the network in blocks of about 2**20 values of the
    # widest layer; a row's prediction must not depend on the blocking or on
    # the other rows of the call.
    from skdropbn._inference import _rows_per_chunk, forward

    def dense(width):
        return (np.zeros((3, width)), np.zeros(width), "relu", 0.0)

    assert _rows_per_chunk([dense(1024), dense(1024), dense(1)], 16384) == 1024
    assert _rows_per_chunk([dense(64), dense(1)], 16384) == 16384
    assert _rows_per_chunk([dense(8192), dense(1)], 16384) == 256

    X = np.tile(data[0], (4, 1))
    whole = forward(fitted._layers, X, chunk_size=len(X))
    np.testing.assert_allclose(forward(fitted._layers, X, chunk_size=256), whole)
    rows = np.vstack([fitted.predict(X[i : i + 1]) for i in range(0, len(X), 97)])
    np.testing.assert_allclose(rows.ravel(), fitted.predict(X)[::97])


def test_lesson_model_in_one_line(data):
    X, y = data
    est = DropBNRegressor(
        n_layers=3,
        units=1024,
        dropout=0.3,
        loss="mae",
        batch_size=256,
        epochs=1,
        feature_embedding=None,
    ).fit(X, y)
    kinds = [type(la).__name__ for la in est.model_.layers[1:]]
    assert kinds == ["Dense", "Dropout", "BatchNormalization"] * 3 + ["Dense"]
    dense = [la for la in est.model_.layers if type(la).__name__ == "Dense"]
    assert [la.units for la in dense] == [1024, 1024, 1024, 1]
    assert dense[0].activation.__name__ == "relu"
    assert all(
        la.rate == 0.3 for la in est.model_.layers if type(la).__name__ == "Dropout"
    )


def test_n_layers_zero_is_a_linear_model():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = X @ [1.0, -2.0, 0.5] + 3.0
    est = DropBNRegressor(
        n_layers=0,
        feature_embedding=None,
        epochs=200,
        learning_rate=0.05,
        random_state=0,
    )
    est.fit(X, y)
    assert [type(la).__name__ for la in est.model_.layers[1:]] == ["Dense"]
    assert est.score(X, y) > 0.99


@pytest.mark.parametrize("loss", ["absolute_error", "mae", "huber", "mse"])
def test_loss_names(data, loss):
    X, y = data
    est = DropBNRegressor(**TINY, loss=loss).fit(X, y)
    assert est.score(X, y) > 0.7


@pytest.mark.parametrize("optimizer", ["adamw", "sgd", "rmsprop", "nadam"])
def test_optimizers(data, optimizer):
    X, y = data
    est = DropBNRegressor(**TINY, optimizer=optimizer, weight_decay=1e-4)
    lr = 0.01 if optimizer == "sgd" else 1e-3
    est.set_params(learning_rate=lr).fit(X, y)
    assert est.history_["loss"][-1] < est.history_["loss"][0]


def test_target_in_large_units_still_fits(data):
    X, y = data
    est = DropBNRegressor(**TINY).fit(X, y * 1e5 + 2e5)
    assert est.score(X, y * 1e5 + 2e5) > 0.8


# -- random_state and reproducibility --------------------------------------------


def test_same_seed_same_predictions_other_seed_differs(data, fitted):
    X, y = data
    again = DropBNRegressor(**TINY).fit(X, y)
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    other = DropBNRegressor(**{**TINY, "random_state": 1}).fit(X, y)
    assert not np.allclose(other.predict(X), fitted.predict(X))


def test_same_seed_same_predictions_in_a_fresh_process(data, fitted, tmp_path):
    X, y = data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    code = f"""
import numpy as np
from skdropbn import DropBNRegressor
X, y = np.load({str(tmp_path / "X.npy")!r}), np.load({str(tmp_path / "y.npy")!r})
est = DropBNRegressor(**{TINY!r}).fit(X, y)
np.save({str(tmp_path / "p.npy")!r}, est.predict(X))
"""
    run_python(code)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), fitted.predict(X))


def test_random_state_none_varies_and_leaves_global_rngs_alone(data):
    X, y = data
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    py_state = random.getstate()
    env = dict(os.environ)
    params = {**TINY, "random_state": None, "epochs": 2}
    a = DropBNRegressor(**params).fit(X, y).predict(X)
    b = DropBNRegressor(**params).fit(X, y).predict(X)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    assert random.getstate() == py_state
    assert dict(os.environ) == env


def test_fit_leaves_keras_and_tensorflow_global_state_alone(fitted):
    import keras

    assert keras.config.floatx() == "float32"
    assert keras.config.dtype_policy().name == "float32"
    if keras.backend.backend() == "tensorflow":
        from tensorflow.python.framework import config as tf_config

        assert not tf_config.is_op_determinism_enabled()


# -- sample_weight ------------------------------------------------------------


def test_unit_weights_equal_no_weights(data, fitted):
    X, y = data
    est = DropBNRegressor(**TINY).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(est.predict(X), fitted.predict(X))
    scaled = DropBNRegressor(**TINY).fit(X, y, sample_weight=np.full(len(y), 3.0))
    np.testing.assert_allclose(
        scaled.predict(X), fitted.predict(X), rtol=1e-4, atol=1e-4
    )


def test_weights_steer_the_fit():
    # Two groups with the same X but opposite targets: the weights decide.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(200, 2))] * 2)
    y = np.r_[np.ones(200), -np.ones(200)]
    w = np.r_[np.full(200, 9.0), np.ones(200)]
    est = DropBNRegressor(**TINY).fit(X, y, sample_weight=w)
    assert est.predict(X).mean() > 0.5
    assert est.score(X, y, sample_weight=w) > est.score(X, y)


def test_sample_weight_through_metadata_routing(data):
    import sklearn
    from sklearn.model_selection import GridSearchCV

    X, y = data
    w = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        est = DropBNRegressor(**{**TINY, "epochs": 3})
        est.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        search = GridSearchCV(est, {"dropout": [0.0, 0.2]}, cv=2)
        search.fit(X, y, sample_weight=w)
        unweighted = GridSearchCV(
            DropBNRegressor(**{**TINY, "epochs": 3}), {"dropout": [0.0, 0.2]}, cv=2
        ).fit(X, y)
    assert not np.allclose(
        search.cv_results_["mean_test_score"], unweighted.cv_results_["mean_test_score"]
    )


# -- pandas ---------------------------------------------------------------------


def test_pandas_feature_names_and_nullable_dtypes(data):
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["f0"] = frame["f0"].astype("Float64")
    frame["f1"] = (frame["f1"] > 0).astype("Int64")
    est = DropBNRegressor(**{**TINY, "epochs": 3}).fit(frame, pd.Series(y, name="t"))
    np.testing.assert_array_equal(est.feature_names_in_, frame.columns)
    assert est.predict(frame).shape == (len(y),)
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(frame[frame.columns[::-1]])
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(frame.rename(columns={"f0": "renamed"}))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict(frame.to_numpy(dtype=float))


def test_float32_and_int_inputs(data, fitted):
    X, y = data
    np.testing.assert_allclose(
        fitted.predict(X.astype(np.float32)), fitted.predict(X), rtol=1e-5, atol=1e-5
    )
    est = DropBNRegressor(**{**TINY, "epochs": 2}).fit(np.round(X * 10).astype(int), y)
    assert np.isfinite(est.predict(np.round(X * 10).astype(int))).all()


# -- parameters, clone, persistence ------------------------------------------------


def test_clone_keeps_every_parameter():
    params = dict(
        n_layers=4, units=7, dropout=0.25, batch_norm="before", input_batch_norm=True,
        activation="gelu", loss="mae", optimizer="adamw", learning_rate=0.02,
        weight_decay=0.1, batch_size=64, epochs=11, early_stopping=False,
        validation_fraction=0.3, n_iter_no_change=3, tol=0.5, random_state=5,
        verbose=1, warm_start=True, n_mc_passes=7, lr_schedule="plateau",
        feature_embedding=None, ema_momentum=0.5, n_members=3,
    )  # fmt: skip
    est = DropBNRegressor(**params)
    assert clone(est).get_params() == params
    assert set(DropBNRegressor().get_params()) == set(params)


def test_pickle_and_joblib_round_trips(fitted, data, tmp_path):
    X, _ = data
    unfitted = pickle.loads(pickle.dumps(DropBNRegressor(dropout=0.4)))
    assert unfitted.get_params() == DropBNRegressor(dropout=0.4).get_params()
    for restored in (
        pickle.loads(pickle.dumps(fitted)),
        joblib.load(joblib.dump(fitted, tmp_path / "est.joblib")[0]),
    ):
        assert restored.get_params() == fitted.get_params()
        np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))
        # The Keras model is rebuilt from the stored weights on demand.
        raw = restored.model_.predict(X.astype(np.float32), verbose=0).ravel()
        np.testing.assert_allclose(
            raw * restored.y_scale_ + restored.y_mean_,
            fitted.predict(X),
            rtol=1e-4,
            atol=1e-5,
        )


def test_fitted_clone_is_unfitted(fitted, data):
    with pytest.raises(NotFittedError):
        clone(fitted).predict(data[0])


def test_warm_start_continues_training(data):
    X, y = data
    est = DropBNRegressor(**{**TINY, "epochs": 5}, warm_start=True).fit(X, y)
    first_last = est.history_["loss"][-1]
    est.fit(X, y)
    assert (
        est.history_["loss"][0]
        < 0.9 * DropBNRegressor(**TINY).fit(X, y).history_["loss"][0]
    )
    assert est.history_["loss"][0] <= first_last * 1.5
    with pytest.raises(ValueError, match="architecture"):
        est.set_params(units=32).fit(X, y)


def test_verbose(data, capfd):
    X, y = data
    DropBNRegressor(**{**TINY, "epochs": 3}).fit(X, y).predict(X)
    out, err = capfd.readouterr()
    assert out == ""
    DropBNRegressor(**{**TINY, "epochs": 3}, verbose=1).fit(X, y)
    out, _ = capfd.readouterr()
    assert "3/3" in out and "val_loss" in out


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_bad, match",
    [
        (lambda X, y: (np.where(X > 2, np.nan, X), y), "NaN"),
        (lambda X, y: (np.where(X > 2, np.inf, X), y), "infinity"),
        (lambda X, y: (X, np.where(y > 2, np.nan, y)), "NaN"),
        (lambda X, y: (X.astype(str).astype(object) + "x", y), "could not convert"),
        (lambda X, y: (X[:0], y[:0]), "0 sample"),
        (lambda X, y: (X, y[:-1]), "inconsistent numbers of samples"),
        (lambda X, y: (X[:1], y[:1]), "1 sample"),
        (lambda X, y: (np.full((5, 2), 1e39), y[:5]), "too large"),
    ],
)
def test_bad_input_is_rejected_before_training(data, make_bad, match):
    X, y = data
    X_bad, y_bad = make_bad(X.copy(), y.copy())
    X_before, y_before = X_bad.copy(), y_bad.copy()
    est = DropBNRegressor(**TINY)
    with pytest.raises(ValueError, match=match):
        est.fit(X_bad, y_bad)
    np.testing.assert_array_equal(X_bad, X_before)
    np.testing.assert_array_equal(y_bad, y_before)
    assert est.get_params() == DropBNRegressor(**TINY).get_params()


def test_wrong_number_of_features_at_predict(fitted, data):
    with pytest.raises(ValueError, match="features"):
        fitted.predict(data[0][:, :3])
    with pytest.raises(ValueError, match="2D array"):
        fitted.predict(data[0][0])


def test_plain_array_shortcut_predicts_and_fails_as_validate_data(fitted, data):
    # predict skips validate_data for a finite float array of the right width
    # (estimator fitted without feature names): the same predictions as the
    # long way (a list, float32), and non-finite or mis-shaped arrays still
    # get scikit-learn's errors, the caller's array untouched.
    X, _ = data
    expected = fitted.predict(X.tolist())
    np.testing.assert_array_equal(fitted.predict(X), expected)
    np.testing.assert_array_equal(
        fitted.predict(X.astype(np.float32)),
        fitted.predict(X.astype(np.float32).tolist()),
    )
    for bad, message in [(np.nan, "NaN"), (np.inf, "infinity")]:
        Xbad = X[:5].copy()
        Xbad[2, 1] = bad
        with pytest.raises(ValueError, match=message):
            fitted.predict(Xbad)
        assert Xbad[2, 1] != Xbad[2, 1] or np.isinf(Xbad[2, 1])
    with pytest.raises(ValueError, match="0 sample"):
        fitted.predict(X[:0])


@pytest.mark.parametrize(
    "params",
    [
        {"dropout": 1.5},
        {"dropout": -0.1},
        {"n_layers": -1},
        {"loss": "not_a_loss"},
        {"units": 0},
        {"batch_norm": "middle"},
        {"activation": "swishy"},
        {"learning_rate": 0.0},
        {"validation_fraction": 1.0},
    ],
)
def test_invalid_parameters_fail_at_fit(data, params):
    est = DropBNRegressor(**params)  # constructing never validates
    with pytest.raises(InvalidParameterError):
        est.fit(*data)
    assert {k: est.get_params()[k] for k in params} == params


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        DropBNRegressor().predict(np.zeros((2, 3)))
    assert not hasattr(DropBNRegressor(), "model_")


def test_divergence_is_reported_and_leaves_estimator_unfitted(data):
    X, y = data
    est = DropBNRegressor(
        n_layers=2, units=16, optimizer="sgd", learning_rate=1e12, batch_norm=None,
        epochs=20, random_state=0,
    )  # fmt: skip
    with pytest.raises(ValueError, match="diverged"):
        est.fit(X * 1e3, y)
    with pytest.raises(NotFittedError):
        est.predict(X)
    # A later fit with sane settings works.
    est.set_params(learning_rate=1e-3, epochs=3).fit(X, y)
    assert np.isfinite(est.predict(X)).all()
