"""``fit`` from data that is not in memory: a NumPy ``memmap`` or a dask array.

Small files here, with the block sizes of ``skdropbn._streaming`` made small
(monkeypatched) so that an epoch reads many chunks, groups and blocks, and
its last rows take the one-batch path; ``benchmarks/out_of_core.py``
streams gigabytes.
"""

import numpy as np
import pytest
from conftest import make_regression_data

from skdropbn import DropBNClassifier, DropBNRegressor, _streaming

da = pytest.importorskip("dask.array", reason="needs dask")

NET = dict(n_layers=1, units=16, epochs=25, learning_rate=0.01, random_state=0)


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    # 5 float32 features: blocks of 4 batches of 32 rows, groups of 3 blocks.
    monkeypatch.setattr(_streaming, "MIN_STREAM_BYTES", 0)
    monkeypatch.setattr(_streaming, "BLOCK_BYTES", 4 * 5 * 32 * 4)
    monkeypatch.setattr(_streaming, "GROUP_BYTES", 3 * 4 * 5 * 32 * 4)


@pytest.fixture(scope="module")
def data():
    return make_regression_data(n_samples=1500)


def memmap(tmp_path, X, mode="r"):
    path = tmp_path / "X.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=X.dtype, shape=X.shape)
    out[:] = X
    out.flush()
    del out
    return np.load(path, mmap_mode=mode)


def test_memmap_and_dask_stream_to_the_same_network(data, tmp_path):
    X, y = data
    X = X.astype(np.float32)
    on_disk = memmap(tmp_path, X)
    streamed = DropBNRegressor(**NET, batch_size=32).fit(on_disk, y)
    in_dask = DropBNRegressor(**NET, batch_size=32).fit(da.from_array(X, 200), y)
    np.testing.assert_array_equal(streamed.predict(X), in_dask.predict(X))
    # As good as the same network fitted in memory (which shuffles all rows).
    in_memory = DropBNRegressor(**NET, batch_size=32).fit(X, y)
    assert streamed.score(X, y) > in_memory.score(X, y) - 0.02 > 0.9
    # Early stopping on held-out chunks, and a calibrated return_std.
    assert len(streamed.history_["val_loss"]) == streamed.n_iter_
    assert streamed.best_epoch_ is not None
    mean, std = streamed.predict(X, return_std=True)
    assert 0.8 < np.mean(np.abs(y - mean) < 1.645 * std) < 0.99
    assert streamed.n_features_in_ == X.shape[1]


def test_float64_memmap_views_and_sample_weight(data, tmp_path):
    X, y = data
    on_disk = memmap(tmp_path, X)  # float64, read and cast a chunk at a time
    view = on_disk[100:]  # a view: read through the mapping
    est = DropBNRegressor(**NET, early_stopping=False)
    est.fit(view, y[100:], sample_weight=np.full(len(y) - 100, 3.0))
    assert est.n_iter_ == NET["epochs"] and est.score(X, y) > 0.85


def test_classifier_streams(data, tmp_path):
    X, y = data
    labels = np.where(y > np.median(y), "high", "low")
    clf = DropBNClassifier(**NET).fit(memmap(tmp_path, X), labels)
    assert clf.score(X, labels) > 0.85 and clf.classes_.tolist() == ["high", "low"]


def test_bad_input_in_scikit_learns_words(data, tmp_path):
    X, y = data
    bad = X.copy()
    bad[1234, 2] = np.nan
    est = DropBNRegressor(**NET)
    with pytest.raises(ValueError, match="NaN.*rows"):
        est.fit(memmap(tmp_path, bad), y)
    assert not hasattr(est, "n_features_in_")  # left as it was
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(da.from_array(X, 200), y[:-1])
    # (Of unknown size, so streamed whatever MIN_STREAM_BYTES says.)
    unknown = da.from_array(X, 200)[da.from_array(y, 200) > 0]
    with pytest.raises(ValueError, match="unknown"):
        est.fit(unknown, y[y > 0])


def test_small_memmaps_and_dask_arrays_fit_in_memory(data, tmp_path, monkeypatch):
    X, y = data
    X = X.astype(np.float32)
    monkeypatch.setattr(_streaming, "MIN_STREAM_BYTES", X.nbytes + 1)
    expected = DropBNRegressor(**NET).fit(X, y).predict(X)
    for small in (memmap(tmp_path, X), da.from_array(X, 200)):
        got = DropBNRegressor(**NET).fit(small, y).predict(X)
        np.testing.assert_array_equal(got, expected)
    # Streamed, a fit of 32 rows still has chunks to hold out (of 2 rows).
    monkeypatch.setattr(_streaming, "MIN_STREAM_BYTES", 0)
    tiny = DropBNRegressor(**NET, batch_size=32).fit(memmap(tmp_path, X[:32]), y[:32])
    assert tiny.n_iter_ >= 1
