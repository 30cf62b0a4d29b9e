"""Saving and loading fitted models in files that run no code on load.

``pickle`` and ``joblib`` can execute arbitrary code while loading, so a
model file received from someone else is a program. ``save`` writes a
`skops <https://skops.readthedocs.io>`_ file (format version 2): a zip of a
JSON schema and ``.npy`` arrays that describes any scikit-learn object, a
``Pipeline`` or a fitted search as well as a bare estimator, plus a small
``skdropbn.json`` member naming the format. ``load`` reads it in three steps,
and nothing from the file is executed in any of them:

1. Bounded reading. Every zip member is inflated in chunks against a budget
   of ``16 MiB + 4 x`` the file's size, counting the bytes actually produced
   (the sizes the archive declares are never trusted); only stored and
   deflated members are read; every ``.npy`` header must declare exactly the
   data that follows it, and an ``.npz`` inside is read the same way. A zip
   bomb is rejected within that budget of memory and time.
2. Types. The object may be built only from the types skops trusts by default
   (scikit-learn's estimators, NumPy and SciPy data types), scikit-learn's
   splitters, scorers and public metric functions, skdropbn's estimators, and
   types the caller passes as ``trusted``.
3. Content. Every skdropbn estimator in the loaded object must pass the
   ``_parameter_constraints`` that ``fit`` checks, and hold a network whose
   weights are finite, have the shapes its description declares, and fold
   into the inference layers it holds.

Every malformed file raises ``ValueError`` naming what is wrong. Files of
format version 1 (skdropbn's own zip of ``manifest.json``, ``estimator.json``
and ``arrays.npz``) are still read, with the same bounds and checks.
"""

import functools
import hashlib
import io
import json
import keyword
import math
import os
import zipfile
import zlib
from dataclasses import MISSING, fields

import numpy as np

from skdropbn import _fixes

FORMAT_NAME = "skdropbn-estimator"  # format version 1
SKOPS_FORMAT_NAME = "skdropbn-skops"  # format version 2 on
FORMAT_VERSION = 2

_MANIFEST = "manifest.json"
_ESTIMATOR = "estimator.json"
_ARRAYS = "arrays.npz"
_HEADER = "skdropbn.json"
_SCHEMA = "schema.json"

# load inflates at most this much, in all, per file (see _Budget).
BUDGET_BASE = 16 << 20
BUDGET_PER_BYTE = 4
_CHUNK = 1 << 20
# More members than any model needs (a fitted search has a few per
# candidate); a bound on what the central directory makes zipfile build.
_MAX_MEMBERS = 20_000
# Nodes of a skops schema (each dict): far more than a big fitted search
# holds, few enough that skops builds the tree in about a second.
_MAX_SCHEMA_NODES = 200_000
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
# What a damaged archive can raise while it is read.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
)
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
# Scalars JSON keeps exactly (ints, floats via repr, strings, bools, None).
_JSON_SCALARS = (bool, int, float, str, type(None))


def _bad_file(path, reason):
    return ValueError(f"{path!s} is not a valid skdropbn model file: {reason}")


def _estimator_classes():
    """Public skdropbn estimator classes, by name."""
    import skdropbn
    from skdropbn._base import _BaseDropBN

    classes = {}
    for name in skdropbn.__all__:
        obj = getattr(skdropbn, name, None)
        if isinstance(obj, type) and issubclass(obj, _BaseDropBN):
            classes[obj.__name__] = obj
    return classes


def _import_skops():
    try:
        import skops.io
    except ImportError:
        raise ImportError(
            "skdropbn.save and skdropbn.load need skops for pipelines and for "
            "files of format version 2: pip install skops (or the 'skops' extra)."
        ) from None
    return skops.io


# -- saving -----------------------------------------------------------------------


