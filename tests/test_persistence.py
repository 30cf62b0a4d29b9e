"""Saving and loading without pickle: round trips, and files that must not load."""

import io
import json
import os
import pickle
import subprocess
import sys
import time
import warnings
import zipfile
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from conftest import TINY, make_regression_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import skdropbn
from skdropbn import DropBNClassifier, DropBNRegressor

DATA = Path(__file__).parent / "data"
# Small fits of one architecture: the compiled training step is shared.
SMALL = dict(n_layers=1, units=8, epochs=3, random_state=0)


# -- fitted models, once per module ---------------------------------------------------


@pytest.fixture(scope="module")
def models(data):
    """Fitted objects of every kind save takes, with the X they predict on."""
    X, y = data
    # 3 columns and 2 one-hot ones: the width, and compiled step, of the rest.
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    frame["colour"] = np.where(X[:, 4] > 0, "red", "blue")
    columns = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["a", "b", "c"]),
                ("cat", OneHotEncoder(), ["colour"]),
            ]
        ),
        DropBNRegressor(**SMALL),
    )
    return {
        "bare": (
            DropBNRegressor(**SMALL, early_stopping=True).fit(X, y),
            X,
        ),
        "pipeline": (
            make_pipeline(StandardScaler(), DropBNRegressor(**SMALL)).fit(X, y),
            X,
        ),
        "columns": (columns.fit(frame, y), frame),
        "search": (
            GridSearchCV(
                DropBNRegressor(**SMALL), {"learning_rate": [0.01, 0.03]}, cv=2
            ).fit(X, y),
            X,
        ),
        "target": (
            TransformedTargetRegressor(
                DropBNRegressor(**SMALL), func=np.arcsinh, inverse_func=np.sinh
            ).fit(X, y),
            X,
        ),
        "classifier": (
            DropBNClassifier(**SMALL).fit(X, np.where(y > 0, "pos", "neg")),
            X,
        ),
    }


