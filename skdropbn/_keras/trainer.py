"""What every backend's trainer shares: the template network, optimizer and state.

A trainer is one epoch of mini-batch training for one ``TrainerKey``,
compiled into a single backend function that loops over all batches. It is
*stateless* between fits: weights, optimizer slots and RNG state go in
(``load``) and come out (``weights``), so one compiled trainer serves every
fit of the same architecture (the folds and candidates of a grid search)
without tracing again, and no fit can disturb another. The backends' epochs
are in ``trainer_tensorflow.py`` and ``trainer_jax.py``; ``pool.py`` hands
trainers out.
"""

import contextlib
import math
from dataclasses import dataclass

import numpy as np

from skdropbn._keras.layers import RateSource, runtime_dropout
from skdropbn._keras.losses import loss_function, make_optimizer
from skdropbn._keras.network import build_network, initial_weights
from skdropbn._spec import NetworkSpec


@dataclass(frozen=True)
class TrainerKey:
    """What a compiled epoch is specialised to: one trainer per distinct key."""

    architecture: NetworkSpec  # ``NetworkSpec.architecture()``: rate-free
    loss: str  # see ``losses.loss_function``
    optimizer: str  # see ``losses.make_optimizer``
    weight_decay: float
    batch_size: int  # rows per step; every batch of an epoch has this size
    averaging: bool  # whether to keep the moving average of the weights


@dataclass(frozen=True)
class FitConfig:
    """What one fit sets in a trainer without recompiling it."""

    learning_rate: float
    seed: int  # dropout's random stream
    dropout: float
    ema_momentum: float


