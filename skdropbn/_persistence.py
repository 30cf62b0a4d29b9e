"""Saving and loading fitted estimators in a format that runs no code on load.

``pickle`` and ``joblib`` can execute arbitrary code while loading, so a
model file received from someone else is a program. ``save`` writes a zip
archive that holds only data, and ``load`` reads it back without unpickling:

``manifest.json``
    Format name and version, the skdropbn version that wrote it, the
    estimator's class name, and the SHA-256 and size of every other member.
``estimator.json``
    The constructor parameters and the fitted attributes, as JSON; arrays are
    references into ``arrays.npz``.
``arrays.npz``
    Every array (Keras weights, folded inference weights, target scaling),
    read back with ``numpy.load(..., allow_pickle=False)``.

The class is looked up by name among the public skdropbn estimators only,
attribute names are checked against the class, and the Keras model is rebuilt
from the weights on first access of ``model_``: loading neither imports a
backend nor evaluates anything from the file. The hashes detect truncation and
corruption; they are not a signature (whoever can edit the file can edit the
manifest), which is why the loader never needs to trust the content.
"""

import hashlib
import io
import json
import keyword
import os
import warnings
import zipfile
import zlib
from dataclasses import MISSING, asdict, fields

import numpy as np

FORMAT_NAME = "skdropbn-estimator"
FORMAT_VERSION = 1

_MANIFEST = "manifest.json"
_ESTIMATOR = "estimator.json"
_ARRAYS = "arrays.npz"
# What a damaged archive can raise while it is read.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,  # an unsupported compression method
    RuntimeError,  # an encrypted member
)
# Scalars JSON keeps exactly (ints, floats via repr, strings, bools, None).
_JSON_SCALARS = (bool, int, float, str, type(None))


def _estimator_classes():
    """Public skdropbn estimator classes, by name: the only ones ``load`` builds."""
    import skdropbn
    from skdropbn._base import _BaseDropBN

    classes = {}
    for name in skdropbn.__all__:
        obj = getattr(skdropbn, name, None)
        if isinstance(obj, type) and issubclass(obj, _BaseDropBN):
            classes[obj.__name__] = obj
    return classes


def _version_tuple(version):
    parts = []
    for part in str(version).split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


# -- saving -----------------------------------------------------------------------


class _Encoder:
    """Turn fitted attributes into JSON, moving arrays into a dict of arrays."""

    def __init__(self):
        self.arrays = {}

    def array(self, value, where):
        value = np.asarray(value)
        if value.dtype.kind in "biufcUS":
            key = f"a{len(self.arrays)}"
            self.arrays[key] = value
            return {"__array__": key}
        if value.dtype.kind == "O":
            # e.g. classes_ of string labels: a list of scalars, kept as JSON.
            items = value.ravel().tolist()
            if all(isinstance(v, _JSON_SCALARS) for v in items):
                return {"__object_array__": items, "shape": list(value.shape)}
        raise TypeError(
            f"{where} is an array of dtype {value.dtype}, which cannot be saved "
            "without pickle."
        )

    def encode(self, value, where):
        from skdropbn._network import NetworkSpec

        if isinstance(value, _JSON_SCALARS):
            return value
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":
            return {"__scalar__": value.item(), "dtype": value.dtype.str}
        if isinstance(value, np.ndarray):
            return self.array(value, where)
        if isinstance(value, NetworkSpec):
            return {"__network_spec__": asdict(value)}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {
                "__tuple__": [
                    self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)
                ]
            }
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {
                "__dict__": {
                    k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()
                }
            }
        raise TypeError(
            f"{where} has type {type(value).__name__}, which skdropbn cannot save "
            "without pickle."
        )


# Constructor parameters added since format version 1, with the value that
# behaves as skdropbn did before each existed.
_ADDED_PARAMS = {"feature_embedding": None}


