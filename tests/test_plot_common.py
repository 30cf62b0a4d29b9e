"""skdropbn/_plot/_common.py: matplotlib is optional, and its absence is named.

Whether ``import skdropbn`` loads matplotlib is checked in test_import.py.
"""

import sys

import numpy as np
import plot_fits
import pytest
from plot_fits import ridge_search

from skdropbn import SearchResultsDisplay, TrainingHistoryDisplay


@pytest.fixture
def fitted():
    return plot_fits.fitted()


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
