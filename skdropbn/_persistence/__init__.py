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

This package holds ``save`` and ``load``; the steps are its modules:
``_read_bounded`` (step 1), ``_read_skops`` (step 2, and format version 2),
``_check_fitted`` (step 3), ``_read_v1`` (format version 1), and
``_common`` (the names, version check and error they share).
"""

import io
import json
import os
import zipfile

from skdropbn._persistence._check_fitted import (
    _check_estimator,
    _skdropbn_estimators,
)
from skdropbn._persistence._common import (
    _HEADER,
    _MANIFEST,
    _SCHEMA,
    FORMAT_NAME,
    FORMAT_VERSION,
    SKOPS_FORMAT_NAME,
    _bad_file,
)
from skdropbn._persistence._read_bounded import (
    BUDGET_BASE,
    BUDGET_PER_BYTE,
    _read_members,
)
from skdropbn._persistence._read_skops import _import_skops, _load_skops
from skdropbn._persistence._read_v1 import _load_v1

__all__ = [
    "BUDGET_BASE",
    "BUDGET_PER_BYTE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SKOPS_FORMAT_NAME",
    "load",
    "save",
]


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


# -- loading ----------------------------------------------------------------------


def _read_bytes(file):
    if hasattr(file, "read"):
        return file.read()
    with open(file, "rb") as f:
        return f.read()


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
