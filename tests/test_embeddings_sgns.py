"""Skip-gram with negative sampling in NumPy, and the gensim Word2Vec wrapper."""

from __future__ import annotations

import numpy as np
import pytest

from slm_helpers.embeddings import sgns as S
from slm_helpers.embeddings.word2vec import train_word2vec


def _pair(seed: int = 0, d: int = 6, k: int = 4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), rng.normal(size=d), rng.normal(size=(k, d))


def _numeric_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def test_pair_gradients_match_finite_differences():
    v_c, u_o, u_neg = _pair()
    loss, d_v, d_o, d_neg = S.sgns_pair_loss_and_grads(v_c, u_o, u_neg)

    def f():
        return S.sgns_pair_loss_and_grads(v_c, u_o, u_neg)[0]

    assert loss > 0
    for analytic, x in ((d_v, v_c), (d_o, u_o), (d_neg, u_neg)):
        assert np.max(np.abs(analytic - _numeric_grad(f, x))) < 1e-7


def test_pair_loss_and_gradients_match_tensorflow():
    tf = pytest.importorskip("tensorflow")
    v_c, u_o, u_neg = _pair(1)
    loss, d_v, d_o, d_neg = S.sgns_pair_loss_and_grads(v_c, u_o, u_neg)
    tv, to, tn = (tf.Variable(a) for a in (v_c, u_o, u_neg))
    with tf.GradientTape() as tape:
        tf_loss = -tf.math.log_sigmoid(tf.tensordot(to, tv, 1)) - tf.reduce_sum(
            tf.math.log_sigmoid(-tf.linalg.matvec(tn, tv)))
    grads = tape.gradient(tf_loss, [tv, to, tn])
    assert abs(loss - float(tf_loss)) < 1e-10
    for ours, theirs in zip((d_v, d_o, d_neg), grads, strict=True):
        assert np.max(np.abs(ours - theirs.numpy())) < 1e-10


def test_batch_equals_pair_by_pair():
    rng = np.random.default_rng(2)
    w_in, w_out = rng.normal(size=(10, 5)), rng.normal(size=(10, 5))
    centers, contexts, negatives = np.array([0, 3, 3]), np.array([1, 2, 9]), rng.integers(0, 10, size=(3, 4))
    batch = S.sgns_batch_loss_and_grads(w_in, w_out, centers, contexts, negatives)
    for b in range(3):
        loss, d_v, d_o, d_neg = S.sgns_pair_loss_and_grads(w_in[centers[b]], w_out[contexts[b]], w_out[negatives[b]])
        assert np.isclose(batch.losses[b], loss)
        assert np.allclose(batch.d_center[b], d_v) and np.allclose(batch.d_context[b], d_o)
        assert np.allclose(batch.d_negatives[b], d_neg)
    with pytest.raises(ValueError, match="negatives"):
        S.sgns_batch_loss_and_grads(w_in, w_out, centers, contexts, negatives[:2])


def test_shapes_are_checked():
    v_c, u_o, u_neg = _pair()
    with pytest.raises(ValueError, match="expected v_c"):
        S.sgns_pair_loss_and_grads(v_c, u_o[:3], u_neg)


def test_sigmoids_are_stable():
    x = np.array([-1000.0, 0.0, 1000.0])
    assert np.allclose(S.sigmoid(x), [0.0, 0.5, 1.0])
    assert np.allclose(S.log_sigmoid(x), [-1000.0, np.log(0.5), 0.0])
    assert np.all(np.isfinite(S.log_sigmoid(x)))


def test_scatter_add_equals_np_add_at():
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 7, size=50)
    values = rng.normal(size=(50, 3))
    ours, ref = np.zeros((7, 3)), np.zeros((7, 3))
    S.scatter_add(ours, rows, values)
    np.add.at(ref, rows, values)
    assert np.allclose(ours, ref)
    ours1, ref1 = np.zeros(7), np.zeros(7)
    S.scatter_add(ours1, rows, values[:, 0])
    np.add.at(ref1, rows, values[:, 0])
    assert np.allclose(ours1, ref1)