@pytest.fixture(scope="module")
def files(models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("persistence")
    return {
        name: Path(skdropbn.save(obj, folder / f"{name}.skdropbn"))
        for name, (obj, _) in models.items()
    }


def predictions(obj, X):
    if isinstance(obj, DropBNClassifier):
        return obj.predict_proba(X)
    if isinstance(obj, DropBNRegressor) and obj.early_stopping:
        return np.stack(obj.predict(X, return_std=True))
    return obj.predict(X)


def read_members(source):
    with zipfile.ZipFile(source) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(members, compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def edit_schema(path, change):
    """The skops file at ``path`` with ``change(schema)`` applied, as bytes."""
    members = read_members(path)
    schema = json.loads(members["schema.json"])
    change(schema)
    members["schema.json"] = json.dumps(schema).encode()
    return write_zip(members)


def attribute(schema, name):
    """The node of a bare estimator's attribute ``name`` in its skops schema."""
    return schema["content"]["content"][name]


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def load_bytes(data, **kwargs):
    return skdropbn.load(io.BytesIO(data), **kwargs)


# -- round trips --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["bare", "pipeline", "columns", "search", "target", "classifier"]
)
def test_round_trip_predicts_identically(models, files, name):
    obj, X = models[name]
    loaded = skdropbn.load(files[name])
    assert type(loaded) is type(obj)
    assert loaded.get_params(deep=False).keys() == obj.get_params(deep=False).keys()
    np.testing.assert_array_equal(predictions(loaded, X), predictions(obj, X))


def test_round_trip_keeps_every_fitted_attribute(models, files):
    est, _ = models["bare"]
    loaded = skdropbn.load(files["bare"])
    assert loaded.get_params() == est.get_params()
    assert loaded.history_ == est.history_
    assert loaded._spec == est._spec
    for name in ("n_iter_", "best_epoch_", "loss_", "n_features_in_", "n_outputs_"):
        assert getattr(loaded, name) == getattr(est, name)
    for a, b in zip(loaded._weights, est._weights, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    search = skdropbn.load(files["search"])
    assert search.best_params_ == models["search"][0].best_params_
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"],
        models["search"][0].cv_results_["mean_test_score"],
    )


def test_skops_users_trust_only_the_estimator(models, files):
    # The state holds a dict, not the private NetworkSpec: a skops (or
    # MLflow) user names only the public estimator class.
    for name, trusted in [
        ("bare", ["skdropbn.DropBNRegressor"]),
        ("pipeline", ["skdropbn.DropBNRegressor"]),
        ("target", ["skdropbn.DropBNRegressor"]),
        ("classifier", ["skdropbn.DropBNClassifier"]),
    ]:
        assert sio.get_untrusted_types(file=files[name]) == trusted
        obj, X = models[name]
        loaded = sio.load(files[name], trusted=trusted)
        np.testing.assert_array_equal(predictions(loaded, X), predictions(obj, X))
    assert type(models["bare"][0].__getstate__()["_spec"]) is dict


def test_model_is_rebuilt_from_the_saved_weights(models, files):
    est, X = models["bare"]
    model = skdropbn.load(files["bare"]).model_
    np.testing.assert_allclose(
        model.predict(X[:20], verbose=0).ravel() * est.y_scale_ + est.y_mean_,
        est.predict(X[:20]),
        rtol=1e-4,
        atol=1e-4,
    )


def test_multi_output_and_feature_names_round_trip(tmp_path):
    X, Y = make_regression_data(n_samples=80, n_features=3, n_outputs=2)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    est = DropBNRegressor(**{**TINY, "epochs": 3}).fit(frame, Y)
    loaded = skdropbn.load(skdropbn.save(est, tmp_path / "m.skdropbn"))
    np.testing.assert_array_equal(loaded.feature_names_in_, ["a", "b", "c"])
    np.testing.assert_array_equal(loaded.predict(frame), est.predict(frame))
    assert loaded.predict(frame).shape == (80, 2)
    with pytest.warns(UserWarning, match="feature names"):
        loaded.predict(X)


def test_loaded_estimator_can_be_refitted_and_warm_started(data, files):
    X, y = data
    loaded = skdropbn.load(files["bare"]).set_params(warm_start=True, epochs=2)
    before = loaded.predict(X)
    loaded.fit(X, y)
    assert loaded.n_iter_ == 2
    assert not np.array_equal(loaded.predict(X), before)


def test_random_state_instance_is_saved_with_its_state(data, tmp_path):
    X, y = data
    est = DropBNRegressor(**SMALL).set_params(random_state=np.random.RandomState(0))
    est.fit(X, y)
    loaded = skdropbn.load(skdropbn.save(est, tmp_path / "m.skdropbn"))
    assert isinstance(loaded.random_state, np.random.RandomState)
    assert loaded.random_state.randint(10**9) == est.random_state.randint(10**9)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_file_objects_and_pickle_alongside(models, files, tmp_path):
    est, X = models["bare"]
    with open(files["bare"], "rb") as f:
        loaded = skdropbn.load(f)
    again = pickle.loads(pickle.dumps(loaded))
    joblib.dump(loaded, tmp_path / "m.joblib")
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "m.joblib").predict(X), est.predict(X)
    )
    # A pickle of an earlier version holds the NetworkSpec itself.
    old_state = dict(vars(est))
    old = DropBNRegressor.__new__(DropBNRegressor)
    old.__setstate__(old_state)
    assert old._spec == est._spec


