"""The training loop: epochs, shuffling, early stopping and the history.

Backend-free: it drives a compiled ``skdropbn._network.Trainer`` one epoch at
a time and decides, in plain Python, when to stop and which weights to keep.
"""

import math
import sys
import time

import numpy as np


def make_batches(n_samples, batch_size, rng):
    """Row indices of one shuffled epoch as an array ``(n_batches, batch_size)``.

    Every batch has the same size so that one compiled step serves the whole
    epoch: the last batch is completed with rows drawn from a second
    permutation (a few rows are seen twice in that epoch), instead of a short
    batch whose batch-norm statistics would rest on a handful of rows. The
    estimator picks ``batch_size`` with ``_base._equal_batch_size``, so that
    fewer than ``n_batches`` rows are repeated.
    """
    n_batches = math.ceil(n_samples / batch_size)
    order = rng.permutation(n_samples)
    missing = n_batches * batch_size - n_samples
    if missing:
        extra = rng.permutation(n_samples)[:missing]
        if extra.size < missing:  # batch_size > 2 * n_samples cannot occur
            extra = rng.choice(n_samples, size=missing)
        order = np.concatenate([order, extra])
    return order.reshape(n_batches, batch_size).astype(np.int32)


class _Progress:
    """Progress of one fit over epochs (``verbose=1``).

    On a terminal, one line rewritten in place each epoch (at most every
    0.1 s) with a bar, the losses and the time left. Elsewhere (a log file, CI,
    a notebook's captured output, the workers of a search) carriage returns
    would pile up, so about ``max_lines`` plain lines are printed per fit
    instead, at every tenth of the epochs. Either way a last line gives the
    number of epochs run and the epoch kept.
    """

    def __init__(self, epochs, stream=None, *, max_lines=10, clock=time.perf_counter):
        self.epochs = epochs
        self.clock = clock
        self.stream = sys.stdout if stream is None else stream
        try:
            self.tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            self.tty = False
        self.every = max(1, math.ceil(epochs / max_lines))
        self.start = self.last_write = clock()
        self.width = 0  # length of the line on screen, to blank it out
        self.msg = ""
        self.epoch = self.shown = 0

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def _line(self, epoch, loss, val_loss, elapsed):
        eta = elapsed / epoch * (self.epochs - epoch)
        done = int(20 * epoch / self.epochs)
        msg = f"epoch {epoch:>4}/{self.epochs} "
        msg += f"[{'=' * done}{'.' * (20 - done)}] loss {loss:.4f}"
        if val_loss is not None:
            msg += f"  val_loss {val_loss:.4f}"
        # With early stopping the fit may end sooner: the ETA is an upper bound.
        return msg + f"  {elapsed:.1f}s  ETA {eta:.1f}s"

    def update(self, epoch, loss, val_loss):
        now = self.clock()
        self.msg = self._line(epoch, loss, val_loss, now - self.start)
        self.epoch = epoch
        if self.tty:
            if now - self.last_write >= 0.1 or epoch in (1, self.epochs):
                self._write("\r" + self.msg.ljust(self.width))
                self.width = len(self.msg)
                self.last_write = now
        elif epoch % self.every == 0 and epoch < self.epochs:  # close() shows the last
            self._write(self.msg + "\n")
            self.shown = epoch

    def close(self, n_iter, best_epoch):
        elapsed = self.clock() - self.start
        note = f", kept epoch {best_epoch}" if best_epoch is not None else ""
        # The last epoch's losses stay; its elapsed time and ETA give way to
        # the summary.
        summary = f"{n_iter} epochs in {elapsed:.1f}s{note}"
        line = self.msg.rsplit("  ", 2)[0] + "  | " + summary
        if self.tty:
            self._write("\r" + line.ljust(self.width) + "\n")
        else:
            self._write((summary if self.shown == self.epoch else line) + "\n")


def train(
    trainer,
    data,
    *,
    n_train,
    epochs,
    early_stopping,
    n_iter_no_change,
    tol,
    rng,
    verbose,
    learning_rate,
    lr_schedule,
):
    """Run epochs until ``epochs`` or early stopping.

    On return the trainer holds the weights to keep: the best validation
    epoch's with early stopping, else the last epoch's.

    Returns
    -------
    history : dict of lists
    best_epoch : int or None
        1-based epoch whose weights were kept when early stopping.

    Raises
    ------
    FloatingPointError
        If the training loss becomes NaN or infinite.

    """
    history = {"loss": []}
    if early_stopping:
        history["val_loss"] = []
    history["learning_rate"] = []
    best, best_state, best_epoch, bad_epochs = np.inf, None, None, 0
    # "plateau": halve the learning rate after a quarter of the early-stopping
    # patience without improvement (of the validation loss, or of the
    # training loss without early stopping), as Keras's ReduceLROnPlateau.
    lr_patience, lr_best, lr_bad = max(2, n_iter_no_change // 4), np.inf, 0
    progress = _Progress(epochs) if verbose else None
    for epoch in range(1, epochs + 1):
        batches = make_batches(n_train, trainer.batch_size, rng)
        loss, val_loss = trainer.run_epoch(data, batches)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"The training loss diverged to {loss} at epoch {epoch}."
            )
        history["loss"].append(loss)
        history["learning_rate"].append(float(learning_rate))
        if early_stopping:
            if not math.isfinite(val_loss):
                raise FloatingPointError(
                    f"The validation loss diverged to {val_loss} at epoch {epoch}."
                )
            history["val_loss"].append(val_loss)
            if val_loss < best - tol:
                bad_epochs = 0
            else:
                bad_epochs += 1
            if val_loss < best:
                # Drop the old copy first: two at once are a wide network's peak.
                best_state = None
                best, best_state, best_epoch = val_loss, trainer.snapshot(), epoch
        if lr_schedule == "plateau":
            monitored = val_loss if early_stopping else loss
            if monitored < lr_best - tol:
                lr_best, lr_bad = monitored, 0
            else:
                lr_bad += 1
            if lr_bad >= lr_patience:
                learning_rate, lr_bad = learning_rate * 0.5, 0
                trainer.set_learning_rate(learning_rate)
        if progress:
            progress.update(epoch, loss, val_loss if early_stopping else None)
        if early_stopping and bad_epochs >= n_iter_no_change:
            break
    if progress:
        progress.close(len(history["loss"]), best_epoch)
    if early_stopping and best_state is not None:
        trainer.restore(best_state)
    return history, best_epoch
