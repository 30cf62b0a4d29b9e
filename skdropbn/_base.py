"""What the regressor and the classifier share: parameters, validation, ``fit``.

The subclasses say only what differs between them: how ``y`` becomes network
targets (``_prepare_targets``), the output layer and loss, and how network
outputs become predictions.
"""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from skdropbn import (
    _data,
    _incremental,
    _inference,
    _keras,
    _memory,
    _streaming,
    _training,
)
from skdropbn._fixes import Interval, StrOptions, _check_sample_weight
from skdropbn._spec import NetworkSpec

ACTIVATIONS = ("relu", "elu", "gelu", "selu", "silu", "tanh", "sigmoid")
OPTIMIZERS = ("adam", "adamw", "nadam", "rmsprop", "sgd")

# feature_embedding="auto" embeds the features from this many rows on: on
# smaller data (442-row diabetes, 569-row breast cancer) the periodic
# embedding measured worse than none, on 1,599 rows of red wine and more
# clearly better (benchmarks/results/accuracy-ablation.md).
AUTO_EMBEDDING_MIN_SAMPLES = 1000
MAX_MC_PASSES = 10_000
# Bounded like n_mc_passes (a loaded file cannot ask for a million members);
# TabM's paper uses 32, and past that the members' mean hardly moves.
MAX_MEMBERS = 1024