def save(obj, path):
    """Save a fitted model to a file that loads without running code.

    The file is a skops file (JSON and ``.npy`` arrays, no pickle) with one
    more member, ``skdropbn.json``, naming the format. Any fitted
    scikit-learn object works: a skdropbn estimator, a ``Pipeline`` or
    ``ColumnTransformer`` around one, a fitted ``GridSearchCV``, a
    ``TransformedTargetRegressor``.

    Parameters
    ----------
    obj : estimator
        A fitted scikit-learn estimator (or meta-estimator).
    path : str or path-like
        File to write (conventionally ending in ``.skdropbn``). It is written
        to a temporary file first and then renamed, so an interrupted save
        never leaves a half-written file under ``path``.

    Returns
    -------
    path : str
        The path written.

    Raises
    ------
    TypeError
        If ``obj`` is not a scikit-learn estimator (skops raises it too for
        an object it cannot write without pickle).
    sklearn.exceptions.NotFittedError
        If ``obj`` is not fitted.

    See Also
    --------
    load : Read the file back.

    Notes
    -----
    ``skops.io.load(path, trusted=["skdropbn.DropBNRegressor"])`` reads the
    file too (``"skdropbn.DropBNClassifier"`` for the classifier; a fitted
    search also needs its splitter and scorer types, which
    ``skops.io.get_untrusted_types`` lists); ``load`` additionally bounds the
    memory it uses and checks the networks. See ``docs/persistence.md``.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skdropbn import DropBNRegressor, load, save
    >>> X, y = load_diabetes(return_X_y=True)
    >>> est = DropBNRegressor(n_layers=1, units=8, epochs=3, random_state=0)
    >>> pipe = make_pipeline(StandardScaler(), est).fit(X, y)
    >>> path = save(pipe, os.path.join(tempfile.mkdtemp(), "model.skdropbn"))
    >>> bool((load(path).predict(X) == pipe.predict(X)).all())
    True
    """
    from sklearn.base import BaseEstimator
    from sklearn.utils.validation import check_is_fitted

    import skdropbn

    if not isinstance(obj, BaseEstimator):
        raise TypeError(
            f"save expects a fitted scikit-learn estimator, got {type(obj).__name__}."
        )
    check_is_fitted(obj)
    sio = _import_skops()
    data = sio.dumps(obj, compression=zipfile.ZIP_DEFLATED)
    header = {
        "format": SKOPS_FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skdropbn_version": skdropbn.__version__,
        "class": f"{type(obj).__module__}.{type(obj).__qualname__}",
    }
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_HEADER, json.dumps(header, indent=2))

    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


# -- bounded reading --------------------------------------------------------------


class _Budget:
    """Bytes a file may still inflate to: ``BUDGET_BASE + BUDGET_PER_BYTE * size``.

    Our files inflate to about their own size (weights hardly compress); the
    base leaves room for JSON, which compresses well but is small. A zip
    bomb's members inflate hundreds of times their size: reading stops as
    soon as the budget is spent, so memory and time stay bounded by it.
    """

    def __init__(self, file_size, path):
        self.total = BUDGET_BASE + BUDGET_PER_BYTE * file_size
        self.left = self.total
        self.path = path

    def take(self, n, where):
        self.left -= n
        if self.left < 0:
            raise _bad_file(
                self.path,
                f"{where} inflates past the {self.total} bytes that load reads "
                "from a file of this size (a zip bomb?).",
            )


def _open_zip(source, path, where):
    try:
        zf = zipfile.ZipFile(source)
    except (*_READ_ERRORS, zipfile.LargeZipFile, ValueError) as exc:
        raise _bad_file(
            path, f"{where} is not a readable zip archive ({exc})."
        ) from None
    infos = zf.infolist()
    names = [info.filename for info in infos]
    if len(infos) > _MAX_MEMBERS:
        zf.close()
        raise _bad_file(path, f"{where} has {len(infos)} members, too many.")
    if len(set(names)) != len(names):
        zf.close()
        raise _bad_file(path, f"{where} holds two members of the same name.")
    return zf


def _inflate(zf, info, budget, where):
    """The member's bytes, read a chunk at a time against ``budget``."""
    if info.flag_bits & 0x1:
        raise _bad_file(budget.path, f"{where} is encrypted.")
    # bzip2 and LZMA members are inflated a whole compressed chunk at a time
    # by zipfile, unbounded; deflate is inflated to the size asked for.
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _bad_file(
            budget.path,
            f"{where} uses compression method {info.compress_type}; only "
            "stored and deflated members are read.",
        )
    out = bytearray()
    try:
        with zf.open(info) as f:
            while chunk := f.read(_CHUNK):
                budget.take(len(chunk), where)
                out += chunk
    except _READ_ERRORS as exc:
        raise _bad_file(budget.path, f"{where} is unreadable ({exc}).") from None
    return out


