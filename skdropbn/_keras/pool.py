"""The pool of compiled trainers, kept per architecture for the next fit of it.

A pooled trainer may also hold a ``Stream``'s training state between two
``partial_fit`` calls, so that a stream of small calls neither copies the
state in nor out; the state is copied out only when another fit needs that
trainer, the trainer is dropped, or the estimator is pickled.
"""

import atexit
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager

from skdropbn._keras.backend import backend_module, backend_name

# Compiled trainers kept per architecture, for reuse by the next fit of it.
#
# Under TensorFlow none is ever dropped: a dropped trainer's memory does not
# come back. XLA keeps every program it compiled for the life of the
# process (with a 16-trainer cap, 60 fits cycling 20 small architectures grew
# RSS from 1.2 to 2.9 GB, ~33 MB a fit; kept, RSS stays flat from the 20th
# fit on), and a wide network's dropped trainer left about 4.6x its weights
# behind (2 x 6000 units, 145 MB: +666 MB after each fit, released and
# garbage-collected). Keeping it costs its state once per architecture
# instead.
#
# Under JAX a dropped trainer frees everything, so the pool is bounded: by
# the bytes of training state it holds (weights, optimizer slots, average:
# about 4x the weights), by a quarter of that for one trainer (networks of
# over 16M weights are not kept: held while the fit exports its weights, one
# raised the fit's peak), and by count, at about 20 MB of compiled programs
# each (with 16, a search cycling 20 architectures compiled again at every
# fit: 6.9 s a fit instead of 0.03 s; benchmarks/reliability_soak.py).
_MAX_POOLED_STATE_BYTES = 1 << 30
_MAX_TRAINER_STATE_BYTES = _MAX_POOLED_STATE_BYTES // 4
_MAX_CACHED_TRAINERS = 32
_TRAINERS = OrderedDict()
_TRAINERS_LOCK = threading.Lock()


@atexit.register
def _release_trainers():
    """Drop the pooled trainers while the backend is still whole.

    Left to the interpreter's final teardown, JAX's compiled epochs and
    arrays were destroyed in no particular order, and about one process in
    six that had fitted a few networks aborted on exit ("terminate called
    without an active exception", status -6; tests/test_reliability.py's
    clean-process test).
    """
    with _TRAINERS_LOCK:
        trainers = [t for pool in _TRAINERS.values() for t in pool]
        _TRAINERS.clear()
    for trainer in trainers:
        trainer.release()


class Stream:
    """The training state of a run of ``partial_fit`` calls.

    Between calls the state stays in the pooled trainer that ran the last
    one (measured on 256-row calls of a 2 x 64 network under TensorFlow:
    copying it in and out took 5 of the 8.5 ms a call cost;
    benchmarks/partial_fit.py). It is ``saved`` (``Trainer.state()``, NumPy)
    when it is not resident: before the first call that ran, after
    another fit took the trainer, or for pickling (``current``). A call
    that fails after starting from the resident state loses it: the next
    call starts from the estimator's weights with the optimizer's state
    anew.
    """

    def __init__(self, saved=None):
        self.saved = saved
        self._trainer = None  # the pooled trainer holding the state, if any

    def current(self):
        """The state as NumPy arrays (a ``Trainer.state()``), or None if lost."""
        with _TRAINERS_LOCK:
            if self._trainer is not None:
                return self._trainer.state()
        return self.saved

    def resident_in(self, trainer):
        """Whether ``trainer`` (just checked out) holds this stream's state."""
        return trainer._resident is not None and trainer._resident() is self


def _evacuate(trainer):
    """Copy a resident stream's state out of ``trainer`` (lock held)."""
    ref, trainer._resident = trainer._resident, None
    stream = None if ref is None else ref()
    if stream is not None and stream._trainer is trainer:
        stream.saved = trainer.state()
        stream._trainer = None


def _take(pool, stream):
    """The trainer of ``pool`` to hand out (lock held), or None if it is empty.

    ``stream``'s own trainer first; else one holding no live stream's state;
    else one whose stream's state is copied out first.
    """
    if stream is not None and stream._trainer is not None:
        for i, trainer in enumerate(pool):
            if trainer is stream._trainer:
                stream._trainer = None  # in use: not resident until it is back
                return pool.pop(i)
    for i, trainer in enumerate(pool):
        if trainer._resident is None or trainer._resident() is None:
            trainer._resident = None
            return pool.pop(i)
    if not pool:
        return None
    trainer = pool.pop()
    _evacuate(trainer)
    return trainer


@contextmanager
def checkout_trainer(key, stream=None):
    """A free compiled trainer for ``key`` (a ``TrainerKey``), for one fit.

    Trainers are pooled per key: fits of the same architecture in a row
    (cross-validation folds, grid-search candidates) reuse the compiled
    epoch, and fits in parallel threads each get their own trainer. With a
    ``Stream`` (``partial_fit``), the trainer that holds its state is handed
    out when it is free (``stream.resident_in(trainer)`` then says so), and
    the state stays in the trainer afterwards.
    """
    module = backend_module()
    key = (backend_name(), key)
    with _TRAINERS_LOCK:
        pool = _TRAINERS.setdefault(key, [])
        _TRAINERS.move_to_end(key)
        trainer = _take(pool, stream)
    if trainer is None:
        trainer = module.TRAINER(key[1])
    # A trainer goes back to the pool only after a fit that finished: one
    # interrupted (Ctrl-C) or failed while it was being traced or stepped may
    # hold a half-built graph or half-updated variables, so it is dropped.
    yield trainer
    bounded = type(trainer).dropping_frees_memory
    if bounded and trainer.state_bytes > _MAX_TRAINER_STATE_BYTES:
        if stream is not None:
            stream.saved = trainer.state()
        trainer.release()
        return
    with _TRAINERS_LOCK:
        if stream is not None:
            trainer._resident = weakref.ref(stream)
            stream._trainer, stream.saved = trainer, None
        _TRAINERS.setdefault(key, []).append(trainer)
        if bounded:
            _evict_trainers()


def _evict_trainers():
    """Drop the least recently used trainers past the pool's bounds (lock held)."""
    pooled = sum(t.state_bytes for pool in _TRAINERS.values() for t in pool)
    while _TRAINERS and (
        pooled > _MAX_POOLED_STATE_BYTES or len(_TRAINERS) > _MAX_CACHED_TRAINERS
    ):
        _, pool = _TRAINERS.popitem(last=False)
        for trainer in pool:
            pooled -= trainer.state_bytes
            _evacuate(trainer)
            trainer.release()
