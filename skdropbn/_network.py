"""The Keras side of skdropbn: network builder, compiled training epoch, export.

This is the only module that imports Keras (and through it the backend), and it
does so inside functions: importing skdropbn, constructing, cloning, printing or
``get_params`` of an estimator never load TensorFlow or JAX.

Three pieces live here:

``build_network``
    The Dense / Dropout / BatchNormalization stack, built from fitted shapes;
    its initial weights come from ``Trainer.initial_weights``, seeded from the
    estimator's ``random_state`` only.
``Trainer``
    One epoch of mini-batch training compiled into a single backend function
    (``tf.function`` or ``jax.jit``) that loops over all batches. It is
    *stateless*: weights, optimizer slots and RNG state go in and come out as
    tensors, so one compiled trainer serves every fit of the same
    architecture (the folds and candidates of a grid search) without tracing
    again, and no fit can disturb another.
``export_layers``
    The fitted weights as plain NumPy arrays with batch normalization folded
    into the neighbouring ``Dense`` kernels, for the NumPy inference path in
    ``skdropbn._inference``.
"""

import functools
import math
import os
import re
import sys
import tempfile
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

# Compiled trainers kept per architecture, for reuse by the next fit of it.
#
# Under TensorFlow none is ever dropped: a dropped trainer's memory does not
# come back. XLA keeps every program it compiled for the life of the
# process (with a 16-trainer cap, 60 fits cycling 20 small architectures grew
# RSS from 1.2 to 2.9 GB, ~33 MB a fit; kept, RSS stays flat from the 20th
# fit on), and a wide network's dropped trainer left about 4.6x its weights
# behind (2 x 6000 units, 145 MB: +666 MB after each fit, released and
# garbage-collected). Keeping it costs its state once per architecture
# instead.
#
# Under JAX a dropped trainer frees everything, so the pool is bounded: by
# the bytes of training state it holds (weights, optimizer slots, average:
# about 4x the weights), by a quarter of that for one trainer (networks of
# over 16M weights are not kept: held while the fit exports its weights, one
# raised the fit's peak), and by count, at about 20 MB of compiled programs
# each (with 16, a search cycling 20 architectures compiled again at every
# fit: 6.9 s a fit instead of 0.03 s; benchmarks/reliability_soak.py).
_MAX_POOLED_STATE_BYTES = 1 << 30
_MAX_TRAINER_STATE_BYTES = _MAX_POOLED_STATE_BYTES // 4
_MAX_CACHED_TRAINERS = 32
_TRAINERS = OrderedDict()
_TRAINERS_LOCK = threading.Lock()


# Keras's default, spelled out: export_layers folds batch norm with it.
BATCH_NORM_EPSILON = 1e-3

# The periodic feature embedding (Gorishniy et al. 2022, "On Embeddings for
# Numerical Features in Tabular Deep Learning", PLR-lite): per feature,
# ``EMBEDDING_FREQUENCIES`` trainable frequencies drawn from
# N(0, EMBEDDING_SIGMA**2), cos and sin of them, a linear map shared by all
# features to ``EMBEDDING_DIM`` values and a ReLU, next to the feature itself.
# ``EMBEDDING_CLIP`` bounds the standardised input smoothly (RealMLP's
# x / sqrt(1 + (x / 3)**2)), so that an outlier cannot land on an arbitrary
# phase. Sigma 1 was chosen on the two wine datasets over 0.1, 0.3 and
# frequencies spread from 0.1 to 1 (benchmarks/results/accuracy-ablation.md).
EMBEDDING_FREQUENCIES = 16
EMBEDDING_DIM = 16
EMBEDDING_SIGMA = 1.0
EMBEDDING_CLIP = 3.0


@dataclass(frozen=True)
class NetworkSpec:
    """Everything that fixes the shape of the network and its compiled step."""

    n_features: int
    n_outputs: int
    n_layers: int
    units: int
    dropout: float
    batch_norm: str | None  # "after" (the lesson's order), "before" or None
    input_batch_norm: bool
    activation: str
    output_activation: str  # "linear", "sigmoid" or "softmax"
    # Last, with a default: specs saved before it existed still load.
    feature_embedding: str | None = None  # "periodic" or None