def test_save_refuses_unfitted_and_non_estimators(tmp_path):
    with pytest.raises(NotFittedError):
        skdropbn.save(DropBNRegressor(), tmp_path / "m.skdropbn")
    with pytest.raises(NotFittedError):
        skdropbn.save(
            make_pipeline(StandardScaler(), DropBNRegressor()), tmp_path / "p"
        )
    with pytest.raises(TypeError, match="scikit-learn estimator"):
        skdropbn.save({"model": 1}, tmp_path / "m.skdropbn")
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_format_version_1_files_still_load(kind):
    expected = np.load(DATA / "v1-expected.npz")
    loaded = skdropbn.load(DATA / f"v1-{kind}.skdropbn")
    X = expected["X"]
    if kind == "regressor":
        np.testing.assert_allclose(loaded.predict(X), expected["regressor"], rtol=1e-12)
        # The Monte-Carlo passes run in float32, and BLAS kernels differ by
        # CPU (the file's figures came from AMD EPYC; Intel Xeon's AVX-512
        # kernels differ by 4e-8): float32 round-off of a few hidden layers'
        # sums, not the float64 pass's 1e-12.
        np.testing.assert_allclose(
            loaded.predict(X, return_std=True)[1], expected["regressor_std"], rtol=1e-5
        )
    else:
        np.testing.assert_allclose(
            loaded.predict_proba(X), expected["classifier"], rtol=1e-12
        )
        assert loaded.classes_.tolist() == ["neg", "pos"]


def test_weight_shapes_are_those_keras_builds():
    from skdropbn._keras.network import build_network
    from skdropbn._spec import NetworkSpec

    for bn, input_bn, embedding, n_layers, members, *features in [
        ("after", True, "periodic", 2, 1),
        ("before", False, None, 1, 1),
        (None, True, None, 1, 1),
        ("after", True, "periodic", 2, 3),
        ("before", True, None, 0, 2),
        ("after", False, "periodic", 1, 2, (0, 2)),
    ]:
        spec = NetworkSpec(
            3, 2, n_layers, 5, 0.1, bn, input_bn, "relu", "linear", embedding, members,
            *features,
        )  # fmt: skip
        built = [(w.path, tuple(w.shape)) for w in build_network(spec).weights]
        assert spec.weight_shapes() == built


@pytest.mark.parametrize(
    "features", [(), (0, 0), (2, 1), (0, 3), (-1, 1), [0, 1], (0, 1.0), (True,)]
)
def test_malformed_embedded_features_are_rejected(features):
    from skdropbn._persistence._check_fitted import _checked_spec
    from skdropbn._spec import NetworkSpec

    spec = NetworkSpec(3, 1, 1, 5, 0.1, "after", False, "relu", "linear", "periodic")
    assert _checked_spec(spec, "it", "f") is spec
    assert _checked_spec(replace(spec, embedded_features=(0, 2)), "it", "f")
    with pytest.raises(ValueError, match="malformed"):
        _checked_spec(replace(spec, embedded_features=features), "it", "f")


def test_loading_imports_no_backend_and_predicts(models, files, tmp_path):
    _, X = models["pipeline"]
    np.save(tmp_path / "X.npy", X[:5])
    code = f"""
import sys
import numpy as np
import skdropbn
est = skdropbn.load({str(files["pipeline"])!r})
X = np.load({str(tmp_path / "X.npy")!r})
np.save({str(tmp_path / "pred.npy")!r}, est.predict(X))
print(sorted(m for m in ("keras", "tensorflow", "jax") if m in sys.modules))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
    np.testing.assert_array_equal(
        np.load(tmp_path / "pred.npy"), models["pipeline"][0].predict(X[:5])
    )


# The next backend in a cycle, so that CI's three runs cover every pair's
# direction once: a file saved under one loads, rebuilds model_ and is warm
# started under the next.
NEXT_BACKEND = {"tensorflow": "jax", "jax": "torch", "torch": "tensorflow"}


def test_files_and_pickles_move_to_the_next_backend(models, files, tmp_path):
    import importlib.util

    from skdropbn._keras import backend_name

    other = NEXT_BACKEND[backend_name()]
    if importlib.util.find_spec(other) is None:
        pytest.skip(f"the {other} backend is not installed here")
    est, X = models["bare"]
    np.save(tmp_path / "X.npy", X)
    with open(tmp_path / "est.pkl", "wb") as f:
        pickle.dump(est, f)
    code = f"""
import pickle
import numpy as np
import skdropbn
from skdropbn._keras import backend_name
X = np.load({str(tmp_path / "X.npy")!r})
loaded = skdropbn.load({str(files["bare"])!r})
with open({str(tmp_path / "est.pkl")!r}, "rb") as f:
    unpickled = pickle.load(f)
