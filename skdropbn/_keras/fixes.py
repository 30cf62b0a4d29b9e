"""Every private Keras name skdropbn uses, in one place.

Each is used for memory or speed that Keras's public API does not give, and
each has a test that fails if Keras changes it (named below). Keras 3.15 is
what they were written against.
"""


def release_variable_values(variables):
    """Free the arrays behind Keras ``variables`` whose values are never read.

    Keras treats a variable whose ``_value`` is None as not yet initialised:
    read outside a stateless call, it returns its initializer's value (zeros
    here, where it has none). For the JAX trainer's template, whose epoch is
    a pure function of the state passed in
    (``tests/test_reliability.py::test_a_jax_trainer_holds_only_the_training_state``).
    """
    import keras

    zeros = keras.initializers.Zeros()
    for variable in variables:
        variable._initializer = variable._initializer or zeros
        variable._value = None


def adam_slots(optimizer, variables):
    """The first- and second-moment variables of a Keras Adam for ``variables``.

    Lists in the order of ``variables``, for the PyTorch trainer's own
    update step (``trainer_torch._Adam``;
    ``tests/test_training.py::test_compiled_steps_equal_keras_train_on_batch``
    compares it with Keras's).
    """
    index = [optimizer._get_variable_index(v) for v in variables]
    return (
        [optimizer._momentums[i] for i in index],
        [optimizer._velocities[i] for i in index],
    )
