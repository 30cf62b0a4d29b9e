"""Fitting from data larger than memory: ``X`` a NumPy ``memmap`` or a dask array.

Backend-free, as ``_data.py``, whose in-memory ``TrainingData`` this
replaces when ``X`` lives on disk or in a Dask cluster. ``X`` is never
materialised: an epoch reads it a chunk of rows at a time (``RowSource``),
in a shuffled order of chunks, shuffles the rows of a few chunks read
together (``GROUP_BYTES``), and feeds them to the compiled epoch one block of
``BLOCK_BYTES`` at a time, so that every block has the same shape and the
epoch compiles once. ``y`` and ``sample_weight`` are held in memory (float32
targets: a column of ``X``'s size each).

The shuffle is by blocks: a batch mixes rows of ``GROUP_BYTES // chunk``
chunks drawn at random, not of the whole data set (as ``dask-ml``'s
``Incremental`` mixes blocks, and most out-of-core trainers do). Early
stopping holds out whole chunks, drawn with the split seed.
"""

import math

import numpy as np

from skdropbn import _data, _keras

MIN_STREAM_BYTES = 1 << 30  # float32 size of X from which fit streams it
BLOCK_BYTES = 64 << 20  # float32 rows of X per compiled epoch call
GROUP_BYTES = 256 << 20  # rows read, then shuffled, together
CALIBRATION_ROWS = 20_000  # validation rows read for return_std's calibration
MAX_AVERAGED_STEPS = 1000  # ema_momentum="auto" averages over at most these


def row_source(X):
    """A ``RowSource`` for an out-of-core ``X``, or None to fit it in memory.

    A memmap or dask array of ``MIN_STREAM_BYTES`` or more is streamed. A
    smaller one is fitted as in-memory data (a dask array computed first):
    the fit then holds one float32 copy of it, at most a few hundred MB,
    and shuffles all its rows.
    """
    is_dask = type(X).__module__.startswith("dask.array") and hasattr(X, "compute")
    if not (is_dask or isinstance(X, np.memmap)):
        return None
    shape = tuple(X.shape)
    known = all(isinstance(n, int | np.integer) for n in shape)
    if known and math.prod(shape) * 4 < MIN_STREAM_BYTES:
        return None
    if is_dask:
        return RowSource(X, lambda start, stop: np.asarray(X[start:stop].compute()))
    return RowSource(X, _memmap_reader(X))


def _memmap_reader(X):
    """Rows of a memmap read from its file, not through the mapping.

    Pages read through the mapping stay mapped in this process: streaming an
    8 GB memmap that way grows the RSS by 8 GB (reclaimable page cache, but
    counted). Reading the file into buffers of our own keeps the RSS at the
    buffers. For views (a slice of a memmap) and copy-on-write maps, whose
    contents may differ from the file, rows are read through the mapping.
    """
    import mmap

    if not (
        isinstance(X.base, mmap.mmap)
        and X.flags.c_contiguous
        and X.filename
        and X.mode in ("r", "r+", "w+")
    ):
        return lambda start, stop: np.array(X[start:stop])
    path, offset, width = X.filename, X.offset, X.shape[1]

    def read(start, stop):
        with open(path, "rb") as f:
            f.seek(offset + start * width * X.dtype.itemsize)
            rows = np.fromfile(f, dtype=X.dtype, count=(stop - start) * width)
        return rows.reshape(-1, width)

    return read


class RowSource:
    """Rows of an out-of-core ``X``, read as checked float32 blocks."""

    def __init__(self, array, read):
        shape = tuple(array.shape)
        if len(shape) != 2:
            raise ValueError(
                f"Expected a 2D array, got an array of shape {shape} instead."
            )
        if not all(isinstance(n, int | np.integer) for n in shape):
            raise ValueError(
                f"X has unknown dimensions {shape} (a dask array of unknown "
                "chunk sizes); call X.compute_chunk_sizes() first."
            )
        if np.dtype(array.dtype).kind not in "fiub":
            raise ValueError(f"X must be numeric; got dtype {array.dtype}.")
        self.array = array
        self.shape = (int(shape[0]), int(shape[1]))
        self._read = read

    def __getitem__(self, rows):
        """Rows ``rows`` (a slice of consecutive rows) as float32."""
        start, stop, _ = rows.indices(self.shape[0])
        block = np.asarray(self._read(start, stop))
        with np.errstate(over="ignore"):
            block = block.astype(np.float32, copy=False)
        if not np.isfinite(block).all():
            raise ValueError(
                f"Input X contains NaN, infinity or a value too large for "
                f"float32 (the network's precision) in rows {start} to {stop}."
            )
        return block