from skdropbn._keras.trainer import to_numpy
keras_out = to_numpy(loaded.model_(X.astype(np.float32), training=False))
np.save({str(tmp_path / "keras.npy")!r}, keras_out)
np.save({str(tmp_path / "file.npy")!r}, np.stack(loaded.predict(X, return_std=True)))
np.save({str(tmp_path / "pickle.npy")!r}, unpickled.predict(X))
loaded.set_params(warm_start=True, epochs=1).fit(X, 2.0 * X[:, 0])
print(backend_name(), loaded.n_iter_)
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, check=True,
        env={**os.environ, "KERAS_BACKEND": other},
    ).stdout  # fmt: skip
    assert out.split() == [other, "1"]
    mean, std = est.predict(X, return_std=True)
    np.testing.assert_array_equal(np.load(tmp_path / "file.npy"), [mean, std])
    np.testing.assert_array_equal(np.load(tmp_path / "pickle.npy"), mean)
    raw = np.load(tmp_path / "keras.npy").ravel() * est.y_scale_ + est.y_mean_
    np.testing.assert_allclose(raw, mean, rtol=1e-4, atol=1e-4)


# -- files that must not load: bounds ---------------------------------------------


def bomb_member(size):
    """Deflate data of ``size`` zero bytes: a few kilobytes per 16 MiB."""
    return b"\0" * size


def assert_rejected_fast(data, match, **kwargs):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        load_bytes(data, **kwargs)
    assert time.perf_counter() - start < 5


def test_bomb_in_the_schema_is_rejected_within_the_budget(files):
    members = read_members(files["bare"])
    members["schema.json"] = b" " * (64 << 20) + members["schema.json"]
    data = write_zip(members)
    assert len(data) < 200_000
    assert_rejected_fast(data, "inflates past")


def test_bomb_array_and_npy_declaring_10_12_elements_are_rejected(files):
    members = read_members(files["bare"])
    name = next(n for n in members if n.endswith(".npy"))
    honest = npy_bytes(np.zeros((64 << 20) // 8))  # its header matches its data
    assert_rejected_fast(write_zip({**members, name: honest}), "inflates past")
    header = members[name][:128].replace(b"(", b"(1000000000000, ", 1)
    liar = header + members[name][128:]
    assert_rejected_fast(write_zip({**members, name: liar}), "declares shape")


def test_bomb_in_a_version_1_npz_is_rejected(tmp_path):
    members = read_members(DATA / "v1-regressor.skdropbn")
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a0.npy", npy_bytes(np.zeros((64 << 20) // 8)))
    data = write_zip({**members, "arrays.npz": inner.getvalue()})
    assert len(data) < 200_000
    assert_rejected_fast(data, "inflates past")


def test_unbounded_compression_methods_and_repeated_reads_are_refused(files):
    members = read_members(files["bare"])
    assert_rejected_fast(
        write_zip(members, compression=zipfile.ZIP_BZIP2), "compression method 12"
    )
    # One array, referenced by a schema many times over: each reference
    # would inflate it again.
    name = next(n for n in members if n.endswith(".npy"))
    members[name] = npy_bytes(np.zeros(1 << 20))
    schema = json.loads(members["schema.json"])
    node = {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode",
            "type": "numpy", "file": name}  # fmt: skip
    schema["content"]["content"]["history_"] = {
        "__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
        "content": [node] * 100,
    }  # fmt: skip
    members["schema.json"] = json.dumps(schema).encode()
    assert_rejected_fast(write_zip(members), "read again")


# -- files that must not load: content ----------------------------------------------


def set_json(schema, name, value):
    node = attribute(schema, name)
    # skops gives nodes of the same object (a small int, True) one id, and
    # builds the first of them only: an edited node must lose its id.
    node.pop("__id__", None)
    node.update(__class__="str", __module__="builtins", __loader__="JsonNode")
    node.update(content=json.dumps(value), is_json=True)


@pytest.mark.parametrize(
    "param, value",
    [("units", -5), ("n_mc_passes", 0), ("n_mc_passes", 10**12), ("dropout", 2.0)],
)
def test_out_of_range_parameters_are_rejected(files, param, value):
    data = edit_schema(files["bare"], lambda s: set_json(s, param, value))
    with pytest.raises(ValueError, match=f"invalid parameter: The '{param}'"):
        load_bytes(data)


def replace_array(path, index, change):
    """The file at ``path`` with its ``_weights[index]`` array changed."""
    members = read_members(path)
    schema = json.loads(members["schema.json"])
    node = attribute(schema, "_weights")["content"][index]
    array = np.load(io.BytesIO(members[node["file"]]))
    members[node["file"]] = npy_bytes(change(array))
    return write_zip(members)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: np.full_like(a, np.nan), "not all finite"),
        (lambda a: np.full_like(a, np.inf), "not all finite"),
        (lambda a: a[:-1], "shapes its network declares"),
        (lambda a: a.astype(np.int32), "shapes its network declares"),
        (lambda a: a + 1, "inference layers"),
    ],
)
def test_non_finite_misshapen_or_inconsistent_weights_are_rejected(
    files, change, match
):
    with pytest.raises(ValueError, match=match):
        load_bytes(replace_array(files["bare"], 0, change))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s: s.update(__module__="os", __class__="system"), "does not trust"),
        (lambda s: attribute(s, "_spec")["content"].pop("units"),
         "malformed"),
        (lambda s: attribute(s, "_spec")["content"].update(
            units={"__class__": "str", "__module__": "builtins",
                   "__loader__": "JsonNode", "content": "true"}),
         "network description of a DropBNRegressor is malformed"),
        (lambda s: set_json(s, "_y_1d", "yes"), "_y_1d"),
        (lambda s: set_json(s, "_std_calibration", [1.0, 2.0]), "std calibration"),
        (lambda s: s.update(protocol=99), "protocol"),
        (lambda s: s.update(content=[]), "malformed"),
    ],
)  # fmt: skip
def test_tampered_schema_is_rejected(files, change, match):
    with pytest.raises(ValueError, match=match):
        load_bytes(edit_schema(files["bare"], change))


