"""Every private scikit-learn name skdropbn uses, imported in one place.

scikit-learn may rename or remove a private name in any release; when one
moves, this is the one module to change (``pyproject.toml`` bounds
scikit-learn to the releases this was checked against). The model-selection
names are functions, so that ``import skdropbn`` does not import
``sklearn.model_selection`` (about 100 ms of a 120 ms import, measured with
``python -X importtime``).
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, _check_y

__all__ = [
    "Interval",
    "StrOptions",
    "_check_sample_weight",
    "_check_y",
    "_fit_context",
    "base_search_cv",
    "scorer_module",
    "splitter_bases",
]


def base_search_cv():
    """``BaseSearchCV``, the base class of scikit-learn's hyper-parameter searches."""
    from sklearn.model_selection._search import BaseSearchCV

    return BaseSearchCV


def splitter_bases():
    """The base classes of scikit-learn's cross-validation splitters."""
    from sklearn.model_selection._split import BaseCrossValidator, BaseShuffleSplit

    return BaseCrossValidator, BaseShuffleSplit


def scorer_module():
    """``sklearn.metrics._scorer``, which defines the scorer classes."""
    from sklearn.metrics import _scorer

    return _scorer
