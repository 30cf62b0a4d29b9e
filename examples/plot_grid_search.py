"""
Grid search over dropout and depth
==================================

How much dropout, and how many hidden blocks? ``GridSearchCV`` tries every
pair with cross-validation; :class:`~skdropbn.SearchResultsDisplay` shows the
mean cross-validated score of each pair as a heatmap with the best cell
outlined, and :class:`~skdropbn.TrainingHistoryDisplay` the learning curves of
the refitted best model.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_diabetes
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdropbn import DropBNRegressor, SearchResultsDisplay, TrainingHistoryDisplay

X, y = load_diabetes(return_X_y=True)

# %%
# The search
# ----------
# A ``StandardScaler`` -> ``DropBNRegressor`` pipeline, so parameter names
# carry the step's prefix. Small layers and few epochs keep the 18 fits fast.
pipe = make_pipeline(
    StandardScaler(),
    DropBNRegressor(units=32, epochs=40, n_iter_no_change=8, random_state=0),
)
grid = {
    "dropbnregressor__dropout": [0.0, 0.25, 0.5],
    "dropbnregressor__n_layers": [1, 2],
}
search = GridSearchCV(pipe, grid, cv=KFold(3, shuffle=True, random_state=0))
search.fit(X, y)
print("best:", search.best_params_, f"R2 {search.best_score_:.3f}")

# %%
# The scores
# ----------
# The two varied parameters are found in ``cv_results_``; the first goes on
# the x-axis (pass ``x=`` and ``y=`` to choose). The score is the
# estimator's default, R2.
display = SearchResultsDisplay.from_search(search)
display.ax_.set_title("mean CV R2, diabetes")
plt.show()

# %%
# The best model's training
# -------------------------
# ``from_estimator`` accepts the search itself and shows its
# ``best_estimator_``.
TrainingHistoryDisplay.from_estimator(search)
plt.show()
