"""The compiled training epoch against plain Keras, and its reuse across fits."""

import numpy as np
import pytest
from conftest import make_regression_data

from skdropbn import DropBNRegressor, _keras
from skdropbn._keras import layers, pool
from skdropbn._keras.trainer import FitConfig, TrainerKey, to_numpy
from skdropbn._spec import NetworkSpec


def _weights(model):
    # Not model.get_weights(): under JAX it trips NumPy 2.4's copy-keyword
    # deprecation inside Keras 3.15 (and torch's trainable tensors need a
    # detach first, which to_numpy does).
    return [to_numpy(v) for v in model.weights]


# How far the compiled steps may be from Keras's own, and why. The same
# arithmetic in float32 rounds differently from one CPU to another (the BLAS
# kernels' blocking and vector width differ between AVX2 and AVX-512, and so
# do XLA's reductions), so each gradient carries an error of a few float32
# ulps of the terms summed into it. SGD's update is linear in the gradient:
# that error stays round-off of the weights (rtol 1e-5 is ~80 ulps, atol 1e-6
# covers weights that start at 0). Adam's first steps are lr * g / (|g| + eps):
# where a gradient is within a few eps (1e-7) of zero, its round-off moves the
# update by up to lr (2 lr if its sign flips), so only almost every weight,
# not every one, agrees to round-off; every one agrees to 2 lr per step.
SGD_RTOL, SGD_ATOL = 1e-5, 1e-6


def _assert_adam_steps_close(ours, theirs, learning_rate, steps):
    diff = np.concatenate([np.abs(a - b).ravel() for a, b in zip(ours, theirs)])
    assert diff.max() <= 2 * learning_rate * steps
    assert np.mean(diff > 1e-5) <= 0.05


def _keras_steps(keras, est, X, y, optimizer, steps, momentum=None):
    """Keras's own full-batch steps from ``est``'s weights (and their average)."""
    reference = keras.models.clone_model(est.model_)
    reference.set_weights(_weights(est.model_))
    reference.compile(optimizer=optimizer, loss="mse")
    target = ((y - est.y_mean_) / est.y_scale_).reshape(-1, 1).astype(np.float32)
    average = [to_numpy(v) for v in reference.trainable_weights]
    for _ in range(steps):
        reference.train_on_batch(X.astype(np.float32), target)
        step = [to_numpy(v) for v in reference.trainable_weights]
        if momentum is not None:
            average = [momentum * a + (1 - momentum) * w for a, w in zip(average, step)]
    return reference, average, step


@pytest.mark.parametrize(
    "batch_norm, feature_embedding, optimizer",
    [
        ("after", None, "sgd"),
        ("after", "periodic", "adam"),
        ("before", "periodic", "sgd"),
        (None, None, "adam"),
    ],
)
def test_compiled_steps_equal_keras_train_on_batch(
    batch_norm, feature_embedding, optimizer
):
    # One full batch per epoch and no dropout: nothing random is left, so the
    # compiled epoch must take the same steps as Keras's own training.
    keras = pytest.importorskip("keras")
    X, y = make_regression_data(n_samples=64, seed=1)
    lr = 0.05 if optimizer == "sgd" else 1e-3
    params = dict(
        n_layers=2,
        units=8,
        dropout=0.0,
        batch_norm=batch_norm,
        feature_embedding=feature_embedding,
        optimizer=optimizer,
        learning_rate=lr,
        batch_size=64,
        early_stopping=False,
        epochs=1,
        ema_momentum=0.0,
        random_state=0,
    )
    est = DropBNRegressor(**params).fit(X, y)
    start = _weights(est.model_)
    keras_optimizer = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}
    reference, _, _ = _keras_steps(keras, est, X, y, keras_optimizer[optimizer](lr), 3)

    # warm_start continues from the same weights with fresh optimizer slots.
    est.set_params(warm_start=True, epochs=3).fit(X, y)
    ours, theirs = _weights(est.model_), _weights(reference)
    if optimizer == "sgd":
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=SGD_RTOL, atol=SGD_ATOL)
    else:
        _assert_adam_steps_close(ours, theirs, lr, steps=3)
    assert not np.allclose(ours[0], start[0])


