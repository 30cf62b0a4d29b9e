"""skdropbn: Keras dropout / batch-norm networks as scikit-learn estimators."""

from skdropbn._classifier import DropBNClassifier
from skdropbn._plot import SearchResultsDisplay, TrainingHistoryDisplay
from skdropbn._regressor import DropBNRegressor

__all__ = [
    "DropBNClassifier",
    "DropBNRegressor",
    "SearchResultsDisplay",
    "TrainingHistoryDisplay",
    "__version__",
]
__version__ = "0.1.0"