class StreamedData:
    """The fit's rows, streamed from a ``RowSource``; see the module docstring."""

    def __init__(self, source, targets, sample_weight, batch_size, val_fraction, rng):
        n, width = source.shape
        self.source, self.targets = source, targets
        self.batch_size = batch_size
        per_block = max(1, BLOCK_BYTES // (4 * width * batch_size))
        # Small data: a block of at most a twentieth of the rows, so that
        # there are chunks enough to hold some out.
        per_block = min(per_block, max(1, math.ceil(n / 20 / batch_size)))
        self.block_rows = per_block * batch_size
        self.group = max(1, GROUP_BYTES // (4 * width * self.block_rows))
        # Chunks (read, shuffled and held out whole) of a block, or of a
        # twentieth of the rows when that is fewer.
        chunk_rows = min(self.block_rows, math.ceil(n / 20))
        starts = np.arange(0, n, chunk_rows)
        chunks = np.stack([starts, np.minimum(starts + chunk_rows, n)], axis=1)
        n_val = math.ceil(val_fraction * len(chunks)) if val_fraction else 0
        if n_val and n_val >= len(chunks):
            raise ValueError(
                f"validation_fraction={val_fraction} of {len(chunks)} chunks of "
                f"{chunk_rows} rows leaves none to train on; set "
                "early_stopping=False or pass more samples."
            )
        is_val = np.zeros(len(chunks), dtype=bool)
        is_val[rng.permutation(len(chunks))[:n_val]] = True
        self.train_chunks, self.val_chunks = chunks[~is_val], chunks[is_val]
        self.weight = sample_weight
        self.n_train = int(np.sum(self.train_chunks[:, 1] - self.train_chunks[:, 0]))
        self.n_val = n - self.n_train
        # Without weights every row weighs 1: no array of n ones to average.
        self._train_scale = self._val_scale = 1.0
        if sample_weight is not None:
            self._train_scale = 1.0 / _mean_weight(sample_weight, self.train_chunks)
            if n_val:
                self._val_scale = 1.0 / _mean_weight(sample_weight, self.val_chunks)

    def _weights(self, rows, scale):
        if self.weight is None:
            return np.full(len(rows), scale)
        return self.weight[rows] * scale

    def run_epoch(self, trainer, rng):
        """One epoch over the training chunks: (training loss, validation loss)."""
        b = self.batch_size
        batches = np.arange(self.block_rows, dtype=np.int32).reshape(-1, b)
        order = rng.permutation(len(self.train_chunks))
        left_X, left_rows = np.zeros((0, self.source.shape[1]), np.float32), []
        total, n_batches = 0.0, 0
        for g in range(0, len(order), self.group):
            chunks = self.train_chunks[order[g : g + self.group]]
            X, rows = self._read(chunks, left_X, left_rows)
            perm = rng.permutation(len(X))
            full = len(X) // self.block_rows * self.block_rows
            for start in range(0, full, self.block_rows):
                pick = perm[start : start + self.block_rows]
                data = self._block(X, rows, pick)
                loss, _ = trainer.run_epoch(data, batches)
                total, n_batches = total + loss * len(batches), n_batches + len(batches)
            left_X, left_rows = X[perm[full:]], [rows[perm[full:]]]
            del X
        if len(left_X):  # fewer rows than a block: one-batch epochs
            from skdropbn._training import make_batches

            last = make_batches(len(left_X), b, rng)
            w = self._weights(left_rows[0], self._train_scale)
            loss = trainer.run_steps(
                _data.batch_data(left_X, self.targets[left_rows[0]], w, last)
            )
            total, n_batches = total + loss * len(last), n_batches + len(last)
        return total / n_batches, self._validate(trainer) if self.n_val else None

    def _read(self, chunks, head, head_rows):
        """``head`` and the rows of ``chunks``, with their indices.

        ``chunks`` are ``[start, stop)`` pairs; one buffer holds all the
        rows, filled a chunk at a time.
        """
        n_rows = len(head) + int(np.sum(chunks[:, 1] - chunks[:, 0]))
        X = np.empty((n_rows, self.source.shape[1]), np.float32)
        X[: len(head)] = head
        at = len(head)
        for start, stop in chunks:
            X[at : at + stop - start] = self.source[start:stop]
            at += stop - start
        return X, np.concatenate([*head_rows, *(np.arange(a, b) for a, b in chunks)])

    def _block(self, X, rows, pick, val=False):
        """Rows ``pick`` of ``X`` as one block's ``TrainingData``."""
        share, n = _keras.share_tensor, self.block_rows
        w = self._weights(rows[pick], self._val_scale if val else self._train_scale)
        arrays = [
            share(_data._gather(X, pick, n)),
            share(_data._gather(self.targets, rows[pick], n)),
            share(_data._gather(w, None, n)),  # zero-padded: padding weighs 0
        ]
        empty = [share(_data._gather(a, [], 0)) for a in (X, self.targets, w)]
        if val:
            return _data.TrainingData(*empty, *arrays, n_train=0, n_val=len(pick))
        return _data.TrainingData(*arrays, *empty, n_train=len(pick), n_val=0)

    def _validate(self, trainer):
        """The validation loss, over the held-out chunks a block at a time."""
        total = 0.0
        for start, stop in self.val_chunks:
            X = self.source[start:stop]
            rows = np.arange(start, stop)
            for at in range(0, len(X), self.block_rows):
                pick = np.arange(at, min(at + self.block_rows, len(X)))
                # Padded to a block with rows of weight 0: the epoch's mean
                # over the block's rows, times those rows, is the block's sum.
                mean = trainer.validation_loss(self._block(X, rows, pick, val=True))
                total += mean * self.block_rows
        return total / self.n_val

    def calibration_rows(self):
        """Up to ``CALIBRATION_ROWS`` validation rows: (X, targets, weights)."""
        rows, left = [], CALIBRATION_ROWS
        for start, stop in self.val_chunks:
            rows.append(np.arange(start, min(stop, start + left)))
            left -= len(rows[-1])
            if not left:
                break
        rows = np.concatenate(rows)
        X = np.concatenate([self.source[r[0] : r[-1] + 1] for r in _runs(rows)])
        return X, self.targets[rows], self._weights(rows, 1.0)


def _runs(rows):
    """``rows`` (sorted) split into runs of consecutive indices."""
    return np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1)


def _mean_weight(w, chunks):
    return sum(float(w[a:b].sum()) for a, b in chunks) / max(
        1, int(np.sum(chunks[:, 1] - chunks[:, 0]))
    )
