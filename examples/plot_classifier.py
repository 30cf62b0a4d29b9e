"""
Classification: probabilities against gradient boosting
=======================================================

:class:`~skdropbn.DropBNClassifier` is the classifier twin of
:class:`~skdropbn.DropBNRegressor`: the same network with a sigmoid or softmax
output, for binary, multiclass and multilabel targets. ``predict_proba``
returns probabilities; ``predict_proba(X, mc_dropout=True)`` averages
``n_mc_passes`` of them drawn with dropout left on.

Are the probabilities any good? Here they are compared with
``HistGradientBoostingClassifier``'s on two of scikit-learn's bundled
datasets: breast cancer (binary) and wine (three classes). Log loss and Brier
score: lower is better; accuracy: higher is better.
"""

import matplotlib.pyplot as plt
from sklearn.calibration import CalibrationDisplay
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdropbn import DropBNClassifier


def report(name, y_true, proba, classes):
    """Log loss, accuracy and (binary) Brier score of one model's probabilities."""
    line = (
        f"{name:<34} log loss {log_loss(y_true, proba, labels=classes):.3f}"
        f"  accuracy {accuracy_score(y_true, classes[proba.argmax(1)]):.3f}"
    )
    if proba.shape[1] == 2:
        line += f"  Brier {brier_score_loss(y_true, proba[:, 1]):.3f}"
    print(line)


# %%
# Binary: breast cancer
# ---------------------
# 569 tumours, 30 measurements each, malignant or benign. Half of the rows
# are kept aside to judge the probabilities on.
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
network = make_pipeline(StandardScaler(), DropBNClassifier(random_state=0))
network.fit(X_train, y_train)
boosting = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)

probas = {
    "DropBNClassifier": network.predict_proba(X_test),
    "DropBNClassifier, mc_dropout=True": network.predict_proba(X_test, mc_dropout=True),
    "HistGradientBoostingClassifier": boosting.predict_proba(X_test),
}
for name, proba in probas.items():
    report(name, y_test, proba, network.classes_)

# %%
# A reliability diagram: the test rows are binned by predicted probability of
# the positive class (benign), in bins of equal counts, and each bin's mean
# prediction is plotted against the share of it that really is benign.
# Calibrated probabilities lie on the diagonal. Most rows are predicted near
# 0 or 1, so most bins sit in the corners.
fig, ax = plt.subplots(figsize=(5, 5))
for name, proba in probas.items():
    CalibrationDisplay.from_predictions(
        y_test, proba[:, 1], n_bins=8, strategy="quantile", name=name, ax=ax
    )
ax.set_title("breast cancer, held-out half")
fig.tight_layout()
plt.show()

# %%
# Multiclass: wine
# ----------------
# 178 wines from three cultivars, 13 chemical measurements. ``predict_proba``
# has one column per class, in the order of ``classes_``; each row sums to 1.
X, y = load_wine(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
network = make_pipeline(StandardScaler(), DropBNClassifier(random_state=0))
network.fit(X_train, y_train)
boosting = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
print("classes:", network.classes_)
print("first test row's probabilities:", network.predict_proba(X_test[:1]).round(3))

for name, model in [
    ("DropBNClassifier", network),
    ("HistGradientBoostingClassifier", boosting),
]:
    report(name, y_test, model.predict_proba(X_test), network.classes_)

# %%
# On these small, easy sets both models are nearly always right, and which
# log loss is lower moves with the split and the seed. The benchmarks
# page compares them over cross-validation on three larger sets
# (``benchmarks/results/calibration.md``): there gradient boosting's log loss
# is lower than ``predict_proba``'s on all three, and the average of
# ``mc_dropout=True`` is lower than gradient boosting's on two.
