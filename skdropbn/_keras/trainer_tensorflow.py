"""The TensorFlow backend: the epoch as one XLA-compiled ``tf.function``.

Imported only through ``skdropbn._keras.backend.backend_module`` once Keras
runs on TensorFlow.
"""

import numpy as np
import tensorflow as tf

from skdropbn._keras.backend import native_stderr_filtered
from skdropbn._keras.layers import hash_bits
from skdropbn._keras.trainer import VariableTrainer


def warm_up(threads=None):
    """Run TensorFlow's one-time device and compiler set-up (it prints notices).

    ``threads`` is unused: TensorFlow sizes its pools by ``OMP_NUM_THREADS``
    itself.
    """
    tf.config.list_logical_devices()
    tf.function(lambda x: x + 1.0, jit_compile=True)(tf.zeros(1))


def uniform(seed, inputs):
    """Uniforms in [0, 1) of ``inputs``' shape for the dropout mask (``hash_bits``)."""
    shape = tf.shape(inputs)
    index = tf.reshape(tf.bitcast(tf.range(tf.size(inputs)), tf.uint32), shape)
    bits = hash_bits(
        tf.bitcast(tf.cast(seed, tf.int32), tf.uint32),
        index,
        tf.bitwise.bitwise_xor,
        lambda h, n: tf.bitwise.right_shift(h, tf.constant(n, tf.uint32)),
        lambda c: tf.constant(c, tf.uint32),
    )
    return tf.cast(bits, tf.float32) * (1.0 / (1 << 24))


