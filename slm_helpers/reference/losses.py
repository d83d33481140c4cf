"""Losses and metrics in NumPy, written to be read (lesson 07).

Losses follow ``keras.losses``: each returns the per-example loss with the last axis
reduced (``binary_crossentropy`` and ``mean_squared_error`` average it, the categorical
losses sum over classes), and :func:`mean_loss` is the reduction a ``keras.losses.Loss``
object applies. Probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` as Keras does;
logits go through a stable log-sum-exp and never overflow. Metrics follow scikit-learn
(rows of the confusion matrix are true classes; a score whose denominator is 0 is 0).

``tests/test_reference_losses.py`` compares every function with Keras and scikit-learn, and
the gradient functions with ``tf.GradientTape``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EPSILON = 1e-7  # keras.backend.epsilon(): how far from 0 and 1 Keras clips probabilities

# --------------------------------------------------------------------------------------
# Stable building blocks


def logsumexp(x: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """``log Σ exp(x)`` without overflow: ``m + log Σ exp(x − m)`` with ``m = max(x)``."""
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # a row of -inf stays -inf instead of becoming nan
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """``z − logsumexp(z)``: log-probabilities that stay finite for any finite logits.

    Computed as ``(z − m) − log Σ exp(z − m)``: subtracting the maximum first is exact in
    floating point, whereas ``z − (m + log Σ …)`` would lose digits when |z| is large.
    """
    logits = np.asarray(logits)
    m = np.max(logits, axis=axis, keepdims=True)
    shifted = logits - np.where(np.isfinite(m), m, 0)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Probabilities from logits, via the stable :func:`log_softmax`."""
    return np.exp(log_softmax(logits, axis=axis))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^−x)`` computed so that ``exp`` never overflows, for any sign of x."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))  # in (0, 1]: safe
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + e^x) = max(x, 0) + log(1 + e^−|x|)``, stable for large |x|."""
    x = np.asarray(x)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


# --------------------------------------------------------------------------------------
# Losses


def _same_shape(y_true: np.ndarray, y_pred: np.ndarray, name: str) -> None:
    if np.shape(y_true) != np.shape(y_pred):
        raise ValueError(f"{name}: y_true {np.shape(y_true)} and y_pred {np.shape(y_pred)} "
                         "should have the same shape")


def binary_crossentropy(y_true: np.ndarray, y_pred: np.ndarray, *, from_logits: bool = False) -> np.ndarray:
    """``−[y log p + (1 − y) log(1 − p)]``, averaged over the last axis (``keras.losses.binary_crossentropy``).

    From logits ``z`` it is ``softplus(z) − y·z = max(z, 0) − y·z + log(1 + e^−|z|)``, finite
    for every z (``tf.nn.sigmoid_cross_entropy_with_logits`` uses the same form).
    """
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).astype(y_pred.dtype)
    _same_shape(y_true, y_pred, "binary_crossentropy")
    if from_logits:
        per_item = softplus(y_pred) - y_true * y_pred
    else:
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        per_item = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
    return per_item.mean(axis=-1)


def categorical_crossentropy(y_true: np.ndarray, y_pred: np.ndarray, *, from_logits: bool = False) -> np.ndarray:
    """``−Σ_c y_c log p_c`` over the last axis, for one-hot (or soft) targets ``y_true``.

    Probabilities are renormalized to sum to 1 and then clipped, as Keras does.
    """
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).astype(y_pred.dtype)
    _same_shape(y_true, y_pred, "categorical_crossentropy")
    if from_logits:
        log_p = log_softmax(y_pred)
    else:
        p = y_pred / y_pred.sum(axis=-1, keepdims=True)
        log_p = np.log(np.clip(p, EPSILON, 1 - EPSILON))
    return -(y_true * log_p).sum(axis=-1)


def sparse_categorical_crossentropy(y_true: np.ndarray, y_pred: np.ndarray, *, from_logits: bool = False,
                                    ignore_class: int | None = None) -> np.ndarray:
    """``−log p[y]`` for integer labels ``y_true (...)`` and ``y_pred (..., C)``.

    Keras clips probabilities and then renormalizes (``log p_y − log Σ_c p_c``), which this
    follows. ``ignore_class`` (e.g. the padding id) gives loss 0 at those positions; average
    with :func:`mean_loss` and ``mask=y_true != ignore_class`` as Keras's loss objects do.
    """
    y_pred = np.asarray(y_pred)
    labels = np.asarray(y_true)
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(f"sparse_categorical_crossentropy: y_true {labels.shape} should be y_pred's "
                         f"shape {y_pred.shape} without the class axis")
    labels = labels.astype(np.int64)
    valid = np.ones(labels.shape, bool) if ignore_class is None else labels != ignore_class
    labels = np.where(valid, labels, 0)
    num_classes = y_pred.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels should be in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    if from_logits:
        log_p = log_softmax(y_pred)
    else:
        log_clipped = np.log(np.clip(y_pred, EPSILON, 1 - EPSILON))
        log_p = log_clipped - logsumexp(log_clipped, keepdims=True)
    loss = -np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
    return np.where(valid, loss, 0).astype(y_pred.dtype)


def mean_squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """``mean((y − ŷ)²)`` over the last axis (``keras.losses.mean_squared_error``)."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).astype(y_pred.dtype)
    _same_shape(y_true, y_pred, "mean_squared_error")
    return ((y_true - y_pred) ** 2).mean(axis=-1)