def test_kept_weights_are_the_moving_average_of_the_steps():
    # Three full-batch SGD steps with momentum 0.5 from known weights: the
    # kept trainable weights are 0.5**3 * start + 0.5**3 * w1 + 0.5**2 * w2 +
    # 0.5 * w3 of Keras's own steps; batch norm's moving statistics (not
    # trained by gradient) are the last step's. SGD, so that the comparison
    # is one of round-off (see SGD_RTOL); Adam's steps are checked above.
    keras = pytest.importorskip("keras")
    X, y = make_regression_data(n_samples=64, seed=3)
    params = dict(n_layers=2, units=8, dropout=0.0, batch_size=64, epochs=1,
                  optimizer="sgd", learning_rate=0.05, early_stopping=False,
                  random_state=0)  # fmt: skip
    est = DropBNRegressor(**params).fit(X, y)
    reference, expected, last = _keras_steps(
        keras, est, X, y, keras.optimizers.SGD(0.05), 3, momentum=0.5
    )

    est.set_params(warm_start=True, epochs=3, ema_momentum=0.5).fit(X, y)
    ours = [to_numpy(v) for v in est.model_.trainable_weights]
    for a, b, step in zip(ours, expected, last):
        np.testing.assert_allclose(a, b, rtol=SGD_RTOL, atol=SGD_ATOL)
        # The average is not the last step (where the steps moved the weight).
        moved = np.abs(step - b) > 100 * (SGD_ATOL + SGD_RTOL * np.abs(b))
        np.testing.assert_array_less(
            SGD_ATOL + SGD_RTOL * np.abs(step[moved]), np.abs(a - step)[moved]
        )
    assert sum(np.count_nonzero(np.abs(s - b) > 1e-3) for s, b in zip(last, expected))
    for a, b in zip(est.model_.non_trainable_weights, reference.non_trainable_weights):
        np.testing.assert_allclose(
            to_numpy(a), to_numpy(b), rtol=SGD_RTOL, atol=SGD_ATOL
        )


def _numpy_hash_bits(seed, shape):
    # The generator of the trainers' dropout, evaluated in NumPy; the seed's
    # words as 1-element arrays (NumPy warns on wrapping uint32 scalars).
    seed = np.asarray(seed).astype(np.uint32).reshape(2, 1)
    index = np.arange(np.prod(shape), dtype=np.uint32).reshape(shape)
    return layers.hash_bits(
        seed,
        index,
        np.bitwise_xor,
        lambda h, n: np.right_shift(h, np.uint32(n)),
        np.uint32,
    )


def test_dropout_hash_draws_are_uniform_and_independent():
    # 200,000 draws per seed: the kept share, 16 equal bins, and correlations
    # between neighbouring elements, consecutive steps (second seed word) and
    # neighbouring layers (first word) within 5 standard errors.
    n = 200_000
    u = {
        s: _numpy_hash_bits(s, (n,)).ravel() / 2.0**24 for s in [(7, 0), (7, 1), (8, 0)]
    }
    draws = u[(7, 0)]
    assert draws.min() >= 0.0 and draws.max() < 1.0
    assert abs(np.mean(draws >= 0.3) - 0.7) < 5 * np.sqrt(0.21 / n)
    counts = np.bincount((draws * 16).astype(int), minlength=16)
    assert np.all(np.abs(counts - n / 16) < 5 * np.sqrt(n / 16))
    limit = 5 / np.sqrt(n)
    assert abs(np.corrcoef(draws[:-1], draws[1:])[0, 1]) < limit
    assert abs(np.corrcoef(draws, u[(7, 1)])[0, 1]) < limit
    assert abs(np.corrcoef(draws, u[(8, 0)])[0, 1]) < limit
    assert np.mean(draws == u[(7, 1)]) < 1e-3


def test_trainer_dropout_masks_are_the_hash_draws():
    # The backend's compiled-path dropout keeps exactly the elements whose
    # hash draw is >= rate (the same masks under TensorFlow and JAX), scales
    # them by 1 / (1 - rate), and takes a new seed each call.
    pytest.importorskip("keras")
    source = layers.RateSource()
    source.value = 0.3
    layer = layers.runtime_dropout(source)(0.5, seed=123)
    x = np.ones((64, 16), dtype=np.float32)
    outputs = []
    for _ in range(2):
        seed = to_numpy(layer.seed_generator.state)
        out = to_numpy(layer(x, training=True))
        keep = _numpy_hash_bits(seed, x.shape) / 2.0**24 >= 0.3
        np.testing.assert_allclose(out, np.where(keep, 1 / 0.7, 0.0), rtol=1e-6)
        outputs.append(out)
    assert 0.6 < np.mean(outputs[0] > 0) < 0.8
    assert not np.array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(to_numpy(layer(x, training=False)), x)


def _pooled(units):
    with pool._TRAINERS_LOCK:
        pools = pool._TRAINERS.items()
        return [t for k, ts in pools if k[1].architecture.units == units for t in ts]


