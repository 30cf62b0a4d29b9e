"""TrainingHistoryDisplay (skdropbn/_plot/_history.py): what it draws."""

import numpy as np
import plot_fits
import pytest
from plot_fits import FAST
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdropbn import DropBNRegressor, TrainingHistoryDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def small():
    return plot_fits.small()


@pytest.fixture
def fitted():
    return plot_fits.fitted()


@pytest.fixture
def search():
    return plot_fits.pipeline_search()


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_history_lines_are_the_history(fitted):
    display = TrainingHistoryDisplay.from_estimator(fitted)
    loss, val_loss = display.lines_
    n = fitted.n_iter_
    assert len(display.lines_) == 2
    np.testing.assert_array_equal(loss.get_xdata(), np.arange(1, n + 1))
    np.testing.assert_array_equal(loss.get_ydata(), fitted.history_["loss"])
    np.testing.assert_array_equal(val_loss.get_ydata(), fitted.history_["val_loss"])
    assert display.ax_.get_xlabel() == "epoch"
    assert display.ax_.get_ylabel() == "loss (squared_error)"
    assert display.ax_.get_title() == "DropBNRegressor training history"
    assert display.figure_ is display.ax_.figure


def test_history_marks_the_best_epoch(small):
    # Patience 2 over 40 epochs with a high learning rate: stops early, so the
    # kept epoch is not the last one.
    est = DropBNRegressor(
        **{**FAST, "epochs": 40, "learning_rate": 0.05}, n_iter_no_change=2, tol=0.0
    ).fit(*small)
    best = est.best_epoch_
    assert best is not None and best < est.n_iter_
    display = TrainingHistoryDisplay.from_estimator(est)
    assert list(display.best_epoch_line_.get_xdata()) == [best, best]
    marker = display.best_epoch_marker_
    assert list(marker.get_xdata()) == [best]
    assert list(marker.get_ydata()) == [est.history_["val_loss"][best - 1]]
    assert legend_texts(display.ax_) == ["loss", "val_loss", f"best epoch ({best})"]


def test_history_without_early_stopping_has_one_line_and_no_mark(small):
    X, y = small
    # 64 training rows pad to the shapes of the search's folds (45 + 5 rows).
    est = DropBNRegressor(**FAST, early_stopping=False).fit(X[:64], y[:64])
    display = TrainingHistoryDisplay.from_estimator(est)
    assert len(display.lines_) == 1
    assert display.best_epoch_line_ is None and display.best_epoch_marker_ is None
    assert legend_texts(display.ax_) == ["loss"]


def test_history_of_a_search_is_its_best_estimator(search):
    display = TrainingHistoryDisplay.from_estimator(search)
    best = search.best_estimator_[-1]
    np.testing.assert_array_equal(display.lines_[0].get_ydata(), best.history_["loss"])
    # The pipeline itself resolves to the same estimator.
    from_pipe = TrainingHistoryDisplay.from_estimator(search.best_estimator_)
    np.testing.assert_array_equal(
        from_pipe.lines_[1].get_ydata(), best.history_["val_loss"]
    )


def test_history_draws_on_the_given_axes_with_given_styles(fitted):
    fig, (left, right) = plt.subplots(1, 2)
    display = TrainingHistoryDisplay.from_estimator(
        fitted,
        ax=right,
        loss_kw={"color": "black", "label": "train"},
        best_epoch_kw={"color": "green"},
    )
    assert display.ax_ is right and display.figure_ is fig
    assert not left.lines and len(right.lines) == len(display.lines_) + 2
    assert display.lines_[0].get_color() == "black"
    assert display.lines_[0].get_label() == "train"
    assert display.best_epoch_line_.get_color() == "green"


def test_plot_from_stored_data_returns_self():
    display = TrainingHistoryDisplay(loss=[3.0, 2.0, 1.0], val_loss=[3.5, 2.5, 2.6])
    assert display.plot() is display
    assert [line.get_label() for line in display.lines_] == ["loss", "val_loss"]
    assert display.best_epoch_line_ is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: DropBNRegressor(),
        lambda: make_pipeline(StandardScaler(), DropBNRegressor()),
        lambda: GridSearchCV(DropBNRegressor(), {"dropout": [0.1, 0.2]}),
    ],
    ids=["estimator", "pipeline", "search"],
)
def test_history_of_unfitted_raises_not_fitted(make):
    with pytest.raises(NotFittedError):
        TrainingHistoryDisplay.from_estimator(make())


def test_history_of_another_estimator_raises_type_error(small):
    ridge = Ridge().fit(*small)
    with pytest.raises(TypeError, match="DropBN estimator.*got Ridge"):
        TrainingHistoryDisplay.from_estimator(ridge)
    pipe = make_pipeline(StandardScaler(), Ridge()).fit(*small)
    with pytest.raises(TypeError, match="got Pipeline ending in Ridge"):
        TrainingHistoryDisplay.from_estimator(pipe)


def test_history_of_a_search_without_refit_raises(small):
    search = RandomizedSearchCV(
        DropBNRegressor(**FAST),
        {"learning_rate": [0.01, 0.02]},
        n_iter=1,
        cv=2,
        refit=False,
    ).fit(*small)
    with pytest.raises(ValueError, match="refit=False"):
        TrainingHistoryDisplay.from_estimator(search)
