"""
Dropout closes the gap between training and validation loss
============================================================

A network wide enough to memorise a small training set keeps lowering its
training loss while the validation loss stops improving: the gap between the
two curves is overfitting. Dropout randomly zeroes a share of each hidden
layer's outputs at every step, so the network cannot rely on any single unit;
the training loss then falls more slowly and the gap shrinks.

Here the same network is trained with three dropout rates on a few hundred
rows, for the same number of epochs, and the gap is measured.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

from skdropbn import DropBNRegressor, TrainingHistoryDisplay

try:
    HERE = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs examples in their folder, without __file__
    HERE = Path.cwd()
RED_WINE = HERE.parents[1] / "shared" / "data" / "red-wine.csv"

if RED_WINE.exists():
    # A few hundred rows: small enough to overfit quickly.
    red_wine = pd.read_csv(RED_WINE).sample(400, random_state=0)
    X, y = red_wine.drop(columns="quality"), red_wine["quality"]
else:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    print("red-wine.csv not found: using scikit-learn's diabetes data instead")
X = StandardScaler().fit_transform(X)

# %%
# Three fits, one architecture
# ----------------------------
# Two blocks of 256 units, no batch normalization (to see dropout alone), and
# a patience as long as the run so that every curve has all epochs.
EPOCHS = 60
rates = [0.0, 0.3, 0.6]
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), sharey=True)
gaps = {}
for rate, ax in zip(rates, axes):
    model = DropBNRegressor(
        n_layers=2,
        units=256,
        dropout=rate,
        batch_norm=None,
        epochs=EPOCHS,
        validation_fraction=0.25,
        n_iter_no_change=EPOCHS,
        random_state=0,
    ).fit(X, y)
    TrainingHistoryDisplay.from_estimator(model, ax=ax)
    ax.set_title(f"dropout={rate}")
    # The gap over the last ten epochs.
    last = slice(-10, None)
    gaps[rate] = np.mean(model.history_["val_loss"][last]) - np.mean(
        model.history_["loss"][last]
    )
for ax in axes[1:]:
    ax.set_ylabel("")
fig.tight_layout()
plt.show()

# %%
# The gap, validation minus training loss over the last ten epochs:
for rate, gap in gaps.items():
    print(f"dropout={rate}: gap {gap:.3f}")
