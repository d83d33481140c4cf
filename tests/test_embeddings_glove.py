"""Co-occurrence counting, the GloVe objective and its AdaGrad training."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from slm_helpers.embeddings import glove as G
from slm_helpers.embeddings.cooccurrence import cooccurrence_matrix


def _loop_counts(encoded, window, weighting=True, symmetric=True):
    """The obvious double loop, as the lesson writes it first."""
    counts = defaultdict(float)
    for sentence in encoded:
        for i, w in enumerate(sentence):
            for d in range(1, window + 1):
                if i + d >= len(sentence):
                    break
                weight = 1.0 / d if weighting else 1.0
                counts[w, sentence[i + d]] += weight
                if symmetric:
                    counts[sentence[i + d], w] += weight
    return counts


@pytest.mark.parametrize("weighting,symmetric", [(True, True), (False, True), (True, False)])
def test_cooccurrence_equals_the_double_loop(weighting, symmetric):
    rng = np.random.default_rng(0)
    encoded = [rng.integers(0, 12, size=rng.integers(1, 15)) for _ in range(30)]
    x = cooccurrence_matrix(encoded, 12, window=4, distance_weighting=weighting, symmetric=symmetric).toarray()
    expected = np.zeros((12, 12))
    for (i, j), v in _loop_counts(encoded, 4, weighting, symmetric).items():
        expected[i, j] = v
    assert np.allclose(x, expected)
    if symmetric:
        assert np.allclose(x, x.T)


def test_cooccurrence_by_hand_and_sentence_boundaries():
    # "a b c" and "c a", window 2: X[a,b] = 1, X[a,c] = 1/2 (first sentence) + 1 (second).
    x = cooccurrence_matrix([np.array([0, 1, 2]), np.array([2, 0])], 3, window=2).toarray()
    assert x[0, 1] == 1.0 and x[0, 2] == 1.5 and x[1, 2] == 1.0 and x[2, 2] == 0.0
    x = cooccurrence_matrix([np.array([0]), np.array([1])], 2, window=5)
    assert x.nnz == 0, "no pair crosses a sentence boundary"


def test_cooccurrence_errors():
    with pytest.raises(ValueError, match="0..2"):
        cooccurrence_matrix([np.array([0, 3])], 3)
    with pytest.raises(ValueError, match="window"):
        cooccurrence_matrix([np.array([0, 1])], 3, window=0)
    with pytest.raises(ValueError, match="no sentences"):
        cooccurrence_matrix([], 3)


def test_weighting_function():
    f = G.glove_weight(np.array([0.0, 1.0, 50.0, 100.0, 500.0]))
    assert np.allclose(f, [0.0, 0.01**0.75, 0.5**0.75, 1.0, 1.0])
    assert np.isclose(G.glove_weight(5.0, x_max=10, alpha=1.0), 0.5)
    with pytest.raises(ValueError, match="negative"):
        G.glove_weight(-1.0)


def _tiny(seed: int = 0, v: int = 5, d: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, size=(v, v)) * rng.uniform(0.5, 150, size=(v, v))
    params = G.GloVeParams(rng.normal(size=(v, d)), rng.normal(size=(v, d)), rng.normal(size=v), rng.normal(size=v))
    return x, params


def test_loss_and_gradient_equal_a_direct_computation():
    x, p = _tiny()
    loss, grads = G.glove_loss_and_grads(p, x)
    direct = 0.0
    d_w, d_wt, d_b, d_bt = (np.zeros_like(a) for a in (p.w, p.w_tilde, p.b, p.b_tilde))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if x[i, j] > 0:
                f = min(1.0, (x[i, j] / 100.0) ** 0.75)
                e = p.w[i] @ p.w_tilde[j] + p.b[i] + p.b_tilde[j] - np.log(x[i, j])
                direct += f * e**2
                d_w[i] += 2 * f * e * p.w_tilde[j]
                d_wt[j] += 2 * f * e * p.w[i]
                d_b[i] += 2 * f * e
                d_bt[j] += 2 * f * e
    assert np.isclose(loss, direct) and np.isclose(G.glove_loss(p, x), direct)
    for ours, ref in zip((grads.w, grads.w_tilde, grads.b, grads.b_tilde), (d_w, d_wt, d_b, d_bt), strict=True):
        assert np.allclose(ours, ref)


def test_gradient_matches_finite_differences_and_sparse_input():
    from scipy.sparse import csr_matrix

    x, p = _tiny(1)
    _, grads = G.glove_loss_and_grads(p, x)
    eps = 1e-6
    for name in ("w", "w_tilde", "b", "b_tilde"):
        arr = getattr(p, name)
        for idx in list(np.ndindex(arr.shape))[:6]:
            old = arr[idx]
            arr[idx] = old + eps
            up = G.glove_loss(p, x)
            arr[idx] = old - eps
            down = G.glove_loss(p, x)
            arr[idx] = old
            assert abs((up - down) / (2 * eps) - getattr(grads, name)[idx]) < 1e-5
    assert np.isclose(G.glove_loss(p, csr_matrix(x)), G.glove_loss(p, x))


def test_loss_and_gradient_match_tensorflow():
    tf = pytest.importorskip("tensorflow")
    x, p = _tiny(2)
    loss, grads = G.glove_loss_and_grads(p, x)
    rows, cols = np.nonzero(x)
    f = np.minimum(1.0, (x[rows, cols] / 100.0) ** 0.75)
    tw, twt, tb, tbt = (tf.Variable(a) for a in (p.w, p.w_tilde, p.b, p.b_tilde))
    with tf.GradientTape() as tape:
        e = (tf.reduce_sum(tf.gather(tw, rows) * tf.gather(twt, cols), axis=1) + tf.gather(tb, rows)
             + tf.gather(tbt, cols) - np.log(x[rows, cols]))
        tf_loss = tf.reduce_sum(f * e**2)
    tf_grads = tape.gradient(tf_loss, [tw, twt, tb, tbt])
    assert abs(loss - float(tf_loss)) < 1e-8
    for ours, theirs in zip((grads.w, grads.w_tilde, grads.b, grads.b_tilde), tf_grads, strict=True):
        assert np.max(np.abs(ours - tf.convert_to_tensor(theirs).numpy())) < 1e-8


def test_adagrad_rows_is_pair_by_pair_adagrad_when_rows_differ():
    rng = np.random.default_rng(3)
    param, gradsq = rng.normal(size=(6, 2)), np.full((6, 2), 0.5)
    rows, grads = np.array([4, 1, 2]), rng.normal(size=(3, 2))
    expected_param, expected_sq = param.copy(), gradsq.copy()
    for r, g in zip(rows, grads, strict=True):
        expected_sq[r] += g**2
        expected_param[r] -= 0.1 * g / np.sqrt(expected_sq[r])
    G._adagrad_rows(param, gradsq, rows, grads, 0.1)
    assert np.allclose(param, expected_param) and np.allclose(gradsq, expected_sq)
    # A repeated row gets the sum of its gradients and of their squares.
    param2, sq2 = np.zeros((2, 1)), np.ones((2, 1))
    G._adagrad_rows(param2, sq2, np.array([0, 0]), np.array([[3.0], [4.0]]), 1.0)
    assert np.isclose(sq2[0, 0], 26.0) and np.isclose(param2[0, 0], -7.0 / np.sqrt(26.0))


def _per_pair_glove(x, dim, epochs, lr, seed, eps=1e-8):
    """GloVe by the formulas, one pair at a time: AdaGrad adds g^2 to G, then steps by lr g / sqrt(G)."""
    rows, cols, vals = G._nonzeros(x)
    init = G.GloVeParams.initialize(x.shape[0], dim, seed)
    w, wt = init.w.astype(np.float64), init.w_tilde.astype(np.float64)
    b, bt = init.b.astype(np.float64), init.b_tilde.astype(np.float64)
    sq_w, sq_wt, sq_b, sq_bt = (np.full_like(a, eps) for a in (w, wt, b, bt))
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for k in rng.permutation(len(vals)):
            i, j = rows[k], cols[k]
            e = w[i] @ wt[j] + b[i] + bt[j] - np.log(vals[k])
            g = 2 * G.glove_weight(vals[k]) * e  # dJ/de for this pair
            g_w, g_wt = g * wt[j], g * w[i]
            sq_w[i] += g_w**2
            sq_wt[j] += g_wt**2
            sq_b[i] += g**2
            sq_bt[j] += g**2
            w[i] -= lr * g_w / np.sqrt(sq_w[i])
            wt[j] -= lr * g_wt / np.sqrt(sq_wt[j])
            b[i] -= lr * g / np.sqrt(sq_b[i])
            bt[j] -= lr * g / np.sqrt(sq_bt[j])
    return w, wt, b, bt


def test_train_glove_with_batches_of_one_is_the_per_pair_loop():
    rng = np.random.default_rng(7)
    encoded = [rng.integers(0, 12, 6) for _ in range(40)]
    x = cooccurrence_matrix(encoded, 12, window=2)
    result = G.train_glove(x, dim=4, epochs=2, batch_size=1, seed=3)
    expected = _per_pair_glove(x, dim=4, epochs=2, lr=0.05, seed=3)
    got = (result.params.w, result.params.w_tilde, result.params.b, result.params.b_tilde)
    for ours, theirs in zip(got, expected, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=2e-5)  # float32 table against a float64 loop
    # With batches, every pair of a batch sees the parameters from before the batch: close, not equal.
    batched = G.train_glove(x, dim=4, epochs=2, batch_size=64, seed=3)
    assert not np.allclose(batched.params.w, expected[0], atol=2e-5)


def test_train_glove_lowers_the_loss():
    rng = np.random.default_rng(4)
    encoded = [rng.integers(0, 10, 8) + 10 * (i % 2) for i in range(300)]
    x = cooccurrence_matrix(encoded, 20, window=3)
    start = G.glove_loss(G.GloVeParams.initialize(20, 8, seed=0), x)
    epochs = []
    result = G.train_glove(x, dim=8, epochs=15, batch_size=64, seed=0,
                           callback=lambda e, loss, p: epochs.append(e))
    assert epochs == list(range(1, 16)) and len(result.history) == 15
    assert result.nnz == x.nnz and result.nonzeros_per_second > 0
    final = G.glove_loss(result.params, x)
    assert final < 0.2 * start
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    vectors = result.vectors()
    assert vectors.shape == (20, 8) and np.allclose(vectors, result.params.w + result.params.w_tilde)
    with pytest.raises(ValueError, match="no positive entries"):
        G.train_glove(np.zeros((3, 3)))
