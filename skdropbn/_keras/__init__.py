"""The Keras side of skdropbn: network, training epoch, backends.

Where to look:

``backend.py``
    Starting Keras quietly, the fork guard, and ``BACKENDS``, the one lookup
    from a Keras backend's name to the module that implements it.
``network.py``
    The Keras model of a ``skdropbn._spec.NetworkSpec`` and its initial
    weights (drawn in NumPy from the estimator's ``random_state`` only).
``layers.py``
    skdropbn's own layers: the periodic embedding, runtime-rate dropout.
``losses.py``
    Losses and optimizers by name.
``trainer.py``
    What every backend's trainer shares; ``TrainerKey`` (what a compiled
    epoch is specialised to) and ``FitConfig`` (what a fit sets).
``trainer_tensorflow.py``, ``trainer_jax.py``
    Each backend's compiled epoch, dropout bits and zero-copy tensors.
``pool.py``
    Compiled trainers kept for the next fit of the same architecture.
``fixes.py``
    Every private Keras name used, in one place.

Nothing here imports Keras at import time: the backend is loaded by the
first fit (or ``model_``), never by ``import skdropbn``.
"""

from skdropbn._keras.backend import backend_module, backend_name, import_keras
from skdropbn._keras.layers import keras_custom_objects
from skdropbn._keras.network import model_from_weights
from skdropbn._keras.pool import Stream, checkout_trainer
from skdropbn._keras.trainer import FitConfig, TrainerKey

__all__ = [
    "FitConfig",
    "Stream",
    "TrainerKey",
    "backend_name",
    "checkout_trainer",
    "import_keras",
    "keras_custom_objects",
    "model_from_weights",
    "share_tensor",
]


def share_tensor(array):
    """A backend tensor that uses ``array``'s memory in place (no copy).

    ``array`` must be C-contiguous and 64-byte aligned (``skdropbn._data``
    makes such buffers) and must not be written to afterwards.
    """
    return backend_module().share_tensor(array)
