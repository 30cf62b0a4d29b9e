"""skdropbn: Keras dropout / batch-norm networks as scikit-learn estimators."""

from skdropbn._classifier import DropBNClassifier
from skdropbn._regressor import DropBNRegressor

__all__ = ["DropBNClassifier", "DropBNRegressor", "__version__"]
__version__ = "0.1.0"
