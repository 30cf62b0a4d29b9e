"""The inference path: a NumPy forward pass over the folded fitted network.

``predict`` does not call Keras. The fitted network, with batch normalization
folded into the ``Dense`` kernels (``export_layers``, below), is a
short chain of matrix products, which NumPy evaluates in microseconds for a
few rows and at BLAS speed for many. It needs no backend in the process and
is thread-safe.

The deterministic pass runs in float64: it then equals ``model_.predict`` to
float32 round-off while a row's prediction does not depend on which other
rows share its call (float32 BLAS kernels round differently for different
matrix shapes). Monte-Carlo passes, which are random anyway, run in float32.
"""

import numpy as np
from scipy.special import erf, log_expit, log_softmax, logsumexp

from skdropbn._spec import BATCH_NORM_EPSILON, EMBEDDING_CLIP

_SQRT_2_OVER_PI = np.float32(np.sqrt(2.0 / np.pi))


def _sigmoid(z):
    # Split by sign so that exp never overflows.
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def _selu(z):
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return (scale * np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))).astype(
        z.dtype
    )


ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0, out=z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))).astype(z.dtype),
    "selu": _selu,
    "gelu": lambda z: (0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))).astype(z.dtype),
    "silu": lambda z: z * _sigmoid(z),
    "tanh": lambda z: np.tanh(z, out=z),
    "sigmoid": _sigmoid,
    "softmax": _softmax,
    "linear": lambda z: z,
}


def _embed(layer, x):
    """The periodic embedding (``_keras.layers.periodic_embedding_layer``)."""
    dtype = x.dtype
    z = x * layer["weight"].astype(dtype, copy=False) + layer["shift"].astype(dtype)
    z /= np.sqrt(1.0 + np.square(z / dtype.type(EMBEDDING_CLIP)))
    # Only the features with more than two values (``NetworkSpec.embedded_features``).
    features = layer.get("features")
    e = z if features is None else z[:, np.asarray(features, np.intp)]
    p = e[:, :, None] * layer["frequencies"].astype(dtype, copy=False)
    v = np.concatenate([np.cos(p), np.sin(p)], axis=-1)
    h = v @ layer["kernel"].astype(dtype, copy=False) + layer["bias"].astype(dtype)
    np.maximum(h, 0, out=h)
    return np.concatenate([z, h.reshape(x.shape[0], -1)], axis=1)


def _embedding_width(layers):
    """Values per row of the embedding's widest step (0 without one)."""
    first = layers[0]
    if isinstance(first, dict) and first["kind"] == "periodic":
        return first["frequencies"].size * 2
    return 0


def _n_members(layers):
    """The committee's size: 1 without a ``"members"`` step."""
    for layer in layers:
        if isinstance(layer, dict) and layer["kind"] == "members":
            return layer["scale"].shape[0]
    return 1