class _BaseDropBN(_incremental.IncrementalMixin, BaseEstimator):
    """Base class for DropBN estimators. Do not use directly."""

    _parameter_constraints = {
        "n_layers": [Interval(Integral, 0, None, closed="left")],
        "units": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": [StrOptions({"after", "before"}), "boolean", None],
        "input_batch_norm": ["boolean"],
        "feature_embedding": [StrOptions({"auto", "periodic"}), None],
        "n_members": [Interval(Integral, 1, MAX_MEMBERS, closed="both")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"constant", "plateau"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "ema_momentum": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        # Bounded so that predict(return_std=True) is too: a loaded file
        # cannot ask for 10**12 passes. The Monte-Carlo error of the mean
        # shrinks as 1/sqrt(n_mc_passes); 10_000 passes is far past useful.
        "n_mc_passes": [Interval(Integral, 1, MAX_MC_PASSES, closed="both")],
    }

    # -- hooks for subclasses ------------------------------------------------
    def _y_validation(self, y):
        """Keyword arguments for ``validate_data`` about ``y``."""
        raise NotImplementedError

    def _prepare_targets(self, y, sample_weight, reset):
        """Network targets for ``y``, as a ``PreparedTargets``."""
        raise NotImplementedError

    def _prepare_partial_targets(self, y, sample_weight, classes, fitted):
        """Network targets for one ``partial_fit`` call's ``y``."""
        raise NotImplementedError

    # -- fitting ---------------------------------------------------------------
    def _resolved_batch_norm(self):
        if self.batch_norm is True:
            return "after"
        if self.batch_norm is False:
            return None
        return self.batch_norm

    def _resolved_embedding(self, X, warm):
        """The spec's embedding fields for a fit on ``X``: kind and features."""
        embedding = self.feature_embedding
        if warm and embedding in ("auto", self._spec.feature_embedding):
            return self._spec.embedding_fields()  # the previous fit's network
        if embedding == "auto":
            many = X.shape[0] >= AUTO_EMBEDDING_MIN_SAMPLES
            embedding = "periodic" if many else None
        features = None if embedding is None else _data.embedded_features(X)
        if features == ():  # every feature two-valued: nothing to embed
            embedding, features = None, None
        return {"feature_embedding": embedding, "embedded_features": features}

    def _batch_size(self, n_train):
        if self.batch_size == "auto":
            # About 16 or more steps per epoch on small data, 256 rows (the
            # lesson's batch) once there is enough data for that.
            return int(
                min(256, max(32, 2 ** math.floor(math.log2(max(n_train // 16, 1)))))
            )
        return int(self.batch_size)

    def _fit(self, X, y, sample_weight):
        return self._unchanged_on_error(self._fit_network, X, y, sample_weight)

    def _partial_fit(self, X, y, sample_weight, classes=None):
        return self._unchanged_on_error(
            self._partial_fit_network, X, y, sample_weight, classes
        )

    def _unchanged_on_error(self, method, *args):
        # A fit that raises (bad input, divergence, Ctrl-C) leaves the
        # estimator exactly as it was: validate_data would otherwise already
        # have replaced n_features_in_ and feature_names_in_ of the last fit.
        state = dict(self.__dict__)
        try:
            return method(*args)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _validated(self, X, y, sample_weight, reset):
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=[np.float64, np.float32],
            **self._y_validation(y),
        )
        _check_float32_range(X, "X")
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        return X, y, sample_weight

    def _network_spec(self, n_features, prepared, embedding, previous, why):
        """The network the parameters describe; ``previous``'s, or an error."""
        spec = NetworkSpec(
            n_features=n_features,
            n_outputs=prepared.values.shape[1],
            n_layers=self.n_layers,
            units=self.units,
            dropout=float(self.dropout),
            batch_norm=self._resolved_batch_norm(),
            input_batch_norm=bool(self.input_batch_norm),
            activation=self.activation,
            output_activation=prepared.output_activation,
            n_members=int(self.n_members),
            **embedding,
        )
        if previous is not None and spec != previous:
            raise ValueError(
                f"{why} needs the architecture of the previous fit; it changed "
                f"from {previous} to {spec}. Fit a new network with fit (and "
                "warm_start=False)."
            )
        return spec

    def _fit_network(self, X, y, sample_weight):
        warm = self.warm_start and hasattr(self, "_weights")
        source = _streaming.row_source(X)
        if source is not None:  # a large memmap or dask array: read in blocks
            return self._fit_streamed(source, y, sample_weight, warm)
        if hasattr(X, "compute") and hasattr(X, "chunks"):  # a small dask array
            X = X.compute()
        X, y, sample_weight = self._validated(X, y, sample_weight, reset=not warm)
        prepared = self._prepare_targets(y, sample_weight, reset=not warm)
        targets, sample_weight = prepared.values, prepared.sample_weight
        n_samples = X.shape[0]
        if n_samples < 2:
            raise ValueError(
                f"Found array with {n_samples} sample(s) (shape={X.shape}) while "
                f"a minimum of 2 is required by {type(self).__name__}; "
                "1 sample is not enough to fit a network."
            )
        seeds = _training.fit_seeds(self.random_state)
        train_idx, val_idx = self._split(
            n_samples, prepared.stratify, seeds["split"], sample_weight
        )
        spec = self._network_spec(
            X.shape[1],
            prepared,
            self._resolved_embedding(X, warm),
            self._spec if warm else None,
            "warm_start=True",
        )
        batch_size = _data.equal_batch_size(
            len(train_idx), self._batch_size(len(train_idx))
        )
        _memory.check_fit_fits_in_memory(spec, n_samples, type(self).__name__)
        data = _data.training_data(
            X, targets, sample_weight, train_idx, val_idx, batch_size
        )
        self._train(spec, prepared, data, batch_size, warm, seeds, X)
        held_out = None
        if val_idx is not None:
            held_out = (X[val_idx], targets[val_idx], sample_weight[val_idx])
        self._finish_fit(held_out)
        return self

    def _train(self, spec, prepared, data, batch_size, warm, seeds, X):
        """Train the network on ``data`` and set the fitted attributes."""
        momentum = self.ema_momentum
        if momentum == "auto":  # average over about one epoch of steps
            steps = math.ceil(data.n_train / batch_size)
            if isinstance(data, _streaming.StreamedData):
                # An epoch out of core may be 100,000 steps: averaged over
                # all of them, the first epoch's network reached back to the
                # untrained one (test RMSE 0.84 against 0.35 for a subsample
                # fit, benchmarks/out_of_core.py at 0.25 GiB).
                steps = min(steps, _streaming.MAX_AVERAGED_STEPS)
            momentum = 1.0 - 1.0 / steps
        key = _keras.TrainerKey(
            spec.architecture(),
            prepared.loss,
            self.optimizer,
            float(self.weight_decay),
            batch_size,
            averaging=momentum > 0,
        )
        with _keras.checkout_trainer(key) as trainer:
            if warm:
                start = self._weights
            else:
                stats = _data.feature_statistics(X) if spec.feature_embedding else ()
                start = trainer.initial_weights(
                    seeds["init"], *stats, output_bias=prepared.output_bias
                )
            config = _keras.FitConfig(
                self.learning_rate, seeds["dropout"], spec.dropout, momentum
            )
            trainer.load(start, config)
            del start  # the trainer holds its own copy: no second one while training
            try:
                history, best_epoch = _training.train(
                    trainer,
                    data,
                    epochs=self.epochs,
                    rng=np.random.RandomState(seeds["shuffle"]),
                    learning_rate=self.learning_rate,
                    callbacks=self._callbacks(),
                    verbose=self.verbose,
                )
            except FloatingPointError as exc:
                raise ValueError(
                    f"{exc} Training stopped and the estimator was left as it "
                    "was before this fit. Lower learning_rate, or scale X and y "
                    "(StandardScaler) if they hold very large values."
                ) from None
            weights = trainer.weights()
        del trainer  # a wide network's trainer is not pooled: free it now

        self._set_network(prepared, spec, weights)
        for name in ("_train_state", "_stream", "_incremental"):  # partial_fit's
            self.__dict__.pop(name, None)
        self.history_ = history
        self.n_iter_ = len(history["loss"])
        self.best_epoch_ = best_epoch
        self.loss_ = history["loss"][-1]
        self._mc_seed = seeds["mc"]

    def _set_network(self, prepared, spec, weights):
        """Set the fitted network; its inference layers are folded later.

        By ``_finish_fit`` at the end of ``fit``, or when first used after
        ``partial_fit`` (``__getattr__``).
        """
        for name, value in prepared.attrs.items():
            setattr(self, name, value)
        self._spec = spec
        # model_ is built from _weights when first asked for: a fit itself
        # never builds a Keras model.
        self.__dict__.pop("_model", None)
        self._weights = weights
        self.__dict__.pop("_layers", None)

    def _finish_fit(self, held_out=None):
        """Calibrate ``return_std`` on the ``held_out`` rows, then fold the layers.

        In that order: the calibration folds the network in float32, as its
        Monte-Carlo passes run, and drops it before the float64 inference
        layers are folded, so that a wide network is never held in both
        precisions at once (with the float32 copy beside the float64 layers
        and the trainer's state, a fit of 2 x 4000 units peaked at 9.4x its
        weights under TensorFlow). In fit rather than when first used, so
        that ``predict`` leaves the estimator as it found it.
        """
        if held_out is not None:
            self._calibrate(*held_out)
        spec = self._spec
        self._layers = _inference.export_layers(
            self._weights, spec.weight_paths(), spec
        )

    def __getattr__(self, name):
        # Called only for attributes not found: the inference layers of a
        # partial_fit call's weights, folded when first used. Folding them
        # after every call took a quarter of a 256-row call of the lesson
        # network (3 of 17 ms under JAX, benchmarks/partial_fit.py).
        state = self.__dict__
        if name == "_layers" and "_weights" in state and "_spec" in state:
            spec = state["_spec"]
            layers = _inference.export_layers(
                state["_weights"], spec.weight_paths(), spec
            )
            state["_layers"] = layers
            return layers
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )

    def _callbacks(self):
        """The training loop's callbacks for this estimator's parameters."""
        callbacks = []
        if self.early_stopping:
            callbacks.append(_training.EarlyStopping(self.n_iter_no_change, self.tol))
        if self.lr_schedule == "plateau":
            callbacks.append(
                _training.ReduceLROnPlateau(
                    monitor="val_loss" if self.early_stopping else "loss",
                    patience=max(2, self.n_iter_no_change // 4),
                    tol=self.tol,
                )
            )
        return callbacks

    def _calibrate(self, X_val, targets_val, w_val):
        """Fit uncertainty calibration on the held-out rows (subclass hook)."""

    def _split(self, n_samples, stratify, seed, sample_weight):
        """Training and validation rows; the validation rows drive early stopping.

        Validation rows are drawn from the rows of positive weight only: a
        row of weight 0 would count for nothing in the validation loss (all
        of them: no loss at all), so those rows all go to training, where
        they count for nothing either. With all weights positive this is a
        split of all rows.
        """
        if not self.early_stopping:
            return np.arange(n_samples), None
        candidates = np.flatnonzero(sample_weight > 0)
        n_val = math.ceil(self.validation_fraction * len(candidates))
        if n_samples - n_val < 1 or len(candidates) - n_val < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of "
                f"n_samples={n_samples} ({len(candidates)} of positive weight) "
                "leaves no rows to train on; set early_stopping=False or pass "
                "more samples."
            )
        # Imported here: sklearn.model_selection is a sizeable share of the
        # time `import skdropbn` would otherwise take.
        from sklearn.model_selection import train_test_split

        stratify = None if stratify is None else stratify[candidates]
        try:
            _, val_idx = train_test_split(
                candidates, test_size=n_val, random_state=seed, stratify=stratify
            )
        except ValueError:
            # Too few members of some class to stratify: split at random.
            _, val_idx = train_test_split(
                candidates, test_size=n_val, random_state=seed
            )
        val_idx = np.sort(val_idx)
        return np.setdiff1d(np.arange(n_samples), val_idx), val_idx

    # -- inference -------------------------------------------------------------
    def _validate_X(self, X):
        """``validate_data(self, X, reset=False, dtype=np.float64)``, faster.

        A plain float64 or float32 NumPy array of the fitted width, with
        finite values, passed to an estimator fitted without feature names,
        is what ``validate_data`` would accept as is (float32 converted);
        checking just that takes microseconds where ``validate_data`` takes
        about 0.1 ms (mostly looking for a dataframe), a quarter to a half of
        a one-row ``predict``. Anything else goes through ``validate_data``,
        with its conversions, errors and warnings.
        """
        if (
            type(X) is np.ndarray
            and X.dtype in (np.float64, np.float32)
            and X.ndim == 2
            and X.shape[0] >= 1
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
            # A NaN or inf makes the sum non-finite (so does overflow, which
            # then just takes the long way).
            and math.isfinite(X.sum())
        ):
            return X.astype(np.float64, copy=False)
        return validate_data(self, X, reset=False, dtype=np.float64)

    def _forward(self, X, logits=False):
        check_is_fitted(self)
        return _inference.forward(self._layers, self._validate_X(X), logits=logits)

    def _mc_moments(self, X, logits=False, transform=None, layers=None):
        """Mean and variance over ``n_mc_passes`` Monte-Carlo dropout passes.

        Of ``layers``, or of the inference layers. Seeded from the fit's
        ``random_state``: repeated calls give the same draws. See
        ``skdropbn._inference.mc_moments``.
        """
        rng = np.random.default_rng(self._mc_seed)
        layers = self._layers if layers is None else layers
        return _inference.mc_moments(
            layers, X, self.n_mc_passes, rng, logits=logits, transform=transform
        )

    def __sklearn_is_fitted__(self):
        # n_features_in_ is set by validation even when training then fails.
        return "_weights" in self.__dict__

    @property
    def model_(self):
        """The fitted ``keras.Model`` (rebuilt on first access after unpickling)."""
        model = self.__dict__.get("_model")
        if model is None:
            if "_weights" not in self.__dict__:
                raise AttributeError(
                    f"This {type(self).__name__} instance is not fitted yet: "
                    "it has no model_."
                )
            model = _keras.model_from_weights(self._spec, self._weights)
            self._model = model
        return model

    def __getstate__(self):
        # The Keras model is rebuilt from ``_weights`` on demand: pickles stay
        # small and backend-free, and unpickling never imports TensorFlow.
        # A copy: Python 3.11's object.__getstate__ returns __dict__ itself.
        if "_weights" in self.__dict__:
            self._layers  # noqa: B018 (folded now if partial_fit deferred it)
        state = dict(super().__getstate__())
        state.pop("_model", None)
        # partial_fit's training state, wherever it is now, as NumPy arrays.
        stream = state.pop("_stream", None)
        if stream is not None and (saved := stream.current()) is not None:
            state["_train_state"] = saved
        # The network description as a plain dict: the state then holds only
        # builtin and NumPy types, so a skops file (skdropbn.save, MLflow)
        # asks its reader to trust no type but the estimator's own.
        if isinstance(state.get("_spec"), NetworkSpec):
            state["_spec"] = dict(vars(state["_spec"]))
        return state

    def __setstate__(self, state):
        spec = state.get("_spec")
        if isinstance(spec, dict):
            try:
                spec = NetworkSpec(**spec)
            except TypeError:
                raise ValueError(
                    f"_spec {str(spec)[:200]} is not a network description."
                ) from None
            state = {**state, "_spec": spec}
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _check_float32_range(X, name):
    """Reject values that float32, the network's precision, cannot hold."""
    big = np.finfo(np.float32).max
    if X.dtype == np.float32 or not X.size:
        return
    # max and min, not abs(X).max(): no temporary the size of X.
    if X.max() > big or X.min() < -big:
        raise ValueError(
            f"Input {name} contains values too large for float32 (the "
            f"network's precision, max {big:.3g}); scale {name} first, "
            "e.g. with StandardScaler."
        )
