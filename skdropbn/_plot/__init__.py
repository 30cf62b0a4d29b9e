"""Displays: the training history of a fit and the scores of a grid search.

They follow scikit-learn's display conventions (``sklearn.metrics``'s
``RocCurveDisplay``, ``sklearn.model_selection``'s ``LearningCurveDisplay``):
``__init__`` stores the data to draw, a ``from_*`` class method computes it
from a fitted object and plots, ``plot`` draws on an axes and returns the
display, whose ``ax_``, ``figure_`` and artists are then public attributes.

matplotlib is optional (``pip install matplotlib``, or the ``plot`` extra) and
imported only when something is drawn, so that ``import skdropbn`` does not
load it.

- ``_history``: :class:`TrainingHistoryDisplay`, the loss curves of one fit;
- ``_search``: :class:`SearchResultsDisplay`, a search's scores as a heatmap;
- ``_cv_results``: reading a search's ``cv_results_`` into that heatmap's cells;
- ``_common``: matplotlib, imported on demand, and the axes to draw on.
"""

from skdropbn._plot._history import TrainingHistoryDisplay
from skdropbn._plot._search import SearchResultsDisplay

__all__ = ["SearchResultsDisplay", "TrainingHistoryDisplay"]