def _rows_per_chunk(layers, chunk_size):
    """Rows per block: about 2**20 values in the widest step, 256 to ``chunk_size``.

    Blocks of 8 MB (float64) keep the matrix products at BLAS speed while
    the temporaries stay small enough to be reused rather than paged in
    afresh for every block: 1,024 rows of the lesson's 3 x 1024 network run
    faster than 16,384-row blocks (and than 256-row ones). A committee's
    row is ``n_members`` rows in the shared layers.
    """
    members = _n_members(layers)
    widths = [layer[0].shape[-1] for layer in layers if not isinstance(layer, dict)]
    widest = max([_embedding_width(layers), *(w * members for w in widths)])
    return max(256 // members, min(chunk_size, (1 << 20) // widest), 1)


def _combine_members(z, activation, logits):
    """The committee's output from its members' ``z``, ``(rows, members, outputs)``.

    The mean of the members' activated outputs (probabilities for a
    classifier), what ``model_`` returns; with ``logits``, the logits of
    that mean, computed in log space (``log mean p`` by logsumexp), so that
    ``decision_function``, ``predict_proba`` and ``predict`` agree.
    """
    k = z.shape[1]
    if activation == "linear":
        return z.mean(axis=1)
    if not logits:
        return ACTIVATIONS[activation](z).mean(axis=1)
    if activation == "sigmoid":
        # logit(mean p) = log mean p - log mean (1 - p)
        return logsumexp(log_expit(z), axis=1) - logsumexp(log_expit(-z), axis=1)
    # softmax: log of the mean probabilities is a logit vector of that mean.
    return logsumexp(log_softmax(z, axis=-1), axis=1) - np.log(k)


# Above this many values (64 MB in float32), mc_moments casts the float64
# layers one at a time as it uses them instead of all at once: a float32 copy
# of the whole network during the calibration of return_std was the top of a
# wide fit's memory, 9.4x its weights (2 x 4000 units, TensorFlow), beside
# the trainer and the float64 layers (benchmarks/reliability_soak.py). Below
# it, one cast is cheaper than one per block.
MC_WHOLE_CAST_VALUES = 1 << 24


def _n_values(layers):
    """Number of values in the folded network's arrays."""
    arrays = (
        layer.values() if isinstance(layer, dict) else layer[:2] for layer in layers
    )
    return sum(a.size for group in arrays for a in group if isinstance(a, np.ndarray))


def as_dtype(layers, dtype):
    """The folded network with its arrays cast to ``dtype``."""
    out = []
    for layer in layers:
        if isinstance(layer, dict):
            out.append(
                {
                    k: v.astype(dtype) if isinstance(v, np.ndarray) else v
                    for k, v in layer.items()
                }
            )
        else:
            kernel, bias, activation, rate = layer
            out.append((kernel.astype(dtype), bias.astype(dtype), activation, rate))
    return out


def _dropout(h, rate, rng):
    # 16-bit draws are twice as fast as float ones; the kept share is
    # 1 - threshold / 2**16, within 1e-5 of 1 - rate.
    threshold = round(rate * 65536)
    keep = rng.integers(0, 65536, h.shape, dtype=np.uint16) >= threshold
    h *= keep / h.dtype.type(1.0 - threshold / 65536)


def forward(layers, X, *, rng=None, logits=False, chunk_size=16384, members=False):
    """Evaluate the folded network on ``X`` (float32, 2-D).

    Parameters
    ----------
    layers : list of (kernel, bias, activation, dropout)
        As returned by ``export_layers``; a feature
        embedding, if any, comes first as a dict of arrays.
    X : ndarray of shape (n_samples, n_features)
        Its dtype (float64 or float32) is the precision of the pass.
    rng : numpy.random.Generator or None
        If given, dropout stays on (Monte-Carlo dropout) and masks are drawn
        from it; if None, the pass is deterministic (dropout off).
    logits : bool
        Stop before the output activation (sigmoid / softmax).
    chunk_size : int
        Most rows per block, to bound the memory of the hidden activations
        (fewer for wide networks, see ``_rows_per_chunk``).
    members : bool
        A committee's every member's output, ``(n_samples, n_members,
        n_outputs)``, rather than the committee's (``_combine_members``).

    """
    out = []
    chunk_size = _rows_per_chunk(layers, chunk_size)
    last = len(layers) - 1
    for start in range(0, X.shape[0], chunk_size):
        h = X[start : start + chunk_size]
        n = h.shape[0]
        for i, layer in enumerate(layers):
            if isinstance(layer, dict):
                if layer["kind"] == "periodic":
                    h = _embed(layer, h)
                else:  # "members": each row once per member, through its adapter
                    scale = layer["scale"].astype(h.dtype, copy=False)
                    h = h[:, None, :] * scale + layer["shift"].astype(h.dtype)
                    h = h.reshape(-1, scale.shape[1])
                continue
            kernel, bias, activation, rate = layer
            if kernel.ndim == 3:  # a committee's output heads
                h = h.reshape(n, kernel.shape[0], kernel.shape[1])
                h = np.einsum("nkw,kwo->nko", h, kernel.astype(h.dtype, copy=False))
                h += bias.astype(h.dtype, copy=False)
                if members:
                    h = h if logits else ACTIVATIONS[activation](h)
                else:
                    h = _combine_members(h, activation, logits)
                continue
            # The bias in place: a second array of the block's size per layer
            # costs a quarter of a large call's time.
            h = h @ kernel.astype(h.dtype, copy=False)
            h += bias.astype(h.dtype, copy=False)
            if not (logits and i == last):
                h = ACTIVATIONS[activation](h)
            if rng is not None and rate > 0:
                _dropout(h, rate, rng)
        out.append(h)
    if len(out) == 1:
        return out[0]
    return np.concatenate(out, axis=0)


def mc_moments(layers, X, n_passes, rng, *, logits=False, transform=None):
    """Mean and variance over ``n_passes`` Monte-Carlo dropout passes.

    Parameters
    ----------
    layers : list of (kernel, bias, activation, dropout)
        As returned by ``export_layers``.
    X : ndarray of shape (n_samples, n_features)
        Input rows.
    n_passes : int
        Number of stochastic passes.
    rng : numpy.random.Generator
        Source of the dropout masks.
    logits : bool
        Stop before the output activation.
    transform : callable or None
        Applied to each pass's outputs (rows x outputs, float64) before
        averaging, e.g. logits to class probabilities.

    Returns
    -------
    mean, var : ndarray of shape (n_samples, n_outputs), float64

    Notes
    -----
    A committee's members count as draws too: the moments are over every
    member of every pass, so the variance holds the members' disagreement
    as well as dropout's (the mean is the committee's, averaged over the
    passes).

    The passes run in float32: with the network cast to float32 once, or,
    for a network of more than ``MC_WHOLE_CAST_VALUES`` values, a layer at
    a time in each block (``forward`` casts each kernel it multiplies by),
    so that a wide network is not held in float32 beside its float64
    layers. The passes are stacked into blocks of about 65,536 rows so
    that the matrix products stay large; each block is evaluated a few
    thousand rows at a time (``_rows_per_chunk``) and folded into running
    moments (Chan et al.'s pairwise update), so memory stays at a few tens of
    MB whatever ``n_samples`` and ``n_passes`` are.
    """
    if _n_values(layers) <= MC_WHOLE_CAST_VALUES:
        layers = as_dtype(layers, np.float32)
    X = X.astype(np.float32)
    width = _embedding_width(layers)
    if width and X.shape[0] * width <= (1 << 24):
        # The embedding has no dropout: the same for every pass, computed once.
        X, layers = _embed(layers[0], X), layers[1:]
    n, n_members = X.shape[0], _n_members(layers)
    block = max(1, 65536 // max(n * n_members, 1))
    count, mean, m2 = 0, 0.0, 0.0
    for start in range(0, n_passes, block):
        k = min(block, n_passes - start)
        out = forward(
            layers, np.tile(X, (k, 1)), rng=rng, logits=logits, members=n_members > 1
        )
        out = out.astype(np.float64)
        if n_members > 1:  # (passes * rows, members, outputs) -> draws of rows
            out = out.reshape(k, n, n_members, -1).swapaxes(1, 2)
            out = out.reshape(k * n_members * n, -1)
            k *= n_members
        if transform is not None:
            out = transform(out)
        out = out.reshape(k, n, -1)
        b_mean = out.mean(axis=0)
        b_m2 = np.square(out - b_mean).sum(axis=0)
        total = count + k
        delta = b_mean - mean
        mean = mean + delta * (k / total)
        m2 = m2 + b_m2 + np.square(delta) * (count * k / total)
        count = total
    return mean, m2 / count


class _FittedWeights:
    """The fitted arrays by path, taken out one float64 copy at a time.

    Folding works in place on these copies: a wide kernel is never held in
    float64 twice (measured: the export was a 9.5x-the-weights peak of a
    wide fit when all were converted first).
    """

    def __init__(self, weights, paths, dtype):
        self.by_path = dict(zip(paths, weights))
        self.dtype = dtype

    def __call__(self, path):
        return np.array(self.by_path[path], dtype=self.dtype)

    def batch_norm(self, name):
        """Batch norm at inference as ``x * scale + shift``."""
        gamma, beta, mean, var = (
            self(f"{name}/{part}")
            for part in ("gamma", "beta", "moving_mean", "moving_variance")
        )
        scale = gamma / np.sqrt(var + BATCH_NORM_EPSILON)
        return scale, beta - mean * scale

    def dense(self, name, pending):
        """Kernel and bias of Dense ``name``, the affine map ``pending`` folded in.

        A committee's output heads have a kernel per member, ``(members,
        width, outputs)``; the map folds into each.
        """
        kernel = self(f"{name}/kernel")
        bias = f"{name}/bias"
        if bias in self.by_path:
            bias = self(bias)
        else:
            bias = np.zeros(kernel.shape[-1], self.dtype)
        if pending is not None:
            scale, shift = pending
            # Not ``shift @ kernel``: a BLAS call leaves OpenBLAS's threads
            # spinning for a while, and on 2 cores the next training step
            # (a partial_fit stream exports after every call) then ran at
            # half speed: 24 ms instead of 13 for the lesson network's.
            bias = bias + np.einsum("i,...ij->...j", shift, kernel)
            kernel *= scale[:, None]
        return kernel, bias

    def members(self, pending):
        """A committee's adapters, ``x * scale + shift`` per member.

        An affine map waiting before them (the input batch norm without an
        embedding) folds in: ``(x * s + t) * r = x * (s r) + t r``.
        """
        adapter = self("members/adapter")
        scale, shift = adapter, np.zeros_like(adapter)
        if pending is not None:
            s, t = pending
            scale, shift = adapter * s, adapter * t
        return {"kind": "members", "scale": scale, "shift": shift}

    def embedding(self, pending, features):
        """The periodic embedding's arrays, the affine map ``pending`` folded in.

        The embedding's first step is a per-feature affine map too: the input
        batch norm folds into it.
        """
        weight, shift = self("embedding/weight"), self("embedding/shift")
        if pending is not None:
            scale, bn_shift = pending
            weight, shift = scale * weight, bn_shift * weight + shift
        # "features" only when some features are left out: the layers of a
        # file saved before embedded_features existed fold to the same dict.
        subset = {} if features is None else {"features": tuple(features)}
        return {
            **subset,
            "kind": "periodic",
            "weight": weight,
            "shift": shift,
            "frequencies": 2.0 * np.pi * self("embedding/frequencies"),
            "kernel": self("embedding/kernel"),
            "bias": self("embedding/bias"),
        }


def export_layers(weights, paths, spec, dtype=np.float64):
    """Fold the fitted network into ``[(kernel, bias, activation, dropout)]``.

    A feature embedding comes first, as a dict of its arrays (``"kind"``:
    ``"periodic"``; see ``skdropbn._keras.layers.periodic_embedding_layer``),
    then a committee's adapters (``"kind"``: ``"members"``); a committee's
    output layer has a kernel per member (``skdropbn._keras.layers.committee_layers``).

    ``weights`` are NumPy arrays named by ``paths`` (``"dense_0/kernel"``,
    ...). Inference uses batch normalization's moving statistics, which makes
    it an affine map that merges into the adjacent ``Dense`` layer: into the
    next kernel for the lesson's order (Dense -> Dropout -> BN), into the same
    kernel for ``"before"``. Dropout commutes with that folding because it
    only scales the inputs of the affine map.

    Folded in ``dtype``: float64 for the deterministic pass, float32 for the
    calibration of ``return_std`` at the end of a fit.
    """
    fitted = _FittedWeights(weights, paths, dtype)
    # An affine map (scale, shift) waiting to fold into the next layer.
    pending = fitted.batch_norm("input_batch_norm") if spec.input_batch_norm else None
    layers = []
    if spec.feature_embedding == "periodic":
        layers.append(fitted.embedding(pending, spec.embedded_features))
        pending = None
    if spec.n_members > 1:
        layers.append(fitted.members(pending))
        pending = None
    for i in range(spec.n_layers):
        kernel, bias = fitted.dense(f"dense_{i}", pending)
        pending = None
        if spec.batch_norm == "before":
            scale, shift = fitted.batch_norm(f"batch_norm_{i}")
            kernel *= scale[None, :]
            bias = bias * scale + shift
        elif spec.batch_norm == "after":
            pending = fitted.batch_norm(f"batch_norm_{i}")
        layers.append((kernel, bias, spec.activation, spec.dropout))
    kernel, bias = fitted.dense("output", pending)
    layers.append((kernel, bias, spec.output_activation, 0.0))
    return layers