# TensorFlow's native start-up lines on stderr, written by its C++ runtime
# whatever TF_CPP_MIN_LOG_LEVEL says (measured with TensorFlow 2.21: levels 1
# and 2 still print all of them): absl's pre-initialisation banner, "no CUDA
# driver" notices and a failed cuInit on a machine without a GPU, the CPU
# feature notice, and XLA's one-time service and "Compiled cluster" lines.
_STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_(platform|executor|driver)\.cc:\d+\] failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"
    r"|^To enable the following instructions: .* rebuild TensorFlow"
    r"|oneDNN custom operations are on"
    r"|service\.cc:\d+\] (XLA service 0x|  StreamExecutor \[\d+\]: Host)"
    r"|device_compiler\.h:\d+\] Compiled cluster using XLA"
    r"|dump_mlir_util\.cc:\d+\] disabling MLIR crash reproducer"
)
_BACKEND_LOCK = threading.Lock()
# The process in which this module started the backend: a fork() of it
# inherits the backend's state but not its threads.
_BACKEND_PID = None


@contextmanager
def _native_stderr_filtered(noise=_STARTUP_NOISE):
    """Hold what is written to file descriptor 2, then pass on all but ``noise``.

    Native libraries write to the descriptor itself, past ``sys.stderr``.
    For the duration of the block it points to a temporary file; afterwards
    it is restored and every held line that is not start-up noise is written
    to it, in order (so a real error, or another thread's output, is delayed,
    never lost). Nothing is changed if descriptor 2 cannot be duplicated.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (AttributeError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not noise.search(line))
            if kept:
                os.write(2, kept.encode())


def _check_not_forked():
    if _BACKEND_PID is not None and os.getpid() != _BACKEND_PID:
        raise RuntimeError(
            f"The Keras backend was started in process {_BACKEND_PID}, and this "
            "process is a fork() of it: the backend's thread pools do not "
            "survive fork(), so fitting here would hang. Start worker "
            "processes with the 'spawn' or 'forkserver' method, e.g. "
            "multiprocessing.get_context('spawn'), or use joblib's default "
            "'loky' backend (what scikit-learn's n_jobs uses), which does not "
            "fork. predict needs no backend and works in a forked process."
        )


def _import_keras():
    """Import Keras and start its backend, without the backend's start-up noise.

    The first call imports Keras, initialises the backend's devices and
    compiles a trivial function, all under ``_native_stderr_filtered``, so
    that TensorFlow's native start-up lines (see ``_STARTUP_NOISE``) never
    reach the user; anything else it writes is passed on. No environment
    variable or logging setting is changed. In a process forked after the
    backend was started here, it raises ``RuntimeError`` at once instead of
    letting the backend hang.
    """
    global _BACKEND_PID
    _check_not_forked()
    if _BACKEND_PID is None:
        with _BACKEND_LOCK:
            if _BACKEND_PID is None:
                with _native_stderr_filtered():
                    import keras

                    _warm_up_backend(keras.backend.backend())
                _BACKEND_PID = os.getpid()
    return sys.modules["keras"]


def _warm_up_backend(backend):
    """Run the backend's one-time device and compiler set-up (noisy under TF)."""
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.list_logical_devices()
        tf.function(lambda x: x + 1.0, jit_compile=True)(tf.zeros(1))


