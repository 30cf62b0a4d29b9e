"""``partial_fit``: scikit-learn's incremental-learning semantics (MLPRegressor's).

Also what makes a stream cheap: the training state stays in a pooled trainer
between calls (``skdropbn._keras.pool.Stream``), and calls of any number of
rows reuse one compiled step. The tests check that neither changes a result:
a stream pickled halfway, or interleaved with another stream on the same
architecture, gives the same predictions as one left alone.
"""

import copy
import pickle

import keras
import numpy as np
import pytest
from conftest import make_regression_data
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimators_partial_fit_n_features

from skdropbn import DropBNClassifier, DropBNRegressor
from skdropbn._keras import pool

SMALL = dict(n_layers=1, units=12, learning_rate=0.01, batch_size=16, random_state=0)


def chunks(n_samples, size):
    return [slice(i, i + size) for i in range(0, n_samples, size)]


def stream(est, X, y, passes, size=50, **kwargs):
    for _ in range(passes):
        for rows in chunks(len(X), size):
            est.partial_fit(X[rows], y[rows], **kwargs)
    return est


@pytest.fixture(scope="module")
def data():
    return make_regression_data(n_samples=200)


def test_learns_one_pass_per_call_and_counts_passes(data):
    X, y = data
    est = DropBNRegressor(**SMALL)
    est.partial_fit(X[:50], y[:50])
    first = est.score(X, y)
    assert est.n_features_in_ == X.shape[1] and est.n_iter_ == 1
    stream(est, X, y, passes=15)
    assert est.n_iter_ == 1 + 15 * 4
    assert len(est.history_["loss"]) == est.n_iter_ and est.best_epoch_ is None
    # From an untrained network to about what fit reaches in as many epochs.
    epochs = DropBNRegressor(**SMALL, epochs=15, early_stopping=False).fit(X, y)
    assert first < 0.5 < epochs.score(X, y) - 0.05 < est.score(X, y)
    assert est.predict(X[:3]).shape == (3,)


def test_the_first_call_fixes_target_scaling_and_the_network(data):
    X, y = data
    est = DropBNRegressor(**SMALL, feature_embedding="auto").partial_fit(X, y)
    mean, scale = est.y_mean_.copy(), est.y_scale_.copy()
    est.partial_fit(X[:40], 10 * y[:40])
    np.testing.assert_array_equal(est.y_mean_, mean)
    np.testing.assert_array_equal(est.y_scale_, scale)
    # "auto" decided on the first call's 200 rows: no embedding.
    assert est._spec.feature_embedding is None
    # A constant first call does not make the predictions constant for good.
    const = DropBNRegressor(**SMALL).partial_fit(X[:20], np.full(20, 3.0))
    assert const.y_scale_[0] > 0
    stream(const, X, y, passes=5)
    assert np.std(const.predict(X)) > 0.1 * np.std(y)


def test_errors_in_scikit_learns_words(data):
    X, y = data
    est = DropBNRegressor(**SMALL).partial_fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match="outputs"):
        est.partial_fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="architecture"):
        est.set_params(units=13).partial_fit(X, y)
    with pytest.raises(ValueError, match="non-zero"):
        DropBNRegressor(**SMALL).partial_fit(X, y, sample_weight=np.zeros(len(X)))
    for name in ("DropBNRegressor", "DropBNClassifier"):
        cls = {"DropBNRegressor": DropBNRegressor, "DropBNClassifier": DropBNClassifier}
        check_estimators_partial_fit_n_features(name, cls[name](**SMALL))


def test_a_failed_call_leaves_the_estimator_as_it_was(data):
    X, y = data
    est = stream(DropBNRegressor(**SMALL), X, y, passes=1)
    before = est.predict(X)
    bad = X[:50].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.partial_fit(bad, y[:50])
    assert est.n_iter_ == 4
    np.testing.assert_array_equal(est.predict(X), before)


