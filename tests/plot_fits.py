"""The fits the display tests draw (tests/test_plot_*.py), made once a session.

Tiny fits: the displays are under test, not the network. Every fit here has
the same architecture and one of two padded data shapes, so the display tests
compile the training epoch twice; the searches vary parameters that need no
new compilation (learning rate, patience), not dropout or depth. The fitted
objects are shared and only read.
"""

import functools

from conftest import make_regression_data
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdropbn import DropBNRegressor

FAST = dict(n_layers=1, units=8, epochs=5, learning_rate=0.01, random_state=0)


@functools.cache
def small():
    return make_regression_data(n_samples=100, n_features=4, seed=2)


@functools.cache
def fitted():
    return DropBNRegressor(**FAST).fit(*small())


@functools.cache
def pipeline_search():
    """A pipeline search over two parameters, with prefixed names."""
    pipe = make_pipeline(StandardScaler(), DropBNRegressor(**FAST))
    grid = {
        "dropbnregressor__learning_rate": [0.003, 0.03],
        "dropbnregressor__n_iter_no_change": [1, 5],
    }
    return GridSearchCV(pipe, grid, cv=2).fit(*small())


def ridge_search(grid, **kwargs):
    X, y = make_regression_data(n_samples=60, n_features=3, seed=3)
    return GridSearchCV(Ridge(), grid, cv=2, **kwargs).fit(X, y)
