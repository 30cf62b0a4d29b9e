"""Format version 1: skdropbn 0.1's own zip, kept so that old files still load.

A version-1 file holds ``manifest.json`` (the format, the class, and each
member's size and SHA-256), ``estimator.json`` (parameters, and fitted
attributes in a small tagged JSON encoding that ``_Decoder`` reads) and
``arrays.npz`` (read by ``_read_npz`` through the bounded reader, never
``np.load``). Nothing new is written in this format.
"""

import hashlib
import io
import math
from dataclasses import MISSING, fields

import numpy as np

from skdropbn._persistence._check_fitted import _check_attribute_name
from skdropbn._persistence._common import (
    _ARRAYS,
    _ESTIMATOR,
    _JSON_SCALARS,
    _MANIFEST,
    FORMAT_NAME,
    _bad_file,
    _check_format_version,
    _estimator_classes,
    _parse_json,
)
from skdropbn._persistence._read_bounded import (
    _Budget,
    _inflate,
    _npy_array,
    _open_zip,
)

# Constructor parameters added since format version 1, with the value that
# behaves as skdropbn did before each existed.
_ADDED_PARAMS = {"feature_embedding": None, "n_members": 1}


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
        from skdropbn._spec import NetworkSpec

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
