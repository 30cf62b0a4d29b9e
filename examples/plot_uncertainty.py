"""
How far to trust each prediction: intervals from ``return_std``
===============================================================

``predict(X, return_std=True)`` returns, with each prediction, a standard
deviation: the spread of ``n_mc_passes`` predictions made with dropout left on
(Monte-Carlo dropout, the lesson's "committee of sub-networks"), rescaled on
the validation rows that early stopping held out, so that
``mean +/- 1.645 * std`` should hold about 90% of new targets.

Should, or does? This example checks every level from 50% to 98% on rows the
network never saw, with 5-fold cross-validation on scikit-learn's diabetes
data.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm
from sklearn.datasets import load_diabetes
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdropbn import DropBNRegressor

X, y = load_diabetes(return_X_y=True)

# %%
# Out-of-fold predictions
# -----------------------
# Each row is predicted by the network fitted on the other four folds, so
# every interval is judged on data its network did not train on.
mean = np.empty_like(y)
std = np.empty_like(y)
for train, test in KFold(5, shuffle=True, random_state=0).split(X):
    model = make_pipeline(StandardScaler(), DropBNRegressor(random_state=0))
    model.fit(X[train], y[train])
    mean[test], std[test] = model.predict(X[test], return_std=True)

# %%
# Coverage at every level
# -----------------------
# A central interval holding a share ``p`` of a normal distribution is
# ``mean +/- z * std`` with ``z = norm.ppf(0.5 + p / 2)`` (1.645 for 90%).
# Calibrated intervals lie on the diagonal: above it they are too wide,
# below it too narrow.
levels = np.linspace(0.5, 0.98, 25)
z = norm.ppf(0.5 + levels / 2)
coverage = [np.mean(np.abs(y - mean) <= k * std) for k in z]

# %%
# The plots
# ---------
# Left, the coverage at every level. Right, sixty rows sorted by prediction:
# the 90% interval of each, and the true target (red where it falls
# outside). The width varies from row to row: the network is surer of some
# patients than of others.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.plot(levels, levels, color="grey", linestyle="--", label="calibrated")
ax1.plot(levels, coverage, marker="o", label="DropBNRegressor")
ax1.set_xlabel("nominal level of the interval")
ax1.set_ylabel("share of held-out targets inside")
ax1.set_title("coverage, 442 rows out of fold")
ax1.legend()

rows = np.argsort(mean)[:: len(y) // 60][:60]
half_width = norm.ppf(0.95) * std[rows]
inside = np.abs(y[rows] - mean[rows]) <= half_width
ax2.errorbar(
    np.arange(len(rows)),
    mean[rows],
    yerr=half_width,
    fmt=".",
    color="tab:blue",
    ecolor="lightsteelblue",
    label="prediction, 90% interval",
)
ax2.scatter(
    np.flatnonzero(inside), y[rows][inside], s=12, color="black", label="target"
)
ax2.scatter(
    np.flatnonzero(~inside), y[rows][~inside], s=12, color="red", label="outside"
)
ax2.set_xlabel("row, sorted by prediction")
ax2.set_ylabel("disease progression")
ax2.set_title("90% intervals")
ax2.legend(loc="upper left")
fig.tight_layout()
plt.show()

# %%
# The numbers behind the left plot, at three levels:
for level in (0.5, 0.8, 0.9):
    held = np.mean(np.abs(y - mean) <= norm.ppf(0.5 + level / 2) * std)
    print(f"{level:.0%} intervals hold {held:.1%} of the targets")

# %%
# On 442 rows a few points either way is chance. The benchmarks measure the
# 90% level on five datasets of up to 32,828 rows (the *90% coverage* column
# of the accuracy table on the benchmarks page).
