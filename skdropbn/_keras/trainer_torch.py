"""The PyTorch backend: eager steps of the network written in plain torch.

Imported only through ``skdropbn._keras.backend.backend_module`` once Keras
runs on PyTorch. Like the TensorFlow trainer, the state lives in the
template's variables between steps (Keras's torch variables wrap torch
parameters, updated in place). The steps do not call the template's Keras
layers: ``TorchNetwork`` computes the same network with torch functions on
those variables' tensors, and ``_Adam`` is Keras's Adam update without
Keras's per-call overhead. See ``TorchTrainer`` for the measurements behind
that design.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from skdropbn._keras.fixes import adam_slots
from skdropbn._keras.trainer import VariableTrainer
from skdropbn._spec import BATCH_NORM_EPSILON, EMBEDDING_CLIP

# Keras's BatchNormalization(momentum=0.99), the template's.
_BATCH_NORM_MOMENTUM = 0.99
# Dropout masks are drawn for this many values at a time, over several steps
# (one hash computation instead of one per step and layer: its 25 small
# operations were a third of a small network's step when drawn per step).
_MASK_BLOCK = 1 << 20


def warm_up(threads=None):
    """Nothing to do: PyTorch starts quietly and reads ``OMP_NUM_THREADS`` itself."""


def uniform(seed, inputs):
    """Uniforms in [0, 1) of ``inputs``' shape for the dropout mask.

    ``layers.hash_bits``'s draws (a test compares them with NumPy's), by
    ``_uniform``.
    """
    return _uniform((seed[0], seed[1]), inputs.shape, inputs.device)


def _signed(c):
    """The int32 with the bits of the uint32 ``c``."""
    return c - (1 << 32) if c >= 1 << 31 else c


def _mix_(h):
    """``hash_bits``'s ``mix`` (lowbias32), in place on int32 ``h``.

    PyTorch has no uint32 multiplication on CPU: in int32, products and sums
    wrap to the same 32 bits, and a logical right shift is the arithmetic
    one with the sign's copies masked off.
    """
    h ^= (h >> 16) & 0xFFFF
    h *= _signed(0x7FEB352D)
    h ^= (h >> 15) & 0x1FFFF
    h *= _signed(0x846CA68B)
    h ^= (h >> 16) & 0xFFFF
    return h


def _bits(seed, shape, device):
    """``hash_bits``'s 24 bits (int32) for ``seed = (s0, s1)``, of shape ``shape``.

    ``s1`` of shape ``(steps, 1, ...)`` draws every step's bits at once,
    ``(steps, *shape)``. In place on one int32 buffer: written with a new
    int64 tensor per operation, as the other backends' (which XLA fuses into
    one loop), the masks took 95 of a lesson network epoch's 580 ms.
    """
    s0, s1 = (torch.as_tensor(s, device=device).to(torch.int32) for s in seed)
    k1 = _mix_(s0 ^ _mix_(s1 + _signed(0x9E3779B9)))
    k2 = _mix_(k1 + _signed(0x85EBCA6B))
    index = torch.arange(math.prod(shape), dtype=torch.int32, device=device)
    h = _mix_(index.reshape(shape) ^ k1)
    h += k2
    h = _mix_(h)
    h >>= 8
    h &= 0xFFFFFF  # the top 24 bits
    return h


def _uniform(seed, shape, device):
    """``_bits`` as uniforms in [0, 1)."""
    return _bits(seed, shape, device).to(torch.float32) * (1.0 / (1 << 24))


_ACTIVATIONS = {
    "relu": F.relu,
    "elu": F.elu,
    "gelu": F.gelu,  # exact (erf), as keras.activations.gelu's default
    "selu": F.selu,
    "silu": F.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softmax": lambda z: torch.softmax(z, dim=-1),
    "linear": lambda z: z,
}


class TorchNetwork:
    """The network of a ``NetworkSpec`` as torch functions of its weights.

    The same arithmetic as the Keras layers of
    ``skdropbn._keras.network.build_network``, up to float32 round-off
    (``tests/test_golden.py`` compares fits with the other backends'):
    batch normalization with the batch's mean and biased variance, its
    moving statistics updated at Keras's momentum 0.99; dropout kept where
    the hash of the layer's seed state ``[seed, step]`` (Keras's
    ``SeedGenerator``, advanced once a step) is at least the rate.

    ``weights`` maps a weight's path (``"dense_0/kernel"``) to its tensor.
    ``masks`` are the dropout layers' masks for one step (``draw_masks``),
    or None to evaluate without dropout and with the moving statistics; in
    training, those statistics are updated in place in ``weights``.
    """

    def __init__(self, spec, template, batch_size):
        self.spec = spec
        self._seeds = [
            template.get_layer(f"dropout_{i}").seed_generator.state
            for i in range(spec.n_layers)
            if spec.dropout > 0
        ]
        # What a dropout layer's input looks like in a step.
        rows = (batch_size, spec.n_members) if spec.n_members > 1 else (batch_size,)
        self._mask_shape = (*rows, spec.units)

    def draw_masks(self, n_steps, rate):
        """The next ``n_steps`` steps' dropout masks, per layer: ``(n_steps, ...)``.

        Each is 0 or ``1 / (1 - rate)``; the layers' seed states move on by
        ``n_steps``, as ``n_steps`` calls of Keras's dropout would move them.
        """
        masks = []
        for state in self._seeds:
            seed = state.value
            with torch.no_grad():
                steps = seed[1] + torch.arange(n_steps, dtype=seed.dtype)
                steps = steps.reshape(-1, *([1] * len(self._mask_shape)))
                bits = _bits((seed[0], steps), self._mask_shape, seed.device)
                # u >= rate with u = bits / 2**24, in integers: the same test
                # (rate * 2**24 rounds up to the first kept value) without
                # a float copy of the bits.
                keep = bits >= math.ceil(rate * (1 << 24))
                masks.append(keep.to(torch.float32).mul_(1.0 / (1.0 - rate)))
                seed[1] += n_steps
        return masks

    def steps_per_draw(self):
        """How many steps' masks ``draw_masks`` should draw at once."""
        return max(1, _MASK_BLOCK // math.prod(self._mask_shape))

    def __call__(self, weights, x, masks=None):
        spec = self.spec
        training = masks is not None
        h = x
        if spec.input_batch_norm:
            h = _batch_norm("input_batch_norm", weights, h, training)
        if spec.feature_embedding == "periodic":
            h = _embed(weights, h, spec.embedded_features)
        if spec.n_members > 1:
            h = h[:, None, :] * weights["members/adapter"]
        activation = _ACTIVATIONS[spec.activation]
        for i in range(spec.n_layers):
            kernel = weights[f"dense_{i}/kernel"]
            if spec.batch_norm == "before":
                h = _batch_norm(f"batch_norm_{i}", weights, h @ kernel, training)
                h = activation(h)
                h = h * masks[i] if training and self._seeds else h
            else:
                h = activation(F.linear(h, kernel.T, weights[f"dense_{i}/bias"]))
                h = h * masks[i] if training and self._seeds else h
                if spec.batch_norm == "after":
                    h = _batch_norm(f"batch_norm_{i}", weights, h, training)
        kernel, bias = weights["output/kernel"], weights["output/bias"]
        if spec.n_members > 1:
            z = torch.einsum("bkw,kwo->bko", h, kernel) + bias
        else:
            z = F.linear(h, kernel.T, bias)
        return _ACTIVATIONS[spec.output_activation](z)


def _batch_norm(name, weights, h, training):
    """Keras's ``BatchNormalization`` over every axis but the last.

    ``torch.native_batch_norm`` (what ``F.batch_norm`` calls) also returns
    the batch's mean and ``1 / sqrt(variance + eps)``: the moving statistics
    come from those (Keras's biased variance; PyTorch's own running variance
    would be the unbiased one), without a second reduction over the batch.
    """
    moving_mean = weights[f"{name}/moving_mean"]
    moving_variance = weights[f"{name}/moving_variance"]
    gamma, beta = weights[f"{name}/gamma"], weights[f"{name}/beta"]
    flat = h.reshape(-1, h.shape[-1])  # a committee's (rows, members, width)
    if not training:
        out = F.batch_norm(
            flat, moving_mean, moving_variance, gamma, beta, eps=BATCH_NORM_EPSILON
        )
        return out.reshape(h.shape)
    out, mean, invstd = torch.native_batch_norm(
        flat, gamma, beta, None, None, True, 0.0, BATCH_NORM_EPSILON
    )
    with torch.no_grad():
        moving_mean.lerp_(mean, 1.0 - _BATCH_NORM_MOMENTUM)
        variance = invstd.square().reciprocal_().sub_(BATCH_NORM_EPSILON)
        moving_variance.lerp_(variance, 1.0 - _BATCH_NORM_MOMENTUM)
    return out.reshape(h.shape)


def _embed(weights, x, features):
    """The periodic embedding (``layers.periodic_embedding_layer``'s ``call``)."""
    z = x * weights["embedding/weight"] + weights["embedding/shift"]
    z = z / torch.sqrt(1.0 + torch.square(z / EMBEDDING_CLIP))
    e = z if features is None else z[:, list(features)]
    p = (2.0 * math.pi) * e[:, :, None] * weights["embedding/frequencies"]
    v = torch.cat([torch.cos(p), torch.sin(p)], dim=-1)
    h = torch.relu(v @ weights["embedding/kernel"] + weights["embedding/bias"])
    return torch.cat([z, h.reshape(x.shape[0], -1)], dim=-1)


class _Adam:
    """Keras's Adam (and AdamW) step, as PyTorch's fused kernel on Keras's own slots.

    ``torch.optim.AdamW(fused=True)`` makes one pass over each weight where
    Keras's torch update makes ten (``torch._foreach`` operations; 11 of a
    lesson network step's 44 ms, cProfile), besides 0.8 ms of bookkeeping
    per call (a third of a small network's step). Its moments are the
    Keras optimizer's slot tensors, so ``Trainer.state`` and ``resume`` see
    them, and Keras's step count advances with it. The two differ in one
    place: Keras adds ``epsilon`` to ``sqrt(v)``, PyTorch to ``sqrt(v / (1 -
    beta_2**t))``; PyTorch is given ``epsilon / sqrt(1 - beta_2**t)`` each
    step, which makes its update Keras's. Weight decay is decoupled in both
    (``w * (1 - learning_rate * weight_decay)`` before the step).
    """

    def __init__(self, optimizer, variables, learning_rate):
        m, v = adam_slots(optimizer, variables)
        params = [p.value for p in variables]
        self.learning_rate = learning_rate.value
        self.iterations = optimizer.iterations.value
        self.beta_2, self.epsilon = optimizer.beta_2, optimizer.epsilon
        self.torch = torch.optim.AdamW(
            params,
            betas=(optimizer.beta_1, optimizer.beta_2),
            weight_decay=optimizer.weight_decay or 0.0,
            fused=True,
        )
        self._steps = []
        for p, m_p, v_p in zip(params, m, v):
            step = torch.zeros((), dtype=torch.float32)
            self._steps.append(step)
            self.torch.state[p] = {"step": step, "exp_avg": m_p.value,
                                   "exp_avg_sq": v_p.value}  # fmt: skip

    @torch.no_grad()
    def apply(self):
        """One step from the parameters' ``grad``."""
        t = float(self.iterations) + 1.0
        group = self.torch.param_groups[0]
        group["lr"] = float(self.learning_rate)
        group["eps"] = self.epsilon / math.sqrt(1.0 - self.beta_2**t)
        for step in self._steps:
            step.fill_(t - 1.0)  # PyTorch adds the step's 1
        self.torch.step()
        self.iterations += 1


class TorchTrainer(VariableTrainer):
    """PyTorch: eager steps of ``TorchNetwork`` on the template's variables.

    Measured on the small (2 x 64) and lesson (3 x 1024) networks of
    ``benchmarks/epoch_vs_fit.py`` (red wine), against Keras's torch
    ``model.fit``: the template's Keras layers called eagerly, as
    ``model.fit`` calls them, gave 0.84x and 0.91x its speed (Keras's layer
    machinery was 1.4 of a 1.9 s fit); Keras's ``jit_compile=True``
    (``torch.compile``) took 402 s to compile the small network's first
    epoch, and compiled again later. So: plain torch, eager, few operations
    a step (fused ``linear`` and ``batch_norm``, the dropout masks of many
    steps drawn at once, Keras's Adam update called directly). Gradients
    come from autograd; optimizers other than Adam and AdamW are Keras's
    own ``apply``.
    """

    dropping_frees_memory = True

    def _compile(self):
        import keras

        model = self._template
        tv = model.trainable_variables
        self._average = [
            keras.Variable(np.zeros(v.shape, v.dtype), trainable=False)
            for v in (tv if self.averaging else [])
        ]
        self._network = TorchNetwork(self.spec, model, self.batch_size)
        # The variables' tensors are updated in place (Keras's torch
        # Variable.assign copies into them): looked up once.
        self._tensors = {v.path: v.value for v in model.weights}
        self._params = [v.value for v in tv]
        self._trainable_paths = [v.path for v in tv]
        lr = self._optimizer.variables[self._lr_index]
        adam = self.key.optimizer in ("adam", "adamw")
        self._adam = _Adam(self._optimizer, tv, lr) if adam else None

    def _assigning(self):
        return torch.no_grad()

    def _copy(self, value):
        return value.detach().clone()

    def _apply(self):
        if self._adam is not None:
            self._adam.apply()
            return
        with torch.no_grad():
            grads = [p.grad for p in self._params]
            self._optimizer.apply(grads, self._template.trainable_variables)

    def _step(self, x, y, w, masks, momentum):
        for p in self._params:
            p.grad = None
        value = self._loss_value(y, self._network(self._tensors, x, masks), w)
        value.backward()
        self._apply()
        if self.averaging:
            with torch.no_grad():
                average = [a.value for a in self._average]
                torch._foreach_lerp_(average, self._params, 1.0 - momentum)
        return value.detach()

    def _validation_loss(self, data):
        tensors = self._tensors
        if self.averaging:
            kept = zip(self._trainable_paths, (a.value for a in self._average))
            tensors = {**tensors, **dict(kept)}
        total = torch.zeros((), dtype=torch.float32)
        with torch.no_grad():
            for start in range(0, data.X_val.shape[0], self.batch_size):
                rows = slice(start, start + self.batch_size)
                x, y, w = data.X_val[rows], data.Y_val[rows], data.W_val[rows]
                total += torch.sum(self._loss(y, self._network(tensors, x)) * w)
        return float(total / data.X_val.shape[0])

    def validation_loss(self, data):
        """The validation loss of ``data``'s validation rows, without training."""
        return self._validation_loss(data)

    def _train_batch(self, data, one):
        masks = self._network.draw_masks(1, float(self._dropout))
        step_masks = [m[0] for m in masks]
        return self._step(data.X, data.Y, data.W, step_masks, float(self._momentum))

    def run_epoch(self, data, batches):
        """One epoch: (mean training loss, validation loss or None if no rows)."""
        rate, momentum = float(self._dropout), float(self._momentum)
        n_batches = len(batches)
        per_draw = self._network.steps_per_draw()
        total = torch.zeros((), dtype=torch.float32)
        batches = torch.from_numpy(batches)
        for first in range(0, n_batches, per_draw):
            n = min(per_draw, n_batches - first)
            masks = self._network.draw_masks(n, rate)
            for t in range(n):
                rows = batches[first + t]
                x, y, w = data.X[rows], data.Y[rows], data.W[rows]
                total += self._step(x, y, w, [m[t] for m in masks], momentum)
        train = float(total / n_batches)
        return train, self._validation_loss(data) if data.n_val else None


def share_tensor(array):
    """A torch tensor that uses ``array``'s memory in place (``torch.from_numpy``)."""
    return torch.from_numpy(array)


TRAINER = TorchTrainer  # what skdropbn._keras.pool builds
