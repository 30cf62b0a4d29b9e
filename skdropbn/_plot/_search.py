"""``SearchResultsDisplay``: a search's mean test scores over two parameters."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skdropbn._plot import _cv_results
from skdropbn._plot._common import _axes, _pyplot


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
        x, y = _cv_results._axis_params(results, x, y)
        metric, mean = _cv_results._mean_test_scores(search, metric)
        scores, x_values, y_values, best_cell = _cv_results._score_cells(
            results, mean, x, y, getattr(search, "best_index_", None)
        )
        score_name = _cv_results._score_name(search.scoring, metric)
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
