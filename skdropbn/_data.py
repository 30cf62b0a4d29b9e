"""The fit's data as the trainers take it: float32 buffers shared with the backend.

Backend-free: the buffers become backend tensors through
``skdropbn._keras.share_tensor`` without a copy.
"""

import math
from dataclasses import dataclass

import numpy as np

from skdropbn import _keras


@dataclass(frozen=True)
class TrainingData:
    """Training and validation rows, padded to whole batches (see ``training_data``).

    ``n_train`` and ``n_val`` are the real rows; the tensors may hold a few
    rows more, of weight 0, that never enter a batch or the validation loss.
    """

    X: object
    Y: object
    W: object
    X_val: object
    Y_val: object
    W_val: object
    n_train: int
    n_val: int


def training_data(X, targets, sample_weight, train_idx, val_idx, batch_size):
    """The fit's rows as a ``TrainingData`` of backend tensors.

    Row counts are padded (padding never enters a batch, and has weight 0 in
    the validation loss) to a multiple of ``batch_size`` so that the compiled
    epoch, which XLA specialises to exact shapes, is reused across
    cross-validation folds whose sizes differ by a row or two. Without
    early stopping (``val_idx`` None) there are no validation rows at all:
    the epoch then computes no validation loss. Weights are
    scaled to mean 1 over the real rows: the loss is then invariant to
    rescaling ``sample_weight``, and all-ones weights equal no weights.

    ``X`` is copied once: its rows are gathered a few megabytes at a time
    into float32 buffers that the tensors then share (no second copy, no
    full-size temporary), so a fit needs about one extra ``X`` of memory
    (half of one for float64 input).
    """
    if val_idx is None:
        val_idx = train_idx[:0]
    # Normalised in float64, then cast: weights too small for float32 (1e-40)
    # must not turn into zeros, or their sum into 0 / 0.
    w_val = sample_weight[val_idx]
    w_train = sample_weight[train_idx]
    n_train = _round_up(len(train_idx), batch_size)
    n_val = _round_up(len(val_idx), batch_size)
    w_train = _gather(w_train / w_train.mean(), None, n_train)
    if len(val_idx):
        w_val = w_val * (n_val / w_val.sum())
    w_val = _gather(w_val, None, n_val)
    share = _keras.share_tensor
    return TrainingData(
        X=share(_gather(X, train_idx, n_train)),
        Y=share(_gather(targets, train_idx, n_train)),
        W=share(w_train),
        X_val=share(_gather(X, val_idx, n_val)),
        Y_val=share(_gather(targets, val_idx, n_val)),
        W_val=share(w_val),
        n_train=len(train_idx),
        n_val=len(val_idx),
    )


def batch_data(X, targets, sample_weight, batches):
    """Each row of ``batches`` (row indices) as a one-batch ``TrainingData``.

    For ``partial_fit``: every batch is its own tensors of exactly
    ``batches.shape[1]`` rows, so that the compiled epoch sees the same
    shapes whatever the number of rows a call passes, and compiles once
    for a whole stream. ``sample_weight`` is scaled to mean 1 over the rows
    passed (in float64, as in ``training_data``); there are no validation
    rows.
    """
    sample_weight = sample_weight / sample_weight.mean()
    share = _keras.share_tensor
    empty = [share(_gather(a, [], 0)) for a in (X, targets, sample_weight)]
    for rows in batches:
        yield TrainingData(
            share(_gather(X, rows, len(rows))),
            share(_gather(targets, rows, len(rows))),
            share(_gather(sample_weight, rows, len(rows))),
            *empty,
            n_train=len(rows),
            n_val=0,
        )


def feature_statistics(X, chunk_rows=65536):
    """Mean and standard deviation (1 where 0) of each column of ``X``.

    In float64, two passes over blocks of rows, so that no temporary the
    size of ``X`` is made.
    """
    n = X.shape[0]
    total = np.zeros(X.shape[1])
    for start in range(0, n, chunk_rows):
        total += X[start : start + chunk_rows].sum(axis=0, dtype=np.float64)
    mean = total / n
    squares = np.zeros(X.shape[1])
    for start in range(0, n, chunk_rows):
        squares += np.square(X[start : start + chunk_rows] - mean).sum(axis=0)
    std = np.sqrt(squares / n)
    # Constant (or nearly constant) columns: leave them unscaled.
    std[~(std > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0
    return mean, std


def embedded_features(X, block_values=1 << 20):
    """Indices of the columns of ``X`` with more than two distinct values.

    The periodic embedding maps only those (``NetworkSpec.embedded_features``):
    a one-hot indicator, or any two-valued column, gains nothing from it.
    One pass over blocks of about ``block_values`` values, each column's
    first two values kept as they are met; it stops as soon as every column
    has shown a third (after one block, on continuous data). Returns
    None when every column has (the spec's "every feature").
    """
    n, d = X.shape
    first = np.asarray(X[:1], dtype=np.float64).reshape(d)
    second = np.full(d, np.nan)
    two_valued = np.ones(d, dtype=bool)
    chunk_rows = max(1, block_values // max(d, 1))  # a few MB per block
    for start in range(0, n, chunk_rows):
        cols = np.flatnonzero(two_valued)
        block = np.asarray(X[start : start + chunk_rows])[:, cols]
        other = block != first[cols]
        new = np.isnan(second[cols]) & other.any(axis=0)
        rows = other.argmax(axis=0)
        second[cols[new]] = block[rows[new], np.flatnonzero(new)]
        in_two = other & (block != second[cols])
        two_valued[cols[in_two.any(axis=0)]] = False
        if not two_valued.any():
            break
    embedded = np.flatnonzero(~two_valued)
    return None if len(embedded) == d else tuple(int(i) for i in embedded)


def equal_batch_size(n, batch_size):
    """Rows per batch when ``n`` rows make ``ceil(n / batch_size)`` equal batches.

    At most ``batch_size``; the batches then hold fewer than one row per
    batch more than ``n`` (``make_batches`` repeats that many), where
    batches of exactly ``batch_size`` rows would repeat up to
    ``batch_size - 1``.
    """
    n_batches = math.ceil(n / min(batch_size, n))
    return math.ceil(n / n_batches)


def _round_up(n, multiple):
    return -(-n // multiple) * multiple


def _gather(a, rows, n_rows, chunk_bytes=1 << 22):
    """``a[rows]`` (all of ``a`` if ``rows`` is None) as float32, zero-padded.

    The result has ``n_rows`` rows and is 64-byte aligned, as the backends
    need to use its memory in place. Rows are copied about ``chunk_bytes`` at
    a time, so no temporary the size of ``a`` is made.
    """
    tail = a.shape[1:]
    size = n_rows * math.prod(tail)
    raw = np.zeros(size * 4 + 64, dtype=np.uint8)
    offset = -raw.ctypes.data % 64
    out = raw[offset : offset + size * 4].view(np.float32).reshape(n_rows, *tail)
    n = a.shape[0] if rows is None else len(rows)
    step = max(1, chunk_bytes // max(1, a[:1].nbytes))
    for start in range(0, n, step):
        stop = min(start + step, n)
        out[start:stop] = a[start:stop] if rows is None else a[rows[start:stop]]
    return out
