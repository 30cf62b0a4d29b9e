"""Training rules: the losses and the optimizers, by the names the estimators use.

A new loss is one function in ``loss_function``'s table (and a name the
estimator's ``loss`` parameter accepts); a new optimizer one entry in
``make_optimizer``'s (and in ``skdropbn._base.OPTIMIZERS``).
"""


def make_optimizer(name, weight_decay):
    """A Keras optimizer by name; the learning rate is set per fit, not here."""
    import keras

    opts = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
        "nadam": keras.optimizers.Nadam,
    }
    kwargs = {"learning_rate": 1e-3}
    if name == "adamw":
        kwargs["weight_decay"] = weight_decay
    elif weight_decay:
        kwargs["weight_decay"] = weight_decay
    return opts[name](**kwargs)


def loss_function(loss):
    """Per-sample loss ``f(y_true, y_pred) -> (batch,)`` in Keras ops."""
    from keras import ops

    def squared_error(y, p):
        return ops.mean(ops.square(y - p), axis=-1)

    def absolute_error(y, p):
        return ops.mean(ops.abs(y - p), axis=-1)

    def huber(y, p):
        # delta=1 on the standardised target, i.e. one standard deviation.
        a = ops.abs(y - p)
        return ops.mean(ops.where(a <= 1.0, 0.5 * ops.square(a), a - 0.5), axis=-1)

    def log_loss_binary(y, p):
        p = ops.clip(p, 1e-7, 1 - 1e-7)
        return -ops.mean(y * ops.log(p) + (1 - y) * ops.log(1 - p), axis=-1)

    def log_loss_multiclass(y, p):
        p = ops.clip(p, 1e-7, 1.0)
        return -ops.sum(y * ops.log(p), axis=-1)

    return {
        "squared_error": squared_error,
        "absolute_error": absolute_error,
        "huber": huber,
        "log_loss_binary": log_loss_binary,
        "log_loss_multiclass": log_loss_multiclass,
    }[loss]
