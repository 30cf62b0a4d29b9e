"""Format version 2: a skops file, and the types ``load`` lets it hold.

Step 2 of ``load``: the ``skdropbn.json`` header and the schema are checked
(its size, and that its references to members stay within the reading
budget) before skops builds anything; the file may hold only types skops
trusts by default, those of ``_default_allowed_types`` and those the caller
passes as ``trusted``. skops is imported here, and only when a file is
saved or loaded: ``import skdropbn`` does not need it.
"""

import functools

from skdropbn import _fixes
from skdropbn._persistence._common import (
    _HEADER,
    _SCHEMA,
    SKOPS_FORMAT_NAME,
    _bad_file,
    _check_format_version,
    _estimator_classes,
    _parse_json,
)
from skdropbn._persistence._read_bounded import _READ_ERRORS

# Nodes of a skops schema (each dict): far more than a big fitted search
# holds, few enough that skops builds the tree in about a second.
_MAX_SCHEMA_NODES = 200_000
# What reading a malformed description can raise in the decoders here or in
# skops's node classes: all mean "the file is malformed". MemoryError and
# RecursionError come from deeply nested or oversized values (the reading
# budget keeps the former to genuinely small allocations).
_MALFORMED = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    LookupError,
    OverflowError,
    ArithmeticError,
    RecursionError,
    MemoryError,
    ImportError,
    *_READ_ERRORS,
)


def _import_skops():
    try:
        import skops.io
    except ImportError:
        raise ImportError(
            "skdropbn.save and skdropbn.load need skops for pipelines and for "
            "files of format version 2: pip install skops (or the 'skops' extra)."
        ) from None
    return skops.io


@functools.cache
def _default_allowed_types():
    """Type names ``load`` allows beyond skops's defaults, and skdropbn's own.

    scikit-learn's splitters and scorers (a fitted search holds both) and its
    public metric functions (a scorer's ``_score_func``): classes whose state
    is data, and functions that only compute on arrays. Nothing that a file
    names is imported to find out: the list is made from scikit-learn itself.
    """
    import inspect

    import sklearn.metrics
    import sklearn.model_selection
    from skops.io.exceptions import UNTRUSTED_TYPE_REASONS

    _scorer = _fixes.scorer_module()
    names = {
        f"{cls.__module__}.{cls.__qualname__}" for cls in _estimator_classes().values()
    }
    for obj in vars(sklearn.model_selection).values():
        if isinstance(obj, type) and issubclass(obj, _fixes.splitter_bases()):
            names.add(f"{obj.__module__}.{obj.__qualname__}")
    for obj in vars(_scorer).values():  # the scorer classes, defined there
        if isinstance(obj, type) and obj.__module__ == _scorer.__name__:
            names.add(f"{obj.__module__}.{obj.__qualname__}")
    for name in sklearn.metrics.__all__:
        obj = getattr(sklearn.metrics, name, None)
        if inspect.isfunction(obj) and not name.startswith(("get_", "make_", "check_")):
            names.add(f"{obj.__module__}.{obj.__qualname__}")
    from sklearn.utils import Bunch  # a dict (StackingRegressor.named_estimators_)

    names.add(f"{Bunch.__module__}.{Bunch.__qualname__}")
    # skops explains why these are not trusted by default; load agrees.
    return frozenset(names - set(UNTRUSTED_TYPE_REASONS))


def _schema_references(schema, members, budget, path):
    """Check the schema's size and the members it reads.

    skops reads a member once per reference: a schema referencing one array
    a million times would inflate it a million times. Every reference must
    name a member, and all references together stay within the budget.
    """
    stack, nodes, referenced = [schema], 0, 0
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            nodes += 1
            name = value.get("file")
            if name is not None:
                if not isinstance(name, str) or name not in members:
                    raise _bad_file(
                        path, f"its schema reads a missing member {name!r}."
                    )
                referenced += len(members[name])
                budget.take(len(members[name]), f"member {name!r}, read again")
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        if nodes > _MAX_SCHEMA_NODES:
            raise _bad_file(path, f"its schema has over {_MAX_SCHEMA_NODES} nodes.")
    return referenced


def _load_skops(raw, members, budget, path, trusted):
    sio = _import_skops()
    header = members.get(_HEADER)
    if header is not None:
        header = _parse_json(header, _HEADER, path)
        if not isinstance(header, dict) or header.get("format") != SKOPS_FORMAT_NAME:
            raise _bad_file(
                path, f"{_HEADER} does not name the {SKOPS_FORMAT_NAME} format."
            )
        _check_format_version(
            header.get("format_version"),
            header.get("skdropbn_version", "(unknown)"),
            path,
        )
    schema = _parse_json(members[_SCHEMA], _SCHEMA, path)
    if not isinstance(schema, dict):
        raise _bad_file(path, f"{_SCHEMA} is not an object.")
    _schema_references(schema, members, budget, path)
    members.clear()  # skops reads them again from raw

    if trusted is not None and (
        isinstance(trusted, str) or not all(isinstance(t, str) for t in trusted)
    ):
        raise TypeError("trusted must be a list of type names (str).")
    allowed = _default_allowed_types() | set(trusted or ())
    try:
        untrusted = sio.get_untrusted_types(data=raw)
    except _MALFORMED as exc:
        raise _bad_file(
            path, f"its skops schema is malformed ({_describe(exc)})."
        ) from None
    refused = sorted(set(untrusted) - allowed)
    if refused:
        raise _bad_file(
            path,
            f"it holds types that load does not trust: {refused}. If you have "
            "reviewed them, pass them as trusted=[...].",
        )
    try:
        obj = sio.loads(raw, trusted=list(untrusted))
    except _MALFORMED as exc:
        raise _bad_file(
            path, f"its skops content is malformed ({_describe(exc)})."
        ) from None
    from sklearn.base import BaseEstimator

    if not isinstance(obj, BaseEstimator):
        raise _bad_file(path, f"it holds a {type(obj).__name__}, not an estimator.")
    return obj


def _describe(exc):
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
