"""DropBNRegressor: a Keras dropout / batch-norm network as a scikit-learn regressor."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted

from skdropbn import _inference, _targets, _uncertainty
from skdropbn._base import _BaseDropBN
from skdropbn._fixes import StrOptions, _fit_context

# scikit-learn's names first, then the Keras names a lesson reader knows.
_LOSSES = {
    "squared_error": "squared_error",
    "mse": "squared_error",
    "mean_squared_error": "squared_error",
    "absolute_error": "absolute_error",
    "mae": "absolute_error",
    "mean_absolute_error": "absolute_error",
    "huber": "huber",
}


class DropBNRegressor(RegressorMixin, _BaseDropBN):
    """Dense neural network with Dropout and BatchNormalization, for regression.

    A stack of ``n_layers`` blocks, each a ``Dense(units, activation)``
    followed by ``Dropout(dropout)`` and ``BatchNormalization()`` as in the
    Kaggle "Intro to Deep Learning" lesson, then a linear output layer. It is
    built with Keras 3 on whichever backend Keras is set to use (TensorFlow
    or JAX) and trained with a compiled loop of its own.

    Parameters
    ----------
    n_layers : int, default=3
        Number of hidden blocks. ``0`` gives a linear model (of the embedded
        features, unless ``feature_embedding=None``).

    units : int, default=256
        Width of every hidden ``Dense`` layer.

    dropout : float in [0, 1), default=0.1
        Rate of the ``Dropout`` after each hidden layer; ``0`` removes the
        Dropout layers.

    batch_norm : {"after", "before"}, bool or None, default="after"
        Where each block's ``BatchNormalization`` goes. ``"after"`` (or
        ``True``) is the lesson's order, Dense(activation) -> Dropout -> BN;
        ``"before"`` puts it between ``Dense`` and its activation,
        Dense -> BN -> activation -> Dropout. ``None`` or ``False``: no batch
        normalization in the blocks.

    input_batch_norm : bool, default=False
        Add a ``BatchNormalization`` as the first layer, which standardises
        the features with batch statistics: the lesson's "adaptive
        preprocessor", an alternative to ``StandardScaler`` in a pipeline.

    feature_embedding : {"auto", "periodic"} or None, default="auto"
        How each feature enters the network. ``"periodic"`` standardises it
        with the training data's mean and standard deviation, bounds it
        smoothly (``z / sqrt(1 + (z / 3)**2)``) and passes it on together
        with 16 values ``ReLU(W [cos(2 pi c z), sin(2 pi c z)] + b)``, from
        16 trainable frequencies ``c`` per feature (the PLR embedding of
        Gorishniy et al., 2022, with RealMLP's smooth clipping and skip).
        It lets the network fit sharp, tree-like patterns, and makes it
        insensitive to the scale of the features. Features with at most two
        distinct values in the training data (one-hot indicators) get only
        the standardised value: any function of them is linear in it.
        ``None``: the features go straight into the first ``Dense`` layer, as
        in the lesson.
        ``"auto"``: ``"periodic"`` when ``fit`` gets 1,000 rows or more,
        else ``None`` (on small data the embedding measured worse).

    n_members : int, default=1
        Size of a committee of networks trained as one (TabM-mini, Gorishniy
        et al. 2025): the members share the hidden layers, each has its own
        element-wise scaling of the first hidden layer's input (random signs
        at the start) and its own output layer; each is trained on its own
        loss, and the committee predicts their mean (averaged probabilities
        for a classifier). Early stopping watches the committee's loss.
        ``return_std`` / MC dropout count each member of each pass as a
        draw. The hidden layers' work grows with ``n_members`` (a batch runs
        as ``batch_size * n_members`` rows), the weights hardly.

    activation : {"relu", "elu", "gelu", "selu", "silu", "tanh", "sigmoid"}, \
            default="relu"
        Activation of the hidden layers.

    loss : {"squared_error", "absolute_error", "huber", "mse", "mae", \
            "mean_squared_error", "mean_absolute_error"}, default="squared_error"
        Training loss. ``"mae"`` / ``"absolute_error"`` is the lesson's choice;
        ``"huber"`` has its threshold at one standard deviation of the target.

    optimizer : {"adam", "adamw", "nadam", "rmsprop", "sgd"}, default="adam"
        Keras optimizer.

    learning_rate : float, default=1e-3
        Initial learning rate of the optimizer.

    lr_schedule : {"constant", "plateau"}, default="constant"
        ``"plateau"`` halves the learning rate whenever the validation loss
        (the training loss without early stopping) has not improved by
        ``tol`` for ``max(2, n_iter_no_change // 4)`` epochs, as Keras's
        ``ReduceLROnPlateau``.

    weight_decay : float, default=0.0
        Decoupled weight decay of the optimizer (Keras's ``weight_decay``):
        each step shrinks every weight by ``learning_rate * weight_decay``
        times itself (with the default ``learning_rate``, 0.1 shrinks the
        weights by 1e-4 per step).

    ema_momentum : float in [0, 1) or "auto", default="auto"
        The network kept is the exponential moving average of the weights
        over the training steps (Polyak averaging, Keras's ``use_ema``):
        after each step ``average = ema_momentum * average + (1 -
        ema_momentum) * weights``; early stopping monitors the average's
        validation loss. ``"auto"`` averages over about one epoch,
        ``1 - 1 / steps_per_epoch`` (0, no averaging, when an epoch is one
        batch); 0 keeps the last weights, as plain Keras training does.
        Averaging smooths out the noise of the last steps: over 3 seeds it
        lowered the CV error by 1.0% on Spotify popularity, 1.7% on
        California housing and 0.5-0.9% on the wine data, and raised it by
        1.1% on the 442-row diabetes data, within its seeds' spread
        (``benchmarks/results/accuracy-ablation.md``).

    batch_size : int or "auto", default="auto"
        Rows per gradient step, at most: an epoch's ``n`` training rows are
        split into ``ceil(n / batch_size)`` batches of equal size (1119 rows
        at 256 make 5 batches of 224, where Keras would make four of 256 and
        one of 95), so that every step's batch norm statistics rest on as
        many rows and one compiled step serves the whole epoch. ``"auto"``
        uses a power of two between 32 and 256 giving about 16 or more steps
        per epoch.

    epochs : int, default=200
        Maximum number of passes over the training data.

    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training data (a seeded random
        split), stop when the validation loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and keep the weights of the best epoch.
        The split is taken from the data passed to ``fit`` only, so a
        cross-validation's test folds never leak into it.

    validation_fraction : float in (0, 1), default=0.1
        Share of the training data held out for early stopping.

    n_iter_no_change : int, default=20
        Epochs without improvement before early stopping.

    tol : float, default=1e-4
        Least improvement of the validation loss (on the standardised target)
        that counts as one.

    random_state : int, RandomState instance or None, default=None
        Seeds everything the estimator draws: the initial weights, dropout
        masks, the shuffling of batches and the validation split. An int gives
        identical predictions on every fit, in this process or a new one.
        Only generators owned by this estimator are seeded: no global seed,
        environment variable or TensorFlow determinism setting is touched.

    verbose : int or bool, default=0
        ``1`` prints one progress line per fit (epoch, loss, validation loss,
        time left); ``0`` prints nothing.

    warm_start : bool, default=False
        Continue from the weights of the previous fit instead of initialising
        afresh (optimizer state starts anew).

    n_mc_passes : int, default=100
        Stochastic forward passes (dropout on) behind
        ``predict(X, return_std=True)``. At most 10,000, so that a
        call stays bounded in time.

    Attributes
    ----------
    model_ : keras.Model
        The fitted Keras network (its output is on the standardised target
        scale: ``predict`` multiplies by ``y_scale_`` and adds ``y_mean_``).

    history_ : dict of list of float
        Per-epoch ``"loss"`` and, with early stopping, ``"val_loss"``, as in
        Keras's ``History.history``; ``pandas.DataFrame(history_)`` plots the
        learning curves.

    n_iter_ : int
        Number of epochs run.

    best_epoch_ : int or None
        Epoch (1-based) whose weights were kept by early stopping; None
        without early stopping.

    loss_ : float
        Training loss of the last epoch (on the standardised target).

    y_mean_ : ndarray of shape (n_outputs,)
        Weighted mean of the training target, added back at prediction.

    y_scale_ : ndarray of shape (n_outputs,)
        Weighted standard deviation of the training target; the network learns
        ``(y - y_mean_) / y_scale_`` so that the defaults work whatever the
        target's units. ``0`` for a constant target, which is then predicted
        exactly (``y_mean_``).

    n_outputs_ : int
        Number of targets.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.neural_network.MLPRegressor : Multi-layer perceptron without
        dropout or batch normalization.

    Notes
    -----
    ``predict`` does not call Keras: it evaluates the fitted weights with
    NumPy, batch normalization folded into the neighbouring ``Dense`` layers,
    which equals ``model_.predict`` to float32 round-off and is much faster on
    few rows. Changing ``model_``'s weights after fit does not change
    ``predict``.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skdropbn import DropBNRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> net = DropBNRegressor(n_layers=2, units=64, epochs=20, random_state=0)
    >>> model = make_pipeline(StandardScaler(), net)
    >>> model.fit(X, y).predict(X[:3]).shape
    (3,)

    """

    _parameter_constraints = {
        **_BaseDropBN._parameter_constraints,
        "loss": [StrOptions(set(_LOSSES))],
    }

    def __init__(
        self,
        n_layers=3,
        units=256,
        dropout=0.1,
        *,
        batch_norm="after",
        input_batch_norm=False,
        feature_embedding="auto",
        n_members=1,
        activation="relu",
        loss="squared_error",
        optimizer="adam",
        learning_rate=1e-3,
        lr_schedule="constant",
        weight_decay=0.0,
        ema_momentum="auto",
        batch_size="auto",
        epochs=200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        tol=1e-4,
        random_state=None,
        verbose=0,
        warm_start=False,
        n_mc_passes=100,
    ):
        self.n_layers = n_layers
        self.units = units
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.input_batch_norm = input_batch_norm
        self.feature_embedding = feature_embedding
        self.n_members = n_members
        self.activation = activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.ema_momentum = ema_momentum
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_mc_passes = n_mc_passes

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values; 2-D for multi-output regression.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the training rows in the loss (and in the validation
            loss used for early stopping).

        Returns
        -------
        self : DropBNRegressor
            The fitted estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_diabetes
        >>> from skdropbn import DropBNRegressor
        >>> X, y = load_diabetes(return_X_y=True)
        >>> model = DropBNRegressor(n_layers=1, units=8, epochs=5, random_state=0)
        >>> model.fit(X, y).n_iter_
        5

        """
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the network with one pass over the given rows.

        The first call builds the network (from ``random_state``, as
        ``fit`` would) and fixes what a stream cannot know in advance: the
        target's scaling (``y_mean_``, ``y_scale_``), the embedding's
        feature statistics and, for ``feature_embedding="auto"``, whether
        to embed, all from its rows; ``batch_size="auto"`` means 256 rows.
        Each call then runs one shuffled pass over its rows, with no
        early stopping, and the optimizer's state, dropout's random stream
        and the weights' moving average carry over to the next call.
        ``n_iter_`` counts the passes. After ``fit``, ``partial_fit``
        continues from its weights (with a fresh optimizer state); ``fit``
        starts afresh unless ``warm_start=True``, as in scikit-learn.

        Calls of any number of rows reuse one compiled step: each batch
        has exactly ``batch_size`` rows (a call's last batch, or a call of
        fewer rows, is completed with rows drawn again from the call).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data of this call.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this call's rows, relative to each other (scaled to
            mean 1 over the call).

        Returns
        -------
        self : DropBNRegressor
            The updated estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_diabetes
        >>> from skdropbn import DropBNRegressor
        >>> X, y = load_diabetes(return_X_y=True)
        >>> model = DropBNRegressor(n_layers=1, units=8, random_state=0)
        >>> for rows in range(0, len(X), 128):
        ...     model = model.partial_fit(X[rows : rows + 128], y[rows : rows + 128])
        >>> model.n_iter_
        4

        """
        return self._partial_fit(X, y, sample_weight)

    def _y_validation(self, y):
        return {"multi_output": True, "y_numeric": True}

    def _prepare_targets(self, y, sample_weight, reset, stream=False):
        """Standardised 2-D targets and the target's fitted attributes.

        With ``stream`` (``partial_fit``), the scaling is the first call's
        and a constant first call does not fix the predictions for good: its
        zero scale is replaced by the target's magnitude (at least 1).
        """
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if reset:
            mean, scale = _targets.target_scaling(Y, sample_weight)
            attrs = {
                "y_mean_": mean,
                "y_scale_": scale,
                "n_outputs_": Y.shape[1],
                "_y_1d": y.ndim == 1,
            }
        else:
            if Y.shape[1] != self.n_outputs_:
                raise ValueError(
                    f"y has {Y.shape[1]} outputs, but this {type(self).__name__} "
                    f"was fitted with {self.n_outputs_}; warm_start and "
                    "partial_fit need the same."
                )
            mean, scale = self.y_mean_, self.y_scale_
            attrs = {}
        if stream and not np.all(scale > 0):
            scale = np.where(scale > 0, scale, np.maximum(np.abs(mean), 1.0))
            attrs["y_scale_"] = scale
        # A constant output (scale 0) trains on zeros and is predicted exactly.
        scale = np.where(scale > 0, scale, 1.0)
        return _targets.PreparedTargets(
            values=(Y - mean) / scale,
            loss=_LOSSES[self.loss],
            output_activation="linear",
            sample_weight=sample_weight,
            attrs=attrs,
        )

    def _prepare_partial_targets(self, y, sample_weight, classes, fitted):
        return self._prepare_targets(y, sample_weight, reset=not fitted, stream=True)

    def predict(self, X, return_std=False):
        """Predict with the fitted network, optionally with a calibrated std.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.
        return_std : bool, default=False
            Also return the standard deviation of the predictive distribution
            at each row: Monte-Carlo dropout's spread over ``n_mc_passes``
            stochastic passes (the committee of sub-networks), combined with
            the noise level and scale calibrated on the early-stopping
            validation rows so that ``mean +/- 1.645 * std`` covers about 90%
            of held-out targets. Needs ``early_stopping=True``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions with dropout off (deterministic), 1-D when the network
            was fitted on a 1-D ``y``.
        y_std : ndarray of the shape of ``y_pred``
            Only with ``return_std=True``.

        Examples
        --------
        >>> from sklearn.datasets import load_diabetes
        >>> from skdropbn import DropBNRegressor
        >>> X, y = load_diabetes(return_X_y=True)
        >>> model = DropBNRegressor(n_layers=1, units=8, epochs=5, random_state=0)
        >>> mean, std = model.fit(X, y).predict(X[:3], return_std=True)
        >>> mean.shape, std.shape
        ((3,), (3,))
        """
        check_is_fitted(self)
        X = self._validate_X(X)
        mean = _inference.forward(self._layers, X) * self.y_scale_ + self.y_mean_
        if not return_std:
            return mean.ravel() if self._y_1d else mean
        if not hasattr(self, "_std_calibration"):
            raise ValueError(
                "return_std=True needs the held-out rows of early stopping to "
                "calibrate the std; fit with early_stopping=True (partial_fit "
                "holds out no rows, and drops a fit's calibration)."
            )
        std = self._std(X) * self.y_scale_
        if self._y_1d:
            return mean.ravel(), std.ravel()
        return mean, std

    def _std(self, X):
        """Calibrated predictive std on the standardised target scale."""
        _, mc_var = self._mc_moments(X)
        noise_var, scale = self._std_calibration
        return scale * np.sqrt(mc_var + noise_var)

    def _calibrate(self, X_val, targets_val, w_val):
        """Calibrate ``return_std`` on the held-out rows (``calibrate_std``).

        With the network folded in float32, as the Monte-Carlo passes run
        (see ``_finish_fit``).
        """
        spec = self._spec
        layers = _inference.export_layers(
            self._weights, spec.weight_paths(), spec, dtype=np.float32
        )
        X_val = X_val.astype(np.float32)
        resid = np.abs(targets_val - _inference.forward(layers, X_val))
        _, mc_var = self._mc_moments(X_val, layers=layers)
        self._std_calibration = _uncertainty.calibrate_std(resid, mc_var, w_val)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
