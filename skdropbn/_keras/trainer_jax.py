"""The JAX backend: the epoch as a pure function of the state, ``jax.jit``-compiled.

Imported only through ``skdropbn._keras.backend.backend_module`` once Keras
runs on JAX.
"""

import jax
import jax.numpy as jnp
import numpy as np

from skdropbn._keras.fixes import release_variable_values
from skdropbn._keras.layers import hash_bits
from skdropbn._keras.trainer import Trainer

# XLA options of the trainers' compiled functions (see warm_up).
_COMPILER_OPTIONS = {}


def warm_up(threads=None):
    """With ``threads`` 1 (``backend.thread_budget``), single-threaded programs.

    JAX starts quietly. XLA sizes its CPU thread pool by the cores it sees,
    whatever ``OMP_NUM_THREADS`` says; its pool can be set only through the
    process's ``XLA_FLAGS`` before JAX starts, which is not this library's
    to change, so the trainers' own programs are compiled without Eigen's
    multi-threading instead when the process is to use one thread.
    """
    if threads == 1:
        _COMPILER_OPTIONS["xla_cpu_multi_thread_eigen"] = False


def uniform(seed, inputs):
    """Uniforms in [0, 1) of ``inputs``' shape for the dropout mask (``hash_bits``)."""
    index = jax.lax.iota(jnp.uint32, inputs.size).reshape(inputs.shape)
    bits = hash_bits(
        seed.astype(jnp.uint32),
        index,
        jnp.bitwise_xor,
        lambda h, n: jnp.right_shift(h, jnp.uint32(n)),
        jnp.uint32,
    )
    return bits.astype(jnp.float32) * (1.0 / (1 << 24))


