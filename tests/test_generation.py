"""Decoding rules (greedy, temperature, top-k, top-p), checked by hand and against keras-hub."""

from __future__ import annotations

import numpy as np
import pytest

from slm_helpers import generation as gen


def kept(logits: np.ndarray) -> set[int]:
    return set(np.flatnonzero(np.isfinite(logits)).tolist())


def test_softmax_is_a_distribution_and_ignores_minus_inf():
    p = gen.softmax([[1000.0, 999.0, -np.inf], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert p[0, 2] == 0.0
    np.testing.assert_allclose(p[1], 1 / 3)


def test_greedy_is_argmax_with_lowest_id_on_ties():
    assert gen.greedy([0.1, 3.0, 3.0, -1.0]) == 1
    np.testing.assert_array_equal(gen.greedy([[1.0, 2.0], [5.0, 0.0]]), [1, 0])


def test_temperature_zero_is_greedy_and_small_temperature_approaches_it():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 30))
    greedy_ids = gen.greedy(z)
    one_hot = np.eye(30)[greedy_ids]
    np.testing.assert_array_equal(gen.sampling_probabilities(z, gen.Decoding(temperature=0.0)), one_hot)
    np.testing.assert_array_equal(gen.sample(z, gen.GREEDY, rng), greedy_ids)
    # The limit: softmax(z / τ) tends to the one-hot of the argmax as τ -> 0
    gaps = [np.abs(gen.sampling_probabilities(z, gen.Decoding(temperature=t)) - one_hot).max()
            for t in (1.0, 0.1, 1e-3)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 1e-6
    np.testing.assert_array_equal(gen.sample(z, gen.Decoding(temperature=1e-3), rng), greedy_ids)


def test_temperature_scales_logits():
    z = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(gen.apply_temperature(z, 2.0), z / 2)
    hot, cold = (gen.sampling_probabilities(z, gen.Decoding(temperature=t)) for t in (2.0, 0.5))
    assert hot.max() < gen.softmax(z).max() < cold.max()


def test_top_k_keeps_exactly_k_largest():
    z = np.array([0.5, 2.0, -1.0, 2.0, 1.0])
    assert kept(gen.top_k_filter(z, 1)) == {1}  # tie between 1 and 3: lower id wins
    assert kept(gen.top_k_filter(z, 2)) == {1, 3}
    assert kept(gen.top_k_filter(z, 3)) == {1, 3, 4}
    assert kept(gen.top_k_filter(z, 99)) == set(range(5))
    np.testing.assert_array_equal(gen.top_k_filter(z, 3)[[1, 3, 4]], z[[1, 3, 4]])


def test_top_k_matches_tf_math_top_k():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    z = rng.normal(size=(20, 40)).astype(np.float32)
    ours = np.isfinite(gen.top_k_filter(z, 7))
    idx = tf.math.top_k(z, k=7).indices.numpy()
    theirs = np.zeros_like(ours)
    np.put_along_axis(theirs, idx, True, axis=-1)
    np.testing.assert_array_equal(ours, theirs)


def test_top_p_keeps_smallest_set_reaching_p():
    probs = np.array([0.05, 0.5, 0.15, 0.3])
    z = np.log(probs)
    assert kept(gen.top_p_filter(z, 0.45)) == {1}
    assert kept(gen.top_p_filter(z, 0.55)) == {1, 3}
    assert kept(gen.top_p_filter(z, 0.79)) == {1, 3}
    assert kept(gen.top_p_filter(z, 0.81)) == {1, 3, 2}
    assert kept(gen.top_p_filter(z, 1.0)) == {0, 1, 2, 3}
    assert kept(gen.top_p_filter(z, 1e-9)) == {1}  # the most likely token always survives


def test_top_p_property_on_random_distributions():
    rng = np.random.default_rng(2)
    for _ in range(200):
        z = rng.normal(scale=2.0, size=12)
        p = rng.uniform(0.01, 1.0)
        probs = gen.softmax(z)
        keep = np.isfinite(gen.top_p_filter(z, p))
        mass = probs[keep].sum()
        assert mass >= p - 1e-12, "the kept set must reach p"
        assert mass - probs[keep].min() < p, "dropping the least likely kept token must fall below p"
        assert probs[keep].min() >= probs[~keep].max(initial=0.0), "kept tokens are the most likely ones"


def test_filters_combine_in_order_and_renormalize():
    z = np.log(np.array([0.4, 0.3, 0.2, 0.1]))
    probs = gen.sampling_probabilities(z, gen.Decoding(temperature=1.0, top_k=3, top_p=0.6))
    # top-k=3 -> {0.4, 0.3, 0.2}/0.9; top-p=0.6 on that -> {0.444, 0.333} (0.444 < 0.6)
    np.testing.assert_allclose(probs, [4 / 7, 3 / 7, 0.0, 0.0])


def test_sample_frequencies_follow_the_distribution():
    rng = np.random.default_rng(3)
    z = np.log(np.array([0.1, 0.6, 0.3]))
    draws = gen.sample(np.tile(z, (30_000, 1)), gen.Decoding(), rng)
    freq = np.bincount(draws, minlength=3) / draws.size
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.3], atol=0.015)
    assert np.ndim(gen.sample(z, gen.Decoding(), rng)) == 0