def _npy_header(data, where, path):
    """``(shape, fortran_order, dtype, offset)`` of an ``.npy``, checked.

    The header must declare a plain (non-object, unstructured) dtype and
    exactly as many bytes as follow it: an ``.npy`` that declares 10**12
    elements in a few bytes is rejected before anything is allocated.
    """
    f = io.BytesIO(data)
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError) as exc:
        raise _bad_file(path, f"{where} has a malformed .npy header ({exc}).") from None
    # Structured dtypes are plain data too (a decision tree's nodes); objects
    # would need pickle.
    if dtype.hasobject:
        raise _bad_file(path, f"{where} is an array of Python objects, not plain data.")
    if dtype.itemsize == 0:
        raise _bad_file(path, f"{where} is an array of empty dtype {dtype}.")
    declared = math.prod(shape) * dtype.itemsize
    held = len(data) - f.tell()
    if declared != held:
        raise _bad_file(
            path,
            f"{where} declares shape {shape} of {dtype} ({declared} bytes) "
            f"but holds {held} bytes.",
        )
    return shape, fortran, dtype, f.tell()


def _npy_array(data, where, path):
    shape, fortran, dtype, offset = _npy_header(data, where, path)
    flat = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C").copy()


def _check_content(data, where, budget, nested):
    """Check a member by what it holds: ``.npy`` headers, nested ``.npz``."""
    if data.startswith(_NPY_MAGIC):
        _npy_header(data, where, budget.path)
    elif data.startswith(_ZIP_MAGIC):
        if nested:
            raise _bad_file(budget.path, f"{where} is a zip archive inside another.")
        with _open_zip(io.BytesIO(data), budget.path, where) as inner:
            for info in inner.infolist():
                name = f"{where}/{info.filename}"
                _check_content(_inflate(inner, info, budget, name), name, budget, True)


def _read_members(raw, path):
    """Every member of the archive ``raw``, inflated within the budget."""
    budget = _Budget(len(raw), path)
    with _open_zip(io.BytesIO(raw), path, "the file") as zf:
        members = {}
        for info in zf.infolist():
            where = f"member {info.filename!r}"
            members[info.filename] = data = _inflate(zf, info, budget, where)
            _check_content(data, where, budget, nested=False)
    return members, budget


def _parse_json(data, where, path):
    try:
        return json.loads(data)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise _bad_file(path, f"{where} is not JSON ({exc}).") from None


def _read_bytes(file):
    if hasattr(file, "read"):
        return file.read()
    with open(file, "rb") as f:
        return f.read()


# -- loading ----------------------------------------------------------------------


def load(file, *, trusted=None):
    """Load a model written by ``save``, without executing code from the file.

    Reads files of format version 2 (skops files, including ones written by
    ``skops.io.dump`` directly) and version 1 (written by skdropbn 0.1's
    ``save``).

    Parameters
    ----------
    file : str, path-like or binary file object
        File written by ``save``.
    trusted : list of str, default=None
        Further type names (as ``skops.io.get_untrusted_types`` lists them)
        that you have reviewed and allow the file to hold, such as
        ``"sklearn.tree._tree.Tree"`` for a pipeline with a random forest.

    Returns
    -------
    obj : estimator
        The fitted estimator; it predicts exactly as the saved one did. The
        ``model_`` of a skdropbn estimator is rebuilt from the stored
        weights on first access.

    Raises
    ------
    ValueError
        If the file is not a zip archive, is truncated or corrupted, inflates
        past its budget (``16 MiB + 4 x`` its size), holds a type that is
        neither trusted by default nor in ``trusted``, holds a skdropbn
        estimator with invalid parameters or an inconsistent or non-finite
        network, or was written by a newer skdropbn whose format this
        version cannot read. The message says which.

    See Also
    --------
    save : Write the file.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_diabetes
    >>> from skdropbn import DropBNRegressor, load, save
    >>> X, y = load_diabetes(return_X_y=True)
    >>> est = DropBNRegressor(n_layers=1, units=8, epochs=3, random_state=0).fit(X, y)
    >>> path = save(est, os.path.join(tempfile.mkdtemp(), "model.skdropbn"))
    >>> bool((load(path).predict(X) == est.predict(X)).all())
    True

    """
    path = getattr(file, "name", None) or (
        "<file object>" if hasattr(file, "read") else os.fspath(file)
    )
    raw = _read_bytes(file)
    members, budget = _read_members(raw, path)
    if _MANIFEST in members:
        obj = _load_v1(members, path)
    elif _SCHEMA in members:
        obj = _load_skops(raw, members, budget, path, trusted)
    else:
        raise _bad_file(path, f"it holds neither {_SCHEMA} nor {_MANIFEST}.")
    for est in _skdropbn_estimators(obj):
        _check_estimator(est, path)
    return obj