class Trainer:
    """One epoch of training for one architecture, compiled once and reused.

    A trainer owns a template network and optimizer. Each fit loads its own
    initial weights into the trainer (``load``; fresh ones come from
    ``initial_weights``, in NumPy, so a fit builds no Keras model), runs
    epochs, and takes the result out (``weights``); the epoch function is
    traced on the first fit only. With ``averaging``, the trainer also keeps
    the weights' exponential moving average over the steps (Polyak averaging,
    what Keras's ``use_ema`` computes), with each fit's momentum a runtime
    value; the validation loss and the weights taken out are then the
    average's. A trainer serves one fit at a time
    (``pool.checkout_trainer`` hands out a free one).

    A backend's module (see ``skdropbn._keras.backend.BACKENDS``) subclasses
    this (or ``VariableTrainer``, for state kept in the template's
    variables) with ``_compile`` (the epoch function), ``_set_state``,
    ``_current_state``, ``run_epoch``, ``snapshot``, ``restore``,
    ``set_learning_rate`` and ``weights``, and provides ``TRAINER`` (that
    subclass), ``warm_up(threads)``, ``uniform(seed, inputs)`` (the dropout mask's
    uniforms, from ``layers.hash_bits``) and ``share_tensor(array)``.

    Parameters
    ----------
    key : TrainerKey
        The architecture and the training rules compiled into the epoch.

    """

    def __init__(self, key):
        self.key = key
        self.spec = spec = key.architecture
        self.batch_size = key.batch_size
        self.averaging = averaging = key.averaging
        self._rate = RateSource()
        self._template = build_network(
            spec,
            dropout_layer=runtime_dropout(self._rate),
            placeholder=True,
            combine=False,
        )
        self._dropout = None  # this fit's rate, a backend scalar
        self._momentum = None  # this fit's weight-averaging momentum, likewise
        self._optimizer = make_optimizer(key.optimizer, key.weight_decay)
        self._optimizer.build(self._template.trainable_variables)
        self._loss = CommitteeLoss(loss_function(key.loss), spec.n_members)
        self._lr_index = [v.name for v in self._optimizer.variables].index(
            "learning_rate"
        )
        # ``weights`` lists are in ``model.weights`` order (what Keras's
        # get_weights/set_weights use); the dropout layers' RNG states are
        # not among them: they are set from each fit's seed.
        self.paths = [v.path for v in self._template.weights]
        index = {path: i for i, path in enumerate(self.paths)}
        self._tv_index = [index[v.path] for v in self._template.trainable_variables]
        self._ntv_index = [
            index.get(v.path) for v in self._template.non_trainable_variables
        ]
        self._epoch = self._compile()
        self._resident = None  # the Stream whose state it holds (see pool.py)
        # What it holds between fits: float32 weights (twice with an
        # average) and optimizer slots.
        n_weights = sum(math.prod(v.shape) for v in self._template.weights)
        n_slots = sum(math.prod(v.shape) for v in self._optimizer.variables)
        self.state_bytes = 4 * (n_weights * (2 if averaging else 1) + n_slots)

    def initial_weights(
        self, seed, feature_mean=None, feature_scale=None, output_bias=None
    ):
        """Fresh weights for this architecture (``network.initial_weights``)."""
        return initial_weights(
            self._template, seed, feature_mean, feature_scale, output_bias
        )

    def load(self, weights, config):
        """Start a fit from ``weights``, with ``config``'s rates and seed.

        The optimizer's slots start at zero, dropout's RNG from
        ``config.seed`` and the weights' moving average (momentum
        ``config.ema_momentum``, used only by an ``averaging`` trainer) at
        ``weights``.
        """
        tv = [weights[i] for i in self._tv_index]
        ntv = [
            np.array([config.seed + k, 0], dtype=v.dtype) if i is None else weights[i]
            for k, (i, v) in enumerate(
                zip(self._ntv_index, self._template.non_trainable_variables)
            )
        ]
        # One array of zeros at a time (a generator): the slots are twice the
        # weights, and a list of them all was the top of a wide fit's load.
        ov = (np.zeros(v.shape, dtype=v.dtype) for v in self._optimizer.variables)
        self._start((tv, ntv, ov, tv if self.averaging else []), config)

    def resume(self, state, config):
        """Continue training from ``state``, a ``state()`` of this architecture.

        Optimizer slots, step count, dropout's RNG and the moving average
        carry on from where ``state`` was taken (``partial_fit``); the
        learning rate, dropout rate and momentum are ``config``'s. A state
        of another shape (a file edited by hand, say) is refused with a
        ``ValueError`` before anything is assigned.
        """
        variables = (
            self._template.trainable_variables,
            self._template.non_trainable_variables,
            self._optimizer.variables,
            self._template.trainable_variables if self.averaging else [],
        )
        ok = isinstance(state, tuple | list) and len(state) == len(variables)
        ok = ok and all(
            isinstance(values, list | tuple)
            and len(values) == len(group)
            and all(
                isinstance(a, np.ndarray) and a.shape == tuple(v.shape)
                for a, v in zip(values, group)
            )
            for values, group in zip(state, variables)
        )
        if not ok:
            raise ValueError(
                "The stored training state does not match this network; fit "
                "the estimator again (fit, or partial_fit after clone)."
            )
        state = tuple(
            [np.asarray(a, dtype=v.dtype) for a, v in zip(values, group)]
            for values, group in zip(state, variables)
        )
        self._start(state, config)

    def _start(self, state, config):
        self._set_state(state)
        self.configure(config)

    def configure(self, config):
        """Set ``config``'s learning rate, dropout rate and momentum; keep the state."""
        from keras import ops

        self._config = config  # what the last configure set (see reconfigure)
        self._dropout = ops.convert_to_tensor(np.float32(config.dropout))
        self._momentum = ops.convert_to_tensor(np.float32(config.ema_momentum))
        self.set_learning_rate(config.learning_rate)

    def reconfigure(self, config):
        """``configure``, skipped when ``config`` is what the last one set.

        For a ``partial_fit`` call on the trainer that ran the stream's last
        call (nothing else has changed its rates since).
        """
        if config != getattr(self, "_config", None):
            self.configure(config)

    def state(self):
        """The whole training state as NumPy copies, for ``resume``.

        A tuple of four lists: trainable and non-trainable variables (those
        include dropout's RNG state), optimizer variables (slots, step
        count, learning rate) and the moving average (empty without
        averaging).
        """
        return tuple([to_numpy(v) for v in group] for group in self._current_state())

    def run_steps(self, batches):
        """Train on each one-batch ``TrainingData`` of ``batches``, in order.

        For ``partial_fit``: each is an epoch of one batch, without
        validation. Returns the mean training loss, read back once at the
        end (a read per batch made the device wait for each step).
        """
        one = np.arange(self.batch_size, dtype=np.int32)[None]
        # Summed in Python at the end: a backend addition per batch was a
        # dispatched op each (0.1 ms under JAX, profiled).
        losses = [self._train_batch(data, one) for data in batches]
        return sum(float(loss) for loss in losses) / len(losses)

    def current_weights(self):
        """NumPy copies of the weights ``weights`` would return; training goes on."""
        tv, ntv, _, average = self._current_state()
        return self._to_weights(average if self.averaging else tv, ntv)

    def release(self):
        """Drop the network, optimizer and compiled epoch (the trainer is done).

        The compiled epoch refers back to the trainer, so without this a
        dropped trainer's variables would wait for the cyclic garbage
        collector: a wide fit's memory stayed at 8x its weights after it
        returned (measured, 2 x 6000 units) instead of the 3x of its result.
        """
        self._epoch = self._template = self._optimizer = self._state = None
        self._single = self._validation = None
        self._average = []

    def _to_weights(self, tv, ntv):
        """Arrays of the trained state, in ``model.weights`` order."""
        weights = [None] * len(self.paths)
        for i, value in zip(self._tv_index, tv):
            weights[i] = to_numpy(value)
        for i, value in zip(self._ntv_index, ntv):
            if i is not None:
                weights[i] = to_numpy(value)
        return weights

    def _loss_value(self, y, y_pred, w):
        # Weights are normalised to mean 1 over the data passed in, so this is
        # Keras's "sum over batch size" reduction.
        from keras import ops

        return ops.mean(self._loss.training(y, y_pred) * w)


