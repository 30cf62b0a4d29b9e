"""Shared small, seeded data and fitted estimators.

Every fit here is tiny (a few hundred rows, narrow layers, few epochs) so the
whole suite stays fast on two CPU cores.
"""

from pathlib import Path

import numpy as np
import pytest

from skdropbn import DropBNRegressor

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# A small network that still learns the toy problems below.
TINY = dict(
    n_layers=1,
    units=16,
    epochs=30,
    learning_rate=0.01,
    feature_embedding="periodic",  # the shared fits cover the embedding
    random_state=0,
)


def make_regression_data(n_samples=200, n_features=5, n_outputs=None, seed=0):
    """A smooth nonlinear target a small network fits well."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    shape = (n_features,) if n_outputs is None else (n_features, n_outputs)
    y = X @ rng.normal(size=shape)
    bump = 0.5 * np.sin(2 * X[:, 0])
    y = y + (bump if y.ndim == 1 else bump[:, None])
    y = y + 0.1 * rng.normal(size=y.shape)
    return X, y


@pytest.fixture(scope="session")
def data():
    return make_regression_data()


@pytest.fixture(scope="session")
def fitted(data):
    """A regressor fitted once for the read-only tests."""
    X, y = data
    return DropBNRegressor(**TINY).fit(X, y)


@pytest.fixture
def red_wine():
    path = SHARED_DATA / "red-wine.csv"
    if not path.exists():
        pytest.skip(
            f"shared dataset {path} not present (only on the project's machines)"
        )
    import pandas as pd

    return pd.read_csv(path)
