"""skdropbn: Keras dropout / batch-norm networks as scikit-learn estimators."""

from skdropbn._classifier import DropBNClassifier
from skdropbn._distributed import limit_worker_threads
from skdropbn._keras import keras_custom_objects
from skdropbn._persistence import load, save
from skdropbn._plot import SearchResultsDisplay, TrainingHistoryDisplay
from skdropbn._regressor import DropBNRegressor

__all__ = [
    "DropBNClassifier",
    "DropBNRegressor",
    "SearchResultsDisplay",
    "TrainingHistoryDisplay",
    "keras_custom_objects",
    "limit_worker_threads",
    "load",
    "save",
    "__version__",
]
__version__ = "0.1.0"

# The estimators' public name: skops files, MLflow's skops_trusted_types and
# pickles name "skdropbn.DropBNRegressor", never the private module.
DropBNClassifier.__module__ = DropBNRegressor.__module__ = "skdropbn"
