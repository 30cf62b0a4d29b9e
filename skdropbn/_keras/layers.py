"""skdropbn's own Keras layers: the periodic feature embedding and runtime-rate dropout.

The embedding's arithmetic is written twice on purpose: here in Keras ops for
training, and in NumPy in ``skdropbn._inference._embed`` for prediction; the
tests check that the two agree.
"""

import functools

import numpy as np

from skdropbn._keras.backend import backend_module, import_keras
from skdropbn._spec import (
    EMBEDDING_CLIP,
    EMBEDDING_DIM,
    EMBEDDING_FREQUENCIES,
    EMBEDDING_SIGMA,
)


@functools.cache
def periodic_embedding_layer():
    """The Keras layer class of the periodic feature embedding.

    Defined on first use (Keras is imported lazily) and registered with
    Keras as ``"skdropbn>PeriodicEmbedding"``, so that ``model_.save`` and
    ``keras.models.load_model`` work in a process that has called this.

    For ``x`` of shape ``(batch, n_features)`` the layer computes, per
    feature, ``z = x * weight + shift`` (the training data's standardisation,
    not trained), ``z = z / sqrt(1 + (z / 3)**2)``, ``p = 2 pi z
    frequencies``, ``h = relu([cos p, sin p] @ kernel + bias)``, and returns
    ``z`` of every feature and the ``dim`` values of ``h`` of every feature
    in ``features`` side by side (``n_features + len(features) * dim``
    values; keeping ``z`` gives the network a smooth path besides the
    periodic one, as RealMLP's embedding does). ``features=None``: every
    feature gets ``h``.
    """
    keras = import_keras()
    from keras import ops

    @keras.saving.register_keras_serializable(package="skdropbn")
    class PeriodicEmbedding(keras.layers.Layer):
        def __init__(
            self,
            n_frequencies=EMBEDDING_FREQUENCIES,
            dim=EMBEDDING_DIM,
            sigma=EMBEDDING_SIGMA,
            seed=0,
            features=None,
            **kwargs,
        ):
            super().__init__(**kwargs)
            self.n_frequencies, self.dim = int(n_frequencies), int(dim)
            self.sigma, self.seed = float(sigma), int(seed)
            self.features = None if features is None else [int(i) for i in features]

        def _n_embedded(self, n_features):
            return n_features if self.features is None else len(self.features)

        def build(self, input_shape):
            n = input_shape[-1]
            k = self.n_frequencies
            self.weight = self.add_weight(
                shape=(n,), initializer="ones", trainable=False, name="weight"
            )
            self.shift = self.add_weight(
                shape=(n,), initializer="zeros", trainable=False, name="shift"
            )
            self.frequencies = self.add_weight(
                shape=(self._n_embedded(n), k),
                initializer=keras.initializers.RandomNormal(
                    stddev=self.sigma, seed=self.seed
                ),
                name="frequencies",
            )
            self.kernel = self.add_weight(
                shape=(2 * k, self.dim),
                initializer=keras.initializers.GlorotUniform(seed=self.seed + 1),
                name="kernel",
            )
            self.bias = self.add_weight(
                shape=(self.dim,), initializer="zeros", name="bias"
            )

        def call(self, x):
            z = x * self.weight + self.shift
            z = z / ops.sqrt(1.0 + ops.square(z / EMBEDDING_CLIP))
            e = z if self.features is None else ops.take(z, self.features, axis=1)
            p = (2.0 * np.pi) * ops.expand_dims(e, -1) * self.frequencies
            v = ops.concatenate([ops.cos(p), ops.sin(p)], axis=-1)
            h = ops.relu(ops.matmul(v, self.kernel) + self.bias)
            h = ops.reshape(h, (-1, self._n_embedded(x.shape[-1]) * self.dim))
            return ops.concatenate([z, h], axis=-1)

        def compute_output_shape(self, input_shape):
            n = input_shape[-1]
            return (input_shape[0], n + self._n_embedded(n) * self.dim)

        def get_config(self):
            config = super().get_config()
            config.update(
                n_frequencies=self.n_frequencies,
                dim=self.dim,
                sigma=self.sigma,
                seed=self.seed,
                features=self.features,
            )
            return config

    return PeriodicEmbedding


@functools.cache
def committee_layers():
    """The Keras layer classes of a committee (``NetworkSpec.n_members > 1``).

    ``MemberAdapter`` turns rows ``(batch, width)`` into ``(batch, members,
    width)``, each member's copy multiplied element-wise by its own row of
    ``adapter``; the shared Dense, Dropout and BatchNormalization layers
    that follow work on the last axis, so each member gets its own dropout
    masks while batch norm's statistics are shared. ``MemberHeads`` is each
    member's own output layer (``kernel`` of shape ``(members, width,
    outputs)``); with ``combine=True`` (``model_``) it returns the mean of
    the members' activated outputs (the committee's prediction: averaged
    probabilities for a classifier), with ``combine=False`` (the trainers)
    every member's, so that each member is trained on its own loss.
    Registered as ``"skdropbn>MemberAdapter"`` and ``"skdropbn>MemberHeads"``.
    """
    return _member_adapter_layer(), _member_heads_layer()


@functools.cache
def _member_adapter_layer():
    keras = import_keras()
    from keras import ops

    @keras.saving.register_keras_serializable(package="skdropbn")
    class MemberAdapter(keras.layers.Layer):
        def __init__(self, n_members, **kwargs):
            super().__init__(**kwargs)
            self.n_members = int(n_members)

        def build(self, input_shape):
            # Ones here (model_'s placeholder; a fit loads random signs).
            self.adapter = self.add_weight(
                shape=(self.n_members, input_shape[-1]),
                initializer="ones",
                name="adapter",
            )

        def call(self, x):
            return ops.expand_dims(x, 1) * self.adapter

        def compute_output_shape(self, input_shape):
            return (input_shape[0], self.n_members, input_shape[-1])

        def get_config(self):
            return {**super().get_config(), "n_members": self.n_members}

    return MemberAdapter


