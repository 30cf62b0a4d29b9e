"""
Batch normalization on unscaled input, or StandardScaler
========================================================

Features on very different scales (in red wine, total sulfur dioxide runs in
the hundreds while density sits near 1.0) make gradient descent slow: the
first layer's weights for large features must be tiny, for small features
large. The lesson's remedy is a ``BatchNormalization`` layer as the network's
first layer, an *adaptive preprocessor* that standardises every feature with
the statistics of each batch (and, at prediction, with running averages).

The scikit-learn remedy is a ``StandardScaler`` in a pipeline, fitted once on
the training rows. Here are three fits of the same network on unscaled data:
neither, ``input_batch_norm=True``, and ``StandardScaler``.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdropbn import DropBNRegressor, TrainingHistoryDisplay

try:
    HERE = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs examples in their folder, without __file__
    HERE = Path.cwd()
RED_WINE = HERE.parents[1] / "shared" / "data" / "red-wine.csv"

if RED_WINE.exists():
    red_wine = pd.read_csv(RED_WINE)
    X, y = red_wine.drop(columns="quality"), red_wine["quality"]
else:
    # Raw (unscaled) diabetes features: age in years, blood serum levels...
    X, y = load_diabetes(return_X_y=True, as_frame=True, scaled=False)
    print("red-wine.csv not found: using scikit-learn's diabetes data instead")
print(X.describe().loc[["mean", "std"]].round(3).T)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

# %%
# Three fits
# ----------
# Same network, seed and epochs; only the treatment of the input differs. The
# hidden blocks have no batch normalization, and there is no feature
# embedding (which standardises the features itself), so that the input
# treatment is the only normalisation in play.
params = dict(
    n_layers=2, units=128, dropout=0.1, batch_norm=None, epochs=40,
    n_iter_no_change=40, feature_embedding=None, random_state=0,
)  # fmt: skip
models = {
    "unscaled input": DropBNRegressor(**params),
    "input_batch_norm=True": DropBNRegressor(**params, input_batch_norm=True),
    "StandardScaler": make_pipeline(StandardScaler(), DropBNRegressor(**params)),
}
fig, axes = plt.subplots(1, 3, figsize=(10, 3.8), sharey=True)
for (name, model), ax in zip(models.items(), axes):
    model.fit(X_train, y_train)
    TrainingHistoryDisplay.from_estimator(model, ax=ax)
    ax.set_title(f"{name}\ntest R2 {model.score(X_test, y_test):.3f}")
    # The unscaled fit starts an order of magnitude higher than the others.
    ax.set_yscale("log")
for ax in axes[1:]:
    ax.set_ylabel("")
fig.tight_layout()
plt.show()

# %%
# Without any scaling the loss falls slowly and stays higher. The input
# batch-norm layer and the scaler both fix it; the scaler's statistics are
# exact and fixed, while the batch-norm layer's are per-batch estimates during
# training, which adds a little noise (and a little regularisation). The
# batch-norm layer travels with the network (``model_``), the scaler with the
# pipeline.