def _check_format_version(version, skdropbn_version, path):
    import skdropbn

    if not isinstance(version, int) or isinstance(version, bool):
        raise _bad_file(path, f"format_version {version!r} is not an integer.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!s} was saved by skdropbn {skdropbn_version} in file format "
            f"version {version}, newer than this skdropbn {skdropbn.__version__} "
            f"(format version {FORMAT_VERSION}); upgrade skdropbn to load it."
        )


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


def _skdropbn_estimators(obj):
    """The skdropbn estimators anywhere in ``obj``'s attributes, however nested."""
    from sklearn.base import BaseEstimator

    from skdropbn._base import _BaseDropBN

    stack, seen = [obj], set()
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, _BaseDropBN):
            yield value
        if isinstance(value, BaseEstimator):
            stack.extend(vars(value).values())
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        elif isinstance(value, np.ndarray) and value.dtype.hasobject:
            stack.extend(value.ravel().tolist())


# -- checking a loaded skdropbn estimator ------------------------------------------


# What predict and the public API read of a fitted estimator, besides the
# network: a file without one of them loaded, then failed in predict with
# AttributeError (found by the fuzz test).
_FITTED_ATTRIBUTES = (
    "n_features_in_", "n_outputs_", "history_", "n_iter_", "best_epoch_", "loss_",
    "_mc_seed",
)  # fmt: skip
_FITTED_ATTRIBUTES_OF = {
    "DropBNRegressor": ("y_mean_", "y_scale_", "_y_1d"),
    "DropBNClassifier": ("classes_", "_kind"),
}


def _check_estimator(est, path):
    """Parameters as ``fit`` checks them; for a fitted one, its network."""
    name = type(est).__name__
    state = vars(est)
    _check_params(est, path)
    if not _is_fitted(state, name, path):
        return  # unfitted (a search's estimator parameter)
    spec = _checked_spec(est._spec, f"the network description of a {name}", path)
    _check_sizes(state, spec, name, path)
    paths = _check_weights(est._weights, spec, name, path)
    _check_layers(est._layers, est._weights, paths, spec, name, path)
    _check_target_scaling(state, spec, name, path)
    _check_outputs(state, spec, name, path)
    _check_seed(state, name, path)
    for attr, value in state.items():
        if attr != "history_" and not _all_finite(value):
            raise _bad_file(path, f"{attr} of a {name} holds non-finite values.")


def _check_params(est, path):
    """Every parameter present and valid; every other attribute a fitted one."""
    cls = type(est)
    name = cls.__name__
    state = vars(est)
    params = set(cls._get_param_names())
    missing = sorted(params - set(state))
    if missing:
        raise _bad_file(path, f"a {name} lacks the parameters {missing[:10]}.")
    for attr in state:
        if attr not in params:
            _check_attribute_name(cls, attr, path)
    try:
        est._validate_params()
    except ValueError as exc:  # InvalidParameterError
        raise _bad_file(path, f"a {name} has an invalid parameter: {exc}") from None


def _is_fitted(state, name, path):
    """Whether the estimator is fitted; a fitted one must hold all it reads."""
    fitted_keys = {"_spec", "_weights", "_layers"}
    present = fitted_keys & set(state)
    if not present:
        return False
    if present != fitted_keys:
        raise _bad_file(path, f"a {name} lacks {sorted(fitted_keys - present)}.")
    required = {*_FITTED_ATTRIBUTES, *_FITTED_ATTRIBUTES_OF.get(name, ())}
    if missing := sorted(required - set(state)):
        raise _bad_file(path, f"a fitted {name} lacks {missing}.")
    return True