def _params_to_json(estimator):
    """The constructor parameters as JSON, and the names of those left out."""
    params, dropped = {}, []
    for name, value in estimator.get_params(deep=False).items():
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":
            value = value.item()
        if isinstance(value, _JSON_SCALARS):
            params[name] = value
        else:
            dropped.append(name)
    return params, dropped


def save(estimator, path):
    """Save a fitted skdropbn estimator to a file that loads without running code.

    The file is a zip of JSON (parameters, fitted attributes, a manifest with
    SHA-256 checksums) and an ``.npz`` of the weights; nothing is pickled.

    Parameters
    ----------
    estimator : DropBNRegressor or another skdropbn estimator
        A fitted estimator.
    path : str or path-like
        File to write (conventionally ending in ``.skdropbn``). It is written
        to a temporary file first and then renamed, so an interrupted save
        never leaves a half-written file under ``path``.

    Returns
    -------
    path : str
        The path written.

    Warns
    -----
    UserWarning
        If a parameter cannot be written as JSON (a ``RandomState`` instance as
        ``random_state``); it is stored as its default value (None) and listed
        in the manifest under ``"dropped_params"``.

    See Also
    --------
    load : Read the file back.

    Notes
    -----
    The file is a zip archive of ``manifest.json``, ``estimator.json`` and
    ``arrays.npz``; see ``docs/persistence.md``.

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
    from sklearn.utils.validation import check_is_fitted

    import skdropbn

    cls = type(estimator)
    if _estimator_classes().get(cls.__name__) is not cls:
        raise TypeError(
            f"save expects a skdropbn estimator, got {cls.__name__}; save a "
            "Pipeline's steps one by one, or use joblib for trusted files."
        )
    check_is_fitted(estimator)

    params, dropped = _params_to_json(estimator)
    if dropped:
        warnings.warn(
            f"Parameter(s) {dropped} of {cls.__name__} cannot be stored without "
            "pickle and are saved as None: the loaded estimator predicts the "
            "same, but refitting it uses fresh randomness. Pass an int "
            "random_state to keep refits reproducible.",
            UserWarning,
            stacklevel=2,
        )
        params.update(dict.fromkeys(dropped))

    encoder = _Encoder()
    attributes = {}
    for name, value in vars(estimator).items():
        if name in params or name == "_model":
            continue  # _model is rebuilt from _weights on demand
        attributes[name] = encoder.encode(value, f"Attribute {name}")

    estimator_json = json.dumps(
        {"params": params, "attributes": attributes}, allow_nan=True
    ).encode()
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **encoder.arrays)
    members = {_ESTIMATOR: estimator_json, _ARRAYS: buffer.getvalue()}
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skdropbn_version": skdropbn.__version__,
        "class": cls.__name__,
        "dropped_params": dropped,
        "members": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in members.items()
        },
    }

    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_MANIFEST, json.dumps(manifest, indent=2))
            for name, data in members.items():
                zf.writestr(name, data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


# -- loading ----------------------------------------------------------------------


def _bad_file(path, reason):
    return ValueError(f"{path!s} is not a valid skdropbn model file: {reason}")


def _read_member(zf, name, expected, path):
    info = expected.get(name)
    if not isinstance(info, dict):
        raise _bad_file(path, f"the manifest does not describe {name}.")
    try:
        size = zf.getinfo(name).file_size
    except KeyError:
        raise _bad_file(path, f"member {name} is missing.") from None
    if size != info.get("size"):
        # Checked before reading, so a huge tampered member is never inflated.
        raise _bad_file(
            path,
            f"member {name} has {size} bytes, the manifest says {info.get('size')}.",
        )
    try:
        data = zf.read(name)
    except _READ_ERRORS as exc:
        raise _bad_file(path, f"member {name} is unreadable ({exc}).") from None
    if hashlib.sha256(data).hexdigest() != info.get("sha256"):
        raise _bad_file(
            path, f"member {name} does not match its SHA-256 in the manifest "
            "(corrupted or modified)."
        )  # fmt: skip
    return data


class _Decoder:
    """The inverse of ``_Encoder``; builds only arrays, scalars and containers."""

    def __init__(self, arrays, path):
        self.arrays = arrays
        self.path = path

    def decode(self, value):
        from skdropbn._network import NetworkSpec

        if isinstance(value, _JSON_SCALARS):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict) or len(value) > 2:
            raise _bad_file(self.path, f"unexpected value {str(value)[:80]!r}.")
        if "__array__" in value:
            key = value["__array__"]
            if key not in self.arrays:
                raise _bad_file(self.path, f"array {key!r} is missing.")
            return self.arrays[key]
        if "__object_array__" in value:
            items = value["__object_array__"]
            if not all(isinstance(v, _JSON_SCALARS) for v in items):
                raise _bad_file(self.path, "an object array holds non-scalars.")
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(value["shape"])
        if "__scalar__" in value:
            dtype = np.dtype(value["dtype"])
            if dtype.kind not in "biuf":
                raise _bad_file(self.path, f"unexpected scalar dtype {dtype}.")
            return dtype.type(value["__scalar__"])
        if "__tuple__" in value:
            return tuple(self.decode(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {str(k): self.decode(v) for k, v in value["__dict__"].items()}
        if "__network_spec__" in value:
            spec = value["__network_spec__"]
            names = {f.name for f in fields(NetworkSpec)}
            # Fields added later have defaults: files saved before still load.
            required = {f.name for f in fields(NetworkSpec) if f.default is MISSING}
            if not isinstance(spec, dict) or not required <= set(spec) <= names:
                raise _bad_file(self.path, "the network description is incomplete.")
            if not all(isinstance(v, _JSON_SCALARS) for v in spec.values()):
                raise _bad_file(self.path, "the network description is not plain.")
            return NetworkSpec(**spec)
        raise _bad_file(self.path, f"unexpected value {str(value)[:80]!r}.")


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
        raise _bad_file(path, f"{name!r} is not a fitted attribute of {cls.__name__}.")


def load(path):
    """Load an estimator written by ``save``, without executing code from the file.

    Every member is checked against the manifest's checksums before use, and
    only skdropbn's own estimator classes can be built.

    Parameters
    ----------
    path : str or path-like
        File written by ``save``.

    Returns
    -------
    estimator : DropBNRegressor or another skdropbn estimator
        The fitted estimator; it predicts exactly as the saved one did.
        ``model_`` is rebuilt from the stored weights on first access.

    Raises
    ------
    ValueError
        If the file is not a zip archive, is truncated, corrupted or modified
        (a member does not match its SHA-256), names a class that is not a
        skdropbn estimator, or was written by a newer skdropbn whose format
        this version cannot read.

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
    import skdropbn

    try:
        zf = zipfile.ZipFile(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (*_READ_ERRORS, zipfile.LargeZipFile, ValueError) as exc:
        raise _bad_file(path, f"not a readable zip archive ({exc}).") from None
    with zf:
        try:
            manifest = json.loads(zf.read(_MANIFEST))
        except KeyError:
            raise _bad_file(path, f"{_MANIFEST} is missing.") from None
        except (*_READ_ERRORS, ValueError) as exc:
            raise _bad_file(path, f"{_MANIFEST} is unreadable ({exc}).") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise _bad_file(
                path, f"its manifest does not name the {FORMAT_NAME} format."
            )
        version = manifest.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise _bad_file(path, f"format_version {version!r} is not an integer.")
        if version > FORMAT_VERSION:
            raise ValueError(
                f"{path!s} was saved by skdropbn "
                f"{manifest.get('skdropbn_version', '(unknown)')} in file format "
                f"version {version}, newer than this skdropbn {skdropbn.__version__} "
                f"(format version {FORMAT_VERSION}); upgrade skdropbn to load it."
            )
        classes = _estimator_classes()
        cls = classes.get(manifest.get("class"))
        if cls is None:
            raise _bad_file(
                path, f"class {manifest.get('class')!r} is not a skdropbn estimator "
                f"(expected one of {sorted(classes)})."
            )  # fmt: skip
        expected = manifest.get("members")
        if not isinstance(expected, dict):
            raise _bad_file(path, "the manifest lists no members.")
        raw_content = _read_member(zf, _ESTIMATOR, expected, path)
        raw_arrays = _read_member(zf, _ARRAYS, expected, path)
    try:
        content = json.loads(raw_content)
    except ValueError as exc:
        raise _bad_file(path, f"{_ESTIMATOR} is not JSON ({exc}).") from None

    try:
        with np.load(io.BytesIO(raw_arrays), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (*_READ_ERRORS, ValueError) as exc:
        raise _bad_file(path, f"the arrays are unreadable ({exc}).") from None

    if not isinstance(content, dict):
        raise _bad_file(path, f"{_ESTIMATOR} is not an object.")
    params, attributes = content.get("params"), content.get("attributes")
    if not isinstance(params, dict) or not isinstance(attributes, dict):
        raise _bad_file(path, f"{_ESTIMATOR} lacks params or attributes.")
    known = set(cls().get_params(deep=False))
    unknown = set(params) - known
    if unknown:
        raise _bad_file(
            path, f"unknown parameters {sorted(unknown)} for {cls.__name__}."
        )
    if not all(isinstance(v, _JSON_SCALARS) for v in params.values()):
        raise _bad_file(path, "a parameter is not a plain value.")

    # Parameters added after a file was saved take the value that gives the
    # network it was saved with, not today's default.
    estimator = cls(**{**_ADDED_PARAMS, **params})
    decoder = _Decoder(arrays, path)
    for name, value in attributes.items():
        _check_attribute_name(cls, name, path)
        setattr(estimator, name, decoder.decode(value))
    if "_layers" not in attributes or "_weights" not in attributes:
        raise _bad_file(path, "it holds no fitted network.")
    _check_layers(estimator, path)
    return estimator


def _check_layers(estimator, path):
    """The folded network must chain up, so that ``predict`` fails clearly."""
    from skdropbn._inference import ACTIVATIONS

    width = getattr(estimator, "n_features_in_", None)
    layers = estimator._layers
    if not isinstance(layers, list) or not layers:
        raise _bad_file(path, "the network has no layers.")
    for i, layer in enumerate(layers):
        if i == 0 and isinstance(layer, dict):
            width = _checked_embedding_width(layer, width, path)
            continue
        ok = isinstance(layer, tuple) and len(layer) == 4
        if ok:
            kernel, bias, activation, rate = layer
            ok = (
                isinstance(kernel, np.ndarray)
                and isinstance(bias, np.ndarray)
                and kernel.ndim == 2
                and kernel.dtype.kind == "f"
                and bias.shape == kernel.shape[1:]
                and kernel.shape[0] == width
                and activation in ACTIVATIONS
                and isinstance(rate, float)
            )
        if not ok:
            raise _bad_file(path, f"layer {i} of the network is malformed.")
        width = kernel.shape[1]


def _checked_embedding_width(layer, width, path):
    """Check a folded feature embedding; return its output width."""
    names = {"kind", "weight", "shift", "frequencies", "kernel", "bias"}
    arrays = [
        layer.get(k) for k in ("weight", "shift", "frequencies", "kernel", "bias")
    ]
    ok = (
        set(layer) == names
        and layer["kind"] == "periodic"
        and all(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays)
    )
    if ok:
        weight, shift, frequencies, kernel, bias = arrays
        ok = (
            weight.shape == shift.shape == (width,)
            and frequencies.ndim == 2
            and frequencies.shape[0] == width
            and kernel.ndim == 2
            and kernel.shape[0] == 2 * frequencies.shape[1]
            and bias.shape == kernel.shape[1:]
        )
    if not ok:
        raise _bad_file(path, "the feature embedding of the network is malformed.")
    return width * (kernel.shape[1] + 1)