class JaxTrainer(Trainer):
    """JAX: a pure function of the state, compiled with ``jax.jit``."""

    dropping_frees_memory = True

    def _compile(self):
        model, optimizer = self._template, self._optimizer
        # The epoch is a pure function of the state passed in: the template's
        # and the optimizer's own variables serve only as its structure
        # (shapes, dtypes, paths). Their values, zeros of the weights' shapes
        # and two Adam slots, were 3x the weights beside the training state
        # (a wide fit peaked at 9.8x its weights; 6.6x without them and with
        # _base._finish_fit's float32 calibration, 2 x 6000 units,
        # benchmarks/reliability_soak.py).
        release_variable_values([*model.variables, *optimizer.variables])

        def objective(tv, ntv, x, y, w):
            y_pred, ntv = model.stateless_call(tv, ntv, x, training=True)
            return self._loss_value(y, y_pred, w), ntv

        grad_fn = jax.value_and_grad(objective, has_aux=True)

        def epoch(state, X, Y, W, batches, X_val, Y_val, W_val, dropout, momentum):
            self._rate.value = dropout

            def step(i, carry):
                tv, ntv, ov, average, total = carry
                rows = batches[i]
                (value, ntv), grads = grad_fn(tv, ntv, X[rows], Y[rows], W[rows])
                tv, ov = optimizer.stateless_apply(ov, grads, tv)
                if self.averaging:
                    average = [
                        momentum * a + (1.0 - momentum) * v for a, v in zip(average, tv)
                    ]
                return tv, ntv, ov, average, total + value

            n_batches = batches.shape[0]
            tv, ntv, ov, average, total = jax.lax.fori_loop(
                0, n_batches, step, (*state, jax.numpy.float32(0.0))
            )
            if not X_val.shape[0]:  # no validation rows (no early stopping)
                return (tv, ntv, ov, average), total / n_batches, 0.0
            kept = average if self.averaging else tv
            val = validation(kept, ntv, X_val, Y_val, W_val)
            return (tv, ntv, ov, average), total / n_batches, val

        def validation(kept, ntv, X_val, Y_val, W_val):
            # The validation rows a batch at a time (see the TensorFlow epoch).
            chunks = [a.reshape(-1, self.batch_size, *a.shape[1:])
                      for a in (X_val, Y_val, W_val)]  # fmt: skip

            def val_step(i, val_total):
                x, y, w = (c[i] for c in chunks)
                y_pred, _ = model.stateless_call(kept, ntv, x, training=False)
                return val_total + jax.numpy.sum(self._loss(y, y_pred) * w)

            val_total = jax.lax.fori_loop(
                0, chunks[0].shape[0], val_step, jax.numpy.float32(0.0)
            )
            return val_total / X_val.shape[0]

        # The validation loss alone, for data streamed a block at a time.
        self._validation = jax.jit(validation, compiler_options=_COMPILER_OPTIONS)
        # The state goes in and comes out: donated, its buffers are reused
        # for the new state instead of both being alive at once (a wide fit
        # peaked at 13.3x its weights without, 2 x 6000 units).
        return jax.jit(epoch, donate_argnums=0, compiler_options=_COMPILER_OPTIONS)

    def snapshot(self):
        """Copies of the weights ``weights`` would return now.

        Only those (see the TensorFlow trainer's); copies, because the next
        epoch reuses the state's buffers (it is donated).
        """
        tv, ntv, _, average = self._state
        return [v.copy() for v in (average if self.averaging else tv)], [
            v.copy() for v in ntv
        ]

    def restore(self, snapshot):
        """Make ``weights`` return those of ``snapshot``; training is over."""
        kept, ntv = snapshot
        self._state = (kept, ntv, None, kept)

    def _set_state(self, state):
        self._state = tuple([_committed(v) for v in values] for values in state)

    def _current_state(self):
        return self._state

    def set_learning_rate(self, learning_rate):
        """Change the learning rate between epochs (no recompilation)."""
        tv, ntv, ov, average = self._state
        ov = list(ov)
        ov[self._lr_index] = _committed(
            np.asarray(learning_rate, dtype=ov[self._lr_index].dtype)
        )
        self._state = (tv, ntv, ov, average)

    def run_epoch(self, data, batches):
        """One epoch: (mean training loss, validation loss or None if no rows)."""
        inputs = (data.X, data.Y, data.W, batches, data.X_val, data.Y_val, data.W_val)
        self._state, train_loss, val_loss = self._epoch(
            self._state, *inputs, self._dropout, self._momentum
        )
        return float(train_loss), float(val_loss) if data.n_val else None

    def validation_loss(self, data):
        """The validation loss of ``data``'s validation rows, without training."""
        tv, ntv, _, average = self._state
        kept = average if self.averaging else tv
        return float(self._validation(kept, ntv, data.X_val, data.Y_val, data.W_val))

    def _train_batch(self, data, one):
        inputs = (data.X, data.Y, data.W, one, data.X_val, data.Y_val, data.W_val)
        self._state, loss, _ = self._epoch(
            self._state, *inputs, self._dropout, self._momentum
        )
        return loss

    def weights(self):
        """The trained (averaged) weights, NumPy arrays in ``model.weights`` order."""
        weights = self.current_weights()
        self._state = None  # release the arrays
        return weights


def _committed(value):
    """``value`` as a JAX array committed to the default device.

    As the epoch's outputs are: ``jax.jit`` compiles again for arguments that
    differ only in being committed, so a state loaded with ``jnp.asarray``
    (uncommitted) made the second epoch of every fit, and a ``partial_fit``
    call after ``load``, compile the epoch a second time (measured: 1.0 s for
    a second 3-epoch fit of a 1 x 40 network, 0.45 s for the second
    256-row ``partial_fit`` call, where a cached epoch takes milliseconds).
    """
    return jax.device_put(value, jax.devices()[0])


def share_tensor(array):
    """A JAX array that uses ``array``'s memory in place (see the TensorFlow one)."""
    return jax.dlpack.from_dlpack(array)


TRAINER = JaxTrainer  # what skdropbn._keras.pool builds
