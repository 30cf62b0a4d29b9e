"""What ``y`` becomes: the network's targets, loss and output layer.

The regressor standardises its targets (``target_scaling``); the classifier
encodes labels as one sigmoid unit, a softmax over classes or independent
sigmoids for multilabel data (``classification_targets``). Either way the
shared ``fit`` gets a ``PreparedTargets``.
"""

from dataclasses import dataclass, field

import numpy as np
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target


@dataclass
class PreparedTargets:
    """What a subclass makes of ``y`` for the shared ``fit``."""

    values: np.ndarray  # 2-D float targets of the network
    loss: str  # canonical loss name, see skdropbn._keras.losses.loss_function
    output_activation: str  # "linear", "sigmoid" or "softmax"
    sample_weight: np.ndarray  # possibly reweighted (class_weight)
    attrs: dict = field(default_factory=dict)  # fitted attributes to set
    stratify: np.ndarray | None = None  # labels for the validation split
    # The output layer's initial bias (None: zeros): for a classifier the
    # log-odds of the weighted class frequencies (``prior_logits``).
    output_bias: np.ndarray | None = None


def classification_targets(y, sample_weight, class_weight, estimator_name):
    """Network targets for class labels or a multilabel indicator matrix."""
    check_classification_targets(y)
    kind = type_of_target(y)
    if kind == "multilabel-indicator":
        if class_weight is not None:
            raise ValueError(
                "class_weight is not supported for multilabel targets; "
                "pass sample_weight instead."
            )
        Y = np.asarray(y, dtype=np.float64)
        attrs = {"classes_": np.arange(Y.shape[1]), "_kind": kind}
        return PreparedTargets(
            values=Y,
            loss="log_loss_binary",
            output_activation="sigmoid",
            sample_weight=sample_weight,
            attrs={**attrs, "n_outputs_": Y.shape[1]},
            output_bias=prior_logits(Y, sample_weight, "sigmoid"),
        )
    # Imported here, not at the top: sklearn.preprocessing (which in
    # scikit-learn 1.9 imports sklearn.callback and rich) was 120 of the
    # 148 ms that `import skdropbn` added to numpy + sklearn.base
    # (benchmarks/import_time.py; python -X importtime).
    from sklearn.preprocessing import LabelEncoder

    encoder = LabelEncoder().fit(y)
    classes = encoder.classes_
    if len(classes) < 2:
        raise ValueError(
            f"{estimator_name} needs samples of at least 2 classes in "
            f"the data, but the data contains only one class: {classes[0]!r}."
        )
    codes = encoder.transform(y)
    if class_weight is not None:
        sample_weight = sample_weight * compute_sample_weight(class_weight, y)
    return _label_targets(codes, classes, sample_weight, kind)


def _label_targets(codes, classes, sample_weight, kind):
    """One sigmoid unit for two classes, a softmax over more."""
    if len(classes) == 2:
        values = codes[:, None].astype(np.float64)
        loss, act = "log_loss_binary", "sigmoid"
    else:
        values = np.eye(len(classes))[codes]
        loss, act = "log_loss_multiclass", "softmax"
    return PreparedTargets(
        values=values,
        loss=loss,
        output_activation=act,
        sample_weight=sample_weight,
        attrs={"classes_": classes, "n_outputs_": values.shape[1], "_kind": kind},
        stratify=codes,
        output_bias=prior_logits(values, sample_weight, act),
    )


# Class frequencies are clipped to [PRIOR_CLIP, 1 - PRIOR_CLIP] before their
# logits are taken: a class of (almost) no weight starts at a logit of about
# -16, finite, and no more certain than float32 can tell from zero.
PRIOR_CLIP = 1e-7


def prior_logits(Y, sample_weight, activation):
    """The output bias that predicts the weighted class frequencies of ``Y``.

    The log-odds of each column's weighted mean for sigmoid outputs, the
    log of each class's weighted frequency for a softmax: what
    HistGradientBoostingClassifier starts from (its baseline prediction).
    A network whose output bias starts at zero predicts equal classes and
    learns the frequencies through its bias, by about ``learning_rate`` a
    step; with batch norm before the output layer, whose features average
    zero over each batch, the bias is the only way to raise one class's
    probability everywhere. With ``class_weight={0: 1000, 1: 1e-4}`` on 50
    rows, the default classifier then predicted class 0 for 40% of the test
    rows (scikit-learn's ``check_class_weight_classifiers`` asks for 87%).
    ``sample_weight`` None: every row weighs the same.
    """
    if sample_weight is not None and not sample_weight.sum() > 0:
        return None
    freq = np.average(Y, axis=0, weights=sample_weight)
    freq = np.clip(freq, PRIOR_CLIP, 1.0 - PRIOR_CLIP)
    if activation == "softmax":
        logits = np.log(freq)
        return logits - logits.mean()
    return np.log(freq) - np.log1p(-freq)


def stream_classification_targets(y, sample_weight, class_weight, classes, name):
    """Network targets for labels of one ``partial_fit`` call.

    Encoded against ``classes``, all the labels the stream will hold (a call
    may hold only some of them): the output layer is chosen from their
    number, not from this call's. A multilabel indicator's classes are its
    columns. ``class_weight`` is a dict or None.
    """
    check_classification_targets(y)
    if type_of_target(y) == "multilabel-indicator":
        if classes is not None and len(classes) != np.shape(y)[1]:
            raise ValueError(
                f"classes has {len(classes)} labels, but y has {np.shape(y)[1]} "
                "columns of labels."
            )
        return classification_targets(y, sample_weight, class_weight, name)
    classes = np.asarray(classes)
    if len(classes) < 2:
        raise ValueError(f"{name} needs at least 2 classes; classes={classes!r}.")
    codes = np.searchsorted(classes, y)
    found = classes[np.minimum(codes, len(classes) - 1)]
    unknown = (codes >= len(classes)) | (found != y)
    if unknown.any():
        raise ValueError(
            f"y holds labels not in classes {classes.tolist()[:20]}: "
            f"{np.unique(np.asarray(y)[unknown]).tolist()[:10]}."
        )
    if class_weight is not None:
        per_class = np.array([float(class_weight.get(c, 1.0)) for c in classes])
        sample_weight = sample_weight * per_class[codes]
    kind = "binary" if len(classes) == 2 else "multiclass"
    return _label_targets(codes, classes, sample_weight, kind)


def target_scaling(Y, sample_weight):
    """Weighted mean and standard deviation of each column of ``Y``, overflow-free.

    Each column is divided by its largest magnitude first: the squares of
    targets near 1e300 overflow float64, and their std came out inf (which
    made every prediction -inf). A constant column gets exactly its value and
    a scale of 0, so that it is predicted exactly.
    """
    top = np.max(np.abs(Y), axis=0)
    top = np.where(top > 0, top, 1.0)
    Z = Y / top
    mean = np.average(Z, axis=0, weights=sample_weight)
    scale = np.sqrt(np.average((Z - mean) ** 2, axis=0, weights=sample_weight))
    constant = np.all(Y == Y[:1], axis=0)
    mean = np.where(constant, Y[0], mean * top)
    return mean, np.where(constant, 0.0, scale * top)