def _check_sizes(state, spec, name, path):
    """``n_features_in_`` and ``n_outputs_`` are those of the network."""
    n_features = state.get("n_features_in_")
    if n_features != spec.n_features or type(n_features) is not int:
        raise _bad_file(
            path, f"a {name} has n_features_in_={n_features!r}, its network "
            f"{spec.n_features}."
        )  # fmt: skip
    n_outputs = state.get("n_outputs_")
    if n_outputs != spec.n_outputs:
        raise _bad_file(
            path, f"a {name} has n_outputs_={n_outputs!r}, its network "
            f"{spec.n_outputs}."
        )  # fmt: skip


def _check_target_scaling(state, spec, name, path):
    """A regressor's ``y_mean_`` and ``y_scale_``: one float per output."""
    for attr in ("y_mean_", "y_scale_"):
        if attr in state:
            value = state[attr]
            if not (
                isinstance(value, np.ndarray)
                and value.shape == (spec.n_outputs,)
                and value.dtype.kind == "f"
            ):
                raise _bad_file(path, f"{attr} of a {name} is malformed.")
    # 0 is a constant target's scale (predicted exactly).
    if "y_scale_" in state and not np.all(state["y_scale_"] >= 0):
        raise _bad_file(path, f"y_scale_ of a {name} is negative.")


def _check_seed(state, name, path):
    seed = state.get("_mc_seed")
    if seed is not None and not (type(seed) is int and 0 <= seed < 2**63):
        raise _bad_file(path, f"the Monte-Carlo seed of a {name} is malformed.")


def _check_outputs(state, spec, name, path):
    """What predict reads besides the network: calibration, classes, flags."""
    calibration = state.get("_std_calibration")
    if calibration is not None:
        ok = (
            isinstance(calibration, tuple)
            and len(calibration) == 2
            and all(
                isinstance(a, np.ndarray)
                and a.dtype.kind == "f"
                and a.shape == (spec.n_outputs,)
                for a in calibration
            )
        )
        if not ok or not (np.all(calibration[0] >= 0) and np.all(calibration[1] > 0)):
            raise _bad_file(path, f"the std calibration of a {name} is malformed.")
    if "_y_1d" in state and type(state["_y_1d"]) is not bool:
        raise _bad_file(path, f"_y_1d of a {name} is not a bool.")
    if "_kind" in state:
        kind, classes = state["_kind"], state.get("classes_")
        n_classes = 2 if spec.n_outputs == 1 else spec.n_outputs
        ok = (
            kind in ("binary", "multiclass", "multilabel-indicator")
            and isinstance(classes, np.ndarray)
            and classes.shape == (n_classes,)
            and (kind == "multilabel-indicator")
            == (spec.output_activation == "sigmoid" and spec.n_outputs > 1)
        )
        if not ok:
            raise _bad_file(path, f"the classes of a {name} do not match its network.")


def _all_finite(value, depth=0):
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        return bool(np.isfinite(value).all())
    if isinstance(value, float | np.floating):
        return bool(np.isfinite(value))
    if isinstance(value, list | tuple) and depth < 4:
        return all(_all_finite(v, depth + 1) for v in value)
    if isinstance(value, dict) and depth < 4:
        return all(_all_finite(v, depth + 1) for v in value.values())
    return True


def _checked_spec(spec, where, path):
    from skdropbn._base import ACTIVATIONS
    from skdropbn._network import NetworkSpec

    if not isinstance(spec, NetworkSpec):
        raise _bad_file(path, f"{where} is a {type(spec).__name__}.")

    def is_int(v, low):
        return type(v) is int and v >= low

    ok = (
        is_int(spec.n_features, 1)
        and is_int(spec.n_outputs, 1)
        and is_int(spec.n_layers, 0)
        and is_int(spec.units, 1)
        and type(spec.dropout) is float
        and 0.0 <= spec.dropout < 1.0
        and spec.batch_norm in ("after", "before", None)
        and type(spec.input_batch_norm) is bool
        and spec.activation in ACTIVATIONS
        and spec.output_activation in ("linear", "sigmoid", "softmax")
        and spec.feature_embedding in ("periodic", None)
    )
    if not ok:
        raise _bad_file(path, f"{where} is malformed: {str(spec)[:300]}.")
    return spec


