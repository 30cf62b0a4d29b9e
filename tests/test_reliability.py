"""Reliability: hostile inputs, divergence, interrupted fits, concurrent predicts.

Every fit here is tiny; the property-based tests run a fixed, derandomized
set of examples so that CI is reproducible and bounded in time.
"""

import os
import re
import signal
import threading
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from conftest import make_regression_data
from sklearn.exceptions import NotFittedError

from skdropbn import DropBNRegressor, _network, _training

hypothesis = pytest.importorskip("hypothesis", reason="needs hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SMALL = dict(n_layers=1, units=8, epochs=3, random_state=0)
BOUNDED = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- hostile inputs -----------------------------------------------------------------

NUMPY_DTYPES = ["float16", "float32", "float64", "int8", "int64", "bool"]
PANDAS_DTYPES = ["Float64", "Int64", "boolean"]

# What a clear rejection says: scikit-learn's own words, or the estimator's.
CLEAR = re.compile(
    r"contains NaN|contains infinity|too large for float32|minimum of 2 is "
    r"required|diverged|leaves no rows to train on|features?"
)

OUTCOMES = Counter()


@st.composite
def hostile_data(draw):
    n_rows = draw(st.sampled_from([1, 2, 40]))
    n_features = draw(st.sampled_from([1, 3, 1200]))
    dtype = draw(st.sampled_from(NUMPY_DTYPES + PANDAS_DTYPES))
    exponent = draw(st.sampled_from([-300, -30, -8, 0, 8, 30, 300]))
    constant_column = draw(st.booleans())
    special = draw(st.sampled_from([None, None, np.nan, np.inf, -np.inf, pd.NA]))
    duplicate_rows = draw(st.booleans())
    y_kind = draw(st.sampled_from(["normal", "constant", "huge", "tiny", "nan"]))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))

    if dtype in ("bool", "boolean"):
        X = rng.rand(n_rows, n_features) < 0.5
    elif dtype in ("int8", "int64", "Int64"):
        X = rng.randint(-100, 100, size=(n_rows, n_features))
    else:
        X = rng.normal(size=(n_rows, n_features)) * 10.0**exponent
    if constant_column:
        X[:, 0] = X[0, 0]
    if duplicate_rows:
        X = np.vstack([X, X])
    y = {
        "normal": lambda n: rng.normal(size=n),
        "constant": lambda n: np.full(n, 3.0),
        "huge": lambda n: 1e30 * rng.normal(size=n),
        "tiny": lambda n: 1e-30 * rng.normal(size=n),
        "nan": lambda n: np.where(np.arange(n) == 0, np.nan, rng.normal(size=n)),
    }[y_kind](len(X))

    row, col = rng.randint(len(X)), rng.randint(n_features)
    if dtype in PANDAS_DTYPES:
        X = pd.DataFrame(X, columns=[f"f{i}" for i in range(n_features)])
        X = X.astype(dtype)
        if special is pd.NA or (special is not None and dtype == "Float64"):
            X.iloc[row, col] = special
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            X = X.astype(dtype)  # float16/32 overflow to inf: a case of its own
        if special is not None and X.dtype.kind == "f":
            X[row, col] = np.nan if special is pd.NA else special
    return X, y


@settings(BOUNDED, max_examples=25)
@given(hostile_data(), st.sampled_from(["periodic", None]))
def test_hostile_inputs_fit_and_predict_finite_or_raise_a_clear_error(
    case, feature_embedding
):
    # The embedding standardises and clips inside the network: extreme or
    # constant columns must not make it produce NaN either.
    X, y = case
    est = DropBNRegressor(**SMALL, feature_embedding=feature_embedding)
    try:
        with warnings.catch_warnings():
            # Expected chatter on degenerate data; errors are what matter here.
            warnings.simplefilter("ignore", RuntimeWarning)
            est.fit(X, y)
    except ValueError as exc:
        OUTCOMES["rejected"] += 1
        assert CLEAR.search(str(exc)), f"unclear error: {exc}"
        with pytest.raises(NotFittedError):
            est.predict(X)
        return
    OUTCOMES["fitted"] += 1
    pred = est.predict(X)
    assert pred.shape == (len(X),)
    assert np.isfinite(pred).all(), "fit succeeded but predictions are not finite"


def test_hostile_inputs_exercised_both_outcomes():
    # Guards the battery itself: a strategy that only ever produced rejected
    # (or only accepted) inputs would test nothing.
    if not OUTCOMES:
        pytest.skip("the property test above did not run in this session")
    print(f"hostile inputs: {dict(OUTCOMES)}")
    assert OUTCOMES["fitted"] >= 5 and OUTCOMES["rejected"] >= 5


# -- divergence ---------------------------------------------------------------------


@settings(BOUNDED, max_examples=4)
@given(
    learning_rate=st.sampled_from([1e4, 1e8, 1e12]),
    x_scale=st.sampled_from([1.0, 1e3]),
    optimizer=st.sampled_from(["sgd", "adam"]),
)
def test_blown_up_training_raises_and_leaves_the_estimator_unfitted(
    learning_rate, x_scale, optimizer
):
    X, y = make_regression_data(n_samples=60, n_features=3)
    est = DropBNRegressor(
        **{**SMALL, "epochs": 5},
        optimizer=optimizer,
        learning_rate=learning_rate,
        batch_norm=None,
    )
    try:
        est.fit(X * x_scale, y)
    except ValueError as exc:
        assert "diverged" in str(exc)
        with pytest.raises(NotFittedError):
            est.predict(X)
    else:
        # Not every huge step diverges (dead ReLUs stop it); then it must
        # still predict finite values.
        assert np.isfinite(est.predict(X * x_scale)).all()
    # Either way, a later fit with sane settings works.
    est.set_params(learning_rate=1e-3).fit(X, y)
    assert np.isfinite(est.predict(X)).all()


