"""Reading a search's ``cv_results_`` for ``SearchResultsDisplay``'s heatmap.

The searched parameters, their distinct values, and a short name resolved.
A parameter's values are told apart by type and equality (``1`` and ``True``
are two values) and sorted only when they are comparable.
"""


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
