"""The Keras model of a ``NetworkSpec``, and its fresh weights drawn in NumPy.

The lesson's block is ``Dense(activation) -> Dropout -> BatchNormalization``
(``batch_norm="after"``); ``"before"`` puts batch norm between the Dense
layer and its activation. Layers are named (``dense_0``, ``batch_norm_0``,
``output``, ...): ``initial_weights`` and ``skdropbn._inference.export_layers``
find the weights by those names.
"""

import numpy as np

from skdropbn._keras import layers as layers_
from skdropbn._keras.backend import import_keras
from skdropbn._spec import BATCH_NORM_EPSILON, EMBEDDING_SIGMA


def build_network(spec, dropout_layer=None, placeholder=False, combine=True):
    """Build the Keras model described by ``spec``.

    Its initial values are placeholders: a fit loads weights from
    ``Trainer.initial_weights`` (or the previous fit), and ``model_`` gets the
    fitted ones. Initializers and dropout seeds are still fixed, and layer
    names given, so that building a model never advances Keras's global seed
    generator or name counters (and a user who clones ``model_`` to train it
    afresh gets Keras's usual Glorot initialisation). ``dropout_layer``
    replaces ``keras.layers.Dropout`` (the trainers' runtime-rate dropout);
    ``placeholder=True`` (the trainers' template) fills the kernels with zeros
    rather than drawing values that are overwritten anyway, which spares a
    wide network's random draws and their temporaries. A committee's model
    returns the members' mean; ``combine=False`` (the trainers' template)
    returns every member's output, ``(batch, n_members, n_outputs)``.
    """
    keras = import_keras()
    from keras import layers

    rng = np.random.RandomState(0)
    dropout_layer = dropout_layer or layers.Dropout

    def kernel_init():
        seed = int(rng.randint(2**31 - 1))
        if placeholder:
            return "zeros"
        return keras.initializers.GlorotUniform(seed=seed)

    inputs = keras.Input(shape=(spec.n_features,), name="features")
    x = inputs
    if spec.input_batch_norm:
        x = layers.BatchNormalization(
            epsilon=BATCH_NORM_EPSILON, name="input_batch_norm"
        )(x)
    if spec.feature_embedding == "periodic":
        features = spec.embedded_features
        x = layers_.periodic_embedding_layer()(
            seed=int(rng.randint(2**31 - 2)),
            features=None if features is None else list(features),
            name="embedding",
        )(x)
    if spec.n_members > 1:
        x = layers_.committee_layers()[0](spec.n_members, name="members")(x)
    for i in range(spec.n_layers):
        x = _hidden_block(spec, i, x, kernel_init, dropout_layer, rng)
    outputs = _output_layer(spec, kernel_init, combine)(x)
    return keras.Model(inputs, outputs, name="dropbn_network")


def _hidden_block(spec, i, x, kernel_init, dropout_layer, rng):
    """Hidden block ``i`` on ``x``: Dense, activation, Dropout, batch norm."""
    from keras import layers

    if spec.batch_norm == "before":
        # Dense -> BN -> activation: BN's beta replaces the Dense bias.
        x = layers.Dense(
            spec.units,
            use_bias=False,
            kernel_initializer=kernel_init(),
            name=f"dense_{i}",
        )(x)
        x = layers.BatchNormalization(
            epsilon=BATCH_NORM_EPSILON, name=f"batch_norm_{i}"
        )(x)
        x = layers.Activation(spec.activation, name=f"activation_{i}")(x)
        if spec.dropout > 0:
            x = dropout_layer(
                spec.dropout, seed=int(rng.randint(2**31 - 1)), name=f"dropout_{i}"
            )(x)
    else:
        # The lesson's block: Dense(activation) -> Dropout -> BN.
        x = layers.Dense(
            spec.units,
            activation=spec.activation,
            kernel_initializer=kernel_init(),
            name=f"dense_{i}",
        )(x)
        if spec.dropout > 0:
            x = dropout_layer(
                spec.dropout, seed=int(rng.randint(2**31 - 1)), name=f"dropout_{i}"
            )(x)
        if spec.batch_norm == "after":
            x = layers.BatchNormalization(
                epsilon=BATCH_NORM_EPSILON, name=f"batch_norm_{i}"
            )(x)
    return x