def test_divergence_on_refit_keeps_the_previous_fit(data):
    X, y = data
    est = DropBNRegressor(**SMALL, batch_norm=None, optimizer="sgd").fit(X, y)
    before = est.predict(X)
    with pytest.raises(ValueError, match="diverged"):
        est.set_params(learning_rate=1e12).fit(X * 1e3, y)
    np.testing.assert_array_equal(est.predict(X), before)


def test_failed_refit_on_other_features_keeps_the_previous_fit(data):
    X, y = data
    est = DropBNRegressor(**SMALL, batch_norm=None, optimizer="sgd").fit(X, y)
    before = est.predict(X)
    with pytest.raises(ValueError, match="diverged"):
        est.set_params(learning_rate=1e12).fit(np.hstack([X, X]) * 1e3, y)
    np.testing.assert_array_equal(est.predict(X), before)


def test_a_failed_fit_does_not_return_its_trainer_to_the_pool(data):
    X, y = data
    arch = {**SMALL, "units": 13, "batch_norm": None, "optimizer": "sgd"}

    def pooled():
        with _network._TRAINERS_LOCK:
            pools = _network._TRAINERS.items()
            return sum(len(v) for k, v in pools if k[1].units == 13)

    DropBNRegressor(**arch).fit(X, y)
    assert pooled() == 1
    with pytest.raises(ValueError, match="diverged"):
        DropBNRegressor(**arch, learning_rate=1e12).fit(X * 1e3, y)
    assert pooled() == 0


# -- interrupted fits ---------------------------------------------------------------


# Ctrl-C reaches a fit as a KeyboardInterrupt raised at whatever Python line
# runs when it arrives. Most tests raise it at chosen points (after some
# epochs, while the epoch function is traced); one sends a real SIGINT.
# Processes started in the background by a non-interactive shell (CI runners
# often are) inherit SIGINT *ignored*, so that test installs Python's own
# handler for its duration: timer-based tests without it hung in CI.


def test_a_real_sigint_interrupts_a_long_fit_and_leaves_it_unfitted(data):
    X, y = data
    DropBNRegressor(**SMALL).fit(X, y)  # compile first: interrupt mid-training
    est = DropBNRegressor(**{**SMALL, "epochs": 100_000, "n_iter_no_change": 10**6})
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            est.fit(X, y)
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)
    with pytest.raises(NotFittedError):
        est.predict(X)


@contextmanager
def interrupt_at_epoch(n):
    """Raise KeyboardInterrupt as epoch ``n`` (1-based) of the next fits starts."""
    make_batches, calls = _training.make_batches, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return make_batches(*args, **kwargs)

    _training.make_batches = interrupted
    try:
        yield
    finally:
        _training.make_batches = make_batches


def test_interrupted_first_fit_leaves_it_unfitted_and_refit_works(data):
    X, y = data
    DropBNRegressor(**SMALL).fit(X, y)  # compile first: interrupt mid-training
    est = DropBNRegressor(**{**SMALL, "epochs": 50})
    with pytest.raises(KeyboardInterrupt), interrupt_at_epoch(5):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)
    # The fit that was interrupted did not return its trainer to the pool, and
    # refitting gives what an uninterrupted estimator gives.
    refit = est.set_params(epochs=3).fit(X, y).predict(X)
    np.testing.assert_array_equal(refit, DropBNRegressor(**SMALL).fit(X, y).predict(X))


def test_interrupted_refit_keeps_the_previous_fit(data):
    X, y = data
    est = DropBNRegressor(**SMALL).fit(X, y)
    before = est.predict(X)
    with pytest.raises(KeyboardInterrupt), interrupt_at_epoch(5):
        est.set_params(epochs=50).fit(X, y)
    np.testing.assert_array_equal(est.predict(X), before)
    assert est.n_iter_ == SMALL["epochs"]


def test_interrupt_while_tracing_leaves_the_trainer_pool_usable(data, monkeypatch):
    # A new architecture: the interrupt arrives while its epoch function is
    # traced (the loss is first called then). Later fits must equal those of
    # a freshly built trainer.
    X, y = data
    arch = {**SMALL, "units": 11}
    loss_function = _network._loss_function

    def interrupted(loss):
        def loss_fn(*args):
            raise KeyboardInterrupt

        return loss_fn

    monkeypatch.setattr(_network, "_loss_function", interrupted)
    with pytest.raises(KeyboardInterrupt):
        DropBNRegressor(**arch).fit(X, y)
    monkeypatch.setattr(_network, "_loss_function", loss_function)
    pooled = DropBNRegressor(**arch).fit(X, y).predict(X)
    with _network._TRAINERS_LOCK:
        for key in [k for k in _network._TRAINERS if k[1].units == arch["units"]]:
            del _network._TRAINERS[key]
    fresh = DropBNRegressor(**arch).fit(X, y).predict(X)
    np.testing.assert_array_equal(pooled, fresh)


# -- concurrency --------------------------------------------------------------------


def test_predict_from_four_threads_equals_sequential(fitted):
    rng = np.random.RandomState(0)
    batches = [rng.normal(size=(20_000, fitted.n_features_in_)) for _ in range(4)]
    expected = [fitted.predict(X) for X in batches]
    barrier = threading.Barrier(4)

    def work(i):
        barrier.wait()  # start together, so the calls really overlap
        return [fitted.predict(batches[i]) for _ in range(3)]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(4)))
    for got, want in zip(results, expected, strict=True):
        for g in got:
            np.testing.assert_array_equal(g, want)
