"""Monte-Carlo dropout: predict(return_std=True) and MC class probabilities."""

import numpy as np
import pytest
from conftest import TINY, make_regression_data

from skdropbn import DropBNClassifier, DropBNRegressor

MC = {**TINY, "dropout": 0.2, "n_mc_passes": 30}


@pytest.fixture(scope="module")
def noisy():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1500, 3))
    y = X[:, 0] + np.sin(X[:, 1]) + rng.normal(scale=0.5, size=1500)
    return X, y


@pytest.fixture(scope="module")
def mc_fitted(noisy):
    X, y = noisy
    return DropBNRegressor(**MC, validation_fraction=0.3).fit(X[:1000], y[:1000])


def test_return_std_shapes_and_default_predict_unchanged(mc_fitted, noisy):
    X, _ = noisy
    mean, std = mc_fitted.predict(X[1000:], return_std=True)
    assert mean.shape == std.shape == (500,)
    assert (std > 0).all()
    np.testing.assert_array_equal(mean, mc_fitted.predict(X[1000:]))
    np.testing.assert_array_equal(mc_fitted.predict(X), mc_fitted.predict(X))
    one_mean, one_std = mc_fitted.predict(X[:1], return_std=True)
    assert one_mean.shape == one_std.shape == (1,)


def test_std_is_reproducible_and_seeded(mc_fitted, noisy):
    X, y = noisy
    _, a = mc_fitted.predict(X[1000:], return_std=True)
    _, b = mc_fitted.predict(X[1000:], return_std=True)
    np.testing.assert_array_equal(a, b)
    refit = DropBNRegressor(**MC, validation_fraction=0.3).fit(X[:1000], y[:1000])
    np.testing.assert_array_equal(refit.predict(X[1000:], return_std=True)[1], a)


def test_intervals_cover_held_out_targets(mc_fitted, noisy):
    X, y = noisy
    mean, std = mc_fitted.predict(X[1000:], return_std=True)
    coverage = np.mean(np.abs(y[1000:] - mean) <= 1.645 * std)
    assert 0.82 <= coverage <= 0.97
    # The noise is 0.5: the calibrated std must be of that order, far wider
    # than dropout's spread alone.
    assert 0.35 < np.median(std) < 0.8


def test_multi_output_std():
    X, y = make_regression_data(n_samples=300, n_outputs=2)
    est = DropBNRegressor(**MC).fit(X, y)
    mean, std = est.predict(X, return_std=True)
    assert mean.shape == std.shape == (300, 2)


def test_return_std_needs_held_out_rows(data):
    est = DropBNRegressor(**{**MC, "epochs": 2}, early_stopping=False).fit(*data)
    with pytest.raises(ValueError, match="early_stopping=True"):
        est.predict(data[0], return_std=True)


def test_mc_dropout_class_probabilities():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    clf = DropBNClassifier(**MC).fit(X, y)
    mc = clf.predict_proba(X, mc_dropout=True)
    plain = clf.predict_proba(X)
    np.testing.assert_allclose(mc.sum(axis=1), 1.0)
    assert not np.array_equal(mc, plain)
    assert np.abs(mc - plain).mean() < 0.1
    np.testing.assert_array_equal(mc, clf.predict_proba(X, mc_dropout=True))


def test_mc_passes_reuse_the_embedding_and_draw_the_same_masks(mc_fitted, noisy):
    # The embedding has no dropout, so mc_moments computes it once for all
    # passes; one pass must equal a stochastic forward pass from the same
    # generator, which embeds as it goes.
    from skdropbn import _inference

    layers = mc_fitted._layers
    assert isinstance(layers[0], dict)  # MC fits embed (TINY)
    X = noisy[0][:50]
    mean, var = _inference.mc_moments(layers, X, 1, np.random.default_rng(7))
    one = _inference.forward(
        _inference.as_dtype(layers, np.float32),
        X.astype(np.float32),
        rng=np.random.default_rng(7),
    )
    np.testing.assert_allclose(mean, one, rtol=1e-5, atol=1e-6)
    assert (var == 0).all()
