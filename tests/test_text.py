"""Tokenization helpers: BPE against a naive reference, vocabulary against Keras."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from slm_helpers import text


def naive_bpe(word_counts: dict[str, int], num_merges: int) -> list[tuple[str, str]]:
    """Textbook BPE: recount every pair after every merge (slow, obviously right)."""
    vocab = {tuple(w) + (text.END_OF_WORD,): n for w, n in word_counts.items()}
    merges = []
    for _ in range(num_merges):
        pairs: Counter = Counter()
        for symbols, n in vocab.items():
            for pair in zip(symbols, symbols[1:], strict=False):
                pairs[pair] += n
        if not pairs:
            break
        best_count = max(pairs.values())
        if best_count < 2:
            break
        best = min(p for p, c in pairs.items() if c == best_count)
        merges.append(best)
        vocab = {tuple(text._merge_word(list(s), best)): n for s, n in vocab.items()}
    return merges


def test_learn_bpe_equals_naive_reference():
    corpus = [
        "low",
        "lower",
        "lowest",
        "newer",
        "newest",
        "wider",
        "widest",
        "low",
        "low",
        "new",
        "new",
        "newer",
        "the",
        "them",
        "these",
    ]
    counts = Counter(corpus)
    assert text.learn_bpe(counts, 30) == naive_bpe(counts, 30)


def test_learn_bpe_equals_naive_on_real_text():
    from pydoc_data.topics import topics

    words = text.words(topics["assert"] + topics["if"] + topics["while"])
    counts = Counter(words)
    assert text.learn_bpe(counts, 150) == naive_bpe(counts, 150)


def test_bpe_round_trip_and_unknown_characters():
    tok = text.BPETokenizer.train(["the lower the newer", "the lowest newest"], 20)
    ids = tok.encode("the newest lower")
    assert tok.decode(ids) == "the newest lower"
    assert 1 in tok.encode("zebra")  # 'z' never seen: [UNK]
    assert tok.vocabulary[:2] == ["", "[UNK]"]


def test_bpe_vocabulary_has_every_base_symbol_and_merge_product():
    texts = ["the lower the newer", "the lowest newest", "a wider road"]
    tok = text.BPETokenizer.train(texts, 25)
    vocab = set(tok.vocabulary)
    assert {ch for t in texts for ch in t.replace(" ", "")} | {"</w>"} <= vocab
    assert {a + b for a, b in tok.merges} <= vocab
    assert len(tok.vocabulary) == len(vocab)  # no piece twice
    # "ewe" was never a training word: its segmentation ends in pieces that no training word
    # ends with; the old vocabulary (final pieces of training words) had none of them.
    for word in ("ewe", "rower", "dire", "wee"):
        pieces = tok.segment_word(word)
        assert all(p in vocab for p in pieces), (word, pieces)
        assert 1 not in tok.encode(word), word  # only an unseen character may be [UNK]


def test_bpe_segmentation_equals_the_tokenizers_library():
    """The same merges in Hugging Face's BPE model cut every word the same way."""
    tokenizers = pytest.importorskip("tokenizers")
    texts = ["the lower the newer", "the lowest newest", "a wider road , slower and lower"]
    tok = text.BPETokenizer.train(texts, 40)
    end = "\ue000"  # one character for </w>: HF's BPE starts from single characters
    to_hf = lambda piece: piece.replace("</w>", end)  # noqa: E731
    vocab = {to_hf(p): i for i, p in enumerate(tok.vocabulary) if p}
    hf = tokenizers.models.BPE(vocab, [(to_hf(a), to_hf(b)) for a, b in tok.merges], unk_token="[UNK]")
    for word in ["lowest", "newer", "widest", "roads", "wonder", "slowly", "a", "eee", "zebra"]:
        ours = [p if p in set(tok.vocabulary) else "[UNK]" for p in tok.segment_word(word)]
        theirs = [t.value for t in hf.tokenize(word + end)]
        assert [to_hf(p) for p in ours] == theirs, word


def test_classic_merge_order():
    # Sennrich et al.'s toy example: the first merges are e+s, es+t, est+</w>.
    counts = {"low": 5, "lower": 2, "newest": 6, "widest": 3}
    assert text.learn_bpe(counts, 3) == [("e", "s"), ("es", "t"), ("est", "</w>")]


def test_words_matches_keras_standardization():
    assert text.words("École THE\u00a0end\tnow") == ["École", "the\u00a0end", "now"]


def test_vocabulary_order_and_limit():
    vocab = text.build_vocabulary([["b", "a", "c", "a"], ["c", "d"]], max_tokens=4)
    assert vocab == ["", "[UNK]", "c", "a"]  # ties: larger token first, like Keras
    with pytest.raises(ValueError, match="at least 3"):
        text.build_vocabulary([["a"]], max_tokens=2)


def test_vocabulary_and_ids_equal_text_vectorization():
    import keras

    texts = ["the cat sat on the mat", "The dog ate the cat", "a bird"]
    layer = keras.layers.TextVectorization(max_tokens=8, standardize="lower", split="whitespace")
    layer.adapt(texts)
    ours = text.build_vocabulary([text.words(t) for t in texts], max_tokens=8)
    assert [str(t) for t in layer.get_vocabulary()] == ours
    theirs = np.asarray(layer(texts))
    mine = text.pad([text.encode(text.words(t), ours) for t in texts])
    np.testing.assert_array_equal(mine, theirs)


def test_oov_rate():
    vocab = text.build_vocabulary([["a", "b"]])
    assert text.oov_rate([["a", "c"], ["b", "d"]], vocab) == 0.5
    with pytest.raises(ValueError):
        text.oov_rate([], vocab)


def test_pad_matches_keras_pad_sequences():
    import keras

    seqs = [[1, 2, 3], [4], [5, 6, 7, 8, 9]]
    for padding in ("pre", "post"):
        for truncating in ("pre", "post"):
            ours = text.pad(seqs, 4, padding=padding, truncating=truncating)
            theirs = keras.utils.pad_sequences(seqs, 4, padding=padding, truncating=truncating)
            np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(ValueError, match="'pre' or 'post'"):
        text.pad(seqs, padding="middle")


def test_padding_mask_matches_embedding_mask_zero():
    import keras

    ids = text.pad([[3, 4], [5]])
    layer = keras.layers.Embedding(10, 2, mask_zero=True)
    np.testing.assert_array_equal(text.padding_mask(ids), np.asarray(layer.compute_mask(ids)))