def test_newer_format_and_foreign_types_are_refused(data, files, tmp_path):
    members = read_members(files["bare"])
    header = json.loads(members["skdropbn.json"])
    header.update(format_version=99, skdropbn_version="9.1")
    members["skdropbn.json"] = json.dumps(header).encode()
    with pytest.raises(ValueError, match=r"saved by skdropbn 9\.1 .*newer than"):
        load_bytes(write_zip(members))
    # A tree's node arrays are indexed unchecked (skops trusts them only
    # when asked): refused by default, loaded when the caller vouches.
    from sklearn.ensemble import StackingRegressor
    from sklearn.tree import DecisionTreeRegressor

    X, y = data
    stack = StackingRegressor(
        [
            ("tree", DecisionTreeRegressor(max_depth=2)),
            ("net", DropBNRegressor(**SMALL)),
        ],
        cv=2,
    ).fit(X, y)
    path = skdropbn.save(stack, tmp_path / "stack.skdropbn")
    with pytest.raises(
        ValueError, match=r"does not trust: \['sklearn.tree._tree.Tree'\]"
    ):
        skdropbn.load(path)
    loaded = skdropbn.load(path, trusted=["sklearn.tree._tree.Tree"])
    np.testing.assert_array_equal(loaded.predict(X), stack.predict(X))


