"""skdropbn: Keras dropout / batch-norm networks as scikit-learn estimators."""

from skdropbn._regressor import DropBNRegressor

__all__ = ["DropBNRegressor", "__version__"]
__version__ = "0.1.0"
