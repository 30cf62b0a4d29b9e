"""The pool of compiled trainers, kept per architecture for the next fit of it."""

import threading
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


@contextmanager
def checkout_trainer(key):
    """A free compiled trainer for ``key`` (a ``TrainerKey``), for one fit.

    Trainers are pooled per key: fits of the same architecture in a row
    (cross-validation folds, grid-search candidates) reuse the compiled
    epoch, and fits in parallel threads each get their own trainer.
    """
    module = backend_module()
    key = (backend_name(), key)
    with _TRAINERS_LOCK:
        pool = _TRAINERS.setdefault(key, [])
        _TRAINERS.move_to_end(key)
        trainer = pool.pop() if pool else None
    if trainer is None:
        trainer = module.TRAINER(key[1])
    # A trainer goes back to the pool only after a fit that finished: one
    # interrupted (Ctrl-C) or failed while it was being traced or stepped may
    # hold a half-built graph or half-updated variables, so it is dropped.
    yield trainer
    bounded = type(trainer).dropping_frees_memory
    if bounded and trainer.state_bytes > _MAX_TRAINER_STATE_BYTES:
        trainer.release()
        return
    with _TRAINERS_LOCK:
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
            trainer.release()
