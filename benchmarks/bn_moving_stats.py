"""Why the default DropBNClassifier fails ``check_class_weight_classifiers``.

The check (scikit-learn's, on 50 training rows of noisy blobs, with
``class_weight={0: 1000, 1: 0.0001, ...}``) wants more than 87% of the test
rows predicted as class 0. With batch normalization the default classifier
predicts far fewer; without it, all. The likely cause: Keras's
``BatchNormalization(momentum=0.99)`` moves its moving statistics, used at
inference (and in the validation loss behind early stopping), by 1% a step,
and a fit of 50 rows makes about two steps an epoch, so after ``n`` steps
they have moved only ``1 - 0.99**n`` of the way from their initial 0 and 1
to the batches' statistics (printed as *moved*).

    python benchmarks/bn_moving_stats.py

Prints a Markdown table; writes nothing.
"""

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.model_selection import train_test_split

from skdropbn import DropBNClassifier


def main():
    print("| classes | batch_norm | class 0 predicted | epochs | steps | moved |")
    print("|---:|---|---:|---:|---:|---:|")
    for n_classes in (2, 3):
        X, y = make_blobs(centers=n_classes, random_state=0, cluster_std=20)
        X_train, X_test, y_train, _ = train_test_split(
            X, y, test_size=0.5, random_state=0
        )
        weights = {0: 1000, **{c: 1e-4 for c in range(1, n_classes)}}
        for batch_norm in ("after", None):
            clf = DropBNClassifier(
                class_weight=weights, batch_norm=batch_norm, random_state=0
            ).fit(X_train, y_train)
            # Training rows after the 10% validation split, batches of <= 32.
            n_train = len(X_train) - int(np.ceil(0.1 * len(X_train)))
            steps = clf.n_iter_ * int(np.ceil(n_train / 32))
            print(
                f"| {n_classes} | {batch_norm} | "
                f"{np.mean(clf.predict(X_test) == 0):.2f} | {clf.n_iter_} | "
                f"{steps} | {1 - 0.99**steps:.2f} |"
            )


if __name__ == "__main__":
    main()