def test_not_a_zip_truncated_and_corrupted(files, tmp_path):
    raw = files["bare"].read_bytes()
    with pytest.raises(ValueError, match="not a readable zip archive"):
        load_bytes(b"\x80\x04K\x01.")  # a pickle
    for cut in (0, 10, len(raw) // 2, len(raw) - 10):
        with pytest.raises(ValueError, match="not a valid skdropbn model file"):
            load_bytes(raw[:cut])
    members = read_members(files["bare"])
    del members["schema.json"]
    with pytest.raises(ValueError, match="neither schema.json"):
        load_bytes(write_zip(members))


def test_pickled_payload_is_never_unpickled(files, tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    members = read_members(files["bare"])
    name = next(n for n in members if n.endswith(".npy"))
    buffer = io.BytesIO()
    np.save(buffer, np.array([Exploit()], dtype=object), allow_pickle=True)
    members[name] = buffer.getvalue()
    with pytest.raises(ValueError, match="not plain data"):
        load_bytes(write_zip(members))
    assert not marker.exists()


# -- format version 1: the reader kept for old files --------------------------------


def v1_edit(change_manifest=None, change_content=None):
    """The version 1 fixture, edited, with a manifest whose hashes match."""
    import hashlib

    members = read_members(DATA / "v1-regressor.skdropbn")
    manifest = json.loads(members["manifest.json"])
    if change_content is not None:
        content = json.loads(members["estimator.json"])
        change_content(content)
        members["estimator.json"] = raw = json.dumps(content).encode()
        manifest["members"]["estimator.json"] = {
            "sha256": hashlib.sha256(raw).hexdigest(),
            "size": len(raw),
        }
    if change_manifest is not None:
        change_manifest(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    return write_zip(members)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda m: m.update(format_version=99, skdropbn_version="9.1"),
         r"saved by skdropbn 9\.1 .*newer than this skdropbn 0\.1"),
        (lambda m: m.update({"class": "Ridge"}), "not a skdropbn estimator"),
        (lambda m: m.update({"class": ["x"]}), "not a skdropbn estimator"),
        (lambda m: m.update(format_version="1"), "not an integer"),
        (lambda m: m.pop("members"), "lists no members"),
        (lambda m: m["members"]["arrays.npz"].update(size=1), "the manifest says"),
    ],
)  # fmt: skip
def test_version_1_tampered_manifest_is_rejected(change, match):
    with pytest.raises(ValueError, match=match):
        load_bytes(v1_edit(change_manifest=change))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda c: c["attributes"].update(predict=1), "not a fitted attribute"),
        (lambda c: c["attributes"].update(__class__=1), "not a fitted attribute"),
        (lambda c: c["params"].update(evil=1), "unknown parameters"),
        (lambda c: c["params"].update(units=-5), "invalid parameter"),
        (lambda c: c["params"].update(n_mc_passes=10**12), "invalid parameter"),
        (lambda c: c["attributes"].update(_layers=[]), "inference layers"),
        (lambda c: c["attributes"].update(n_features_in_=6), "n_features_in_=6"),
        (lambda c: c["attributes"].update(y_scale_={"__array__": "a0"}), "y_scale_"),
        (lambda c: c["attributes"].pop("_weights"), "no fitted network"),
        (lambda c: c["attributes"].update(x_={"__array__": "zz"}), "missing"),
        (lambda c: c["attributes"].update(x_={"__scalar__": 10**30, "dtype": "<i8"}),
         "does not fit"),
        (lambda c: c["attributes"].update(x_={"__scalar__": 1, "dtype": "zz"}),
         "unexpected dtype"),
        (lambda c: c["attributes"].update(x_={"__tuple__": {}}), "not a list"),
        (lambda c: c["attributes"].update(x_={"__object_array__": [1], "shape": 3}),
         "malformed shape"),
        (lambda c: c["attributes"]["_spec"]["__network_spec__"].update(units=True),
         "network description"),
    ],
)  # fmt: skip
def test_version_1_tampered_content_is_rejected(change, match):
    with pytest.raises(ValueError, match=match):
        load_bytes(v1_edit(change_content=change))


def test_deeply_nested_json_is_rejected(files):
    deep = "[" * 100_000 + "]" * 100_000
    members = read_members(DATA / "v1-regressor.skdropbn")
    members["manifest.json"] = f'{{"format": {deep}}}'.encode()
    with pytest.raises(ValueError, match="manifest.json is not JSON"):
        load_bytes(write_zip(members))
    members = read_members(files["bare"])
    members["schema.json"] = members["schema.json"][:-1] + f', "x": {deep}}}'.encode()
    with pytest.raises(ValueError, match="schema.json is not JSON"):
        load_bytes(write_zip(members))