def backend_name():
    """Name of the Keras backend, importing Keras on first use."""
    keras = _import_keras()

    return keras.backend.backend()


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
    ``z`` and the ``dim`` values of ``h`` of every feature side by side
    (``n_features * (dim + 1)`` values; keeping ``z`` gives the network a
    smooth path besides the periodic one, as RealMLP's embedding does).
    """
    keras = _import_keras()
    from keras import ops

    @keras.saving.register_keras_serializable(package="skdropbn")
    class PeriodicEmbedding(keras.layers.Layer):
        def __init__(
            self,
            n_frequencies=EMBEDDING_FREQUENCIES,
            dim=EMBEDDING_DIM,
            sigma=EMBEDDING_SIGMA,
            seed=0,
            **kwargs,
        ):
            super().__init__(**kwargs)
            self.n_frequencies, self.dim = int(n_frequencies), int(dim)
            self.sigma, self.seed = float(sigma), int(seed)

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
                shape=(n, k),
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
            p = (2.0 * np.pi) * ops.expand_dims(z, -1) * self.frequencies
            v = ops.concatenate([ops.cos(p), ops.sin(p)], axis=-1)
            h = ops.relu(ops.matmul(v, self.kernel) + self.bias)
            h = ops.reshape(h, (-1, x.shape[-1] * self.dim))
            return ops.concatenate([z, h], axis=-1)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], input_shape[-1] * (self.dim + 1))

        def get_config(self):
            config = super().get_config()
            config.update(
                n_frequencies=self.n_frequencies,
                dim=self.dim,
                sigma=self.sigma,
                seed=self.seed,
            )
            return config

    return PeriodicEmbedding


def keras_custom_objects():
    """Register skdropbn's Keras layers and return them by name.

    A fitted ``model_`` with a feature embedding contains skdropbn's
    ``PeriodicEmbedding`` layer. ``model_.save`` writes it like any layer;
    to read the file back in a new process, Keras must know the class: call
    this first (it imports Keras), or pass its result as ``custom_objects``.

    Returns
    -------
    custom_objects : dict
        ``{"skdropbn>PeriodicEmbedding": PeriodicEmbedding}``, the registered
        name and the layer class.

    See Also
    --------
    save : Saves a whole fitted estimator, no Keras needed to load it.

    Examples
    --------
    >>> import keras
    >>> from skdropbn import keras_custom_objects
    >>> sorted(keras_custom_objects())
    ['skdropbn>PeriodicEmbedding']
    >>> # keras.models.load_model("net.keras") now reads a saved ``model_``.
    """
    return {"skdropbn>PeriodicEmbedding": periodic_embedding_layer()}


def build_network(spec, dropout_layer=None, placeholder=False):
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
    wide network's random draws and their temporaries.
    """
    keras = _import_keras()
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
        x = periodic_embedding_layer()(
            seed=int(rng.randint(2**31 - 2)), name="embedding"
        )(x)
    for i in range(spec.n_layers):
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
    outputs = layers.Dense(
        spec.n_outputs,
        activation=spec.output_activation,
        kernel_initializer=kernel_init(),
        name="output",
    )(x)
    return keras.Model(inputs, outputs, name="dropbn_network")


class _RateSource:
    """The dropout rate a trainer's compiled epoch takes as an input."""

    value = None


def _hash_bits(seed, index, xor, shift_right, const):
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


def _runtime_dropout(source):
    """A ``Dropout`` class whose rate is ``source.value``, read when traced.

    The trainers' epoch takes the rate as a tensor argument and sets
    ``source.value`` to it while tracing, so one compiled epoch serves every
    dropout rate: a grid search over dropout compiles once per depth, not
    once per rate. Masks come from the layer's own seed generator (a new
    seed each step, as ``keras.layers.Dropout``'s), drawn by
    ``_hash_bits`` rather than the backend's ThreeFry.
    """
    keras = _import_keras()
    backend = keras.backend.backend()

    class RuntimeRateDropout(keras.layers.Dropout):
        # keras.random.dropout compares the rate with 0 and 1 in Python, which
        # a traced rate cannot do; the mask is kept where u >= rate, as its.
        def call(self, inputs, training=False):
            if not training:
                return inputs
            seed, rate = self.seed_generator.next(), source.value
            if backend == "tensorflow":
                import tensorflow as tf

                shape = tf.shape(inputs)
                index = tf.reshape(
                    tf.bitcast(tf.range(tf.size(inputs)), tf.uint32), shape
                )
                bits = _hash_bits(
                    tf.bitcast(tf.cast(seed, tf.int32), tf.uint32),
                    index,
                    tf.bitwise.bitwise_xor,
                    lambda h, n: tf.bitwise.right_shift(h, tf.constant(n, tf.uint32)),
                    lambda c: tf.constant(c, tf.uint32),
                )
                u = tf.cast(bits, tf.float32) * (1.0 / (1 << 24))
                return tf.where(u >= rate, inputs / (1.0 - rate), tf.zeros_like(inputs))
            import jax
            import jax.numpy as jnp

            index = jax.lax.iota(jnp.uint32, inputs.size).reshape(inputs.shape)
            bits = _hash_bits(
                seed.astype(jnp.uint32),
                index,
                jnp.bitwise_xor,
                lambda h, n: jnp.right_shift(h, jnp.uint32(n)),
                jnp.uint32,
            )
            u = bits.astype(jnp.float32) * (1.0 / (1 << 24))
            return jax.lax.select(
                u >= rate, inputs / (1.0 - rate), jnp.zeros_like(inputs)
            )

    return RuntimeRateDropout


def make_optimizer(name, weight_decay):
    """A Keras optimizer by name; the learning rate is set per fit, not here."""
    import keras

    opts = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
        "nadam": keras.optimizers.Nadam,
    }
    kwargs = {"learning_rate": 1e-3}
    if name == "adamw":
        kwargs["weight_decay"] = weight_decay
    elif weight_decay:
        kwargs["weight_decay"] = weight_decay
    return opts[name](**kwargs)


