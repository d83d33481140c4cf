"""NumPy losses and metrics against Keras and scikit-learn, within 1e-5 in float32."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slm_helpers.reference import losses as L

ATOL = 1e-5
SHAPES = [(4,), (3, 5), (2, 4, 6), (2, 3, 4, 7)]  # (batch, [time,] ..., classes or outputs)


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def max_diff(a, b) -> float:
    a = a.numpy() if hasattr(a, "numpy") else np.asarray(a)
    b = b.numpy() if hasattr(b, "numpy") else np.asarray(b)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def logits_and_probs(r: np.random.Generator, shape, scale: float = 3.0):
    z = (r.normal(size=shape) * scale).astype(np.float32)
    return z, L.softmax(z).astype(np.float32)


# ---------------------------------------------------------------- building blocks


@pytest.mark.parametrize("shape", SHAPES)
def test_logsumexp_softmax_sigmoid_equal_keras_ops(keras, shape):
    z = (rng(len(shape)).normal(size=shape) * 5).astype(np.float32)
    assert max_diff(L.logsumexp(z), keras.ops.logsumexp(z, axis=-1)) <= ATOL
    assert max_diff(L.log_softmax(z), keras.ops.log_softmax(z)) <= ATOL
    assert max_diff(L.softmax(z), keras.ops.softmax(z)) <= ATOL
    assert max_diff(L.sigmoid(z), keras.ops.sigmoid(z)) <= ATOL
    assert max_diff(L.softplus(z), keras.ops.softplus(z)) <= ATOL


def test_stable_forms_stay_finite_where_naive_ones_overflow():
    z = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(z) / np.exp(z).sum()
    assert np.isnan(naive).any()
    assert np.all(np.isfinite(L.log_softmax(z)))
    assert np.all(np.isfinite(L.sigmoid(np.array([-1000.0, 1000.0], np.float32))))
    bce = L.binary_crossentropy(np.array([1.0]), np.array([-200.0], np.float32), from_logits=True)
    assert bce == pytest.approx(200)


# ---------------------------------------------------------------- losses


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_crossentropy_equals_keras(keras, shape, from_logits):
    r = rng(len(shape))
    z = (r.normal(size=shape) * 4).astype(np.float32)
    y = (r.random(shape) > 0.5).astype(np.float32)
    pred = z if from_logits else L.sigmoid(z).astype(np.float32)
    ours = L.binary_crossentropy(y, pred, from_logits=from_logits)
    assert max_diff(ours, keras.losses.binary_crossentropy(y, pred, from_logits=from_logits)) <= ATOL
    loss = keras.losses.BinaryCrossentropy(from_logits=from_logits)
    assert abs(L.mean_loss(ours) - float(loss(y, pred))) <= ATOL


def test_binary_crossentropy_clips_probabilities_like_keras(keras):
    y = np.array([[1.0, 0.0, 1.0, 0.0]], np.float32)
    p = np.array([[0.0, 1.0, 1.0, 0.0]], np.float32)  # two certain mistakes, two certain hits
    assert max_diff(L.binary_crossentropy(y, p), keras.losses.binary_crossentropy(y, p)) <= ATOL


@pytest.mark.parametrize("shape", SHAPES[1:])
@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_crossentropies_equal_keras(keras, shape, from_logits):
    r = rng(sum(shape))
    z, p = logits_and_probs(r, shape)
    labels = r.integers(0, shape[-1], size=shape[:-1])
    onehot = np.eye(shape[-1], dtype=np.float32)[labels]
    pred = z if from_logits else p
    ours = L.categorical_crossentropy(onehot, pred, from_logits=from_logits)
    assert max_diff(ours, keras.losses.categorical_crossentropy(onehot, pred, from_logits=from_logits)) <= ATOL
    sparse = L.sparse_categorical_crossentropy(labels, pred, from_logits=from_logits)
    assert max_diff(sparse, keras.losses.sparse_categorical_crossentropy(labels, pred, from_logits=from_logits)) <= ATOL
    assert max_diff(sparse, ours) <= ATOL
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    assert abs(L.mean_loss(sparse) - float(loss(labels, pred))) <= ATOL
    soft = L.softmax(r.normal(size=shape)).astype(np.float32)  # soft targets are allowed too
    assert max_diff(L.categorical_crossentropy(soft, pred, from_logits=from_logits),
                    keras.losses.categorical_crossentropy(soft, pred, from_logits=from_logits)) <= ATOL


def test_categorical_crossentropy_renormalizes_and_clips_like_keras(keras):
    y = np.array([[0, 1, 0], [1, 0, 0]], np.float32)
    p = np.array([[0.5, 0.0, 0.5], [2.0, 1.0, 1.0]], np.float32)  # a zero, and rows not summing to 1
    assert max_diff(L.categorical_crossentropy(y, p), keras.losses.categorical_crossentropy(y, p)) <= ATOL
    labels = np.array([1, 0])
    assert max_diff(L.sparse_categorical_crossentropy(labels, p),
                    keras.losses.sparse_categorical_crossentropy(labels, p)) <= ATOL


@pytest.mark.parametrize("from_logits", [False, True])
def test_padded_sequences_with_ignore_class_equal_keras(keras, from_logits):
    r = rng(11)
    batch, time, vocab = 4, 9, 12
    z, p = logits_and_probs(r, (batch, time, vocab))
    labels = r.integers(1, vocab, size=(batch, time))
    labels[np.arange(time)[None, :] >= r.integers(1, time, size=batch)[:, None]] = 0  # post-padding with id 0
    pred = z if from_logits else p
    ours = L.sparse_categorical_crossentropy(labels, pred, from_logits=from_logits, ignore_class=0)
    theirs = keras.losses.sparse_categorical_crossentropy(labels, pred, from_logits=from_logits, ignore_class=0)
    assert max_diff(ours, theirs) <= ATOL
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=0)
    assert abs(L.mean_loss(ours, mask=labels != 0) - float(loss(labels, pred))) <= ATOL
    weighted = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, reduction="mean_with_sample_weight")
    unmasked = L.sparse_categorical_crossentropy(labels, pred, from_logits=from_logits)
    assert abs(L.mean_loss(unmasked, mask=labels != 0)
               - float(weighted(labels, pred, sample_weight=(labels != 0).astype(np.float32)))) <= ATOL


@pytest.mark.parametrize("shape", SHAPES)
def test_mean_squared_error_equals_keras(keras, shape):
    r = rng(len(shape) + 20)
    y, yhat = r.normal(size=shape).astype(np.float32), r.normal(size=shape).astype(np.float32)
    ours = L.mean_squared_error(y, yhat)
    assert max_diff(ours, keras.losses.mean_squared_error(y, yhat)) <= ATOL
    w = r.random(shape[:-1]).astype(np.float32) if len(shape) > 1 else None
    theirs = keras.losses.MeanSquaredError()(y, yhat, sample_weight=w)
    assert abs(L.mean_loss(ours, sample_weight=w) - float(theirs)) <= ATOL


def test_losses_explain_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        L.binary_crossentropy(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="without the class axis"):
        L.sparse_categorical_crossentropy(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="labels should be in 0..3"):
        L.sparse_categorical_crossentropy(np.array([4]), np.zeros((1, 4)))


# ---------------------------------------------------------------- perplexity and bits per character


@pytest.mark.parametrize("mask_token_id", [None, 0])
def test_perplexity_equals_keras_hub(keras, mask_token_id):
    keras_hub = pytest.importorskip("keras_hub")
    r = rng(5)
    z, _ = logits_and_probs(r, (3, 8, 10), scale=2.0)
    labels = r.integers(0, 10, size=(3, 8))
    nll = L.sparse_categorical_crossentropy(labels, z, from_logits=True)
    mask = None if mask_token_id is None else labels != mask_token_id
    ours = L.perplexity(L.mean_loss(nll, mask=mask))
    metric = keras_hub.metrics.Perplexity(from_logits=True, mask_token_id=mask_token_id)
    metric.update_state(labels, z)
    assert abs(ours - float(metric.result())) <= ATOL * max(1.0, ours)  # float32: relative 1e-5


def test_perplexity_and_bits_per_character_of_a_uniform_guess():
    assert L.perplexity(math.log(65)) == pytest.approx(65)
    assert L.bits_per_character(math.log(256)) == pytest.approx(8)
    assert L.bits_per_character(math.log(2)) == pytest.approx(1)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 6)])
def test_softmax_crossentropy_grad_equals_gradient_tape(keras, tf, shape):
    r = rng(2)
    z = tf.Variable((r.normal(size=shape) * 3).astype(np.float32))
    labels = r.integers(0, shape[-1], size=shape[:-1])
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, z)
    assert max_diff(L.softmax_crossentropy_grad(labels, z.numpy()), tape.gradient(loss, z)) <= ATOL


@pytest.mark.parametrize("shape", [(8, 1), (3, 4, 2)])
def test_sigmoid_grads_equal_gradient_tape(keras, tf, shape):
    r = rng(4)
    z = tf.Variable((r.normal(size=shape) * 5).astype(np.float32))
    y = (r.random(shape) > 0.5).astype(np.float32)
    with tf.GradientTape(persistent=True) as tape:
        bce = keras.losses.BinaryCrossentropy(from_logits=True)(y, z)
        mse = keras.losses.MeanSquaredError()(y, tf.sigmoid(z))
    # Keras averages over the last axis and then over the rest: a mean over all N entries.
    assert max_diff(L.sigmoid_crossentropy_grad(y, z.numpy()), tape.gradient(bce, z)) <= ATOL
    assert max_diff(L.sigmoid_mse_grad(y, z.numpy()), tape.gradient(mse, z)) <= ATOL


def test_mse_gradient_vanishes_on_confident_mistakes():
    z, y = np.array([-10.0]), np.array([1.0])
    assert abs(L.sigmoid_crossentropy_grad(y, z)[0]) > 0.99
    assert abs(L.sigmoid_mse_grad(y, z)[0]) < 1e-3


# ---------------------------------------------------------------- metrics


def predictions(seed: int, n: int, classes: int):
    r = rng(seed)
    y = r.integers(0, classes, size=n)
    guess = np.where(r.random(n) < 0.6, y, r.integers(0, classes, size=n))  # a 60 %+ accurate classifier
    return y, guess


@pytest.mark.parametrize("n,classes", [(10, 2), (200, 3), (500, 6)])
def test_accuracy_and_confusion_matrix_equal_sklearn_and_keras(keras, n, classes):
    from sklearn import metrics

    y, guess = predictions(n, n, classes)
    assert abs(L.accuracy(y, guess) - metrics.accuracy_score(y, guess)) <= ATOL
    acc = keras.metrics.Accuracy()
    acc.update_state(y, guess)
    assert abs(L.accuracy(y, guess) - float(acc.result())) <= ATOL
    np.testing.assert_array_equal(L.confusion_matrix(y, guess, classes),
                                  metrics.confusion_matrix(y, guess, labels=range(classes)))


@pytest.mark.parametrize("n,classes", [(10, 2), (200, 3), (500, 6), (30, 5)])
@pytest.mark.parametrize("average", [None, "macro", "weighted", "micro"])
def test_precision_recall_f1_equal_sklearn(n, classes, average):
    from sklearn import metrics

    y, guess = predictions(n + classes, n, classes)
    if n == 30:
        guess[guess == 4] = 0  # a class never predicted: precision 0/0 counts as 0
    ours = L.precision_recall_f1(y, guess, num_classes=classes, average=average)
    p, r, f, s = metrics.precision_recall_fscore_support(y, guess, labels=range(classes), average=average,
                                                         zero_division=0)
    for mine, theirs in [(ours.precision, p), (ours.recall, r), (ours.f1, f)]:
        assert max_diff(mine, theirs) <= ATOL
    if average is None:
        np.testing.assert_array_equal(ours.support, s)


def test_binary_precision_recall_f1_equal_sklearn_and_keras(keras):
    from sklearn import metrics

    y, guess = predictions(3, 300, 2)
    ours = L.precision_recall_f1(y, guess, num_classes=2, average="binary")
    assert abs(ours.precision - metrics.precision_score(y, guess)) <= ATOL
    assert abs(ours.recall - metrics.recall_score(y, guess)) <= ATOL
    assert abs(ours.f1 - metrics.f1_score(y, guess)) <= ATOL
    for metric, value in [(keras.metrics.Precision(), ours.precision), (keras.metrics.Recall(), ours.recall)]:
        metric.update_state(y, guess)
        assert abs(value - float(metric.result())) <= ATOL


@pytest.mark.parametrize("average", [None, "macro", "weighted", "micro"])
def test_f1_equals_keras_f1score(keras, average):
    y, guess = predictions(8, 400, 6)
    eye = np.eye(6, dtype=np.float32)
    metric = keras.metrics.F1Score(average=average)
    metric.update_state(eye[y], eye[guess])
    ours = L.precision_recall_f1(y, guess, num_classes=6, average=average)
    assert max_diff(ours.f1, metric.result()) <= ATOL


def test_micro_average_is_accuracy_for_single_label_tasks():
    y, guess = predictions(9, 100, 4)
    assert L.precision_recall_f1(y, guess, average="micro").f1 == pytest.approx(L.accuracy(y, guess))


def test_metric_errors_are_explained():
    with pytest.raises(ValueError, match="square"):
        L.scores_from_confusion(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="average"):
        L.scores_from_confusion(np.eye(2), average="mean")
    with pytest.raises(ValueError, match="labels should be in 0..1"):
        L.confusion_matrix(np.array([0, 2]), np.array([0, 1]), num_classes=2)
