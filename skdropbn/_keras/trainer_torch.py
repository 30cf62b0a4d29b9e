"""The PyTorch backend: an eager epoch over the template's own variables.

Imported only through ``skdropbn._keras.backend.backend_module`` once Keras
runs on PyTorch. Like the TensorFlow trainer, the state lives in the
template's variables between steps; unlike it, the epoch is a Python loop of
eager steps (see ``TorchTrainer`` for the measurements behind that choice).
"""

import numpy as np
import torch

from skdropbn._keras.layers import hash_bits
from skdropbn._keras.trainer import VariableTrainer

_LOW_32 = 0xFFFFFFFF


def warm_up():
    """Nothing to do: PyTorch starts quietly."""


def uniform(seed, inputs):
    """Uniforms in [0, 1) of ``inputs``' shape for the dropout mask (``hash_bits``).

    In int64 with every shift's operand cut to its low 32 bits: PyTorch's
    uint32 lacks multiplication on CPU. Products and sums are exact in their
    low 32 bits whatever the high bits hold (arithmetic modulo 2**64), and a
    shift is the only operation through which high bits could reach the low
    ones, so the draws equal the uint32 ones of the other backends (a test
    compares them with NumPy's).
    """
    index = torch.arange(inputs.numel(), dtype=torch.int64, device=inputs.device)
    bits = hash_bits(
        seed.to(torch.int64) & _LOW_32,
        index.reshape(inputs.shape),
        torch.bitwise_xor,
        lambda h, n: (h & _LOW_32) >> n,
        lambda c: torch.tensor(c, dtype=torch.int64, device=inputs.device),
    )
    return (bits & 0xFFFFFF).to(torch.float32) * (1.0 / (1 << 24))


class TorchTrainer(VariableTrainer):
    """PyTorch: eager steps on the template's variables, gradients by autograd."""

    dropping_frees_memory = True

    def _compile(self):
        import keras

        self._average = [
            keras.Variable(np.zeros(v.shape, v.dtype), trainable=False)
            for v in (self._template.trainable_variables if self.averaging else [])
        ]

    def _assigning(self):
        return torch.no_grad()

    def _copy(self, value):
        return value.detach().clone()

    def _step(self, x, y, w, momentum):
        model, tv = self._template, self._template.trainable_variables
        for v in tv:
            v.value.grad = None
        value = self._loss_value(y, model(x, training=True), w)
        value.backward()
        with torch.no_grad():
            self._optimizer.apply([v.value.grad for v in tv], tv)
            for a, v in zip(self._average, tv):
                a.value.mul_(momentum).add_(v.value, alpha=1.0 - momentum)
        return value.detach()

    def _validation_loss(self, data):
        model = self._template
        kept = [a.value for a in self._average]
        ntv = [v.value for v in model.non_trainable_variables]
        total = torch.zeros((), dtype=torch.float32)
        with torch.no_grad():
            for start in range(0, data.X_val.shape[0], self.batch_size):
                rows = slice(start, start + self.batch_size)
                x, y, w = data.X_val[rows], data.Y_val[rows], data.W_val[rows]
                if self.averaging:
                    y_pred, _ = model.stateless_call(kept, ntv, x, training=False)
                else:
                    y_pred = model(x, training=False)
                total += torch.sum(self._loss(y, y_pred) * w)
        return float(total / data.X_val.shape[0])

    def validation_loss(self, data):
        """The validation loss of ``data``'s validation rows, without training."""
        return self._validation_loss(data)

    def _train_batch(self, data, one):
        self._rate.value = self._dropout
        return self._step(data.X, data.Y, data.W, float(self._momentum))

    def run_epoch(self, data, batches):
        """One epoch: (mean training loss, validation loss or None if no rows)."""
        self._rate.value = self._dropout
        momentum = float(self._momentum)
        total = torch.zeros((), dtype=torch.float32)
        for rows in torch.from_numpy(batches):
            total += self._step(data.X[rows], data.Y[rows], data.W[rows], momentum)
        train = float(total / len(batches))
        return train, self._validation_loss(data) if data.n_val else None


def share_tensor(array):
    """A torch tensor that uses ``array``'s memory in place (``torch.from_numpy``)."""
    return torch.from_numpy(array)


TRAINER = TorchTrainer  # what skdropbn._keras.pool builds
