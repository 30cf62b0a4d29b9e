"""A committee of networks trained as one (``n_members``, TabM-mini).

The members share the hidden layers, each has its own input adapter and
output head; each trains on its own loss; the committee predicts their mean.
The NumPy inference path, ``model_`` and the training loss must all agree on
what that means.
"""

import pickle

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.datasets import load_iris

import skdropbn
from skdropbn import DropBNClassifier, DropBNRegressor, _inference

SMALL = dict(n_layers=2, units=16, epochs=8, random_state=0)


def _model_prediction(reg, X):
    out = reg.model_.predict(X.astype(np.float32), verbose=0)
    return out[:, 0] * reg.y_scale_[0] + reg.y_mean_[0]


def test_training_averages_members_losses_and_validation_scores_their_mean():
    from keras import ops

    from skdropbn._keras.losses import loss_function
    from skdropbn._keras.trainer import CommitteeLoss, to_numpy

    rng = np.random.default_rng(0)
    y = rng.normal(size=(6, 1)).astype(np.float32)
    p = rng.normal(size=(6, 3, 1)).astype(np.float32)
    loss = CommitteeLoss(loss_function("squared_error"), 3)
    # Backend tensors in: under torch, a NumPy array on the left of a tensor
    # operation trips NumPy 2's __array_wrap__ deprecation inside torch.
    y_t, p_t = ops.convert_to_tensor(y), ops.convert_to_tensor(p)
    training, validation = to_numpy(loss.training(y_t, p_t)), to_numpy(loss(y_t, p_t))
    np.testing.assert_allclose(
        training, np.mean((y[:, None, :] - p) ** 2, axis=(1, 2)), rtol=1e-6
    )
    np.testing.assert_allclose(
        validation, np.mean((y - p.mean(axis=1)) ** 2, axis=1), rtol=1e-6
    )
    assert np.all(validation < training)  # the mean beats its members (Jensen)


def test_members_start_from_random_sign_adapters_and_their_own_heads():
    from skdropbn._keras.network import build_network, initial_weights
    from skdropbn._spec import NetworkSpec

    spec = NetworkSpec(4, 1, 1, 8, 0.1, "after", True, "relu", "linear", None, 5)
    model = build_network(spec)
    weights = dict(zip((w.path for w in model.weights), initial_weights(model, 0)))
    adapter = weights["members/adapter"]
    assert adapter.shape == (5, 4)
    assert set(np.unique(adapter)) == {-1.0, 1.0}
    heads = weights["output/kernel"]
    assert heads.shape == (5, 8, 1)
    limit = np.sqrt(6.0 / (8 + 1))  # each head's own Glorot bound
    assert np.abs(heads).max() <= limit and np.abs(heads).max() > 0.5 * limit
    assert not np.allclose(heads[0], heads[1])


@pytest.mark.parametrize(
    "params",
    [
        dict(input_batch_norm=True, feature_embedding=None, batch_norm="after"),
        dict(input_batch_norm=False, feature_embedding="periodic", batch_norm="before"),
    ],
    ids=["input-bn-folded-into-adapters", "embedding-bn-before"],
)
def test_regressor_committee_predicts_what_its_model_predicts(data, params):
    X, y = data
    reg = DropBNRegressor(n_members=3, **SMALL, **params).fit(X, y)
    pred = reg.predict(X)
    # float32 Keras against the float64 NumPy pass: round-off of a few
    # float32 ulps of the standardised outputs (order 1), scaled back.
    np.testing.assert_allclose(
        pred, _model_prediction(reg, X), atol=1e-4 * reg.y_scale_[0]
    )
    members = _inference.forward(reg._layers, X.astype(np.float64), members=True)
    assert members.shape == (X.shape[0], 3, 1)
    np.testing.assert_allclose(
        members.mean(axis=1)[:, 0] * reg.y_scale_[0] + reg.y_mean_[0], pred
    )
    assert np.std(members, axis=1).mean() > 0  # the members differ


def test_same_seed_same_committee(data):
    X, y = data
    a = DropBNRegressor(n_members=2, **SMALL).fit(X, y).predict(X)
    b = DropBNRegressor(n_members=2, **SMALL).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "multiclass"])
def test_classifier_committee_averages_probabilities_consistently(binary):
    X, y = load_iris(return_X_y=True)
    if binary:
        y = (y == 2).astype(int)
    clf = DropBNClassifier(n_members=3, **SMALL).fit(X, y)
    proba = clf.predict_proba(X)
    model = clf.model_.predict(X.astype(np.float32), verbose=0)
    if binary:
        model = np.hstack([1 - model, model])
    np.testing.assert_allclose(proba, model, atol=1e-5)
    z = clf.decision_function(X)
    # The logits are those of the members' mean probability.
    expected = expit(z) if binary else softmax(z, axis=1)
    np.testing.assert_allclose(proba[:, -1] if binary else proba, expected, rtol=1e-9)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-9)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


def test_monte_carlo_spread_includes_the_members_disagreement(data):
    X, y = data
    rng = np.random.default_rng(0)
    for n_members in (1, 4):
        reg = DropBNRegressor(dropout=0.0, n_members=n_members, **SMALL).fit(X, y)
        mean, var = _inference.mc_moments(reg._layers, X[:20], 4, rng)
        np.testing.assert_allclose(
            mean[:, 0], reg._forward(X[:20])[:, 0], rtol=1e-4, atol=1e-5
        )
        if n_members == 1:  # no dropout: every pass the same
            assert np.all(var < 1e-10)
        else:
            assert np.all(var > 1e-6)
    mu, std = reg.predict(X[:20], return_std=True)
    assert np.all(np.isfinite(std)) and np.all(std > 0)


def test_committee_saves_pickles_and_loads(data, tmp_path):
    X, y = data
    reg = DropBNRegressor(n_members=2, **SMALL).fit(X, y)
    skdropbn.save(reg, tmp_path / "c.skdropbn")
    loaded = skdropbn.load(tmp_path / "c.skdropbn")
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    assert loaded.n_members == 2 and loaded._spec.n_members == 2
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X)
    )


def test_committee_learns_incrementally(data):
    X, y = data
    reg = DropBNRegressor(n_members=2, n_layers=1, units=8, random_state=0)
    reg.partial_fit(X[:100], y[:100]).partial_fit(X[100:], y[100:])
    assert reg.n_iter_ == 2
    np.testing.assert_allclose(
        reg.predict(X), _model_prediction(reg, X), atol=1e-4 * reg.y_scale_[0]
    )


def test_n_members_is_validated(data):
    X, y = data
    with pytest.raises(ValueError, match="'n_members' parameter"):
        DropBNRegressor(n_members=0).fit(X, y)
