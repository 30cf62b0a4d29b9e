"""The verbose=1 progress bar (skdropbn._training.ProgressBar, Keras's Progbar)."""

import io
import sys
import types

import numpy as np
import pytest

from skdropbn import DropBNRegressor
from skdropbn._training import LoopState, ProgressBar

pytest.importorskip("keras")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def fit(verbose, **params):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(100, 3)), rng.normal(size=100)
    params = {"n_layers": 1, "units": 8, "epochs": 4, "early_stopping": False,
              "random_state": 0, **params}  # fmt: skip
    return DropBNRegressor(**params, verbose=verbose).fit(X, y)


def run_bar(epochs, n_epochs, best_epoch=None):
    bar = ProgressBar(epochs)
    state = LoopState(trainer=None, learning_rate=1e-3)
    for state.epoch in range(1, n_epochs + 1):
        state.stop = state.epoch == n_epochs < epochs
        bar.on_epoch_end(state, 1.0 / state.epoch, 2.0 / state.epoch)
    bar.on_train_end(state, best_epoch)


@pytest.mark.parametrize("verbose", [0, False])
def test_quiet_fit_prints_nothing(capsys, verbose):
    fit(verbose)
    assert capsys.readouterr() == ("", "")


def test_in_a_log_one_line_per_fit(capsys):
    # Not a terminal nor a notebook (a log file, CI, a search's workers): no
    # control characters, one line at the end (Keras's verbose=2).
    fit(1)
    out, err = capsys.readouterr()
    assert err == "" and "\r" not in out and "\b" not in out
    (line,) = out.splitlines()
    assert line.startswith("4/4 - ") and "/epoch - loss: " in line


def test_early_stopping_names_the_epoch_kept(capsys):
    # (random_state=0 stops at epoch 147 on every backend; some seeds run all 200.)
    est = fit(1, early_stopping=True, epochs=200, n_iter_no_change=3)
    lines = capsys.readouterr().out.splitlines()
    assert est.n_iter_ < 200
    assert lines[0].startswith(f"{est.n_iter_:3d}/200 - ") and "val_loss: " in lines[0]
    assert lines[1] == f"Kept the weights of epoch {est.best_epoch_} (lowest val_loss)."


def test_a_terminal_redraws_one_bar(monkeypatch):
    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    run_bar(5, 5)
    out = screen.getvalue()
    # Redrawn at most every 0.05 s (Progbar's interval), and at the end.
    assert out.count("\r") >= 2 and out.count("\n") == 1 and out.endswith("\n")
    assert "5/5" in out.split("\r")[-1] and "val_loss: 0.4000" in out


def test_a_notebook_redraws_too(monkeypatch):
    # Jupyter's stdout is no terminal, but it renders the carriage returns.
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    run_bar(5, 3, best_epoch=2)
    lines = out.getvalue().split("\n")
    assert lines[0].count("\r") >= 2 and "3/5" in lines[0].split("\r")[-1]
    assert lines[1] == "Kept the weights of epoch 2 (lowest val_loss)."
