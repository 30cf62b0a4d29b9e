"""Behaviour of DropBNClassifier."""

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdropbn import DropBNClassifier

FAST = dict(n_layers=1, units=16, epochs=30, learning_rate=0.01, random_state=0)


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, random_state=0
    )
    return X, y


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    return X, np.array(["red", "white", "rose"])[y]


@pytest.fixture(scope="module")
def fitted_binary(binary):
    return DropBNClassifier(**FAST).fit(*binary)


def test_binary_head_and_probabilities(binary, fitted_binary):
    X, y = binary
    clf = fitted_binary
    assert clf.n_outputs_ == 1 and clf.model_.layers[-1].units == 1
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)
    # decision_function is the log-odds of classes_[1].
    np.testing.assert_allclose(
        clf.decision_function(X),
        np.log(proba[:, 1] / proba[:, 0]),
        rtol=1e-6,
        atol=1e-9,
    )
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    assert clf.score(X, y) > 0.85
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]


def test_probabilities_match_the_keras_model(binary, fitted_binary):
    X, _ = binary
    keras_p = fitted_binary.model_.predict(X.astype(np.float32), verbose=0).ravel()
    np.testing.assert_allclose(fitted_binary.predict_proba(X)[:, 1], keras_p, atol=1e-5)


def test_multiclass_with_string_labels(multiclass):
    X, y = multiclass
    clf = DropBNClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, ["red", "rose", "white"])
    assert (
        clf.n_outputs_ == 3 and clf.model_.layers[-1].activation.__name__ == "softmax"
    )
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= set(clf.classes_)
    assert clf.score(X, y) > 0.7
    assert clf.decision_function(X).shape == (len(X), 3)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)


def test_boolean_labels(binary):
    X, y = binary
    clf = DropBNClassifier(**{**FAST, "epochs": 3}).fit(X, y.astype(bool))
    assert clf.predict(X).dtype == bool


def test_multilabel(binary):
    X, Y = make_multilabel_classification(n_samples=200, n_classes=3, random_state=0)
    clf = DropBNClassifier(**FAST).fit(X, Y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.predict(X).shape == Y.shape
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and ((proba >= 0) & (proba <= 1)).all()
    assert (clf.predict(X) == Y).mean() > 0.7
    with pytest.raises(ValueError, match="class_weight"):
        DropBNClassifier(class_weight="balanced").fit(X, Y)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_starts_from_the_weighted_class_frequencies(n_classes):
    # A learning rate too small to move the weights: the output bias stays
    # where fit started it, the logits of the weighted class frequencies.
    X, y = make_classification(
        n_samples=200, n_classes=n_classes, n_informative=3, random_state=0
    )
    weights = {0: 3.0, 1: 0.5, 2: 1.0}
    sample_weight = np.linspace(0.5, 1.5, len(y))
    clf = DropBNClassifier(
        n_layers=1, units=8, epochs=1, learning_rate=1e-12, random_state=0,
        class_weight=weights, early_stopping=False,
    ).fit(X, y, sample_weight=sample_weight)  # fmt: skip
    w = sample_weight * np.array([weights[c] for c in y])
    freq = np.bincount(y, weights=w) / w.sum()
    if n_classes == 2:
        expected = [np.log(freq[1] / freq[0])]
    else:
        expected = np.log(freq) - np.log(freq).mean()
    np.testing.assert_allclose(clf._weights[-1], expected, rtol=1e-5)


def test_an_overwhelming_class_weight_predicts_that_class():
    # scikit-learn's check_class_weight_classifiers with the default
    # parameters: on 50 noisy unscaled rows, class 0 weighs 1e7 times more.
    from sklearn.datasets import make_blobs

    X, y = make_blobs(centers=3, random_state=0, cluster_std=20)
    clf = DropBNClassifier(
        class_weight={0: 1000, 1: 1e-4, 2: 1e-4}, random_state=0
    ).fit(X[:50], y[:50])
    assert np.mean(clf.predict(X[50:]) == 0) > 0.87


def test_class_weight_balanced_raises_minority_recall():
    X, y = make_classification(
        n_samples=400, n_features=5, weights=[0.9, 0.1], flip_y=0.05, random_state=0
    )
    plain = DropBNClassifier(**FAST).fit(X, y)
    balanced = DropBNClassifier(**FAST, class_weight="balanced").fit(X, y)
    assert (balanced.predict(X)[y == 1] == 1).mean() > (
        plain.predict(X)[y == 1] == 1
    ).mean()
    assert (balanced.predict(X) == 1).mean() > (plain.predict(X) == 1).mean()


def test_single_class_is_a_clear_error(binary):
    X, _ = binary
    with pytest.raises(ValueError, match="only one class"):
        DropBNClassifier(**FAST).fit(X, np.zeros(len(X)))


def test_continuous_target_is_rejected(binary):
    X, _ = binary
    with pytest.raises(ValueError, match="Unknown label type"):
        DropBNClassifier(**FAST).fit(X, np.linspace(0, 1, len(X)))


def test_same_seed_same_probabilities(binary, fitted_binary):
    X, y = binary
    again = DropBNClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(
        again.predict_proba(X), fitted_binary.predict_proba(X)
    )


def test_validation_split_is_stratified():
    # A rare class (5 of 100 rows) keeps its share of a 20% validation split.
    codes = np.r_[np.zeros(95, int), np.ones(5, int)]
    clf = DropBNClassifier(validation_fraction=0.2)
    for seed in range(5):
        train, val = clf._split(100, codes, seed, np.ones(100))
        assert len(val) == 20 and codes[val].sum() == 1
        assert len(np.intersect1d(train, val)) == 0


def test_grid_search_with_probability_scorers(binary):
    X, y = binary
    for scoring in ("roc_auc", "neg_log_loss"):
        search = GridSearchCV(
            make_pipeline(StandardScaler(), DropBNClassifier(**FAST)),
            {"dropbnclassifier__dropout": [0.0, 0.3]},
            cv=2,
            scoring=scoring,
        ).fit(X, y)
        assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert cross_val_score(search.best_estimator_, X, y, cv=2).mean() > 0.8


def test_meta_estimators(binary, multiclass):
    X, y = binary
    calibrated = CalibratedClassifierCV(DropBNClassifier(**FAST), cv=2).fit(X, y)
    voting = VotingClassifier(
        [("net", DropBNClassifier(**FAST)), ("lr", LogisticRegression())],
        voting="soft",
    ).fit(X, y)
    stacking = StackingClassifier(
        [("net", DropBNClassifier(**FAST)), ("lr", LogisticRegression())], cv=2
    ).fit(X, y)
    for model in (calibrated, voting, stacking):
        assert log_loss(y, model.predict_proba(X)) < 0.5
    Xm, ym = multiclass
    ovr = OneVsRestClassifier(DropBNClassifier(**FAST)).fit(Xm, ym)
    assert ovr.predict_proba(Xm).shape == (len(Xm), 3)
    assert ovr.score(Xm, ym) > 0.6