class CommitteeLoss:
    """Per-sample losses of a network whose outputs may be a committee's.

    Called (validation, early stopping), it scores the committee's
    prediction, the members' mean; ``training`` averages the members' own
    losses, as TabM trains them: each member learns to predict on its own
    (a loss of the mean would let members specialise in cancelling each
    other's errors). For a single network both are the plain loss.
    """

    def __init__(self, loss, n_members):
        self.loss, self.n_members = loss, n_members

    def __call__(self, y, y_pred):
        from keras import ops

        if self.n_members > 1:
            y_pred = ops.mean(y_pred, axis=1)
        return self.loss(y, y_pred)

    def training(self, y, y_pred):
        from keras import ops

        if self.n_members > 1:
            return ops.mean(self.loss(ops.expand_dims(y, 1), y_pred), axis=1)
        return self.loss(y, y_pred)


class VariableTrainer(Trainer):
    """A trainer whose state lives in the template's own Keras variables.

    TensorFlow's and PyTorch's: their Keras optimizers update variables in
    place (TensorFlow's have no ``stateless_apply``). A subclass adds
    ``_compile``, ``run_epoch`` and ``_copy`` (a detached copy of a backend
    tensor); ``_assigning`` is the context assignments run in.
    """

    def _variables(self):
        return (
            self._template.trainable_variables,
            self._template.non_trainable_variables,
            self._optimizer.variables,
            self._average,
        )

    _current_state = _variables

    def _kept_variables(self):
        tv, ntv, _, average = self._variables()
        return [*(average if self.averaging else tv), *ntv]

    def _assigning(self):
        return contextlib.nullcontext()

    def _assign(self, variables, values):
        with self._assigning():
            for var, value in zip(variables, values):
                var.assign(value)

    def _set_state(self, state):
        for variables, values in zip(self._variables(), state):
            self._assign(variables, values)

    def snapshot(self):
        """Copies of the weights ``weights`` would return now (for early stopping).

        Only those: the optimizer's slots and the raw weights of an averaging
        trainer are not needed once training ends, and copying them too would
        double the memory a wide network's fit needs.
        """
        return [self._copy(v.value) for v in self._kept_variables()]

    def restore(self, snapshot):
        """Make ``weights`` return those of ``snapshot``; training is over."""
        self._assign(self._kept_variables(), snapshot)

    def set_learning_rate(self, learning_rate):
        """Change the learning rate between epochs (no retracing)."""
        self._assign([self._optimizer.variables[self._lr_index]], [learning_rate])

    def weights(self):
        """The trained (averaged) weights, NumPy arrays in ``model.weights`` order."""
        return self.current_weights()


def to_numpy(variable):
    """A variable's (or tensor's) value as a NumPy array.

    Through ``.numpy()`` or ``np.array`` of the backend tensor: NumPy 2.4
    warns about Keras 3.15 variables' own ``__array__``.
    """
    value = getattr(variable, "value", variable)  # a tf.Tensor or jax.Array
    if hasattr(value, "detach"):  # a torch.Tensor, perhaps a trainable Parameter
        value = value.detach()
    return np.array(value.numpy() if hasattr(value, "numpy") else value)