@functools.cache
def _member_heads_layer():
    keras = import_keras()
    from keras import ops

    @keras.saving.register_keras_serializable(package="skdropbn")
    class MemberHeads(keras.layers.Layer):
        def __init__(self, units, activation="linear", combine=True, seed=0, **kwargs):
            super().__init__(**kwargs)
            self.units, self.combine, self.seed = int(units), bool(combine), int(seed)
            self.activation = keras.activations.get(activation)

        def build(self, input_shape):
            _, n_members, width = input_shape
            self.kernel = self.add_weight(
                shape=(n_members, width, self.units),
                initializer=keras.initializers.GlorotUniform(seed=self.seed),
                name="kernel",
            )
            self.bias = self.add_weight(
                shape=(n_members, self.units), initializer="zeros", name="bias"
            )

        def call(self, h):
            z = ops.einsum("bkw,kwo->bko", h, self.kernel) + self.bias
            out = self.activation(z)
            return ops.mean(out, axis=1) if self.combine else out

        def compute_output_shape(self, input_shape):
            if self.combine:
                return (input_shape[0], self.units)
            return (input_shape[0], input_shape[1], self.units)

        def get_config(self):
            config = super().get_config()
            config.update(
                units=self.units,
                activation=keras.activations.serialize(self.activation),
                combine=self.combine,
                seed=self.seed,
            )
            return config

    return MemberHeads


def keras_custom_objects():
    """Register skdropbn's Keras layers and return them by name.

    A fitted ``model_`` with a feature embedding contains skdropbn's
    ``PeriodicEmbedding`` layer (and a committee, ``n_members > 1``, its
    ``MemberAdapter`` and ``MemberHeads``). ``model_.save`` writes it like any layer;
    to read the file back in a new process, Keras must know the class: call
    this first (it imports Keras), or pass its result as ``custom_objects``.

    Returns
    -------
    custom_objects : dict
        The layer classes of skdropbn, by their registered names.

    See Also
    --------
    save : Saves a whole fitted estimator, no Keras needed to load it.

    Examples
    --------
    >>> import keras
    >>> from skdropbn import keras_custom_objects
    >>> sorted(keras_custom_objects())
    ['skdropbn>MemberAdapter', 'skdropbn>MemberHeads', 'skdropbn>PeriodicEmbedding']
    >>> # keras.models.load_model("net.keras") now reads a saved ``model_``.
    """
    adapter, heads = committee_layers()
    return {
        "skdropbn>PeriodicEmbedding": periodic_embedding_layer(),
        "skdropbn>MemberAdapter": adapter,
        "skdropbn>MemberHeads": heads,
    }


class RateSource:
    """The dropout rate a trainer's compiled epoch takes as an input."""

    value = None


def hash_bits(seed, index, xor, shift_right, const):
    """24 random bits per entry of ``index``: ``bits / 2**24`` is uniform in [0, 1).

    A counter-based generator, as Random123's (Salmon et al. 2011): each
    draw is a keyed hash of its element's position ``index`` (uint32),
    ``mix(mix(index ^ k1) + k2)``, with the keys ``k1, k2`` hashed from the
    two words of ``seed``; ``mix`` is the "lowbias32" integer finaliser (C.
    Wellons), a bijection of 32-bit words with full avalanche; the top 24
    bits are kept, as many as a float32 uniform carries. All of it is
    element-wise integer arithmetic that XLA fuses into the dropout's own
    loop. On CPU the ThreeFry draws of ``jax.random`` and
    ``tf.random.stateless_uniform`` took a tenth of the lesson network's
    epoch and over half of a small network's under JAX; these take next to
    nothing. The same seed gives the same masks under both backends.
    ``xor``, ``shift_right`` and ``const`` are the backend's uint32
    operations (NumPy's work too).
    """

    def mix(h):
        h = xor(h, shift_right(h, 16)) * const(0x7FEB352D)
        h = xor(h, shift_right(h, 15)) * const(0x846CA68B)
        return xor(h, shift_right(h, 16))

    k1 = mix(xor(seed[0], mix(seed[1] + const(0x9E3779B9))))
    k2 = mix(k1 + const(0x85EBCA6B))
    return shift_right(mix(mix(xor(index, k1)) + k2), 8)


def runtime_dropout(source):
    """A ``Dropout`` class whose rate is ``source.value``, read when traced.

    The trainers' epoch takes the rate as a tensor argument and sets
    ``source.value`` to it while tracing, so one compiled epoch serves every
    dropout rate: a grid search over dropout compiles once per depth, not
    once per rate. Masks come from the layer's own seed generator (a new
    seed each step, as ``keras.layers.Dropout``'s), drawn by ``hash_bits``
    (the backend module's ``uniform``) rather than the backend's ThreeFry.
    """
    keras = import_keras()
    from keras import ops

    uniform = backend_module().uniform

    class RuntimeRateDropout(keras.layers.Dropout):
        # keras.random.dropout compares the rate with 0 and 1 in Python, which
        # a traced rate cannot do; the mask is kept where u >= rate, as its.
        def call(self, inputs, training=False):
            if not training:
                return inputs
            rate = source.value
            u = uniform(self.seed_generator.next(), inputs)
            return ops.where(u >= rate, inputs / (1.0 - rate), ops.zeros_like(inputs))

    return RuntimeRateDropout
