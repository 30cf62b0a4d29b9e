"""Displays: the training history of a fit and the scores of a grid search.

They follow scikit-learn's display conventions (``sklearn.metrics``'s
``RocCurveDisplay``, ``sklearn.model_selection``'s ``LearningCurveDisplay``):
``__init__`` stores the data to draw, a ``from_*`` class method computes it
from a fitted object and plots, ``plot`` draws on an axes and returns the
display, whose ``ax_``, ``figure_`` and artists are then public attributes.

matplotlib is optional (``pip install matplotlib``, or the ``plot`` extra) and
imported only when something is drawn, so that ``import skdropbn`` does not
load it.
"""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from skdropbn import _fixes
from skdropbn._base import _BaseDropBN


def _pyplot(caller):
    """``matplotlib.pyplot``, or an ImportError that names the extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install "
            "it with: pip install matplotlib (or the plot extra)"
        ) from exc
    return plt


def _axes(plt, ax):
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _fitted_dropbn(estimator):
    """The fitted DropBN estimator inside ``estimator``.

    ``estimator`` may be a DropBN estimator, a pipeline whose last step is
    one, or a fitted search (its ``best_estimator_``), nested in any order.
    """
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


def _param_columns(cv_results):
    """Names of the searched parameters in ``cv_results_`` order."""
    return [key[len("param_") :] for key in cv_results if key.startswith("param_")]


def _distinct(values):
    """Distinct values in a stable order: sorted when comparable, else as seen."""
    seen = []
    for value in values:
        if not any(value is v or (type(value) is type(v) and value == v) for v in seen):
            seen.append(value)
    try:
        return sorted(seen)
    except TypeError:
        return seen


def _index(values, value):
    for i, v in enumerate(values):
        if value is v or (type(value) is type(v) and value == v):
            return i
    raise ValueError(value)  # pragma: no cover - values come from _distinct


def _resolve_param(name, names):
    """``name`` as a full parameter name; a unique ``__`` suffix is accepted."""
    if name in names:
        return name
    matches = [n for n in names if n.endswith("__" + name)]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(
        f"{name!r} is not a searched parameter"
        + (" (ambiguous)" if matches else "")
        + f"; the search's parameters are {names}."
    )


class SearchResultsDisplay:
    """Heatmap of the mean cross-validated score over two searched parameters.

    One cell per pair of parameter values (for instance ``dropout`` x
    ``n_layers``), coloured by the mean test score, annotated with it, and
    the search's best candidate outlined. Create it with :meth:`from_search`;
    all parameters are stored as attributes.

    Parameters
    ----------
    scores : ndarray of shape (n_y_values, n_x_values)
        Mean test score of each cell; NaN for cells the search did not try.

    x_values : list
        Values of the parameter along the x-axis (the columns).

    y_values : list
        Values of the parameter along the y-axis (the rows).

    x_name : str
        Name of the x-axis parameter.

    y_name : str
        Name of the y-axis parameter.

    best_cell : tuple of int, default=None
        ``(row, column)`` of the cell to outline; the highest score when None.

    score_name : str, default="mean test score"
        Label of the colour bar.

    Attributes
    ----------
    im_ : matplotlib.image.AxesImage
        The heatmap.

    text_ : ndarray of shape (n_y_values, n_x_values) of matplotlib.text.Text \
            or None
        The annotations (None for untried cells), or None if not annotated.

    best_marker_ : matplotlib.patches.Rectangle
        Outline of the best cell.

    colorbar_ : matplotlib.colorbar.Colorbar
        The colour bar.

    ax_ : matplotlib.axes.Axes
        Axes with the heatmap.

    figure_ : matplotlib.figure.Figure
        Figure containing the heatmap.

    See Also
    --------
    TrainingHistoryDisplay : Loss curves of one fit.

    Notes
    -----
    scikit-learn scorers are "greater is better": an error metric such as
    ``scoring="neg_mean_absolute_error"`` shows negative errors, and the best
    cell has the highest value.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skdropbn import SearchResultsDisplay
    >>> display = SearchResultsDisplay(
    ...     scores=np.array([[0.40, 0.45], [0.42, 0.38]]),
    ...     x_values=[0.1, 0.3], y_values=[1, 2],
    ...     x_name="dropout", y_name="n_layers",
    ... ).plot()
    >>> display.im_.get_array().shape
    (2, 2)
    >>> display.text_[0, 1].get_text()
    '0.45'

    """

    def __init__(
        self, *, scores, x_values, y_values, x_name, y_name, best_cell=None,
        score_name="mean test score",
    ):  # fmt: skip
        self.scores = scores
        self.x_values = x_values
        self.y_values = y_values
        self.x_name = x_name
        self.y_name = y_name
        self.best_cell = best_cell
        self.score_name = score_name

    @classmethod
    def from_search(
        cls, search, *, x=None, y=None, metric=None, ax=None, cmap="viridis",
        annotate=True, values_format=".3g",
    ):  # fmt: skip
        """Plot the mean test scores of a fitted search.

        Parameters
        ----------
        search : GridSearchCV or RandomizedSearchCV
            A fitted search. Its ``cv_results_`` give one cell per pair of
            values of the ``x`` and ``y`` parameters.

        x : str, default=None
            Parameter along the x-axis, by its name in the search
            (``"dropbnregressor__dropout"``) or the unique part after the last
            ``__`` (``"dropout"``). When ``x`` and ``y`` are None, the search
            must vary exactly two parameters; the first (in ``cv_results_``
            order, alphabetical for a grid) goes on the x-axis.

        y : str, default=None
            Parameter along the y-axis, as ``x``.

        metric : str, default=None
            Which score of a multi-metric search to show; its ``refit``
            metric when None.

        ax : matplotlib.axes.Axes, default=None
            Axes to plot on; a new figure and axes when None.

        cmap : str or matplotlib.colors.Colormap, default="viridis"
            Colour map of the heatmap.

        annotate : bool, default=True
            Write each cell's score in it.

        values_format : str, default=".3g"
            Format of the annotations.

        Returns
        -------
        display : SearchResultsDisplay
            The display, with the heatmap drawn.

        Raises
        ------
        ValueError
            If ``x`` and ``y`` are not given and the search does not vary
            exactly two parameters, or a parameter or metric is unknown.

        See Also
        --------
        SearchResultsDisplay.plot : Plot from stored data.

        Notes
        -----
        When the search varies other parameters as well, each cell shows the
        best mean score over them.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_diabetes
        >>> from sklearn.model_selection import GridSearchCV
        >>> from skdropbn import DropBNRegressor, SearchResultsDisplay
        >>> X, y = load_diabetes(return_X_y=True)
        >>> model = DropBNRegressor(n_layers=1, units=8, epochs=5, random_state=0)
        >>> grid = {"learning_rate": [0.001, 0.01], "epochs": [3, 5]}
        >>> search = GridSearchCV(model, grid, cv=2).fit(X[:100], y[:100])
        >>> display = SearchResultsDisplay.from_search(search)
        >>> display.x_name, display.y_name
        ('epochs', 'learning_rate')
        >>> display.scores.shape
        (2, 2)

        """
        _pyplot(f"{cls.__name__}.from_search")
        check_is_fitted(search, "cv_results_")
        results = search.cv_results_
        names = _param_columns(results)

        def column(name):
            col = results[f"param_{name}"]
            return np.ma.getmaskarray(col), list(np.ma.getdata(col))

        if x is None and y is None:
            varied = []
            for name in names:
                masked, values = column(name)
                if len(_distinct(v for v, m in zip(values, masked) if not m)) > 1:
                    varied.append(name)
            if len(varied) != 2:
                raise ValueError(
                    f"The search varies {len(varied)} parameter(s) {varied}, not "
                    "two; pass x= and y= to choose the two to show."
                )
            x, y = varied
        elif x is None or y is None:
            raise ValueError("Pass both x and y, or neither.")
        else:
            x, y = _resolve_param(x, names), _resolve_param(y, names)
            if x == y:
                raise ValueError(f"x and y are the same parameter {x!r}.")

        if metric is None:
            refit = getattr(search, "refit", True)
            metric = refit if isinstance(refit, str) else "score"
        key = f"mean_test_{metric}"
        if key not in results:
            metrics = sorted(
                k[len("mean_test_") :] for k in results if k.startswith("mean_test_")
            )
            raise ValueError(
                f"metric={metric!r} is not in cv_results_; choose one of {metrics}."
            )
        mean = np.asarray(results[key], dtype=float)

        x_mask, x_col = column(x)
        y_mask, y_col = column(y)
        keep = [i for i in range(len(mean)) if not (x_mask[i] or y_mask[i])]
        x_values = _distinct(x_col[i] for i in keep)
        y_values = _distinct(y_col[i] for i in keep)
        scores = np.full((len(y_values), len(x_values)), np.nan)
        for i in keep:
            cell = _index(y_values, y_col[i]), _index(x_values, x_col[i])
            if not np.isnan(mean[i]) and not mean[i] <= scores[cell]:
                scores[cell] = mean[i]

        best_cell = None
        best_index = getattr(search, "best_index_", None)
        if best_index is not None and best_index in keep:
            best_cell = (
                _index(y_values, y_col[best_index]),
                _index(x_values, x_col[best_index]),
            )
        scoring = search.scoring if isinstance(search.scoring, str) else None
        if metric != "score":
            scoring = metric
        score_name = "mean test " + (scoring.replace("_", " ") if scoring else "score")
        display = cls(
            scores=scores, x_values=x_values, y_values=y_values, x_name=x,
            y_name=y, best_cell=best_cell, score_name=score_name,
        )  # fmt: skip
        return display.plot(
            ax=ax, cmap=cmap, annotate=annotate, values_format=values_format
        )

    def plot(self, ax=None, *, cmap="viridis", annotate=True, values_format=".3g"):
        """Plot the heatmap.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to plot on; a new figure and axes when None.

        cmap : str or matplotlib.colors.Colormap, default="viridis"
            Colour map of the heatmap.

        annotate : bool, default=True
            Write each cell's score in it.

        values_format : str, default=".3g"
            Format of the annotations.

        Returns
        -------
        display : SearchResultsDisplay
            This display, with ``ax_``, ``figure_`` and the artists set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from skdropbn import SearchResultsDisplay
        >>> display = SearchResultsDisplay(
        ...     scores=np.array([[0.1, 0.2, 0.3]]), x_values=[0.0, 0.2, 0.4],
        ...     y_values=[2], x_name="dropout", y_name="n_layers",
        ... ).plot(annotate=False)
        >>> display.best_marker_.get_xy()
        (1.5, -0.5)

        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        from matplotlib.patches import Rectangle

        ax = _axes(plt, ax)
        scores = np.asarray(self.scores, dtype=float)
        n_rows, n_cols = scores.shape
        self.im_ = ax.imshow(
            np.ma.masked_invalid(scores), cmap=cmap, origin="lower", aspect="auto"
        )
        self.colorbar_ = ax.figure.colorbar(self.im_, ax=ax, label=self.score_name)

        self.text_ = None
        if annotate:
            self.text_ = np.empty((n_rows, n_cols), dtype=object)
            finite = scores[np.isfinite(scores)]
            threshold = (finite.min() + finite.max()) / 2 if finite.size else 0.0
            dark, light = self.im_.cmap(0.0), self.im_.cmap(1.0)
            for i in range(n_rows):
                for j in range(n_cols):
                    if np.isfinite(scores[i, j]):
                        self.text_[i, j] = ax.text(
                            j, i, format(scores[i, j], values_format),
                            ha="center", va="center",
                            color=light if scores[i, j] < threshold else dark,
                        )  # fmt: skip

        best = self.best_cell
        if best is None:
            best = np.unravel_index(np.nanargmax(scores), scores.shape)
        row, col = int(best[0]), int(best[1])
        self.best_marker_ = ax.add_patch(
            Rectangle(
                (col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red",
                linewidth=3, label="best",
            )
        )  # fmt: skip

        ax.set_xticks(range(n_cols), [str(v) for v in self.x_values])
        ax.set_yticks(range(n_rows), [str(v) for v in self.y_values])
        ax.set_xlabel(self.x_name)
        ax.set_ylabel(self.y_name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
