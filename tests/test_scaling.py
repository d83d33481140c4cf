"""Compute counting and loss-against-compute curves (lesson 09's scaling section)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slm_helpers import scaling

VOCAB, BLOCK, LAYERS, WIDTH, BATCH = 11, 16, 2, 8, 2


def tiny_gpt():
    """Lesson 09's architecture in miniature: fused bias-free causal attention, ReLU FFN, head."""
    import keras
    from keras import ops

    class Attention(keras.layers.Layer):
        def build(self, input_shape):
            self.w_qkv = self.add_weight(shape=(WIDTH, 3 * WIDTH))
            self.w_out = self.add_weight(shape=(WIDTH, WIDTH))

        def call(self, x):
            b, t, heads = ops.shape(x)[0], ops.shape(x)[1], 2
            qkv = ops.reshape(ops.matmul(x, self.w_qkv), (b, t, 3, heads, WIDTH // heads))
            q, k, v = ops.unstack(ops.transpose(qkv, (2, 0, 3, 1, 4)), num=3)
            scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) / math.sqrt(WIDTH // heads)
            scores = ops.where(ops.tril(ops.ones((t, t), dtype="bool")), scores, -1e9)
            heads_out = ops.transpose(ops.matmul(ops.softmax(scores, axis=-1), v), (0, 2, 1, 3))
            return ops.matmul(ops.reshape(heads_out, (b, t, WIDTH)), self.w_out)

    keras.utils.set_random_seed(0)
    ids = keras.Input((BLOCK,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, WIDTH)(ids)
    for _ in range(LAYERS):
        x = x + Attention()(keras.layers.LayerNormalization(center=False)(x))
        h = keras.layers.LayerNormalization(center=False)(x)
        h = keras.layers.Dense(4 * WIDTH, activation="relu", use_bias=False)(h)
        x = x + keras.layers.Dense(WIDTH, use_bias=False)(h)
    logits = keras.layers.Dense(VOCAB, use_bias=False)(keras.layers.LayerNormalization(center=False)(x))
    return keras.Model(ids, logits)


def test_flop_formula_equals_the_profilers_count_forward_and_backward():
    import keras
    import tensorflow as tf

    model = tiny_gpt()
    spec = tf.TensorSpec((BATCH, BLOCK), tf.int32)
    counted = scaling.graph_matmul_flops(lambda ids: model(ids), spec)
    per_token = scaling.gpt_flops_per_token(VOCAB, BLOCK, LAYERS, WIDTH)
    tokens = BATCH * BLOCK
    assert counted == pytest.approx(per_token.total / 3 * tokens, rel=1e-12)  # the forward pass: a third

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def training_products(ids):  # forward and backward, as a training step computes them
        with tf.GradientTape() as tape:
            loss = loss_fn(ids, model(ids))
        return tape.gradient(loss, model.trainable_variables)

    assert scaling.graph_matmul_flops(training_products, spec) == pytest.approx(per_token.total * tokens, rel=1e-12)
    matrices = sum(int(np.prod(w.shape)) for w in model.trainable_weights if len(w.shape) == 2) - VOCAB * WIDTH
    assert matrices == scaling.gpt_matrix_params(VOCAB, LAYERS, WIDTH)  # embeddings excluded


def test_attention_share_grows_with_the_window():
    short, long = (scaling.gpt_flops_per_token(65, t, 3, 64) for t in (64, 1024))
    assert short.dense == long.dense and long.attention == 16 * short.attention
    assert short.attention_share < 0.2 < long.attention_share
    with pytest.raises(ValueError, match="width"):
        scaling.gpt_flops_per_token(65, 64, 3, 0)
    with pytest.raises(ValueError, match="block"):
        scaling.gpt_flops_per_token(65, 6.5, 3, 8)


def test_loss_at_interpolates_in_log_flops_and_refuses_to_extrapolate():
    flops, losses = [1e9, 1e11], [3.0, 2.0]
    assert scaling.loss_at(flops, losses, 1e10) == pytest.approx(2.5)
    assert math.isnan(scaling.loss_at(flops, losses, 1e12)) and math.isnan(scaling.loss_at(flops, losses, 1e8))
    with pytest.raises(ValueError, match="increasing"):
        scaling.loss_at([2e9, 1e9], losses, 1e9)
    with pytest.raises(ValueError, match="equal count"):
        scaling.loss_at([1e9, 2e9, 3e9], losses, 1e9)


def test_lower_envelope_switches_to_the_bigger_model_as_compute_grows():
    # A small model learns fast and saturates; a big one starts slower and goes lower.
    grid = np.geomspace(1e9, 1e12, 7)
    small = (np.geomspace(1e9, 1e11, 5), np.array([3.0, 2.5, 2.2, 2.1, 2.05]))
    big = (np.geomspace(1e10, 1e12, 5), np.array([3.2, 2.6, 2.15, 1.9, 1.7]))
    best, labels = scaling.lower_envelope({"small": small, "big": big}, grid)
    assert labels[0] == "small" and labels[-1] == "big"
    assert np.all(np.diff(best) < 0)  # the envelope only falls
    assert np.isnan(scaling.lower_envelope({"small": small}, [1e12])[0][0])
    assert scaling.lower_envelope({"small": small}, [1e12])[1] == [None]
    with pytest.raises(ValueError, match="no curves"):
        scaling.lower_envelope({}, grid)