def test_one_compiled_trainer_serves_every_dropout_rate():
    # A grid search over dropout must not compile once per rate, and the rate
    # must still reach the network: the pooled trainer, run at 0.1 and then at
    # 0.4, gives what a freshly built one gives at 0.4.
    X, y = make_regression_data(n_samples=120, seed=2)
    arch = dict(n_layers=2, units=19, epochs=4, random_state=0)
    low = DropBNRegressor(**arch, dropout=0.1).fit(X, y).predict(X)
    (trainer,) = _pooled(19)
    high = DropBNRegressor(**arch, dropout=0.4).fit(X, y).predict(X)
    assert _pooled(19) == [trainer]
    assert not np.allclose(low, high)

    with pool._TRAINERS_LOCK:
        for key in [k for k in pool._TRAINERS if k[1].architecture.units == 19]:
            del pool._TRAINERS[key]
    fresh = DropBNRegressor(**arch, dropout=0.4).fit(X, y).predict(X)
    assert _pooled(19) != [trainer]
    np.testing.assert_array_equal(high, fresh)


def test_training_tensors_share_one_float32_copy_of_x():
    # fit copies X once: rows are gathered into an aligned float32 buffer,
    # zero-padded, which the backend tensor then uses in place.

    from skdropbn._data import _gather

    X = np.arange(40.0).reshape(10, 4)
    rows = np.array([7, 2, 5])
    buffer = _gather(X, rows, 8, chunk_bytes=40)  # two rows per chunk
    assert buffer.dtype == np.float32 and buffer.ctypes.data % 64 == 0
    np.testing.assert_array_equal(buffer[:3], X[rows])
    np.testing.assert_array_equal(buffer[3:], 0)
    np.testing.assert_array_equal(_gather(X[:, 0], None, 12)[:10], X[:, 0])

    tensor = _keras.share_tensor(buffer)
    buffer[0, 0] = -1.0  # (never done in fit: shows the memory is shared)
    assert float(to_numpy(tensor)[0, 0]) == -1.0


def test_an_epoch_is_split_into_equal_batches():
    # ceil(n / batch_size) batches of equal size: 1119 rows at 256 make five
    # batches of 224 (one row repeated), not five of 256 (161 repeated).
    from skdropbn._data import equal_batch_size
    from skdropbn._training import make_batches

    cases = {(1119, 256): 224, (1280, 256): 256, (300, 256): 150, (100, 256): 100}
    assert {k: equal_batch_size(*k) for k in cases} == cases
    batches = make_batches(1119, 224, np.random.RandomState(0))
    assert batches.shape == (5, 224)
    assert len(np.unique(batches)) == 1119

    X, y = make_regression_data(n_samples=300, seed=4)
    DropBNRegressor(n_layers=1, units=23, batch_size=256, epochs=1,
                    early_stopping=False, random_state=0).fit(X, y)  # fmt: skip
    assert [t.batch_size for t in _pooled(23)] == [150]


def test_validation_loss_is_the_epochs_weights_loss_and_absent_without_rows():
    # The epoch's validation loss is the mean loss of the weights it ends with
    # on the validation rows (the padding rows weigh nothing); without early
    # stopping there are no validation rows and the epoch computes no loss.
    from skdropbn._data import training_data
    from skdropbn._training import make_batches

    X, y = make_regression_data(n_samples=90, seed=5)
    Y = y.reshape(-1, 1) / y.std()
    spec = NetworkSpec(
        n_features=X.shape[1], n_outputs=1, n_layers=1, units=17, dropout=0.2,
        batch_norm="after", input_batch_norm=False, activation="relu",
        output_activation="linear",
    )  # fmt: skip
    train_idx, val_idx = np.arange(60), np.arange(60, 90)  # 30 rows -> 32
    weight = np.ones(90)
    key = TrainerKey(spec.architecture(), "squared_error", "adam", 0.0, 32, False)
    with _keras.checkout_trainer(key) as t:
        for val, n_val in ((val_idx, 32), (None, 0)):
            data = training_data(X, Y, weight, train_idx, val, 32)
            assert data.X_val.shape[0] == n_val
            t.load(t.initial_weights(0), FitConfig(1e-3, 0, 0.2, 0.0))
            batches = make_batches(60, 32, np.random.RandomState(0))
            loss, val_loss = t.run_epoch(data, batches)
            assert np.isfinite(loss)
            if val is None:
                assert val_loss is None
                continue
            model = _keras.model_from_weights(spec, t.weights())
            pred = to_numpy(model(X[val_idx].astype(np.float32), training=False))
            expected = np.mean((pred - Y[val_idx]) ** 2)
            np.testing.assert_allclose(val_loss, expected, rtol=1e-5)
