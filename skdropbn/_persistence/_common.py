"""What both format readers and ``save`` share: names, versions, the error.

The format names and version, the names of the members the formats hold,
the one ``ValueError`` every malformed file raises (``_bad_file``), the
format-version check, JSON parsing, and the estimator classes a file may
name. The other modules import these from here, never from the package's
``__init__`` (which imports them all).
"""

import json

FORMAT_NAME = "skdropbn-estimator"  # format version 1
SKOPS_FORMAT_NAME = "skdropbn-skops"  # format version 2 on
FORMAT_VERSION = 2

_MANIFEST = "manifest.json"
_ESTIMATOR = "estimator.json"
_ARRAYS = "arrays.npz"
_HEADER = "skdropbn.json"
_SCHEMA = "schema.json"

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


def _parse_json(data, where, path):
    try:
        return json.loads(data)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise _bad_file(path, f"{where} is not JSON ({exc}).") from None


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
