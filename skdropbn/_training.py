"""The training loop: seeds, epochs, shuffling, callbacks that stop and schedule.

Backend-free: it drives a compiled trainer (``skdropbn._keras.trainer``) one
epoch at a time. What to do after an epoch is in small callback objects, as
skorch's and Keras's: ``EarlyStopping`` (keep the best validation epoch's
weights, stop after ``patience`` epochs without improvement) and
``ReduceLROnPlateau`` (halve the learning rate on a plateau). A callback has
``on_epoch_end(state, loss, val_loss)`` and ``on_train_end(state)``, and acts
through ``state`` (a ``LoopState``): its trainer, learning rate and ``stop``.
"""

import math
import sys
from dataclasses import dataclass

import numpy as np

from skdropbn import _data


def _as_seed_source(random_state):
    """A NumPy ``RandomState`` to draw this fit's seeds from.

    An int gives reproducible fits; a ``RandomState`` is used as given
    (scikit-learn's convention). ``None`` draws fresh OS entropy instead of
    consuming numpy's global generator, which belongs to the user.
    """
    if random_state is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, np.random.RandomState):
        return random_state
    return np.random.RandomState(random_state)


def fit_seeds(random_state):
    """The five seeds of a fit, drawn from ``random_state`` in a fixed order."""
    seeds = _as_seed_source(random_state).randint(0, 2**31 - 1, size=5)
    return dict(zip(("init", "dropout", "split", "shuffle", "mc"), map(int, seeds)))


def make_batches(n_samples, batch_size, rng):
    """Row indices of one shuffled epoch as an array ``(n_batches, batch_size)``.

    Every batch has the same size so that one compiled step serves the whole
    epoch: the last batch is completed with rows drawn from a second
    permutation (a few rows are seen twice in that epoch), instead of a short
    batch whose batch-norm statistics would rest on a handful of rows. The
    estimator picks ``batch_size`` with ``_base._equal_batch_size``, so that
    fewer than ``n_batches`` rows are repeated.
    """
    n_batches = math.ceil(n_samples / batch_size)
    order = rng.permutation(n_samples)
    missing = n_batches * batch_size - n_samples
    if missing:
        extra = rng.permutation(n_samples)[:missing]
        if extra.size < missing:  # fewer rows than a batch (partial_fit)
            extra = rng.choice(n_samples, size=missing)
        order = np.concatenate([order, extra])
    return order.reshape(n_batches, batch_size).astype(np.int32)


@dataclass
class LoopState:
    """What callbacks see of a running fit, and may change."""

    trainer: object
    learning_rate: float
    epoch: int = 0
    stop: bool = False  # set by a callback to end training after this epoch


class EarlyStopping:
    """Keep the best validation epoch's weights; stop after ``patience`` bad epochs.

    An epoch is bad unless its validation loss improves on the best by more
    than ``tol`` (scikit-learn's ``n_iter_no_change`` and ``tol``); the
    weights kept are those of the lowest validation loss, improved by any
    amount.
    """

    def __init__(self, patience, tol):
        self.patience, self.tol = patience, tol
        self.best, self.best_epoch, self.bad_epochs = np.inf, None, 0
        self._snapshot = None

    def on_epoch_end(self, state, loss, val_loss):
        self.bad_epochs = 0 if val_loss < self.best - self.tol else self.bad_epochs + 1
        if val_loss < self.best:
            # Drop the old copy first: two at once are a wide network's peak.
            self._snapshot = None
            self._snapshot = state.trainer.snapshot()
            self.best, self.best_epoch = val_loss, state.epoch
        if self.bad_epochs >= self.patience:
            state.stop = True

    def on_train_end(self, state):
        if self._snapshot is not None:
            state.trainer.restore(self._snapshot)
            self._snapshot = None


class ReduceLROnPlateau:
    """Halve the learning rate after ``patience`` epochs without improvement.

    Of the validation loss, or of the training loss without early stopping
    (``monitor``), by more than ``tol``; as Keras's ``ReduceLROnPlateau``.
    The estimator sets ``patience`` to a quarter of early stopping's, at
    least 2.
    """

    def __init__(self, monitor, patience, tol, factor=0.5):
        self.monitor, self.patience, self.tol = monitor, patience, tol
        self.factor = factor
        self.best, self.bad_epochs = np.inf, 0

    def on_epoch_end(self, state, loss, val_loss):
        value = val_loss if self.monitor == "val_loss" else loss
        if value < self.best - self.tol:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            state.learning_rate, self.bad_epochs = state.learning_rate * self.factor, 0
            state.trainer.set_learning_rate(state.learning_rate)

    def on_train_end(self, state):
        pass


