"""Checks of every skdropbn estimator a file holds (step 3 of ``load``).

A file that passes the bounded reading and the type check can still hold
an estimator whose parameters ``fit`` would refuse, or whose network does
not match its description. Each skdropbn estimator found in the loaded
object (``_skdropbn_estimators``) must pass ``_check_estimator``: its
parameters as ``fit`` checks them and, when fitted, every attribute predict
reads, a valid network description, finite weights of the shapes that
description declares (``NetworkSpec.weight_shapes``), and the inference
layers those
weights fold into. Files of both formats are checked here, so either loads
only an estimator that predicts.
"""

import keyword

import numpy as np

from skdropbn._inference import export_layers
from skdropbn._persistence._common import _bad_file
from skdropbn._spec import NetworkSpec


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


def _checked_spec(spec, where, path):
    from skdropbn._base import ACTIVATIONS, MAX_MEMBERS

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
        and is_int(spec.n_members, 1)
        and spec.n_members <= MAX_MEMBERS
        and _valid_embedded(spec.embedded_features, spec.n_features)
    )
    if not ok:
        raise _bad_file(path, f"{where} is malformed: {str(spec)[:300]}.")
    return spec


def _valid_embedded(features, n_features):
    """None, or a non-empty tuple of increasing column indices."""
    if features is None:
        return True
    return (
        type(features) is tuple
        and 0 < len(features) <= n_features
        and all(type(i) is int for i in features)
        and features[0] >= 0
        and features[-1] < n_features
        and all(a < b for a, b in zip(features, features[1:]))
    )


def _check_weights(weights, spec, name, path):
    # Compared without computing the products: a description declaring
    # 10**12 units is rejected by comparison, never allocated.
    if spec.n_layers > 10_000:
        raise _bad_file(path, f"the network of a {name} has {spec.n_layers} layers.")
    expected = spec.weight_shapes()
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
