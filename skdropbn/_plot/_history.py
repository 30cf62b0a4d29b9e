"""``TrainingHistoryDisplay``: training and validation loss per epoch of a fit."""

from sklearn.utils.validation import check_is_fitted

from skdropbn import _fixes
from skdropbn._base import _BaseDropBN
from skdropbn._plot._common import _axes, _pyplot


def _fitted_dropbn(estimator):
    """The fitted DropBN estimator inside ``estimator``.

    ``estimator`` may be a DropBN estimator, a pipeline whose last step is
    one, or a fitted search (its ``best_estimator_``), nested in any order.
    """
    # Imported here, not at the top: sklearn.pipeline was 9 ms of what
    # `import skdropbn` added to numpy + sklearn.base, for a display that
    # needs matplotlib anyway (benchmarks/import_time.py; python -X importtime).
    from sklearn.pipeline import Pipeline

    obj = estimator
    while True:
        if isinstance(obj, _fixes.base_search_cv()):
            check_is_fitted(obj, "cv_results_")
            if not hasattr(obj, "best_estimator_"):
                raise ValueError(
                    f"This {type(obj).__name__} was fitted with refit=False, so "
                    "it has no best_estimator_ whose training history could be "
                    "shown. Fit it with refit=True (the default)."
                )
            obj = obj.best_estimator_
        elif isinstance(obj, Pipeline):
            obj = obj[-1]
        else:
            break
    if not isinstance(obj, _BaseDropBN):
        raise TypeError(
            "Expected a DropBN estimator (e.g. DropBNRegressor), a Pipeline whose "
            "last step is one, or a fitted GridSearchCV / RandomizedSearchCV over "
            f"one; got {type(estimator).__name__}"
            + (f" ending in {type(obj).__name__}" if obj is not estimator else "")
            + "."
        )
    check_is_fitted(obj)
    return obj


