"""scikit-learn's common estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skdropbn import DropBNClassifier, DropBNRegressor

# Small and fast, yet able to learn the checks' toy problems.
FAST = dict(n_layers=1, units=16, epochs=60, learning_rate=0.01, random_state=0)

# check name -> reason. Kept as short as the truth allows.
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch training in float32: a weight of 2 and a repeated row give "
        "different batches and round-off, so predictions agree only to about "
        "1e-2, not the check's rtol=1e-7"
    ),
}


@parametrize_with_checks(
    [DropBNRegressor(**FAST), DropBNClassifier(**FAST)],
    expected_failed_checks=lambda est: EXPECTED_FAILURES,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