# -- fuzzing: structurally mutated files raise ValueError or load and predict ------

ODD_VALUES = [None, True, 0, -1, 2**63, 10**30, 1e308, float("nan"), "", "x",
              "__init__", [], {}, [1, [2]], {"__class__": "system",
              "__module__": "os", "__loader__": "FunctionNode"},
              {"__class__": "ndarray", "__module__": "numpy", "type": "numpy",
               "__loader__": "NdArrayNode", "file": "no.npy"}]  # fmt: skip
DTYPES = ["<f8", "<f4", "|O", "<i8", "|b1", "<U3", "|V8", "<M8[s]"]


def json_slots(tree):
    """Every ``(container, key)`` of a JSON tree, in a fixed order."""
    slots, stack = [], [tree]
    while stack:
        node = stack.pop()
        keys = node.keys() if isinstance(node, dict) else range(len(node))
        for key in keys:
            slots.append((node, key))
            if isinstance(node[key], dict | list):
                stack.append(node[key])
    return slots


def npy_with_header(array, shape=None, dtype=None):
    """``array``'s .npy bytes, its header then declaring shape and dtype."""
    raw = npy_bytes(array)
    header_len = int.from_bytes(raw[8:10], "little")
    header = raw[10 : 10 + header_len].decode("latin1")
    if shape is not None:
        header = header.replace(str(array.shape), str(tuple(shape)))
    if dtype is not None:
        header = header.replace(repr(array.dtype.str), repr(dtype))
    header = header.strip().ljust(header_len - 1) + "\n"
    return (
        raw[:8]
        + len(header).to_bytes(2, "little")
        + header.encode("latin1")
        + raw[10 + header_len :]
    )


def mutations(json_members, npy_members, n_members):
    index = st.integers(0, 10**6)
    return st.one_of(
        st.tuples(st.just("json-set"), st.sampled_from(json_members), index,
                  st.sampled_from(ODD_VALUES)),
        st.tuples(st.just("json-del"), st.sampled_from(json_members), index),
        st.tuples(st.just("json-copy"), st.sampled_from(json_members), index, index),
        st.tuples(st.just("json-wrap"), st.sampled_from(json_members), index),
        st.tuples(st.just("npy-shape"), st.sampled_from(npy_members),
                  st.lists(st.sampled_from([0, 1, 2, 7, -1, 10**12]), max_size=3)),
        st.tuples(st.just("npy-dtype"), st.sampled_from(npy_members),
                  st.sampled_from(DTYPES)),
        st.tuples(st.just("npy-cut"), st.sampled_from(npy_members), index),
        st.tuples(st.just("npy-fill"), st.sampled_from(npy_members),
                  st.sampled_from([np.nan, np.inf, -1.0, 0.0, 1e38])),
        st.tuples(st.just("zip-drop"), st.integers(0, n_members - 1)),
        st.tuples(st.just("zip-twice"), st.integers(0, n_members - 1)),
        st.tuples(st.just("bytes"), index, st.integers(0, 255)),
    )  # fmt: skip


def mutate_npy(data, op):
    kind = op[0]
    try:
        array = np.load(io.BytesIO(data))
    except Exception:  # an earlier op broke it already
        return data
    if kind == "npy-shape":
        return npy_with_header(array, shape=op[2])
    if kind == "npy-dtype":
        return npy_with_header(array, dtype=op[2])
    if kind == "npy-cut":
        return data[: op[2] % len(data)]
    if array.dtype.kind == "f" and array.size:
        array = array.copy()
        array.flat[0] = op[2]
    return npy_bytes(array)


def _mutate_json(members, parsed, op):
    """A ``json-*`` op on the parsed member ``op[1]`` (written back at the end)."""
    kind, target = op[0], op[1]
    if target not in parsed:
        try:
            parsed[target] = json.loads(members[target])
        except (KeyError, ValueError):  # dropped or bombed already
            return
    slots = json_slots(parsed[target])
    if not slots:
        return
    node, key = slots[op[2] % len(slots)]
    if kind == "json-set":
        node[key] = json.loads(json.dumps(op[3]))
    elif kind == "json-del":
        del node[key]
    elif kind == "json-copy":
        other, other_key = slots[op[3] % len(slots)]
        node[key] = json.loads(json.dumps(other[other_key]))
    else:
        node[key] = [node[key]]


