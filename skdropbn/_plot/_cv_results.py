"""A search's ``cv_results_`` as the cells of ``SearchResultsDisplay``'s heatmap.

Which two parameters to show, which metric, each cell's mean test score (the
best over the other parameters) and the cell of the search's best candidate.
A parameter's values are told apart by type and equality (``1`` and ``True``
are two values) and sorted only when they are comparable.
"""

import numpy as np


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


def _column(results, name):
    """The ``param_<name>`` column: which rows lack it, and its values."""
    col = results[f"param_{name}"]
    return np.ma.getmaskarray(col), list(np.ma.getdata(col))


def _varied_params(results, names):
    """The parameters among ``names`` that take more than one value."""
    varied = []
    for name in names:
        masked, values = _column(results, name)
        if len(_distinct(v for v, m in zip(values, masked) if not m)) > 1:
            varied.append(name)
    return varied


def _axis_params(results, x, y):
    """Full names of the x- and y-axis parameters: as given, or the two varied."""
    names = _param_columns(results)
    if x is None and y is None:
        varied = _varied_params(results, names)
        if len(varied) != 2:
            raise ValueError(
                f"The search varies {len(varied)} parameter(s) {varied}, not "
                "two; pass x= and y= to choose the two to show."
            )
        x, y = varied
        return x, y
    if x is None or y is None:
        raise ValueError("Pass both x and y, or neither.")
    x, y = _resolve_param(x, names), _resolve_param(y, names)
    if x == y:
        raise ValueError(f"x and y are the same parameter {x!r}.")
    return x, y


def _mean_test_scores(search, metric):
    """``(metric, mean test scores)``; the search's ``refit`` metric when None."""
    results = search.cv_results_
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
    return metric, np.asarray(results[key], dtype=float)


def _score_cells(results, mean, x, y, best_index):
    """The heatmap's cells: ``(scores, x_values, y_values, best_cell)``.

    A cell's score is the best mean score of the candidates with its pair of
    values (NaN if none was tried); ``best_cell`` is the ``(row, column)`` of
    candidate ``best_index``, or None when there is none or it lacks x or y.
    """
    x_mask, x_col = _column(results, x)
    y_mask, y_col = _column(results, y)
    keep = [i for i in range(len(mean)) if not (x_mask[i] or y_mask[i])]
    x_values = _distinct(x_col[i] for i in keep)
    y_values = _distinct(y_col[i] for i in keep)

    def cell(i):
        return _index(y_values, y_col[i]), _index(x_values, x_col[i])

    scores = np.full((len(y_values), len(x_values)), np.nan)
    for i in keep:
        here = cell(i)
        if not np.isnan(mean[i]) and not mean[i] <= scores[here]:
            scores[here] = mean[i]
    best_cell = (
        cell(best_index) if best_index is not None and best_index in keep else None
    )
    return scores, x_values, y_values, best_cell


def _score_name(scoring, metric):
    """Label of the colour bar: the metric's name, or the single scorer's."""
    if metric != "score":
        scoring = metric
    elif not isinstance(scoring, str):
        scoring = None
    return "mean test " + (scoring.replace("_", " ") if scoring else "score")