def weight_shapes(spec):
    """``[(path, shape)]`` of the Keras weights of ``spec``, in Keras's order.

    What ``build_network(spec).weights`` holds, computed without Keras: each
    layer's trainable weights, then its non-trainable ones.
    """
    from skdropbn._network import EMBEDDING_DIM, EMBEDDING_FREQUENCIES

    out = []

    def batch_norm(name, width):
        for w in ("gamma", "beta", "moving_mean", "moving_variance"):
            out.append((f"{name}/{w}", (width,)))

    width = spec.n_features
    if spec.input_batch_norm:
        batch_norm("input_batch_norm", width)
    if spec.feature_embedding == "periodic":
        k, dim = EMBEDDING_FREQUENCIES, EMBEDDING_DIM
        out += [
            ("embedding/frequencies", (width, k)),
            ("embedding/kernel", (2 * k, dim)),
            ("embedding/bias", (dim,)),
            ("embedding/weight", (width,)),
            ("embedding/shift", (width,)),
        ]
        width *= dim + 1
    for i in range(spec.n_layers):
        out.append((f"dense_{i}/kernel", (width, spec.units)))
        if spec.batch_norm != "before":
            out.append((f"dense_{i}/bias", (spec.units,)))
        if spec.batch_norm is not None:
            batch_norm(f"batch_norm_{i}", spec.units)
        width = spec.units
    out += [
        ("output/kernel", (width, spec.n_outputs)),
        ("output/bias", (spec.n_outputs,)),
    ]
    return out


def _check_weights(weights, spec, name, path):
    # Compared without computing the products: a description declaring
    # 10**12 units is rejected by comparison, never allocated.
    if spec.n_layers > 10_000:
        raise _bad_file(path, f"the network of a {name} has {spec.n_layers} layers.")
    expected = weight_shapes(spec)
    ok = isinstance(weights, list) and len(weights) == len(expected)
    if ok:
        for w, (_, shape) in zip(weights, expected):
            if not (
                isinstance(w, np.ndarray) and w.dtype.kind == "f" and w.shape == shape
            ):
                ok = False
                break
    if not ok:
        raise _bad_file(
            path, f"the weights of a {name} do not have the shapes its network "
            "declares."
        )  # fmt: skip
    if not all(np.isfinite(w).all() for w in weights):
        raise _bad_file(path, f"the weights of a {name} are not all finite.")
    return [p for p, _ in expected]


def _check_layers(layers, weights, paths, spec, name, path):
    """The inference layers must be those the weights fold into.

    They are refolded from the weights and compared (to rounding, as the
    fold's products may round differently on another machine's BLAS).
    """
    from skdropbn._network import export_layers

    with np.errstate(all="ignore"):
        expected = export_layers(weights, paths, spec)

    def same(a, b):
        if isinstance(b, np.ndarray):
            return (
                isinstance(a, np.ndarray)
                and a.dtype.kind == "f"
                and a.shape == b.shape
                and bool(np.isfinite(b).all())
                and np.allclose(a, b, rtol=1e-6, atol=1e-9)
            )
        if isinstance(b, dict):
            return (
                isinstance(a, dict)
                and a.keys() == b.keys()
                and all(same(a[k], b[k]) for k in b)
            )
        if isinstance(b, tuple):
            return (
                isinstance(a, tuple)
                and len(a) == len(b)
                and all(same(x, y) for x, y in zip(a, b))
            )
        return type(a) is type(b) and a == b

    if not (isinstance(layers, list) and same(tuple(layers), tuple(expected))):
        raise _bad_file(
            path, f"the inference layers of a {name} are not those its weights "
            "fold into (or are not finite)."
        )  # fmt: skip


# -- format version 1 ---------------------------------------------------------------

# Constructor parameters added since format version 1, with the value that
# behaves as skdropbn did before each existed.
_ADDED_PARAMS = {"feature_embedding": None}


