"""The verbose=1 progress line (skdropbn._training._Progress)."""

import io
import itertools
import re

import numpy as np
import pytest

from skdropbn import DropBNRegressor
from skdropbn._training import _Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def progress(epochs, stream):
    """A progress line whose clock advances one second per reading."""
    return _Progress(epochs, stream, clock=itertools.count().__next__)


def run(progress, n_epochs, best_epoch=None, val=True):
    for epoch in range(1, n_epochs + 1):
        progress.update(epoch, 1.0 / epoch, 2.0 / epoch if val else None)
    progress.close(n_epochs, best_epoch)
    return progress.stream.getvalue()


def test_not_a_tty_prints_about_ten_plain_lines():
    out = run(progress(200, io.StringIO()), 200, best_epoch=150)
    lines = out.splitlines()
    assert "\r" not in out
    assert len(lines) == 10
    assert lines[0] == (
        "epoch   20/200 [==..................] loss 0.0500  val_loss 0.1000"
        "  20.0s  ETA 180.0s"
    )
    assert lines[-1].startswith("epoch  200/200 [====================]")
    assert lines[-1].endswith(
        "0.0050  val_loss 0.0100  | 200 epochs in 201.0s, kept epoch 150"
    )


def test_not_a_tty_early_stop_ends_with_the_last_epoch():
    out = run(progress(200, io.StringIO()), 47, best_epoch=27)
    lines = out.splitlines()
    assert [line.split("/")[0] for line in lines[:-1]] == [
        "epoch   20",
        "epoch   40",
    ]
    assert lines[-1].startswith("epoch   47/200")
    assert "loss 0.0213  val_loss 0.0426" in lines[-1]
    assert lines[-1].endswith("47 epochs in 48.0s, kept epoch 27")


def test_not_a_tty_does_not_repeat_the_last_shown_epoch():
    out = run(progress(30, io.StringIO()), 9, val=False)
    assert out.splitlines()[-2:] == [
        "epoch    9/30 [======..............] loss 0.1111  9.0s  ETA 21.0s",
        "9 epochs in 10.0s",
    ]


def test_terminal_rewrites_one_line():
    out = run(progress(5, Terminal()), 5, best_epoch=4)
    assert out.count("\n") == 1 and out.endswith("\n")
    shown = out.split("\r")[-1]  # what is left on screen
    assert shown.startswith("epoch    5/5 [====================] loss 0.2000")
    assert "ETA" not in shown and "5 epochs in 6.0s, kept epoch 4" in shown
    # Each rewrite blanks out the longer line before it.
    widths = [len(part) for part in out.rstrip("\n").split("\r")[1:]]
    assert widths == sorted(widths)


@pytest.mark.parametrize("verbose, lines", [(0, 0), (1, 4)])
def test_fit_prints_only_when_verbose(capsys, verbose, lines):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(100, 3)), rng.normal(size=100)
    DropBNRegressor(
        n_layers=1, units=8, epochs=4, early_stopping=False, verbose=verbose
    ).fit(X, y)
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == lines and err == ""
    if lines:
        assert re.search(
            r"loss \d+\.\d{4}  \| 4 epochs in \d+\.\ds$", out.splitlines()[-1]
        )