def _output_layer(spec, kernel_init, combine):
    """The output layer: one ``Dense``, or a committee's heads (one per member)."""
    from keras import layers

    init = kernel_init()
    if spec.n_members > 1:
        return layers_.committee_layers()[1](
            spec.n_outputs,
            activation=spec.output_activation,
            combine=combine,
            seed=getattr(init, "seed", 0),  # "zeros" for a trainer's template
            name="output",
        )
    return layers.Dense(
        spec.n_outputs,
        activation=spec.output_activation,
        kernel_initializer=init,
        name="output",
    )


def model_from_weights(spec, weights):
    """Rebuild the Keras model for ``spec`` and load ``weights`` into it."""
    model = build_network(spec)
    model.set_weights(weights)
    return model


def _ones(shape, dtype, rng, stats):
    return np.ones(shape, dtype)


def _zeros(shape, dtype, rng, stats):
    return np.zeros(shape, dtype)


def _frequencies(shape, dtype, rng, stats):
    return rng.normal(0.0, EMBEDDING_SIGMA, shape).astype(dtype)


def _embedding_weight(shape, dtype, rng, stats):
    _, scale = stats
    if scale is None:
        return _ones(shape, dtype, rng, stats)
    return (1.0 / scale).astype(dtype)


def _embedding_shift(shape, dtype, rng, stats):
    mean, scale = stats
    if scale is None:
        return _zeros(shape, dtype, rng, stats)
    return (-mean / scale).astype(dtype)


def _glorot(shape, dtype, rng, stats):
    return _glorot_uniform(rng, shape, dtype)


def _random_signs(shape, dtype, rng, stats):
    # TabM's initialisation of the members' first adapter: +-1, each sign
    # equally likely; it alone makes the members' starting points differ
    # in the shared layers.
    return (2.0 * rng.randint(0, 2, shape) - 1.0).astype(dtype)


# How each weight of the network starts, by the last part of its path:
# Keras's defaults (Glorot-uniform kernels, zero biases, batch normalization
# at the identity), embedding frequencies from N(0, EMBEDDING_SIGMA**2) and
# the embedding's fixed standardisation of each feature.
_INITIALIZERS = {
    "kernel": _glorot,
    "bias": _zeros,
    "gamma": _ones,
    "beta": _zeros,
    "moving_mean": _zeros,
    "moving_variance": _ones,
    "frequencies": _frequencies,
    "weight": _embedding_weight,
    "shift": _embedding_shift,
    "adapter": _random_signs,
}


def initial_weights(
    model, seed, feature_mean=None, feature_scale=None, output_bias=None
):
    """Fresh weights for ``model``, in ``model.weights`` order, drawn from ``seed``.

    The embedding standardises each feature with ``feature_mean`` and
    ``feature_scale`` (the training data's, computed by the caller). The
    output layer's bias is ``output_bias`` (every member's, in a
    committee), or zeros. A weight of a kind not in ``_INITIALIZERS`` is an
    error, not a zero.
    """
    rng = np.random.RandomState(seed)
    stats = (
        None if feature_mean is None else np.asarray(feature_mean, dtype=np.float64),
        None if feature_scale is None else np.asarray(feature_scale, dtype=np.float64),
    )
    weights = []
    for v in model.weights:
        name = v.path.rsplit("/", 1)[-1]
        if name not in _INITIALIZERS:
            raise ValueError(f"No initializer for the weight {v.path!r}.")
        value = _INITIALIZERS[name](tuple(v.shape), v.dtype, rng, stats)
        if v.path == "output/bias" and output_bias is not None:
            value[...] = output_bias
        weights.append(value)
    return weights


def _glorot_uniform(rng, shape, dtype, block_bytes=1 << 24):
    """Keras's Glorot-uniform draw of ``shape``, made in ``dtype`` a block at a time.

    The same values as ``rng.uniform(-limit, limit, shape).astype(dtype)``
    (the generator's draws are taken in the same order), without the
    float64 array twice the size of a wide kernel. A committee's heads,
    ``(members, fan_in, fan_out)``, are each member's own Glorot draw.
    """
    limit = np.sqrt(6.0 / (shape[-2] + shape[-1]))
    out = np.empty(shape, dtype=dtype)
    flat = out.reshape(-1, shape[-1])
    rows = max(1, block_bytes // (8 * max(1, shape[-1])))
    for start in range(0, flat.shape[0], rows):
        stop = min(start + rows, flat.shape[0])
        flat[start:stop] = rng.uniform(-limit, limit, (stop - start, shape[-1]))
    return out
