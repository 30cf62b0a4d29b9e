"""The network description: what a fit's network is, in plain Python.

``NetworkSpec`` fixes the network's layers and shapes. Everything else is
derived from it: the Keras model (``skdropbn._keras.network``), the initial
weights, the compiled trainer's cache key (``NetworkSpec.architecture``),
the folded NumPy layers (``skdropbn._inference.export_layers``), the memory
estimate (``skdropbn._memory``) and the checks on a loaded file
(``skdropbn._persistence``). Backend-free: importing it imports no Keras.
"""

from dataclasses import dataclass, replace

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
# Only features with more than two values get the periodic part
# (``NetworkSpec.embedded_features``): any function of a two-valued feature
# (a one-hot indicator) is affine in it, so its 16 periodic values would
# add nothing the smooth path does not carry but width (17x per indicator).
EMBEDDING_FREQUENCIES = 16
EMBEDDING_DIM = 16
EMBEDDING_SIGMA = 1.0
EMBEDDING_CLIP = 3.0

# A committee of ``n_members`` networks trained as one (TabM-mini: Gorishniy
# et al. 2025, "TabM: Advancing Tabular Deep Learning with Parameter-Efficient
# Ensembling"): the members share every hidden layer; each has its own
# multiplicative adapter on the first hidden layer's input (initialised to
# random signs, which is what makes the members differ) and its own output
# head. A batch of B rows runs as B * n_members rows through the shared
# layers, with independent dropout masks per member.


@dataclass(frozen=True)
class NetworkSpec:
    """The network: its layers, their widths and order, and its dropout rate."""

    n_features: int
    n_outputs: int
    n_layers: int
    units: int
    dropout: float
    batch_norm: str | None  # "after" (the lesson's order), "before" or None
    input_batch_norm: bool
    activation: str
    output_activation: str  # "linear", "sigmoid" or "softmax"
    # Last, with defaults: specs saved before these existed still load.
    feature_embedding: str | None = None  # "periodic" or None
    n_members: int = 1  # the committee's size (1: a single network)
    # The features the periodic embedding maps, increasing column indices
    # (the others only pass through its smooth path); None: every feature.
    embedded_features: tuple[int, ...] | None = None

    def architecture(self):
        """What shapes the compiled training epoch: this spec, rate-free.

        The dropout rate is an input of the compiled epoch, not part of it
        (``skdropbn._keras.layers.runtime_dropout``): only whether there are
        Dropout layers at all changes the program. So a grid search over
        dropout compiles once per depth, not once per rate.
        """
        return replace(self, dropout=0.5 if self.dropout > 0 else 0.0)

    def embedding_fields(self):
        """The fields that say how the features enter: kind and which ones."""
        return {
            "feature_embedding": self.feature_embedding,
            "embedded_features": self.embedded_features,
        }

    def n_embedded(self):
        """How many features the periodic embedding maps (0 without one)."""
        if self.feature_embedding is None:
            return 0
        if self.embedded_features is None:
            return self.n_features
        return len(self.embedded_features)

    def weight_shapes(self):
        """``[(path, shape)]`` of the network's Keras weights, in Keras's order.

        What ``skdropbn._keras.network.build_network(spec).weights`` holds
        (a test checks it), computed without Keras: each layer's trainable
        weights, then its non-trainable ones. The memory estimate counts these,
        and ``load`` checks a file's weights against them.
        """
        return list(self.iter_weight_shapes())

    def weight_paths(self):
        """The weights' paths (``"dense_0/kernel"``, ...), in Keras's order."""
        return [path for path, _ in self.iter_weight_shapes()]

    def iter_weight_shapes(self):
        """``weight_shapes`` one at a time (for a count in constant memory)."""
        width = self.n_features
        if self.input_batch_norm:
            yield from _batch_norm_shapes("input_batch_norm", width)
        if self.feature_embedding == "periodic":
            k, dim = EMBEDDING_FREQUENCIES, EMBEDDING_DIM
            embedded = self.n_embedded()
            yield "embedding/frequencies", (embedded, k)
            yield "embedding/kernel", (2 * k, dim)
            yield "embedding/bias", (dim,)
            yield "embedding/weight", (width,)
            yield "embedding/shift", (width,)
            width += embedded * dim
        if self.n_members > 1:
            yield "members/adapter", (self.n_members, width)
        for i in range(self.n_layers):
            yield f"dense_{i}/kernel", (width, self.units)
            if self.batch_norm != "before":  # "before": batch norm's beta instead
                yield f"dense_{i}/bias", (self.units,)
            if self.batch_norm is not None:
                yield from _batch_norm_shapes(f"batch_norm_{i}", self.units)
            width = self.units
        if self.n_members > 1:
            yield "output/kernel", (self.n_members, width, self.n_outputs)
            yield "output/bias", (self.n_members, self.n_outputs)
        else:
            yield "output/kernel", (width, self.n_outputs)
            yield "output/bias", (self.n_outputs,)


def _batch_norm_shapes(name, width):
    for part in ("gamma", "beta", "moving_mean", "moving_variance"):
        yield f"{name}/{part}", (width,)