def test_reproducible_and_unchanged_by_pickling_or_another_stream(data):
    """The state resident in a trainer, copied out and in, is the same state."""
    X, y = data
    alone = stream(DropBNRegressor(**SMALL), X, y, passes=3)
    # Pickled after every call: the state goes through NumPy each time.
    est = DropBNRegressor(**SMALL)
    for _ in range(3):
        for rows in chunks(len(X), 50):
            est = pickle.loads(pickle.dumps(est.partial_fit(X[rows], y[rows])))
    np.testing.assert_array_equal(est.predict(X), alone.predict(X))
    # Two streams of one architecture, call by call: one pooled trainer
    # serves both, copying each one's state out when the other needs it.
    first, second = DropBNRegressor(**SMALL), DropBNRegressor(**SMALL)
    for _ in range(3):
        for rows in chunks(len(X), 50):
            first.partial_fit(X[rows], y[rows])
            second.partial_fit(X[rows], y[rows])
    np.testing.assert_array_equal(first.predict(X), alone.predict(X))
    np.testing.assert_array_equal(second.predict(X), alone.predict(X))
    # A deep copy continues as the original does, and leaves it alone.
    twin = copy.deepcopy(first)
    twin.partial_fit(X[:50], y[:50])
    first.partial_fit(X[:50], y[:50])
    np.testing.assert_array_equal(twin.predict(X), first.predict(X))
    # A different seed is a different network.
    other = stream(DropBNRegressor(**{**SMALL, "random_state": 1}), X, y, passes=1)
    assert not np.allclose(other.predict(X), alone.predict(X))


def test_fit_and_partial_fit_interplay(data):
    X, y = data
    fitted = DropBNRegressor(**SMALL, epochs=5, early_stopping=False).fit(X, y)
    before = fitted.score(X, y)
    # partial_fit continues from fit's weights (MLPRegressor does the same).
    fitted.set_params(learning_rate=1e-7).partial_fit(X[:50], y[:50])
    assert fitted.n_iter_ == 6
    assert fitted.score(X, y) == pytest.approx(before, abs=0.02)
    # fit starts afresh: the stream's state is gone, n_iter_ is fit's.
    fitted.set_params(learning_rate=0.01).fit(X, y)
    assert fitted.n_iter_ == 5 and "_stream" not in vars(fitted)
    # A clone is unfitted: its first partial_fit builds a new network.
    assert clone(fitted).partial_fit(X, y).n_iter_ == 1


def test_calls_of_any_size_compile_once(data):
    X, y = data
    est = DropBNRegressor(n_layers=1, units=11, batch_size=32, random_state=0)
    for n in (32, 7, 1, 100, 33):
        est.partial_fit(X[:n], y[:n])
    (trainer,) = next(
        trainers
        for (_, key), trainers in pool._TRAINERS.items()
        if key.architecture.units == 11
    )
    backend = keras.backend.backend()
    if backend == "tensorflow":  # fixed shapes: one trace is one XLA program
        epochs = trainer._epoch.values()
        assert sum(f.experimental_get_tracing_count() for f in epochs) == 1
    elif backend == "jax":
        assert trainer._epoch._cache_size() == 1
    else:
        pytest.skip(f"the {backend} trainer is eager: nothing is compiled")


def test_classifier_needs_classes_first_and_keeps_them():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(240, 4))
    labels = np.array(["cat", "dog", "emu"])
    y = labels[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    clf = DropBNClassifier(**SMALL)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:40], y[:40])
    # The first chunk holds two of the three classes only.
    first = y != "emu"
    clf.partial_fit(X[first][:40], y[first][:40], classes=labels[::-1])
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    assert clf.predict_proba(X[:5]).shape == (5, 3)
    with pytest.raises(ValueError, match="not the same"):
        clf.partial_fit(X[:40], y[:40], classes=["cat", "dog"])
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:2], ["cat", "yak"])
    stream(clf, X, y, passes=20, size=60)
    assert clf.score(X, y) > 0.85
    assert set(clf.predict(X)) <= set(labels)
    with pytest.raises(ValueError, match="balanced"):
        DropBNClassifier(class_weight="balanced").partial_fit(X, y, classes=labels)


def test_classifier_binary_multilabel_and_class_weight():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = stream(
        DropBNClassifier(**SMALL, class_weight={1: 2.0}), X, y, passes=10,
        classes=[0, 1],
    )  # fmt: skip
    assert clf.n_outputs_ == 1 and clf.score(X, y) > 0.9
    Y = np.c_[y, X[:, 1] > 0]
    multi = stream(DropBNClassifier(**SMALL), X, Y, passes=10)
    assert multi.predict(X).shape == Y.shape and multi.score(X, Y) > 0.7


def test_a_call_that_diverges_leaves_the_predictions_and_the_stream_usable(data):
    # The state of the stream was resident in the trainer the failed call
    # changed: the next call starts again from the kept weights.
    X, y = data
    est = stream(DropBNRegressor(**SMALL), X, y, passes=1)
    before = est.predict(X)
    with pytest.raises(ValueError, match="diverged"):
        est.set_params(learning_rate=1e12).partial_fit(X[:50], y[:50])
    assert est.n_iter_ == 4
    np.testing.assert_array_equal(est.predict(X), before)
    est.set_params(learning_rate=0.01).partial_fit(X[:50], y[:50])
    assert est.n_iter_ == 5 and np.all(np.isfinite(est.predict(X)))