class TensorFlowTrainer(VariableTrainer):
    """TensorFlow: the template's own variables, updated in a ``tf.function``.

    Keras's TensorFlow optimizers have no ``stateless_apply``, so the state
    lives in the template's variables between epochs.
    """

    # XLA keeps what it compiled after the trainer is gone (see pool.py).
    dropping_frees_memory = False

    def _compile(self):
        import keras

        model, optimizer = self._template, self._optimizer
        self._average = [
            keras.Variable(np.zeros(v.shape, v.dtype), trainable=False)
            for v in (model.trainable_variables if self.averaging else [])
        ]

        def epoch(X, Y, W, batches, X_val, Y_val, W_val, dropout, momentum, validate):
            self._rate.value = dropout

            def step(i, total):
                rows = batches[i]
                x, y, w = (tf.gather(a, rows) for a in (X, Y, W))
                with tf.GradientTape() as tape:
                    value = self._loss_value(y, model(x, training=True), w)
                grads = tape.gradient(value, model.trainable_variables)
                optimizer.apply(grads, model.trainable_variables)
                for a, v in zip(self._average, model.trainable_variables):
                    a.assign(momentum * a.value + (1.0 - momentum) * v.value)
                return i + 1, total + value

            n_batches = tf.shape(batches)[0]
            _, total = tf.while_loop(
                lambda i, _: i < n_batches, step, (tf.constant(0), tf.constant(0.0))
            )
            train = total / tf.cast(n_batches, tf.float32)
            if not validate:  # (a Python bool: one trace with, one without)
                return train, tf.constant(0.0)
            return train, validation(X_val, Y_val, W_val)

        def validation(X_val, Y_val, W_val):
            # The validation rows (a multiple of the batch size) a batch at a
            # time: memory stays that of one batch however many rows there are.
            chunks = [tf.reshape(a, (-1, self.batch_size, *a.shape[1:]))
                      for a in (X_val, Y_val, W_val)]  # fmt: skip
            n_chunks = tf.shape(chunks[0])[0]
            average = [a.value for a in self._average]
            ntv = [v.value for v in model.non_trainable_variables]

            def val_step(i, val_total):
                x, y, w = (c[i] for c in chunks)
                if self.averaging:
                    y_pred, _ = model.stateless_call(average, ntv, x, training=False)
                else:
                    y_pred = model(x, training=False)
                return i + 1, val_total + tf.reduce_sum(self._loss(y, y_pred) * w)

            _, val_total = tf.while_loop(
                lambda i, _: i < n_chunks, val_step, (tf.constant(0), tf.constant(0.0))
            )
            return val_total / tf.cast(tf.shape(X_val)[0], tf.float32)

        # One trace for any number of rows (XLA still compiles each shape,
        # but Python traces once): data of many sizes neither pays tracing
        # again nor triggers tf.function's retracing warning.
        rows = tf.TensorSpec((None, self.spec.n_features), tf.float32)
        targets = tf.TensorSpec((None, self.spec.n_outputs), tf.float32)
        weights = tf.TensorSpec((None,), tf.float32)
        batches = tf.TensorSpec((None, self.batch_size), tf.int32)
        scalar = tf.TensorSpec((), tf.float32)
        signature = [rows, targets, weights, batches, rows, targets, weights]

        # XLA fuses the element-wise work (dropout, batch norm, Adam) around
        # the matrix products: 1.3-2x faster epochs on CPU.
        def traced(validate):
            # A function of exactly the signature's arguments (not a
            # functools.partial with a keyword): its concrete function then
            # binds arguments directly, where the partial's failed to and fell
            # back on a path that formatted every argument's repr (0.6 of
            # a one-batch call's 0.8 ms, profiled).
            def run(X, Y, W, batches, X_val, Y_val, W_val, dropout, momentum):
                inputs = (X, Y, W, batches, X_val, Y_val, W_val, dropout, momentum)
                return epoch(*inputs, validate=validate)

            return tf.function(
                run, input_signature=[*signature, scalar, scalar], jit_compile=True
            )

        # The validation loss alone, for data streamed a block at a time.
        self._validation = tf.function(
            validation, input_signature=[rows, targets, weights], jit_compile=True
        )
        return {validate: traced(validate) for validate in (False, True)}

    def _copy(self, value):
        return tf.identity(value)

    def run_epoch(self, data, batches):
        """One epoch: (mean training loss, validation loss or None if no rows)."""
        validate = data.n_val > 0
        epoch = self._epoch[validate]
        inputs = (data.X, data.Y, data.W, batches, data.X_val, data.Y_val, data.W_val)
        inputs = (*inputs, self._dropout, self._momentum)
        if epoch.experimental_get_tracing_count():
            train_loss, val_loss = epoch(*inputs)
        else:  # the first call traces and compiles: TensorFlow's once-only notices
            with native_stderr_filtered():
                train_loss, val_loss = epoch(*inputs)
        return float(train_loss), float(val_loss) if validate else None

    def validation_loss(self, data):
        """The validation loss of ``data``'s validation rows, without training."""
        inputs = (data.X_val, data.Y_val, data.W_val)
        if self._validation.experimental_get_tracing_count():
            return float(self._validation(*inputs))
        with native_stderr_filtered():
            return float(self._validation(*inputs))

    def _train_batch(self, data, one):
        # Through the traced concrete function: calling it skips the
        # tf.function's signature matching, which was half of a one-batch
        # call's 0.6 ms (a 9-argument stand-in, measured).
        single = getattr(self, "_single", None)
        if single is None:
            loss, _ = self.run_epoch(data, one)  # traces (quietly) if no fit has
            self._single = self._epoch[False].get_concrete_function()
            self._one = tf.constant(one)
            return loss
        inputs = (data.X, data.Y, data.W, self._one, data.X_val, data.Y_val, data.W_val)
        return single(*inputs, self._dropout, self._momentum)[0]


def share_tensor(array):
    """A backend tensor that uses ``array``'s memory in place (no copy).

    ``array`` must be C-contiguous and 64-byte aligned (``_base._gather``
    makes such buffers), and must not be written to afterwards. Both
    backends copy whatever ``convert_to_tensor`` is given; DLPack lets them
    share the buffer instead, which keeps the tensor's owner (the NumPy
    array) alive as long as the tensor.
    """
    return tf.experimental.dlpack.from_dlpack(array.__dlpack__())


TRAINER = TensorFlowTrainer  # what skdropbn._keras.pool builds