class ProgressBar:
    """Keras's ``Progbar`` over epochs (``verbose=1``).

    In a terminal or a notebook, one bar redrawn in place each epoch, with
    the losses and the time left. Elsewhere (a log file, CI, the workers of
    a search) a redrawn bar would write control characters into the log, so
    one line is printed when the fit ends (Keras's ``verbose=2``). With
    early stopping, a last line names the epoch whose weights were kept, as
    Keras's ``EarlyStopping(restore_best_weights=True, verbose=1)`` does.
    """

    def __init__(self, epochs, stream=None):
        import keras

        stream = sys.stdout if stream is None else stream
        try:
            interactive = bool(stream.isatty())
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            interactive = False
        interactive = interactive or "ipykernel" in sys.modules
        self.bar = keras.utils.Progbar(
            epochs,
            verbose=1 if interactive else 2,
            stateful_metrics=["loss", "val_loss"],
            unit_name="epoch",
        )

    def on_epoch_end(self, state, loss, val_loss):
        values = [("loss", loss)]
        if val_loss is not None:
            values.append(("val_loss", val_loss))
        self.bar.update(state.epoch, values, finalize=state.stop or None)

    def on_train_end(self, state, best_epoch=None):
        if best_epoch is not None:
            print(f"Kept the weights of epoch {best_epoch} (lowest val_loss).")


def _check_finite(name, value, where):
    if not math.isfinite(value):
        raise FloatingPointError(f"The {name} diverged to {value} {where}.")


def _run_epoch(trainer, data, rng):
    if isinstance(data, _data.TrainingData):
        return trainer.run_epoch(
            data, make_batches(data.n_train, trainer.batch_size, rng)
        )
    return data.run_epoch(trainer, rng)  # a _streaming.StreamedData, out of core


def train(trainer, data, *, epochs, rng, learning_rate, callbacks=(), verbose=0):
    """Run epochs until ``epochs`` or until a callback stops training.

    On return the trainer holds the weights to keep (the best validation
    epoch's when an ``EarlyStopping`` is among ``callbacks``, else the last
    epoch's).

    Returns
    -------
    history : dict of lists
        ``loss``, ``val_loss`` (with validation rows) and ``learning_rate``
        per epoch.
    best_epoch : int or None
        1-based epoch whose weights were kept by early stopping.

    Raises
    ------
    FloatingPointError
        If the training or validation loss becomes NaN or infinite.

    """
    history = {"loss": []}
    if data.n_val:
        history["val_loss"] = []
    history["learning_rate"] = []
    state = LoopState(trainer, learning_rate)
    progress = ProgressBar(epochs) if verbose else None
    for state.epoch in range(1, epochs + 1):
        loss, val_loss = _run_epoch(trainer, data, rng)
        _check_finite("training loss", loss, f"at epoch {state.epoch}")
        history["loss"].append(loss)
        history["learning_rate"].append(float(state.learning_rate))
        if val_loss is not None:
            _check_finite("validation loss", val_loss, f"at epoch {state.epoch}")
            history["val_loss"].append(val_loss)
        for callback in callbacks:
            callback.on_epoch_end(state, loss, val_loss)
        if progress:
            progress.on_epoch_end(state, loss, val_loss)
        if state.stop:
            break
    for callback in callbacks:
        callback.on_train_end(state)
    best_epoch = next(
        (c.best_epoch for c in callbacks if isinstance(c, EarlyStopping)), None
    )
    if progress:
        progress.on_train_end(state, best_epoch)
    return history, best_epoch


def train_pass(trainer, X, targets, sample_weight, rng):
    """One pass over the rows given, for ``partial_fit``: the mean training loss.

    The rows are shuffled into batches of the trainer's ``batch_size``
    (``make_batches``: the last batch, or a single one of fewer rows, is
    completed with rows drawn again) and each batch runs as a one-batch
    epoch of the compiled trainer: one compilation serves calls of any
    number of rows. No validation, no callbacks; the trainer keeps the
    state for the next pass.

    Raises
    ------
    FloatingPointError
        If the training loss becomes NaN or infinite.

    """
    batches = make_batches(X.shape[0], trainer.batch_size, rng)
    loss = trainer.run_steps(_data.batch_data(X, targets, sample_weight, batches))
    _check_finite("training loss", loss, "in this partial_fit call")
    return loss