def mean_loss(values: np.ndarray, *, sample_weight: np.ndarray | None = None,
              mask: np.ndarray | None = None) -> float:
    """Reduce per-example losses as a ``keras.losses.Loss`` object does by default.

    ``Σ w·ℓ / N`` over all N entries; with a ``mask`` (padding), the mean over the unmasked
    entries only: ``Σ w·m·ℓ / Σ m``. (Keras applies a mask that way, e.g. ``ignore_class``.)
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.ones_like(values) if sample_weight is None else np.broadcast_to(sample_weight, values.shape)
    if mask is None:
        return float(np.sum(weights * values) / max(values.size, 1))
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), values.shape)
    valid = int(mask.sum())
    return float(np.sum(np.where(mask, weights * values, 0)) / valid) if valid else 0.0


def perplexity(mean_nll: float) -> float:
    """``exp`` of the mean negative log-likelihood per token (in nats)."""
    return float(math.exp(mean_nll))


def bits_per_character(mean_nll: float) -> float:
    """Mean negative log-likelihood per character, converted from nats to bits (÷ ln 2)."""
    return float(mean_nll / math.log(2))


# --------------------------------------------------------------------------------------
# Gradients with respect to the logits (of the mean loss over all examples)


def softmax_crossentropy_grad(y_true: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """``∂/∂z mean(−log softmax(z)[y]) = (softmax(z) − onehot(y)) / N`` for integer labels."""
    logits = np.asarray(logits)
    labels = np.asarray(y_true).astype(np.int64)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels {labels.shape} should be logits' shape {logits.shape} without the class axis")
    onehot = np.eye(logits.shape[-1], dtype=logits.dtype)[labels]
    return (softmax(logits) - onehot) / labels.size


def sigmoid_crossentropy_grad(y_true: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """``∂/∂z mean(BCE(y, σ(z))) = (σ(z) − y) / N``: no ``σ'`` factor, so no saturation."""
    logits = np.asarray(logits)
    _same_shape(y_true, logits, "sigmoid_crossentropy_grad")
    return (sigmoid(logits) - y_true) / logits.size


def sigmoid_mse_grad(y_true: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """``∂/∂z mean((σ(z) − y)²) = 2 (σ(z) − y) σ(z)(1 − σ(z)) / N``: vanishes when σ saturates."""
    logits = np.asarray(logits)
    _same_shape(y_true, logits, "sigmoid_mse_grad")
    p = sigmoid(logits)
    return 2 * (p - y_true) * p * (1 - p) / logits.size


# --------------------------------------------------------------------------------------
# Classification metrics


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of predicted labels equal to the true labels."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    _same_shape(y_true, y_pred, "accuracy")
    if y_true.size == 0:
        raise ValueError("accuracy of an empty set of predictions is undefined")
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """``(C, C)`` counts: row = true class, column = predicted class (scikit-learn's layout)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    _same_shape(y_true, y_pred, "confusion_matrix")
    if num_classes is None:
        num_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    if y_true.size and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= num_classes):
        raise ValueError(f"labels should be in 0..{num_classes - 1}")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true.ravel(), y_pred.ravel()), 1)
    return cm


@dataclass(frozen=True)
class PRF:
    """Precision, recall, F1 (per class arrays, or floats when averaged) and support."""

    precision: np.ndarray | float
    recall: np.ndarray | float
    f1: np.ndarray | float
    support: np.ndarray | int


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)  # 0/0 counts as 0, as sklearn's zero_division=0


def scores_from_confusion(cm: np.ndarray, average: str | None = None, pos_label: int = 1) -> PRF:
    """Precision ``TP/(TP+FP)``, recall ``TP/(TP+FN)``, F1 ``2TP/(2TP+FP+FN)`` from a confusion matrix.

    ``average``: ``None`` (per class), ``"macro"`` (plain mean over classes), ``"weighted"``
    (mean weighted by support), ``"micro"`` (from summed counts: equals accuracy for
    single-label tasks) or ``"binary"`` (the class ``pos_label`` only).
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix should be square (C, C), got shape {cm.shape}")
    tp = np.diag(cm).astype(float)
    fp = cm.sum(axis=0) - tp  # predicted as c, but not c
    fn = cm.sum(axis=1) - tp  # c, but predicted as something else
    support = cm.sum(axis=1)
    precision, recall, f1 = _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn)
    if average is None:
        return PRF(precision, recall, f1, support)
    if average == "binary":
        c = pos_label
        return PRF(float(precision[c]), float(recall[c]), float(f1[c]), int(support[c]))
    if average == "macro":
        return PRF(float(precision.mean()), float(recall.mean()), float(f1.mean()), int(support.sum()))
    if average == "weighted":
        w = _ratio(support, np.full_like(support, support.sum()))
        return PRF(float(precision @ w), float(recall @ w), float(f1 @ w), int(support.sum()))
    if average == "micro":
        TP, FP, FN = tp.sum(), fp.sum(), fn.sum()
        return PRF(float(_ratio(TP, TP + FP)), float(_ratio(TP, TP + FN)), float(_ratio(2 * TP, 2 * TP + FP + FN)),
                   int(support.sum()))
    raise ValueError(f"average should be None, 'binary', 'macro', 'weighted' or 'micro', got {average!r}")


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray, *, num_classes: int | None = None,
                        average: str | None = None, pos_label: int = 1) -> PRF:
    """Like ``sklearn.metrics.precision_recall_fscore_support(..., zero_division=0)``."""
    return scores_from_confusion(confusion_matrix(y_true, y_pred, num_classes), average, pos_label)
