"""DropBNRegressor inside scikit-learn's meta-estimators and tools."""

import numpy as np
import pandas as pd
import pytest
from conftest import make_regression_data
from sklearn.base import is_regressor
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import BaggingRegressor, StackingRegressor, VotingRegressor
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.inspection import permutation_importance
from sklearn.linear_model import Ridge
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
)
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skdropbn import DropBNRegressor

FAST = dict(n_layers=1, units=8, epochs=8, learning_rate=0.01, random_state=0)


@pytest.fixture(scope="module")
def small():
    return make_regression_data(n_samples=120, n_features=4, seed=1)


def test_is_regressor():
    assert is_regressor(DropBNRegressor())
    assert is_regressor(make_pipeline(StandardScaler(), DropBNRegressor()))


def test_grid_search_over_dropout_and_depth_in_a_pipeline(small):
    X, y = small
    pipe = make_pipeline(StandardScaler(), DropBNRegressor(**FAST))
    grid = {
        "dropbnregressor__dropout": [0.0, 0.3],
        "dropbnregressor__n_layers": [1, 2],
    }
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_[-1]
    assert best.n_layers == search.best_params_["dropbnregressor__n_layers"]
    scores = cross_val_score(search.best_estimator_, X, y, cv=2)
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_grid_search_in_parallel_matches_sequential(small):
    X, y = small
    grid = {"dropout": [0.0, 0.3]}
    seq = GridSearchCV(DropBNRegressor(**FAST), grid, cv=2).fit(X, y)
    par = GridSearchCV(DropBNRegressor(**FAST), grid, cv=2, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(
        par.cv_results_["mean_test_score"], seq.cv_results_["mean_test_score"]
    )


def test_randomized_and_halving_search(small):
    X, y = small
    rs = RandomizedSearchCV(
        DropBNRegressor(**FAST),
        {"dropout": [0.0, 0.1, 0.2], "units": [4, 8]},
        n_iter=2,
        cv=2,
        random_state=0,
    ).fit(X, y)
    assert len(rs.cv_results_["params"]) == 2
    hs = HalvingGridSearchCV(
        DropBNRegressor(**FAST),
        {"dropout": [0.0, 0.3]},
        cv=2,
        min_resources=40,
        random_state=0,
    ).fit(X, y)
    assert hs.best_params_["dropout"] in (0.0, 0.3)


def test_cross_validate_returns_fitted_estimators(small):
    X, y = small
    res = cross_validate(DropBNRegressor(**FAST), X, y, cv=2, return_estimator=True)
    assert all(est.n_iter_ >= 1 for est in res["estimator"])
    assert np.isfinite(res["test_score"]).all()


def test_transformed_target_regressor(small):
    X, y = small
    ttr = TransformedTargetRegressor(
        regressor=DropBNRegressor(**FAST), func=np.expm1, inverse_func=np.log1p
    ).fit(X, np.log1p(np.abs(y)))
    assert ttr.predict(X).shape == (len(y),)


def test_column_transformer_with_one_hot_categories(small):
    X, y = small
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["colour"] = np.where(X[:, 0] > 0, "red", "white")
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), list("abcd")),
            ("cat", OneHotEncoder(), ["colour"]),
        ]
    )
    model = make_pipeline(pre, DropBNRegressor(**FAST)).fit(frame, y)
    assert model[-1].n_features_in_ == 6
    assert model.predict(frame.iloc[:3]).shape == (3,)


def test_ensembles(small):
    X, y = small
    voting = VotingRegressor(
        [("net", DropBNRegressor(**FAST)), ("ridge", Ridge())]
    ).fit(X, y)
    stacking = StackingRegressor(
        [("net", DropBNRegressor(**FAST)), ("ridge", Ridge())], cv=2
    ).fit(X, y)
    bagging = BaggingRegressor(
        DropBNRegressor(**FAST), n_estimators=2, random_state=0
    ).fit(X, y)
    for model in (voting, stacking, bagging):
        assert model.score(X, y) > 0.5
    # Bagging passes a different integer seed to each member.
    seeds = {m.random_state for m in bagging.estimators_}
    assert len(seeds) == 2


def test_multi_output_regressor(small):
    X, _ = small
    Y = np.c_[X[:, 0] + X[:, 1], X[:, 2] - X[:, 3]]
    model = MultiOutputRegressor(DropBNRegressor(**FAST)).fit(X, Y)
    assert model.predict(X).shape == (len(X), 2)


def test_permutation_importance_finds_the_informative_feature():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = 3 * X[:, 1]
    est = DropBNRegressor(**{**FAST, "epochs": 30}).fit(X, y)
    imp = permutation_importance(est, X, y, n_repeats=3, random_state=0)
    assert np.argmax(imp.importances_mean) == 1
