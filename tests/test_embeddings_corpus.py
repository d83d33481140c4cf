"""The course corpus, tokenizer and vocabulary (slm_helpers.embeddings.corpus)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from slm_helpers.embeddings import corpus as C


def test_tokenize_keeps_words_and_inner_apostrophes():
    assert C.tokenize("The King's horse, 2 of them!") == ["the", "king's", "horse", "2", "of", "them"]
    assert C.tokenize("don’t -- __init__ (x) café") == ["don't", "init", "x", "café"]
    assert C.tokenize("") == []


def test_tokenize_rejects_non_strings():
    with pytest.raises(TypeError, match="expects a str"):
        C.tokenize(["a list"])  # type: ignore[arg-type]


def test_paragraphs_split_on_blank_lines():
    assert list(C.paragraphs("First one.\nStill first.\n\n  \nSecond.\n\n\n")) == [
        ["first", "one", "still", "first"], ["second"]]


def _toy_corpus(n: int = 20) -> C.CourseCorpus:
    return C.CourseCorpus([[f"w{i}", "x"] for i in range(n)], ["lee"] * n)


def test_subsets_are_nested_and_seeded():
    corpus = _toy_corpus(40)
    quarter, half = corpus.subset(0.25, seed=3), corpus.subset(0.5, seed=3)
    assert len(quarter) == 10 and len(half) == 20
    assert {tuple(s) for s in quarter.sentences} <= {tuple(s) for s in half.sentences}
    assert quarter.sentences == corpus.subset(0.25, seed=3).sentences
    assert quarter.sentences != corpus.subset(0.25, seed=4).sentences
    with pytest.raises(ValueError, match="fraction"):
        corpus.subset(0.0)


def test_counts_and_summary():
    corpus = C.CourseCorpus([["a", "b"], ["c"], ["d", "e", "f"]], ["lee", "trec", "lee"])
    assert corpus.n_tokens == 6
    assert corpus.counts_by_source() == {"lee": (2, 5), "trec": (1, 1)}
    assert "total" in corpus.summary() and "6" in corpus.summary()
    with pytest.raises(ValueError, match="source labels"):
        C.CourseCorpus([["a"]], [])


def test_offline_sources_build_and_deduplicate():
    corpus = C.build_course_corpus(("lee", "python_docs"))
    counts = corpus.counts_by_source()
    assert set(counts) == {"lee", "python_docs"}
    assert 250 < counts["lee"][0] <= 300 and 50_000 < counts["lee"][1] < 65_000
    assert len({tuple(s) for s in corpus.sentences}) == len(corpus)  # no duplicates left
    with pytest.raises(ValueError, match="unknown corpus sources"):
        C.build_course_corpus(("lee", "imdb"))


def test_wikipedia_sample_is_articles_not_redirects():
    corpus = C.build_course_corpus(("wikipedia",))
    assert 400_000 < corpus.n_tokens < 560_000
    assert not any(s[0] == "redirect" for s in corpus.sentences)
    assert corpus.sentences[0][:5] == ["anarchism", "is", "a", "political", "philosophy"]


def test_cache_round_trip_and_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("SLM_DATA_DIR", str(tmp_path))
    toy = C.CourseCorpus([["hello", "world"], ["don't", "panic"]], ["lee", "mr"])
    built = []

    def fake_build(progress: bool = False) -> C.CourseCorpus:
        built.append(1)
        return C.CourseCorpus([list(s) for s in toy.sentences], list(toy.sources))

    monkeypatch.setattr(C, "build_course_corpus", fake_build)
    first = C.load_course_corpus()
    second = C.load_course_corpus()
    assert len(built) == 1, "the second call should read the cache"
    assert second.sentences == toy.sentences and second.sources == toy.sources
    assert first.path == second.path and second.path.parent == tmp_path
    with gzip.open(second.path, "wt", encoding="utf-8") as fh:
        fh.write("not a corpus line\n")
    assert C.load_course_corpus().sentences == toy.sentences
    assert len(built) == 2, "a damaged cache is rebuilt"
    assert not list(tmp_path.glob("*.part")), "no temporary files left behind"


def test_vocabulary_order_equals_gensim():
    from gensim.models import Word2Vec

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    sentences = [[words[j] for j in rng.integers(0, 30, size=rng.integers(2, 9))] for _ in range(200)]
    vocab = C.build_vocabulary(sentences, min_count=3)
    model = Word2Vec(min_count=3, vector_size=4, workers=1)
    model.build_vocab(sentences)
    assert vocab.words == model.wv.index_to_key
    assert all(vocab.counts[i] == model.wv.get_vecattr(w, "count") for i, w in enumerate(vocab.words))


def test_encode_drops_unknown_words_and_empty_sentences():
    vocab = C.build_vocabulary([["a", "b", "a"], ["a", "c"]], min_count=2)
    assert vocab.words == ["a"] and "a" in vocab and "b" not in vocab
    assert vocab.encode(["a", "zzz", "a"]).tolist() == [0, 0]
    encoded = C.encode_sentences([["a", "b"], ["b", "c"], ["a"]], vocab)
    assert [e.tolist() for e in encoded] == [[0], [0]]
    with pytest.raises(ValueError, match="no word occurs"):
        C.build_vocabulary([["a"]], min_count=2)
    with pytest.raises(ValueError, match="min_count"):
        C.build_vocabulary([["a"]], min_count=0)


def test_course_corpus_sizes(needs_data, monkeypatch):
    corpus = C.build_course_corpus(("sst2", "mr", "trec"))
    counts = corpus.counts_by_source()
    assert counts["sst2"][0] > 6_800 and counts["trec"][0] > 4_500
    # MR and SST-2 share Rotten Tomatoes snippets: some MR train sentences are dropped as duplicates.
    assert counts["mr"][0] < 8_528
