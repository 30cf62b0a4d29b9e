"""SearchResultsDisplay (skdropbn/_plot/_search.py, _cv_results.py): what it draws."""

import numpy as np
import plot_fits
import pytest
from plot_fits import ridge_search
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV

from skdropbn import SearchResultsDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def search():
    return plot_fits.pipeline_search()


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


def test_heatmap_rejects_one_parameter_on_both_axes():
    two = ridge_search({"alpha": [0.1, 1.0], "fit_intercept": [True, False]})
    with pytest.raises(ValueError, match="x and y are the same parameter 'alpha'"):
        SearchResultsDisplay.from_search(two, x="alpha", y="alpha")


def test_heatmap_colour_bar_names_a_single_scorer():
    search = ridge_search(
        {"alpha": [0.1, 1.0], "fit_intercept": [True, False]},
        scoring="neg_mean_absolute_error",
    )
    display = SearchResultsDisplay.from_search(search)
    assert display.score_name == "mean test neg mean absolute error"
    assert display.colorbar_.ax.get_ylabel() == display.score_name


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