class TrainingHistoryDisplay:
    """Training and validation loss per epoch of a fitted DropBN estimator.

    The learning curves of a single fit, with the epoch whose weights early
    stopping kept marked. Create it with :meth:`from_estimator`; all
    parameters are stored as attributes.

    Parameters
    ----------
    loss : list of float
        Training loss of each epoch.

    val_loss : list of float, default=None
        Validation loss of each epoch (present with early stopping).

    best_epoch : int, default=None
        The 1-based epoch whose weights were kept; marked when given.

    loss_name : str, default=None
        Name of the loss, shown in the y-axis label.

    estimator_name : str, default=None
        Name of the estimator, shown in the title.

    Attributes
    ----------
    lines_ : list of matplotlib.lines.Line2D
        The training loss line, then the validation loss line if any.

    best_epoch_line_ : matplotlib.lines.Line2D or None
        Vertical line at ``best_epoch``.

    best_epoch_marker_ : matplotlib.lines.Line2D or None
        Marker on the validation loss (else the training loss) at
        ``best_epoch``.

    ax_ : matplotlib.axes.Axes
        Axes with the curves.

    figure_ : matplotlib.figure.Figure
        Figure containing the curves.

    See Also
    --------
    SearchResultsDisplay : Mean cross-validated scores of a grid search.
    sklearn.model_selection.LearningCurveDisplay : Scores against the number
        of training samples (not epochs).

    Notes
    -----
    Epochs are numbered from 1, like ``best_epoch_``. The losses of
    ``DropBNRegressor`` are on the standardised target (the network learns
    ``(y - y_mean_) / y_scale_``), so they compare across data sets but are
    not in the target's units.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skdropbn import TrainingHistoryDisplay
    >>> display = TrainingHistoryDisplay(
    ...     loss=[1.0, 0.6, 0.5, 0.45],
    ...     val_loss=[0.9, 0.7, 0.65, 0.7],
    ...     best_epoch=3,
    ... ).plot()
    >>> [line.get_label() for line in display.lines_]
    ['loss', 'val_loss']
    >>> display.best_epoch_line_.get_xdata()
    [3, 3]

    """

    def __init__(
        self, *, loss, val_loss=None, best_epoch=None, loss_name=None,
        estimator_name=None,
    ):  # fmt: skip
        self.loss = loss
        self.val_loss = val_loss
        self.best_epoch = best_epoch
        self.loss_name = loss_name
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(
        cls, estimator, *, ax=None, loss_kw=None, val_loss_kw=None, best_epoch_kw=None
    ):
        """Plot the training history of a fitted estimator.

        Parameters
        ----------
        estimator : estimator instance
            A fitted ``DropBNRegressor`` (or other DropBN estimator), a
            fitted :class:`~sklearn.pipeline.Pipeline` whose last step is
            one, or a fitted :class:`~sklearn.model_selection.GridSearchCV`
            or :class:`~sklearn.model_selection.RandomizedSearchCV` over one
            (its ``best_estimator_`` is shown).

        ax : matplotlib.axes.Axes, default=None
            Axes to plot on; a new figure and axes when None.

        loss_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot` for the
            training loss.

        val_loss_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot` for the
            validation loss.

        best_epoch_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.axvline` for the
            best-epoch line.

        Returns
        -------
        display : TrainingHistoryDisplay
            The display, with the curves drawn.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        TypeError
            If it is not, and does not end in, a DropBN estimator.

        See Also
        --------
        TrainingHistoryDisplay.plot : Plot from stored data.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_diabetes
        >>> from skdropbn import DropBNRegressor, TrainingHistoryDisplay
        >>> X, y = load_diabetes(return_X_y=True)
        >>> model = DropBNRegressor(n_layers=1, units=8, epochs=5, random_state=0)
        >>> model = model.fit(X[:100], y[:100])
        >>> display = TrainingHistoryDisplay.from_estimator(model)
        >>> len(display.lines_[0].get_ydata()) == model.n_iter_
        True
        >>> display.ax_.get_xlabel()
        'epoch'

        """
        _pyplot(f"{cls.__name__}.from_estimator")
        est = _fitted_dropbn(estimator)
        history = est.history_
        display = cls(
            loss=list(history["loss"]),
            val_loss=list(history["val_loss"]) if "val_loss" in history else None,
            best_epoch=est.best_epoch_,
            loss_name=getattr(est, "loss", None),
            estimator_name=type(est).__name__,
        )
        return display.plot(
            ax=ax, loss_kw=loss_kw, val_loss_kw=val_loss_kw, best_epoch_kw=best_epoch_kw
        )

    def plot(self, ax=None, *, loss_kw=None, val_loss_kw=None, best_epoch_kw=None):
        """Plot the loss curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to plot on; a new figure and axes when None.

        loss_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot` for the
            training loss.

        val_loss_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot` for the
            validation loss.

        best_epoch_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.axvline` for the
            best-epoch line.

        Returns
        -------
        display : TrainingHistoryDisplay
            This display, with ``ax_``, ``figure_`` and the artists set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from skdropbn import TrainingHistoryDisplay
        >>> display = TrainingHistoryDisplay(loss=[1.0, 0.5, 0.4]).plot()
        >>> display.lines_[0].get_ydata().tolist()
        [1.0, 0.5, 0.4]
        >>> display.best_epoch_line_ is None
        True

        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        ax = _axes(plt, ax)
        epochs = list(range(1, len(self.loss) + 1))
        self.lines_ = ax.plot(
            epochs, list(self.loss), **{"label": "loss", **(loss_kw or {})}
        )
        if self.val_loss is not None:
            val_epochs = list(range(1, len(self.val_loss) + 1))
            self.lines_ += ax.plot(
                val_epochs,
                list(self.val_loss),
                **{"label": "val_loss", **(val_loss_kw or {})},
            )
        self.best_epoch_line_ = self.best_epoch_marker_ = None
        if self.best_epoch is not None:
            best = int(self.best_epoch)
            line_kw = {
                "color": "0.4",
                "linestyle": "--",
                "linewidth": 1,
                "label": f"best epoch ({best})",
                **(best_epoch_kw or {}),
            }
            self.best_epoch_line_ = ax.axvline(best, **line_kw)
            curve = self.lines_[-1]
            (self.best_epoch_marker_,) = ax.plot(
                [best],
                [curve.get_ydata()[best - 1]],
                marker="o",
                linestyle="none",
                color=curve.get_color(),
                label="_best_epoch_marker",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"loss ({self.loss_name})" if self.loss_name else "loss")
        if self.estimator_name:
            ax.set_title(f"{self.estimator_name} training history")
        ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