def _checked_member(members, name, expected, path):
    info = expected.get(name)
    if not isinstance(info, dict):
        raise _bad_file(path, f"the manifest does not describe {name}.")
    if name not in members:
        raise _bad_file(path, f"member {name} is missing.")
    data = members[name]
    if len(data) != info.get("size"):
        raise _bad_file(
            path,
            f"member {name} has {len(data)} bytes, the manifest says "
            f"{str(info.get('size'))[:40]}.",
        )
    if hashlib.sha256(data).hexdigest() != info.get("sha256"):
        raise _bad_file(
            path, f"member {name} does not match its SHA-256 in the manifest "
            "(corrupted or modified)."
        )  # fmt: skip
    return data


class _Decoder:
    """Decode ``estimator.json`` of format version 1: arrays, scalars, containers.

    A JSON object is a tagged value: ``{"__array__": key}``,
    ``{"__tuple__": [...]}`` and so on, of at most two keys.
    """

    # The tags, in the order they are looked for.
    _TAGS = (
        "__array__",
        "__object_array__",
        "__scalar__",
        "__tuple__",
        "__dict__",
        "__network_spec__",
    )

    def __init__(self, arrays, path):
        self.arrays = arrays
        self.path = path

    def decode(self, value):
        """The value that ``value`` (parsed JSON) describes, checked."""
        if isinstance(value, _JSON_SCALARS):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        tag = self._tag(value)
        # Containers recurse here rather than in a helper, so that a level of
        # nesting costs as many frames as it always has (RecursionError: too
        # deeply nested).
        if tag == "__tuple__":
            return tuple(self.decode(v) for v in self._tuple_items(value))
        if tag == "__dict__":
            return {str(k): self.decode(v) for k, v in self._dict_items(value)}
        return self._LEAVES[tag](self, value)

    def _tag(self, value):
        if isinstance(value, dict) and len(value) <= 2:
            for tag in self._TAGS:
                if tag in value:
                    return tag
        raise _bad_file(self.path, f"unexpected value {str(value)[:80]!r}.")

    def _tuple_items(self, value):
        items = value["__tuple__"]
        if not isinstance(items, list):
            raise _bad_file(self.path, "a tuple is not a list.")
        return items

    def _dict_items(self, value):
        items = value["__dict__"]
        if not isinstance(items, dict):
            raise _bad_file(self.path, "a dict is not an object.")
        return items.items()

    def _array(self, value):
        key = value["__array__"]
        if not isinstance(key, str) or key not in self.arrays:
            raise _bad_file(self.path, f"array {str(key)[:40]!r} is missing.")
        return self.arrays[key]

    def _object_array(self, value):
        items = value["__object_array__"]
        if not isinstance(items, list) or not all(
            isinstance(v, _JSON_SCALARS) for v in items
        ):
            raise _bad_file(self.path, "an object array holds non-scalars.")
        shape = value.get("shape")
        if not (
            isinstance(shape, list)
            and all(type(n) is int and n >= 0 for n in shape)
            and math.prod(shape) == len(items)
        ):
            raise _bad_file(self.path, "an object array has a malformed shape.")
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(shape)

    def _scalar(self, value):
        dtype = value.get("dtype")
        try:
            dtype = np.dtype(dtype) if isinstance(dtype, str) else None
        except TypeError:
            dtype = None
        scalar = value["__scalar__"]
        if dtype is None or dtype.kind not in "biuf":
            raise _bad_file(self.path, "a scalar has an unexpected dtype.")
        if not isinstance(scalar, int | float) or isinstance(scalar, bool):
            raise _bad_file(self.path, "a scalar is not a number.")
        try:
            with np.errstate(over="raise"):
                return dtype.type(scalar)
        except (OverflowError, FloatingPointError, ValueError):
            raise _bad_file(
                self.path, f"scalar {str(scalar)[:40]} does not fit {dtype}."
            ) from None

    def _network_spec(self, value):
        from skdropbn._network import NetworkSpec

        spec = value["__network_spec__"]
        names = {f.name for f in fields(NetworkSpec)}
        # Fields added later have defaults: files saved before still load.
        required = {f.name for f in fields(NetworkSpec) if f.default is MISSING}
        if not isinstance(spec, dict) or not required <= set(spec) <= names:
            raise _bad_file(self.path, "the network description is incomplete.")
        if not all(isinstance(v, _JSON_SCALARS) for v in spec.values()):
            raise _bad_file(self.path, "the network description is not plain.")
        return NetworkSpec(**spec)

    # The tags that hold no nested values, and their decoders.
    _LEAVES = {
        "__array__": _array,
        "__object_array__": _object_array,
        "__scalar__": _scalar,
        "__network_spec__": _network_spec,
    }