@pytest.mark.parametrize(
    ("decoding", "sampler"),
    [
        (gen.Decoding(temperature=1.0), ("RandomSampler", {})),
        (gen.Decoding(temperature=0.7), ("RandomSampler", {"temperature": 0.7})),
        (gen.Decoding(temperature=1.0, top_k=5), ("TopKSampler", {"k": 5})),
        (gen.Decoding(temperature=1.3, top_p=0.7), ("TopPSampler", {"p": 0.7, "temperature": 1.3})),
    ],
)
def test_same_distribution_as_keras_hub_samplers(decoding, sampler):
    import keras
    import keras_hub

    rng = np.random.default_rng(4)
    logits = rng.normal(scale=1.5, size=16).astype(np.float32)
    n = 40_000
    name, kwargs = sampler
    hub = getattr(keras_hub.samplers, name)(seed=7, **kwargs)
    probs_hub = hub.compute_probabilities(keras.ops.convert_to_tensor(np.tile(logits, (n, 1))))
    hub_ids = keras.ops.convert_to_numpy(hub.get_next_token(probs_hub))
    hub_freq = np.bincount(hub_ids, minlength=16) / n
    ours = gen.sampling_probabilities(logits, decoding)
    assert set(np.flatnonzero(hub_freq)) <= set(np.flatnonzero(ours)), "keras-hub sampled a token we exclude"
    assert 0.5 * np.abs(hub_freq - ours).sum() < 0.02  # total variation distance


def test_greedy_matches_keras_hub_greedy_sampler():
    import keras_hub

    z = np.random.default_rng(5).normal(size=(64, 10)).astype(np.float32)
    hub = keras_hub.samplers.GreedySampler()
    np.testing.assert_array_equal(np.asarray(hub.get_next_token(hub.compute_probabilities(z))), gen.greedy(z))


def bigram_next_logits(table: np.ndarray):
    def next_logits(ids: np.ndarray) -> np.ndarray:
        return table[ids[:, -1]]

    return next_logits


def test_generate_greedy_follows_the_table_and_is_reproducible():
    table = np.full((4, 4), -5.0)
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 0)]:
        table[a, b] = 5.0
    out = gen.generate(bigram_next_logits(table), [2], 6)
    np.testing.assert_array_equal(out, [[2, 3, 0, 1, 2, 3, 0]])
    nucleus = gen.Decoding(temperature=1.5, top_p=0.9)
    a = gen.generate(bigram_next_logits(np.zeros((4, 4))), [0, 1], 20, nucleus, seed=3, num_samples=3)
    b = gen.generate(bigram_next_logits(np.zeros((4, 4))), [0, 1], 20, nucleus, seed=3, num_samples=3)
    assert a.shape == (3, 22)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], a[1])


def test_bad_arguments_give_clear_errors():
    with pytest.raises(ValueError, match="temperature"):
        gen.Decoding(temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        gen.Decoding(top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        gen.Decoding(top_p=1.5)
    with pytest.raises(ValueError, match="shape"):
        gen.softmax(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="nan"):
        gen.greedy([np.nan, 1.0])
    with pytest.raises(ValueError, match="prompt_ids"):
        gen.generate(bigram_next_logits(np.zeros((4, 4))), [], 3)
    with pytest.raises(ValueError, match="num_samples"):
        gen.generate(lambda ids: np.zeros((1, 4)), [1], 2, num_samples=2)


def test_keras_next_logits_pads_right_and_crops_left():
    import keras

    keras.utils.set_random_seed(0)
    vocab, block = 11, 6
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab, 8)(inputs)
    x = keras.layers.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True)
    model = keras.Model(inputs, keras.layers.Dense(vocab)(x))
    next_logits = gen.keras_next_logits(model, block, jit_compile=False)
    rng = np.random.default_rng(0)
    for length in (1, 4, 6, 9):
        ids = rng.integers(0, vocab, size=(2, length))
        expected = keras.ops.convert_to_numpy(model(ids[:, -block:]))[:, -1]
        np.testing.assert_allclose(next_logits(ids), expected, atol=1e-5)
    out = gen.generate(next_logits, [1, 2], 8)
    assert out.shape == (1, 10) and out.max() < vocab