def _mutate_member_npy(members, op):
    """An ``npy-*`` op; "arrays.npz/a3.npy" is an array inside version 1's .npz."""
    outer, _, inner = op[1].partition("/")
    if outer not in members:
        return
    if not inner:
        members[outer] = mutate_npy(members[outer], op)
        return
    try:
        arrays = read_members(io.BytesIO(members[outer]))
    except zipfile.BadZipFile:  # an earlier op broke it already
        return
    arrays[inner] = mutate_npy(arrays[inner], op)
    members[outer] = write_zip(arrays, zipfile.ZIP_STORED)


def _write_mutated(members, twice, flips):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in [
            *members.items(),
            *((n, members.get(n, b"")) for n in twice),
        ]:
            with warnings.catch_warnings(action="ignore"):  # duplicate names
                zf.writestr(name, data, compresslevel=1)
    raw = bytearray(buffer.getvalue())
    for position, byte in flips:
        raw[position % len(raw)] = byte
    return bytes(raw)


def mutate(members, ops):
    """Apply ``ops`` to ``{name: bytes}``; the archive's bytes, and its method."""
    members = dict(members)
    parsed, flips, twice = {}, [], []
    order = list(members)
    for op in ops:
        kind = op[0]
        if kind.startswith("json"):
            _mutate_json(members, parsed, op)
        elif kind.startswith("npy"):
            _mutate_member_npy(members, op)
        elif kind == "zip-drop":
            members.pop(order[op[1]], None)
        elif kind == "zip-twice":
            twice.append(order[op[1]])
        else:
            flips.append(op[1:])
    for name, tree in parsed.items():
        if name in members:
            members[name] = json.dumps(tree).encode()
    return _write_mutated(members, twice, flips)


def check_mutated(raw, X):
    try:
        obj = load_bytes(raw)
    except ValueError:
        return
    # What loads is a valid model: it predicts without error.
    assert obj.predict(X).shape[0] == len(X)


def fuzz_test(path, n_examples):
    members = read_members(path)
    json_members = [n for n in members if n.endswith(".json")]
    npy_members = [n for n in members if n.endswith(".npy")]
    if "arrays.npz" in members:
        inner = read_members(io.BytesIO(members["arrays.npz"]))
        npy_members += [f"arrays.npz/{name}" for name in inner]

    # Derandomized: CI runs the same files every time (a failure reproduces).
    @settings(max_examples=n_examples, deadline=None, database=None,
              derandomize=True, suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.lists(mutations(json_members, npy_members, len(members)), min_size=1,
                    max_size=3))  # fmt: skip
    def run(X, ops):
        check_mutated(mutate(members, ops), X)

    return run


def test_a_file_without_a_fitted_attribute_is_rejected(models, files):
    # The fuzz test's find: deleting y_mean_ from the schema loaded a model
    # whose predict raised AttributeError.
    members = read_members(files["bare"])
    tree = json.loads(members["schema.json"])
    text = json.dumps(tree)
    assert '"y_mean_"' in text
    edited = json.loads(text.replace('"y_mean_"', '"y_mean_gone"', 1))
    raw = mutate({**members, "schema.json": json.dumps(edited).encode()}, [])
    with pytest.raises(ValueError, match="y_mean_"):
        load_bytes(raw)


def test_fuzzed_files_raise_only_value_error(models, files):
    # 700 mutated files of format version 2 here, 300 of version 1 below:
    # every mutation either raises ValueError or leaves a model that predicts.
    est, X = models["bare"]
    fuzz_test(files["bare"], 700)(X[:5])


def test_fuzzed_version_1_files_raise_only_value_error(data):
    fuzz_test(DATA / "v1-regressor.skdropbn", 300)(data[0][:5])
