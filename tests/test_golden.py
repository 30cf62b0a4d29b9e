"""Golden predictions: refactoring the inside must not change what a fit gives.

``tests/data/golden.json`` holds the predictions of the fits in
``tests/_golden_configs.py`` (both estimators; batch norm after and before,
the periodic embedding, early stopping with the plateau schedule, Monte-Carlo
standard deviations), written with TensorFlow. Both backends must reproduce
them.

Tolerance: TensorFlow's and JAX's kernels sum in different orders, so their
results differ by independent float32 round-off; on the fits here that
difference was at most 7e-7 of the largest value (JAX against the TensorFlow
file). ``RTOL`` is about 100 times that, and far below what any change of
behaviour (a different seed, initialisation, layer order, batch or
learning-rate rule) moves these predictions (another random_state: 0.2-0.4).
"""

import json

import numpy as np
import pytest
from _golden_configs import CONFIGS, GOLDEN, predictions

RTOL = 1e-4


@pytest.fixture(scope="module")
def golden():
    return json.loads(GOLDEN.read_text())


def test_golden_file_covers_every_config(golden):
    assert set(golden) - {"_machine"} == set(CONFIGS)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_predictions_match_golden(golden, name):
    got = predictions(name)
    assert got.keys() == golden[name].keys()
    for key, expected in golden[name].items():
        expected = np.asarray(expected)
        scale = np.abs(expected).max()
        np.testing.assert_allclose(
            got[key], expected, rtol=0, atol=RTOL * scale, err_msg=f"{name}: {key}"
        )