def test_keep_probability_equals_gensim():
    rng = np.random.default_rng(4)
    words = [f"w{i}" for i in range(40)]
    sentences = [[words[min(39, int(j))] for j in rng.exponential(4, size=12)] for _ in range(300)]
    model = train_word2vec(sentences, min_count=1, vector_size=4, epochs=1, sample=1e-2)
    counts = np.array([model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key])
    gensim_keep = np.array([model.wv.get_vecattr(w, "sample_int") for w in model.wv.index_to_key]) / 2**32
    assert np.allclose(S.keep_probability(counts, 1e-2), gensim_keep, atol=1e-8)
    assert S.keep_probability(counts, 0).tolist() == [1.0] * len(counts)


def test_noise_distribution():
    p = S.noise_distribution(np.array([16, 1, 0]))
    assert np.isclose(p.sum(), 1.0) and p[2] == 0 and np.isclose(p[0] / p[1], 8.0)


def test_skipgram_pairs_respect_window_and_sentences():
    rng = np.random.default_rng(5)
    encoded = [np.array([0, 1, 2]), np.array([3, 4])]
    c, o = S.skipgram_pairs(encoded, 1, rng)
    assert sorted(zip(c.tolist(), o.tolist(), strict=True)) == [(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3)]
    long = [np.arange(50), np.arange(50, 60)]
    c, o = S.skipgram_pairs(long, 4, rng)
    assert np.all(np.abs(c - o) <= 4) and np.all(np.abs(c - o) >= 1)
    assert not np.any((c < 50) != (o < 50)), "pairs must not cross sentences"
    # Dynamic window: distance 1 is always used, distance 4 only when the centre drew b = 4.
    near, far = np.sum(np.abs(c - o) == 1), np.sum(np.abs(c - o) == 4)
    assert near > 2 * far > 0
    keep = np.zeros(60)
    keep[:10] = 1.0
    c, o = S.skipgram_pairs(long, 2, rng, keep)
    assert c.max() < 10 and o.max() < 10
    with pytest.raises(ValueError, match="window"):
        S.skipgram_pairs(long, 0, rng)


def _two_topic_corpus(seed: int = 6):
    """Sentences use words 0-9 (topic A) or 10-19 (topic B), never both."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 10, 8) + 10 * (i % 2) for i in range(400)]


def test_train_sgns_learns_topics_and_loss_falls():
    encoded = _two_topic_corpus()
    counts = np.bincount(np.concatenate(encoded), minlength=20)
    seen = []
    result = S.train_sgns(encoded, counts, dim=8, window=2, negative=3, epochs=4, lr=0.05,
                          batch_size=64, sample=0, seed=0, callback=lambda e, w_in, w_out, loss: seen.append(e))
    assert seen == [0, 1, 2, 3, 4]
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0] < np.log(2) * 4 + 0.1
    unit = result.w_in / np.linalg.norm(result.w_in, axis=1, keepdims=True)
    sims = unit @ unit.T
    same = np.mean([sims[i, j] for i in range(20) for j in range(20) if i != j and i // 10 == j // 10])
    other = np.mean([sims[i, j] for i in range(20) for j in range(20) if i // 10 != j // 10])
    assert same > other + 0.3


def test_train_word2vec_uses_gensim4_names_and_repeats():
    sentences = [[f"w{j}" for j in s] for s in _two_topic_corpus()]
    a = train_word2vec(sentences, vector_size=8, epochs=2, min_count=1)
    b = train_word2vec(sentences, vector_size=8, epochs=2, min_count=1)
    assert a.wv.vector_size == 8 and a.sg == 1 and a.workers == 1
    assert np.array_equal(a.wv.vectors, b.wv.vectors), "workers=1 with a seed repeats exactly"
    with pytest.raises(TypeError, match="size= is now vector_size="):
        train_word2vec(sentences, size=8)
    with pytest.raises(TypeError, match="iter= is now epochs="):
        train_word2vec(sentences, iter=3)
    with pytest.raises(ValueError, match="lists of tokens"):
        train_word2vec(["a sentence as a string"])