def _loss_function(loss):
    """Per-sample loss ``f(y_true, y_pred) -> (batch,)`` in Keras ops."""
    from keras import ops

    def squared_error(y, p):
        return ops.mean(ops.square(y - p), axis=-1)

    def absolute_error(y, p):
        return ops.mean(ops.abs(y - p), axis=-1)

    def huber(y, p):
        # delta=1 on the standardised target, i.e. one standard deviation.
        a = ops.abs(y - p)
        return ops.mean(ops.where(a <= 1.0, 0.5 * ops.square(a), a - 0.5), axis=-1)

    def log_loss_binary(y, p):
        p = ops.clip(p, 1e-7, 1 - 1e-7)
        return -ops.mean(y * ops.log(p) + (1 - y) * ops.log(1 - p), axis=-1)

    def log_loss_multiclass(y, p):
        p = ops.clip(p, 1e-7, 1.0)
        return -ops.sum(y * ops.log(p), axis=-1)

    return {
        "squared_error": squared_error,
        "absolute_error": absolute_error,
        "huber": huber,
        "log_loss_binary": log_loss_binary,
        "log_loss_multiclass": log_loss_multiclass,
    }[loss]


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
    (``checkout_trainer`` hands out a free one).

    Parameters
    ----------
    spec : NetworkSpec
        The architecture.
    loss : str
        Canonical loss name (see ``_loss_function``).
    optimizer : str
        Optimizer name (see ``make_optimizer``).
    weight_decay : float
        Decoupled weight decay.
    batch_size : int
        Rows per step; every batch of an epoch has this size.
    averaging : bool
        Whether to keep the moving average of the weights.

    """

    def __init__(self, spec, loss, optimizer, weight_decay, batch_size, averaging):
        self.spec = spec
        self.batch_size = batch_size
        self.averaging = averaging
        self._rate = _RateSource()
        self._template = build_network(
            spec, dropout_layer=_runtime_dropout(self._rate), placeholder=True
        )
        self._dropout = None  # this fit's rate, a backend scalar
        self._momentum = None  # this fit's weight-averaging momentum, likewise
        self._optimizer = make_optimizer(optimizer, weight_decay)
        self._optimizer.build(self._template.trainable_variables)
        self._loss = _loss_function(loss)
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
        # What it holds between fits: float32 weights (twice with an
        # average) and optimizer slots.
        n_weights = sum(math.prod(v.shape) for v in self._template.weights)
        n_slots = sum(math.prod(v.shape) for v in self._optimizer.variables)
        self.state_bytes = 4 * (n_weights * (2 if averaging else 1) + n_slots)

    def initial_weights(self, seed, feature_mean=None, feature_scale=None):
        """Fresh weights in ``model.weights`` order, drawn from ``seed``.

        Glorot-uniform kernels (Keras's ``Dense`` default), zero biases,
        batch normalization at the identity (gamma and moving variance 1),
        embedding frequencies from N(0, ``EMBEDDING_SIGMA``**2). The
        embedding standardises each feature with ``feature_mean`` and
        ``feature_scale`` (the training data's, computed by the caller).
        """
        rng = np.random.RandomState(seed)
        weights = []
        for v in self._template.weights:
            shape, name = tuple(v.shape), v.path.rsplit("/", 1)[-1]
            if name == "kernel":
                weights.append(_glorot_uniform(rng, shape, v.dtype))
                continue
            if name == "frequencies":
                value = rng.normal(0.0, EMBEDDING_SIGMA, shape)
            elif name in ("gamma", "moving_variance"):
                value = np.ones(shape)
            elif v.path == "embedding/weight" and feature_scale is not None:
                value = 1.0 / np.asarray(feature_scale)
            elif v.path == "embedding/shift" and feature_mean is not None:
                value = -np.asarray(feature_mean) / np.asarray(feature_scale)
            elif name == "weight":
                value = np.ones(shape)
            else:
                value = np.zeros(shape)
            weights.append(value.astype(v.dtype))
        return weights

    def load(self, weights, learning_rate, seed, dropout, ema_momentum):
        """Start a fit from ``weights``, with this learning rate and dropout rate.

        The optimizer's slots start at zero, dropout's RNG from ``seed`` and
        the weights' moving average (momentum ``ema_momentum``, used only by
        an ``averaging`` trainer) at ``weights``.
        """
        from keras import ops

        self._dropout = ops.convert_to_tensor(np.float32(dropout))
        self._momentum = ops.convert_to_tensor(np.float32(ema_momentum))
        tv = [weights[i] for i in self._tv_index]
        ntv = [
            np.array([seed + k, 0], dtype=v.dtype) if i is None else weights[i]
            for k, (i, v) in enumerate(
                zip(self._ntv_index, self._template.non_trainable_variables)
            )
        ]
        ov = [np.zeros(v.shape, dtype=v.dtype) for v in self._optimizer.variables]
        ov[self._lr_index] = np.asarray(learning_rate, dtype=ov[self._lr_index].dtype)
        self._set_state((tv, ntv, ov, tv if self.averaging else []))

    def release(self):
        """Drop the network, optimizer and compiled epoch (the trainer is done).

        The compiled epoch refers back to the trainer, so without this a
        dropped trainer's variables would wait for the cyclic garbage
        collector: a wide fit's memory stayed at 8x its weights after it
        returned (measured, 2 x 6000 units) instead of the 3x of its result.
        """
        self._epoch = self._template = self._optimizer = self._state = None
        self._average = []

    def _to_weights(self, tv, ntv):
        """Arrays of the trained state, in ``model.weights`` order."""
        weights = [None] * len(self.paths)
        for i, value in zip(self._tv_index, tv):
            weights[i] = _to_numpy(value)
        for i, value in zip(self._ntv_index, ntv):
            if i is not None:
                weights[i] = _to_numpy(value)
        return weights

    def _loss_value(self, y, y_pred, w):
        # Weights are normalised to mean 1 over the data passed in, so this is
        # Keras's "sum over batch size" reduction.
        from keras import ops

        return ops.mean(self._loss(y, y_pred) * w)


def _glorot_uniform(rng, shape, dtype, block_bytes=1 << 24):
    """Keras's Glorot-uniform draw of ``shape``, made in ``dtype`` a block at a time.

    The same values as ``rng.uniform(-limit, limit, shape).astype(dtype)``
    (the generator's draws are taken in the same order), without the
    float64 array twice the size of a wide kernel.
    """
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    out = np.empty(shape, dtype=dtype)
    rows = max(1, block_bytes // (8 * max(1, shape[1])))
    for start in range(0, shape[0], rows):
        stop = min(start + rows, shape[0])
        out[start:stop] = rng.uniform(-limit, limit, (stop - start, shape[1]))
    return out


class _TensorFlowTrainer(Trainer):
    """TensorFlow: the template's own variables, updated in a ``tf.function``.

    Keras's TensorFlow optimizers have no ``stateless_apply``, so the state
    lives in the template's variables between epochs.
    """

    # XLA keeps what it compiled after the trainer is gone (see _TRAINERS).
    dropping_frees_memory = False

    def _compile(self):
        import keras
        import tensorflow as tf

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
            return train, val_total / tf.cast(tf.shape(X_val)[0], tf.float32)

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
        return {
            validate: tf.function(
                functools.partial(epoch, validate=validate),
                input_signature=[*signature, scalar, scalar],
                jit_compile=True,
            )
            for validate in (False, True)
        }

    def _variables(self):
        return (
            self._template.trainable_variables,
            self._template.non_trainable_variables,
            self._optimizer.variables,
            self._average,
        )

    def _kept_variables(self):
        tv, ntv, _, average = self._variables()
        return [*(average if self.averaging else tv), *ntv]

    def snapshot(self):
        """Copies of the weights ``weights`` would return now (for early stopping).

        Only those: the optimizer's slots and the raw weights of an averaging
        trainer are not needed once training ends, and copying them too would
        double the memory a wide network's fit needs.
        """
        import tensorflow as tf

        return [tf.identity(v.value) for v in self._kept_variables()]

    def restore(self, snapshot):
        """Make ``weights`` return those of ``snapshot``; training is over."""
        for var, value in zip(self._kept_variables(), snapshot):
            var.assign(value)

    def _set_state(self, state):
        for variables, values in zip(self._variables(), state):
            for var, value in zip(variables, values):
                var.assign(value)

    def set_learning_rate(self, learning_rate):
        """Change the learning rate between epochs (no retracing)."""
        self._optimizer.variables[self._lr_index].assign(learning_rate)

    def run_epoch(self, data, batches):
        """One epoch: (mean training loss, validation loss or None if no rows)."""
        validate = data[3].shape[0] > 0
        epoch = self._epoch[validate]
        inputs = (*data[:3], batches, *data[3:], self._dropout, self._momentum)
        if epoch.experimental_get_tracing_count():
            train_loss, val_loss = epoch(*inputs)
        else:  # the first call traces and compiles: TensorFlow's once-only notices
            with _native_stderr_filtered():
                train_loss, val_loss = epoch(*inputs)
        return float(train_loss), float(val_loss) if validate else None

    def weights(self):
        """The trained (averaged) weights, NumPy arrays in ``model.weights`` order."""
        tv, ntv, _, average = self._variables()
        return self._to_weights(average if self.averaging else tv, ntv)


class _JaxTrainer(Trainer):
    """JAX: a pure function of the state, compiled with ``jax.jit``."""

    dropping_frees_memory = True

    def _compile(self):
        import jax

        model, optimizer = self._template, self._optimizer

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
            # The validation rows a batch at a time (see the TensorFlow epoch).
            chunks = [a.reshape(-1, self.batch_size, *a.shape[1:])
                      for a in (X_val, Y_val, W_val)]  # fmt: skip
            kept = average if self.averaging else tv

            def val_step(i, val_total):
                x, y, w = (c[i] for c in chunks)
                y_pred, _ = model.stateless_call(kept, ntv, x, training=False)
                return val_total + jax.numpy.sum(self._loss(y, y_pred) * w)

            val_total = jax.lax.fori_loop(
                0, chunks[0].shape[0], val_step, jax.numpy.float32(0.0)
            )
            val = val_total / X_val.shape[0]
            return (tv, ntv, ov, average), total / n_batches, val

        # The state goes in and comes out: donated, its buffers are reused
        # for the new state instead of both being alive at once (a wide fit
        # peaked at 13.3x its weights without, 2 x 6000 units).
        return jax.jit(epoch, donate_argnums=0)

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
        import jax.numpy as jnp

        self._state = tuple([jnp.asarray(v) for v in values] for values in state)

    def set_learning_rate(self, learning_rate):
        """Change the learning rate between epochs (no recompilation)."""
        import jax.numpy as jnp

        tv, ntv, ov, average = self._state
        ov = list(ov)
        ov[self._lr_index] = jnp.asarray(learning_rate, dtype=ov[self._lr_index].dtype)
        self._state = (tv, ntv, ov, average)

    def run_epoch(self, data, batches):
        """One epoch: (mean training loss, validation loss or None if no rows)."""
        X, Y, W, X_val, Y_val, W_val = data
        inputs = (X, Y, W, batches, X_val, Y_val, W_val)
        self._state, train_loss, val_loss = self._epoch(
            self._state, *inputs, self._dropout, self._momentum
        )
        return float(train_loss), float(val_loss) if X_val.shape[0] else None

    def weights(self):
        """The trained (averaged) weights, NumPy arrays in ``model.weights`` order."""
        tv, ntv, _, average = self._state
        self._state = None  # release the arrays
        return self._to_weights(average if self.averaging else tv, ntv)


@contextmanager
def checkout_trainer(spec, loss, optimizer, weight_decay, batch_size, averaging):
    """A free compiled ``Trainer`` for this architecture, for one fit.

    Trainers are pooled per architecture: fits of the same architecture in a
    row (cross-validation folds, grid-search candidates) reuse the compiled
    epoch, and fits in parallel threads each get their own trainer.
    """
    backend = backend_name()
    # The dropout rate is an input of the compiled epoch, not part of it: only
    # whether there are Dropout layers at all shapes the trainer.
    spec = replace(spec, dropout=0.5 if spec.dropout > 0 else 0.0)
    key = (backend, spec, loss, optimizer, float(weight_decay), batch_size, averaging)
    with _TRAINERS_LOCK:
        pool = _TRAINERS.setdefault(key, [])
        _TRAINERS.move_to_end(key)
        trainer = pool.pop() if pool else None
    if trainer is None:
        if backend == "tensorflow":
            trainer = _TensorFlowTrainer(*key[1:])
        elif backend == "jax":
            trainer = _JaxTrainer(*key[1:])
        else:
            raise ValueError(
                f"The Keras backend {backend!r} is not supported; set "
                "KERAS_BACKEND to 'tensorflow' or 'jax'."
            )
    # A trainer goes back to the pool only after a fit that finished: one
    # interrupted (Ctrl-C) or failed while it was being traced or stepped may
    # hold a half-built graph or half-updated variables, so it is dropped.
    yield trainer
    bounded = type(trainer).dropping_frees_memory
    if bounded and trainer.state_bytes > _MAX_TRAINER_STATE_BYTES:
        trainer.release()
        return
    with _TRAINERS_LOCK:
        _TRAINERS.setdefault(key, []).append(trainer)
        if bounded:
            _evict_trainers()


def _evict_trainers():
    """Drop the least recently used trainers past the pool's bounds (lock held)."""
    pooled = sum(t.state_bytes for pool in _TRAINERS.values() for t in pool)
    while _TRAINERS and (
        pooled > _MAX_POOLED_STATE_BYTES or len(_TRAINERS) > _MAX_CACHED_TRAINERS
    ):
        _, pool = _TRAINERS.popitem(last=False)
        for trainer in pool:
            pooled -= trainer.state_bytes
            trainer.release()


def share_tensor(array):
    """A backend tensor that uses ``array``'s memory in place (no copy).

    ``array`` must be C-contiguous and 64-byte aligned (``_base._gather``
    makes such buffers), and must not be written to afterwards. Both
    backends copy whatever ``convert_to_tensor`` is given; DLPack lets them
    share the buffer instead, which keeps the tensor's owner (the NumPy
    array) alive as long as the tensor.
    """
    if backend_name() == "tensorflow":
        import tensorflow as tf

        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    import jax

    return jax.dlpack.from_dlpack(array)


def _to_numpy(variable):
    """A variable's (or tensor's) value as a NumPy array.

    Through ``.numpy()`` or ``np.array`` of the backend tensor: NumPy 2.4
    warns about Keras 3.15 variables' own ``__array__``.
    """
    value = getattr(variable, "value", variable)  # a tf.Tensor or jax.Array
    return np.array(value.numpy() if hasattr(value, "numpy") else value)


def model_from_weights(spec, weights):
    """Rebuild the Keras model for ``spec`` and load ``weights`` into it."""
    model = build_network(spec)
    model.set_weights(weights)
    return model


def export_layers(weights, paths, spec):
    """Fold the fitted network into ``[(kernel, bias, activation, dropout)]``.

    A feature embedding comes first, as a dict of its arrays (``"kind"``:
    ``"periodic"``; see ``periodic_embedding_layer``).

    ``weights`` are NumPy arrays named by ``paths`` (``"dense_0/kernel"``,
    ...). Inference uses batch normalization's moving statistics, which makes
    it an affine map that merges into the adjacent ``Dense`` layer: into the
    next kernel for the lesson's order (Dense -> Dropout -> BN), into the same
    kernel for ``"before"``. Dropout commutes with that folding because it
    only scales the inputs of the affine map.
    """
    by_path = dict(zip(paths, weights))

    def named(path):
        # A float64 copy of one array at a time, folded in place: a wide
        # kernel is never held in float64 twice (measured: the export was a
        # 9.5x-the-weights peak of a wide fit when all were converted first).
        return np.array(by_path[path], dtype=np.float64)

    def bn_affine(name):
        gamma, beta, mean, var = (
            named(f"{name}/{w}")
            for w in ("gamma", "beta", "moving_mean", "moving_variance")
        )
        scale = gamma / np.sqrt(var + BATCH_NORM_EPSILON)
        return scale, beta - mean * scale

    def dense(name):
        kernel = named(f"{name}/kernel")
        bias = f"{name}/bias"
        return kernel, named(bias) if bias in by_path else np.zeros(kernel.shape[1])

    pending = None  # an affine map (scale, shift) waiting to fold into next Dense
    if spec.input_batch_norm:
        pending = bn_affine("input_batch_norm")
    layers = []
    if spec.feature_embedding == "periodic":
        # The embedding's first step is a per-feature affine map too: the
        # input batch norm folds into it.
        weight, shift = named("embedding/weight"), named("embedding/shift")
        if pending is not None:
            scale, bn_shift = pending
            weight, shift = scale * weight, bn_shift * weight + shift
            pending = None
        layers.append(
            {
                "kind": "periodic",
                "weight": weight,
                "shift": shift,
                "frequencies": 2.0 * np.pi * named("embedding/frequencies"),
                "kernel": named("embedding/kernel"),
                "bias": named("embedding/bias"),
            }
        )

    def fold_input(kernel, bias):
        if pending is None:
            return kernel, bias
        scale, shift = pending
        bias = bias + shift @ kernel
        kernel *= scale[:, None]
        return kernel, bias

    for i in range(spec.n_layers):
        kernel, bias = fold_input(*dense(f"dense_{i}"))
        pending = None
        if spec.batch_norm == "before":
            scale, shift = bn_affine(f"batch_norm_{i}")
            kernel *= scale[None, :]
            bias = bias * scale + shift
        elif spec.batch_norm == "after":
            pending = bn_affine(f"batch_norm_{i}")
        layers.append((kernel, bias, spec.activation, spec.dropout))
    kernel, bias = fold_input(*dense("output"))
    layers.append((kernel, bias, spec.output_activation, 0.0))
    return layers
