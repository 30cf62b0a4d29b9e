"""TrainingHistoryDisplay and SearchResultsDisplay: what they draw."""

import sys

import numpy as np
import pytest
from conftest import make_regression_data
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdropbn import DropBNRegressor, SearchResultsDisplay, TrainingHistoryDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Tiny fits: the displays are under test, not the network. Every fit here has
# the same architecture and one of two padded data shapes, so the whole module
# compiles the training epoch twice; the searches vary parameters that need no
# new compilation (learning rate, patience), not dropout or depth.
FAST = dict(n_layers=1, units=8, epochs=5, learning_rate=0.01, random_state=0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def small():
    return make_regression_data(n_samples=100, n_features=4, seed=2)


@pytest.fixture(scope="module")
def fitted(small):
    return DropBNRegressor(**FAST).fit(*small)


@pytest.fixture(scope="module")
def search(small):
    """A pipeline search over two parameters, with prefixed names."""
    pipe = make_pipeline(StandardScaler(), DropBNRegressor(**FAST))
    grid = {
        "dropbnregressor__learning_rate": [0.003, 0.03],
        "dropbnregressor__n_iter_no_change": [1, 5],
    }
    return GridSearchCV(pipe, grid, cv=2).fit(*small)


def ridge_search(grid, **kwargs):
    X, y = make_regression_data(n_samples=60, n_features=3, seed=3)
    return GridSearchCV(Ridge(), grid, cv=2, **kwargs).fit(X, y)


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# -- TrainingHistoryDisplay ----------------------------------------------------


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


# -- SearchResultsDisplay ------------------------------------------------------


def test_heatmap_cells_are_the_mean_cv_scores(search):
    display = SearchResultsDisplay.from_search(search)
    res = search.cv_results_
    assert display.x_name == "dropbnregressor__learning_rate"
    assert display.y_name == "dropbnregressor__n_iter_no_change"
    assert display.x_values == [0.003, 0.03] and display.y_values == [1, 5]
    cells = display.im_.get_array()
    assert cells.shape == (2, 2)
    for params, mean in zip(res["params"], res["mean_test_score"]):
        row = display.y_values.index(params["dropbnregressor__n_iter_no_change"])
        col = display.x_values.index(params["dropbnregressor__learning_rate"])
        assert cells[row, col] == mean
        assert display.text_[row, col].get_text() == format(mean, ".3g")
        assert display.text_[row, col].get_position() == (col, row)
    ax = display.ax_
    assert ax.get_xlabel() == "dropbnregressor__learning_rate"
    assert ax.get_ylabel() == "dropbnregressor__n_iter_no_change"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.003", "0.03"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "5"]
    assert display.colorbar_.ax.get_ylabel() == "mean test score"


def test_heatmap_outlines_the_best_candidate(search):
    display = SearchResultsDisplay.from_search(search)
    best = search.best_params_
    row = display.y_values.index(best["dropbnregressor__n_iter_no_change"])
    col = display.x_values.index(best["dropbnregressor__learning_rate"])
    assert display.best_cell == (row, col)
    assert display.best_marker_.get_xy() == (col - 0.5, row - 0.5)
    assert display.best_marker_.get_width() == display.best_marker_.get_height() == 1
    assert display.im_.get_array()[row, col] == search.best_score_


def test_heatmap_axes_by_short_names_and_swapped(search):
    display = SearchResultsDisplay.from_search(
        search, x="n_iter_no_change", y="learning_rate"
    )
    assert display.x_name == "dropbnregressor__n_iter_no_change"
    np.testing.assert_array_equal(
        display.scores, SearchResultsDisplay.from_search(search).scores.T
    )


def test_heatmap_needs_exactly_two_varied_parameters():
    one = ridge_search({"alpha": [0.1, 1.0], "fit_intercept": [True]})
    with pytest.raises(ValueError, match=r"varies 1 parameter.*\['alpha'\].*x= and y="):
        SearchResultsDisplay.from_search(one)
    three = ridge_search(
        {"alpha": [0.1, 1.0], "fit_intercept": [True, False], "tol": [1e-4, 1e-3]}
    )
    with pytest.raises(ValueError, match="varies 3 parameter"):
        SearchResultsDisplay.from_search(three)
    with pytest.raises(ValueError, match="'nope' is not a searched parameter"):
        SearchResultsDisplay.from_search(three, x="nope", y="alpha")
    with pytest.raises(ValueError, match="both x and y"):
        SearchResultsDisplay.from_search(three, x="alpha")


def test_heatmap_cells_take_the_best_over_other_parameters():
    search = ridge_search(
        {"alpha": [0.1, 100.0], "fit_intercept": [True, False], "tol": [1e-4, 1e-3]}
    )
    display = SearchResultsDisplay.from_search(search, x="alpha", y="fit_intercept")
    res = search.cv_results_
    for row, fit_intercept in enumerate(display.y_values):
        for col, alpha in enumerate(display.x_values):
            means = [
                m
                for p, m in zip(res["params"], res["mean_test_score"])
                if p["alpha"] == alpha and p["fit_intercept"] == fit_intercept
            ]
            assert len(means) == 2
            assert display.scores[row, col] == max(means)


def test_heatmap_leaves_untried_cells_empty():
    grid = [
        {"alpha": [0.1, 10.0], "fit_intercept": [True]},
        {"alpha": [0.1], "fit_intercept": [False]},
    ]
    display = SearchResultsDisplay.from_search(ridge_search(grid))
    assert display.x_values == [0.1, 10.0] and display.y_values == [False, True]
    assert np.isnan(display.scores[0, 1]) and display.text_[0, 1] is None
    assert np.ma.getmaskarray(display.im_.get_array()).tolist() == [
        [False, True],
        [False, False],
    ]


def test_heatmap_of_a_multi_metric_search():
    search = ridge_search(
        {"alpha": [0.1, 100.0], "fit_intercept": [True, False]},
        scoring={"r2": "r2", "mae": "neg_mean_absolute_error"},
        refit="r2",
    )
    default = SearchResultsDisplay.from_search(search)
    assert default.colorbar_.ax.get_ylabel() == "mean test r2"
    mae = SearchResultsDisplay.from_search(search, metric="mae")
    assert sorted(mae.scores.ravel()) == sorted(search.cv_results_["mean_test_mae"])
    with pytest.raises(ValueError, match=r"metric='rmse'.*\['mae', 'r2'\]"):
        SearchResultsDisplay.from_search(search, metric="rmse")


def test_heatmap_of_unfitted_search_raises():
    with pytest.raises(NotFittedError):
        SearchResultsDisplay.from_search(GridSearchCV(Ridge(), {"alpha": [1.0]}))


# -- matplotlib is optional (that the import does not load it: test_import.py) -


@pytest.mark.parametrize(
    "draw",
    [
        lambda est, search: TrainingHistoryDisplay.from_estimator(est),
        lambda est, search: TrainingHistoryDisplay(loss=[1.0]).plot(),
        lambda est, search: SearchResultsDisplay.from_search(search),
        lambda est, search: SearchResultsDisplay(
            scores=np.ones((1, 1)), x_values=[1], y_values=[1], x_name="a", y_name="b"
        ).plot(),
    ],
    ids=["history-from", "history-plot", "search-from", "search-plot"],
)
def test_without_matplotlib_the_error_names_the_extra(monkeypatch, fitted, draw):
    search = ridge_search({"alpha": [0.1, 1.0], "fit_intercept": [True, False]})
    # None in sys.modules makes `import matplotlib` fail, as when not installed.
    for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install matplotlib"):
        draw(fitted, search)
