"""DropBNClassifier: the same network for binary, multiclass and multilabel data."""

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from skdropbn import _targets
from skdropbn._base import _BaseDropBN
from skdropbn._fixes import StrOptions, _fit_context


class DropBNClassifier(ClassifierMixin, _BaseDropBN):
    """Dense neural network with Dropout and BatchNormalization, for classification.

    The network of :class:`DropBNRegressor` with a classification head chosen
    from ``y``: one sigmoid unit and binary cross-entropy for two classes,
    softmax and categorical cross-entropy for more, independent sigmoid units
    for multilabel indicator targets. Labels may be of any type scikit-learn
    accepts (integers, strings, booleans).

    Parameters
    ----------
    n_layers : int, default=3
        Number of hidden blocks. ``0`` gives a (multinomial) logistic
        regression.

    units : int, default=256
        Width of every hidden ``Dense`` layer.

    dropout : float in [0, 1), default=0.1
        Rate of the ``Dropout`` after each hidden layer; ``0`` removes them.

    batch_norm : {"after", "before"}, bool or None, default="after"
        Placement of each block's ``BatchNormalization``; see
        :class:`DropBNRegressor`.

    input_batch_norm : bool, default=False
        Add a ``BatchNormalization`` as the first layer.

    feature_embedding : {"auto", "periodic"} or None, default=None
        How each feature enters the network: a periodic embedding, or
        (``None``) straight into the first ``Dense`` layer; see
        :class:`DropBNRegressor`. Unlike the regressor's, the classifier's
        default is ``None``: with the embedding its probabilities measured
        less well calibrated (log loss 0.344 against 0.276 on red wine
        quality >= 7, 1.227 against 1.211 on Spotify genres, before weight
        averaging;
        ``benchmarks/results/calibration-embedding.md``).

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

    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn: a dict
        ``{label: weight}``, or ``"balanced"`` for weights inversely
        proportional to class frequencies. Multiplied with ``sample_weight``.
        Not available for multilabel targets.

    optimizer : {"adam", "adamw", "nadam", "rmsprop", "sgd"}, default="adam"
        Keras optimizer.

    learning_rate : float, default=1e-3
        Learning rate of the optimizer.

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
        Momentum of the moving average of the weights that is kept, see
        :class:`DropBNRegressor`.

    batch_size : int or "auto", default="auto"
        Rows per gradient step; see :class:`DropBNRegressor`.

    epochs : int, default=200
        Maximum number of passes over the training data.

    early_stopping : bool, default=True
        Hold out a stratified, seeded ``validation_fraction`` of the training
        data, stop when its log loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and keep the best epoch's weights.

    validation_fraction : float in (0, 1), default=0.1
        Share of the training data held out for early stopping.

    n_iter_no_change : int, default=20
        Epochs without improvement before early stopping.

    tol : float, default=1e-4
        Least improvement of the validation loss that counts as one.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, dropout masks, batch shuffling and the
        validation split; see :class:`DropBNRegressor`.

    verbose : int or bool, default=0
        ``1`` prints one progress line per fit.

    warm_start : bool, default=False
        Continue from the previous fit's weights.

    n_mc_passes : int, default=100
        Stochastic forward passes (dropout on) averaged by
        ``predict_proba(X, mc_dropout=True)``. At most 10,000, so that a
        call stays bounded in time.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; for multilabel targets, ``arange(n_labels)``.

    model_ : keras.Model
        The fitted Keras network; it outputs probabilities.

    history_ : dict of list of float
        Per-epoch ``"loss"`` (log loss) and, with early stopping,
        ``"val_loss"``.

    n_iter_ : int
        Number of epochs run.

    best_epoch_ : int or None
        Epoch (1-based) whose weights were kept by early stopping.

    loss_ : float
        Training log loss of the last epoch.

    n_outputs_ : int
        Number of output units: 1 (binary), ``n_classes`` or ``n_labels``.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    DropBNRegressor : The same network for regression.
    sklearn.neural_network.MLPClassifier : Multi-layer perceptron without
        dropout or batch normalization.

    Notes
    -----
    ``predict_proba`` evaluates the fitted weights with NumPy (batch
    normalization folded into the ``Dense`` layers), like the regressor.

    ``fit`` starts the output layer's bias at the log-odds of the classes'
    weighted frequencies (``class_weight`` and ``sample_weight`` included),
    as ``HistGradientBoostingClassifier`` starts from its baseline
    prediction: the network begins by predicting the classes' frequencies
    and learns what departs from them. ``partial_fit`` starts it at zero
    (its first call's rows need not have the stream's frequencies).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skdropbn import DropBNClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> net = DropBNClassifier(n_layers=2, units=64, epochs=20, random_state=0)
    >>> clf = make_pipeline(StandardScaler(), net)
    >>> clf.fit(X, y).predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **_BaseDropBN._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        n_layers=3,
        units=256,
        dropout=0.1,
        *,
        batch_norm="after",
        input_batch_norm=False,
        feature_embedding=None,
        n_members=1,
        activation="relu",
        class_weight=None,
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
        self.class_weight = class_weight
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
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the training rows in the loss.

        Returns
        -------
        self : DropBNClassifier
            The fitted estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skdropbn import DropBNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = DropBNClassifier(n_layers=1, units=8, epochs=5, random_state=0)
        >>> clf.fit(X, y).classes_
        array([0, 1, 2])
        """
        return self._fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the network with one pass over the given rows.

        As :meth:`DropBNRegressor.partial_fit`: the first call builds the
        network and fixes the embedding's statistics, each call runs one
        pass with no early stopping, and the optimizer's state carries over.
        The first call must name every class of the stream in ``classes``
        (a call may hold only some of them), as scikit-learn's
        ``partial_fit`` methods require; for multilabel targets the columns
        are the classes. ``class_weight="balanced"`` needs all the labels at
        once and is refused; a dict works.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data of this call.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call (unless ``y`` is a
            multilabel indicator), optional and checked afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of this call's rows, relative to each other.

        Returns
        -------
        self : DropBNClassifier
            The updated estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skdropbn import DropBNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = DropBNClassifier(n_layers=1, units=8, random_state=0)
        >>> clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2]).classes_
        array([0, 1, 2])
        """
        return self._partial_fit(X, y, sample_weight, classes)

    def _prepare_partial_targets(self, y, sample_weight, classes, fitted):
        if isinstance(self.class_weight, str):  # "balanced"
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: it "
                "needs every label at once. Pass a dict instead, e.g. from "
                "sklearn.utils.class_weight.compute_class_weight on all labels."
            )
        from sklearn.utils.multiclass import unique_labels

        given = None if classes is None else unique_labels(classes)
        if fitted:
            if given is not None and not np.array_equal(given, self.classes_):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on the first "
                    f"call to partial_fit or fit, was: {self.classes_!r}."
                )
            given = None if self._kind == "multilabel-indicator" else self.classes_
        elif given is None and self._y_validation(y)["multi_output"] is False:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return _targets.stream_classification_targets(
            y, sample_weight, self.class_weight, given, type(self).__name__
        )

    def _y_validation(self, y):
        # A 2-D y is a multilabel indicator matrix; a column vector is
        # raveled with scikit-learn's DataConversionWarning.
        shape = y.shape if hasattr(y, "shape") else np.asarray(y, dtype=object).shape
        multilabel = len(shape) == 2 and shape[1] > 1
        return {"multi_output": multilabel, "y_numeric": False}

    def _prepare_targets(self, y, sample_weight, reset):
        prepared = _targets.classification_targets(
            y, sample_weight, self.class_weight, type(self).__name__
        )
        return self._checked_targets(prepared, reset)

    def _checked_targets(self, prepared, reset):
        if not reset and not np.array_equal(prepared.attrs["classes_"], self.classes_):
            raise ValueError(
                "warm_start needs the classes of the previous fit "
                f"({self.classes_.tolist()}); got "
                f"{prepared.attrs['classes_'].tolist()}."
            )
        return prepared

    def decision_function(self, X):
        """Compute the logits: log-odds (binary) or one score per class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            For binary targets, the log-odds of ``classes_[1]``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skdropbn import DropBNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = DropBNClassifier(n_layers=1, units=8, epochs=5, random_state=0)
        >>> clf.fit(X, y).decision_function(X[:2]).shape
        (2, 3)
        """
        z = self._forward(X, logits=True)
        return z.ravel() if self.n_outputs_ == 1 else z

    def predict_proba(self, X, mc_dropout=False):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.
        mc_dropout : bool, default=False
            Average the probabilities of ``n_mc_passes`` stochastic passes
            with dropout on (Monte-Carlo dropout, the committee of
            sub-networks) instead of one deterministic pass.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            Rows sum to 1, except for multilabel targets, where each column is
            the probability of one label.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skdropbn import DropBNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = DropBNClassifier(n_layers=1, units=8, epochs=5, random_state=0)
        >>> clf.fit(X, y).predict_proba(X[:2]).sum(axis=1).round(6)
        array([1., 1.])
        """
        if not mc_dropout:
            return self._proba_from_logits(self._forward(X, logits=True))
        check_is_fitted(self)
        X = self._validate_X(X)
        proba, _ = self._mc_moments(X, logits=True, transform=self._proba_from_logits)
        return proba

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``, computed stably from the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of the shape of ``predict_proba``
            Log-probabilities.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skdropbn import DropBNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = DropBNClassifier(n_layers=1, units=8, epochs=5, random_state=0)
        >>> clf.fit(X, y).predict_log_proba(X[:2]).shape
        (2, 3)
        """
        z = self._forward(X, logits=True)
        if self._kind == "multilabel-indicator":
            return log_expit(z)
        if self.n_outputs_ == 1:
            return np.hstack([log_expit(-z), log_expit(z)])
        return log_softmax(z, axis=1)

    def predict(self, X):
        """Most probable class (or label set) for each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted labels, of the type of ``classes_``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skdropbn import DropBNClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = DropBNClassifier(n_layers=1, units=8, epochs=5, random_state=0)
        >>> clf.fit(X, y).predict(X[:2]).shape
        (2,)
        """
        z = self._forward(X, logits=True)
        if self._kind == "multilabel-indicator":
            return (z > 0).astype(int)
        if self.n_outputs_ == 1:
            return self.classes_[(z[:, 0] > 0).astype(int)]
        return self.classes_[np.argmax(z, axis=1)]

    def _proba_from_logits(self, z):
        if self._kind == "multilabel-indicator":
            return expit(z)
        if self.n_outputs_ == 1:
            # expit(-z), not 1 - expit(z): exact for confident predictions.
            return np.hstack([expit(-z), expit(z)])
        return softmax(z, axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