def _check_attribute_name(cls, name, path):
    ok = (
        isinstance(name, str)
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith("__")
        and (name.endswith("_") or name.startswith("_"))
        # Never shadow a method or property of the class with data.
        and not hasattr(cls, name)
    )
    if not ok:
        raise _bad_file(
            path, f"{str(name)[:80]!r} is not a fitted attribute of {cls.__name__}."
        )


def _read_npz(data, path):
    """The arrays of an ``.npz`` (already inflated and checked), without np.load."""
    budget = _Budget(len(data), path)
    arrays = {}
    with _open_zip(io.BytesIO(data), path, _ARRAYS) as zf:
        for info in zf.infolist():
            where = f"{_ARRAYS}/{info.filename}"
            key = info.filename.removesuffix(".npy")
            arrays[key] = _npy_array(_inflate(zf, info, budget, where), where, path)
    return arrays


def _load_v1(members, path):
    """The estimator in a file of format version 1 (members read and checked)."""
    manifest = _parse_json(members[_MANIFEST], _MANIFEST, path)
    cls = _manifest_class(manifest, path)
    content, arrays = _read_content(members, manifest, path)
    params, attributes = _params_and_attributes(content, cls, path)
    # Parameters added after a file was saved take the value that gives the
    # network it was saved with, not today's default.
    estimator = cls(**{**_ADDED_PARAMS, **params})
    decoder = _Decoder(arrays, path)
    for name, value in attributes.items():
        _check_attribute_name(cls, name, path)
        try:
            decoded = decoder.decode(value)
        except RecursionError:
            raise _bad_file(path, f"attribute {name} is nested too deeply.") from None
        setattr(estimator, name, decoded)
    if "_layers" not in attributes or "_weights" not in attributes:
        raise _bad_file(path, "it holds no fitted network.")
    return estimator


def _manifest_class(manifest, path):
    """The estimator class the manifest names, once its format is checked."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise _bad_file(path, f"its manifest does not name the {FORMAT_NAME} format.")
    _check_format_version(
        manifest.get("format_version"),
        manifest.get("skdropbn_version", "(unknown)"),
        path,
    )
    classes = _estimator_classes()
    class_name = manifest.get("class")
    cls = classes.get(class_name) if isinstance(class_name, str) else None
    if cls is None:
        raise _bad_file(
            path, f"class {str(class_name)[:80]!r} is not a skdropbn estimator "
            f"(expected one of {sorted(classes)})."
        )  # fmt: skip
    return cls


def _read_content(members, manifest, path):
    """``estimator.json`` parsed and ``arrays.npz`` read, both as the manifest lists."""
    expected = manifest.get("members")
    if not isinstance(expected, dict):
        raise _bad_file(path, "the manifest lists no members.")
    raw_content = _checked_member(members, _ESTIMATOR, expected, path)
    raw_arrays = _checked_member(members, _ARRAYS, expected, path)
    content = _parse_json(raw_content, _ESTIMATOR, path)
    arrays = _read_npz(raw_arrays, path)
    return content, arrays


def _params_and_attributes(content, cls, path):
    """The two parts of ``estimator.json``; the parameters, checked."""
    if not isinstance(content, dict):
        raise _bad_file(path, f"{_ESTIMATOR} is not an object.")
    params, attributes = content.get("params"), content.get("attributes")
    if not isinstance(params, dict) or not isinstance(attributes, dict):
        raise _bad_file(path, f"{_ESTIMATOR} lacks params or attributes.")
    known = set(cls().get_params(deep=False))
    unknown = set(params) - known
    if unknown:
        raise _bad_file(
            path, f"unknown parameters {sorted(unknown)[:10]} for {cls.__name__}."
        )
    if not all(isinstance(v, _JSON_SCALARS) for v in params.values()):
        raise _bad_file(path, "a parameter is not a plain value.")
    return params, attributes
