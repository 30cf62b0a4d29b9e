"""Learning without all the data in memory at once: ``partial_fit``, streamed ``fit``.

What the estimators' ``partial_fit`` and their ``fit`` from an out-of-core
``X`` (a large ``memmap`` or dask array) do, as a mixin of ``_BaseDropBN``:
the rest of fitting (validation, the network description, the training
itself in ``_train``) is shared with the in-memory ``fit`` in ``_base.py``.
The training state of a ``partial_fit`` stream lives in a pooled trainer
between calls (``skdropbn._keras.pool.Stream``); the blocks of a streamed
fit come from ``skdropbn._streaming``.
"""

import math

import numpy as np
from sklearn.utils.validation import validate_data

from skdropbn import _data, _keras, _memory, _streaming, _training
from skdropbn._fixes import _check_sample_weight, _check_y


class IncrementalMixin:
    """``partial_fit`` and the streamed ``fit`` of ``_BaseDropBN``."""

    def _partial_fit_network(self, X, y, sample_weight, classes):
        fitted = "_weights" in self.__dict__
        X, y, sample_weight = self._validated(X, y, sample_weight, reset=not fitted)
        prepared = self._prepare_partial_targets(y, sample_weight, classes, fitted)
        if fitted:
            spec = self._network_spec(
                X.shape[1], prepared, self._spec.embedding_fields(), self._spec,
                "partial_fit",
            )  # fmt: skip
        else:
            # "auto" decides on the first call's rows: the rows to come are
            # unknown then.
            spec = self._network_spec(
                X.shape[1], prepared, self._resolved_embedding(X, False),
                None, "",
            )  # fmt: skip
            # Checked once: a call adds one batch's tensors to the network's
            # memory, whatever its number of rows.
            _memory.check_fit_fits_in_memory(spec, len(X), type(self).__name__)
        run = self.__dict__.get("_incremental")
        if run is None:  # the first call, or the first after fit
            run = self._start_incremental(len(X))
        key = _keras.TrainerKey(
            spec.architecture(),
            prepared.loss,
            self.optimizer,
            float(self.weight_decay),
            run["batch_size"],
            averaging=run["ema_momentum"] > 0,
        )
        config = _keras.FitConfig(
            self.learning_rate, run["dropout_seed"], spec.dropout, run["ema_momentum"]
        )
        n_passes = getattr(self, "n_iter_", 0)
        rng = np.random.RandomState([run["shuffle_seed"], n_passes])
        stream = self.__dict__.get("_stream") or _keras.Stream(
            self.__dict__.get("_train_state")
        )
        with _keras.checkout_trainer(key, stream) as trainer:
            if stream.resident_in(trainer):  # the last call's state, in place
                trainer.reconfigure(config)
            elif stream.saved is not None:
                trainer.resume(stream.saved, config)
            elif fitted:  # after fit (or a failed call): its weights, a new optimizer
                trainer.load(self._weights, config)
            else:
                stats = _data.feature_statistics(X) if spec.feature_embedding else ()
                trainer.load(trainer.initial_weights(run["init_seed"], *stats), config)
            try:
                loss = _training.train_pass(
                    trainer, X, prepared.values, prepared.sample_weight, rng
                )
            except FloatingPointError as exc:
                raise ValueError(
                    f"{exc} The network was left as it was before this call "
                    "(the optimizer's state starts anew on the next one). Lower "
                    "learning_rate, or scale X and y."
                ) from None
            weights = trainer.current_weights()
        del trainer

        self._set_network(prepared, spec, weights)
        self.__dict__.pop("_train_state", None)  # now in the stream
        self._stream = stream
        self._incremental = run
        history = getattr(self, "history_", {})
        self.history_ = {
            "loss": [*history.get("loss", []), loss],
            "learning_rate": [
                *history.get("learning_rate", []), float(self.learning_rate),
            ],
        }  # fmt: skip
        self.n_iter_ = n_passes + 1
        self.best_epoch_ = None
        self.loss_ = loss
        # Calibrated on a fit's held-out rows, for weights partial_fit changed.
        self.__dict__.pop("_std_calibration", None)
        return self

    def _start_incremental(self, n_samples):
        """What a run of ``partial_fit`` calls keeps fixed from its first call."""
        seeds = _training.fit_seeds(self.random_state)
        if not hasattr(self, "_mc_seed"):
            self._mc_seed = seeds["mc"]
        # A stream's size is unknown: "auto" means the lesson's 256 rows, and
        # every batch has that many (a smaller call's rows are drawn again).
        batch_size = 256 if self.batch_size == "auto" else int(self.batch_size)
        momentum = self.ema_momentum
        if momentum == "auto":  # average over about one call's steps
            momentum = 1.0 - 1.0 / math.ceil(n_samples / batch_size)
        return {
            "batch_size": batch_size,
            "ema_momentum": float(momentum),
            "init_seed": seeds["init"],
            "dropout_seed": seeds["dropout"],
            "shuffle_seed": seeds["shuffle"],
        }

    def _fit_streamed(self, source, y, sample_weight, warm):
        """``fit`` from an out-of-core ``X`` (``skdropbn._streaming``)."""
        validate_data(self, source.array, reset=not warm, skip_check_array=True)
        y = _check_y(np.asarray(y), estimator=self, **self._y_validation(y))
        n_samples = source.shape[0]
        if len(y) != n_samples:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{n_samples}, {len(y)}]"
            )
        weighted = sample_weight is not None or getattr(self, "class_weight", None)
        if weighted:
            sample_weight = _check_sample_weight(
                sample_weight, y, dtype=np.float64, ensure_non_negative=True
            )
        prepared = self._prepare_targets(y, sample_weight, reset=not warm)
        del y
        # float32, as the network computes: a column of X's size, not two.
        prepared.values = prepared.values.astype(np.float32)
        targets = prepared.values
        spec = self._network_spec(
            source.shape[1],
            prepared,
            self._resolved_embedding(source, warm),
            self._spec if warm else None,
            "warm_start=True",
        )
        seeds = _training.fit_seeds(self.random_state)
        n_train = math.ceil(n_samples * (1 - self.validation_fraction))
        batch_size = self._batch_size(n_train)
        data = _streaming.StreamedData(
            source,
            targets,
            prepared.sample_weight if weighted else None,
            batch_size,
            self.validation_fraction if self.early_stopping else 0.0,
            np.random.RandomState(seeds["split"]),
        )
        _memory.check_fit_fits_in_memory(
            spec, data.block_rows * data.group, type(self).__name__
        )
        self._train(spec, prepared, data, batch_size, warm, seeds, source)
        self._finish_fit(data.calibration_rows() if data.n_val else None)
        return self
