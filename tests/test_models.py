"""Tests of slm_helpers.models: baselines, bucketed batches, Keras models and the NumPy metrics."""

from __future__ import annotations

import numpy as np
import pytest

from slm_helpers import models

# A tiny, learnable sentiment task: the label is whether "good" or "bad" appears.
TEXTS = [
    "a good film", "good acting and a good story", "bad plot", "a bad , bad film", "really good",
    "so bad it hurts", "good fun", "bad", "the music is good", "the ending is bad",
] * 4
LABELS = np.array([1, 1, 0, 0, 1, 0, 1, 0, 1, 0] * 4)


# --- baselines -------------------------------------------------------------------------


def test_majority_class_and_ties():
    assert models.majority_class([2, 2, 1, 0, 2]) == 2
    assert models.majority_class([1, 0]) == 0  # a tie goes to the smaller label
    with pytest.raises(ValueError, match="non-empty"):
        models.majority_class([])


def test_tfidf_logreg_learns_the_tiny_task():
    clf = models.tfidf_logreg(TEXTS, LABELS)
    assert (clf.predict(["good story", "bad story"]) == [1, 0]).all()
    with pytest.raises(ValueError, match="differ in length"):
        models.tfidf_logreg(TEXTS, LABELS[:-1])


def test_nb_logreg_ratios_and_predictions():
    nb = models.NBLogReg(ngram_range=(1, 1)).fit(TEXTS, LABELS)
    vocab = nb.vectorizer.vocabulary_
    assert nb.ratios[vocab["good"]] > 0 > nb.ratios[vocab["bad"]]
    # r = log((p/|p|) / (q/|q|)) with add-one counts, checked by hand for "good".
    x = nb.vectorizer.transform(TEXTS).toarray()
    p, q = 1 + x[LABELS == 1].sum(0), 1 + x[LABELS == 0].sum(0)
    np.testing.assert_allclose(nb.ratios, np.log((p / p.sum()) / (q / q.sum())), rtol=1e-5)
    assert (nb.predict(["good good", "bad bad"]) == [1, 0]).all()
    np.testing.assert_allclose(nb.predict_proba(TEXTS).sum(1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="binary"):
        models.NBLogReg().fit(["a", "b", "c"], [0, 1, 2])
    with pytest.raises(RuntimeError, match="fit"):
        models.NBLogReg().predict(["a"])


# --- ids and batches -------------------------------------------------------------------


def test_bucket_length():
    assert [models.bucket_length(n) for n in (0, 1, 8, 9, 40, 64, 100)] == [8, 8, 8, 16, 48, 64, 64]
    assert models.bucket_length(3, (2, 4)) == 4


def test_length_batches_cover_every_example_once_and_pad_to_buckets():
    rng = np.random.default_rng(0)
    ids = [rng.integers(1, 50, size=n).astype(np.int32) for n in rng.integers(1, 70, size=57)]
    labels = rng.integers(0, 2, size=57)
    for shuffle in (False, True):
        batches = models.length_batches(ids, labels, batch_size=5, shuffle=shuffle, seed=3)
        seen = np.concatenate([b.index for b in batches])
        assert sorted(seen) == list(range(57))
        for b in batches:
            assert len(b.index) <= 5 and b.ids.shape[1] in models.BUCKETS
            np.testing.assert_array_equal(b.labels, labels[b.index])
            for row, i in zip(b.ids, b.index, strict=True):
                n = min(len(ids[i]), b.ids.shape[1])
                np.testing.assert_array_equal(row[:n], ids[i][:n])
                assert (row[n:] == 0).all()
                assert models.bucket_length(len(ids[i])) == b.ids.shape[1]
    # Shuffling is seeded: the same seed gives the same batches.
    a = models.length_batches(ids, labels, batch_size=5, shuffle=True, seed=1)
    b = models.length_batches(ids, labels, batch_size=5, shuffle=True, seed=1)
    assert all((x.index == y.index).all() for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="differ in length"):
        models.length_batches(ids, labels[:3])
    with pytest.raises(ValueError, match="increasing"):
        models.length_batches(ids, labels, buckets=(16, 8))


def test_vectorizer_matches_text_words_and_keeps_case_on_request():
    from slm_helpers import text

    vec = models.make_vectorizer(TEXTS)
    vocab = vec.get_vocabulary()
    assert vocab == text.build_vocabulary([text.words(t) for t in TEXTS])
    ids = models.encode(vec, ["A good film", "unseen words"])
    assert ids[0].tolist() == text.encode(text.words("A good film"), vocab)
    assert ids[1].tolist() == [1, 1]
    cased = models.make_vectorizer(["Who is he", "who is she"], lowercase=False)
    assert "Who" in cased.get_vocabulary() and "who" in cased.get_vocabulary()
    assert [len(x) for x in models.encode(vec, ["good " * 100], max_length=10)] == [10]
    with pytest.raises(ValueError, match="list of texts"):
        models.encode(vec, "a single string")


def test_make_dataset_yields_the_batches_and_reshuffles_each_epoch():
    ids = [np.arange(1, n + 1, dtype=np.int32) for n in range(1, 30)]
    labels = np.arange(29) % 2
    ds = models.make_dataset(ids, labels, batch_size=4, shuffle=True, seed=0)
    first = [y.numpy().tolist() for _, y in ds]
    second = [y.numpy().tolist() for _, y in ds]
    assert sorted(sum(first, [])) == sorted(labels.tolist())
    assert len(first) == len(second) == int(ds.cardinality())
    xs = [x.numpy() for x, _ in models.make_dataset(ids, labels, batch_size=4, shuffle=False)]
    assert {x.shape[1] for x in xs} <= set(models.BUCKETS)


# --- Keras models ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_ids():
    vec = models.make_vectorizer(TEXTS)
    return vec, models.encode(vec, TEXTS)


@pytest.mark.parametrize("builder", [models.build_cnn, models.build_bilstm])
def test_models_train_on_the_tiny_task(builder, tiny_ids):
    vec, ids = tiny_ids
    kwargs = dict(embedding_dim=8, filters=8) if builder is models.build_cnn else dict(embedding_dim=8, units=8)
    model = builder(vec.vocabulary_size(), 2, seed=0, learning_rate=0.02, **kwargs)
    trained = models.train_classifier("tiny", model, (ids, LABELS), (ids, LABELS), epochs=8, batch_size=8)
    assert trained.dev_probs.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(trained.dev_probs.sum(1), 1.0, rtol=1e-5)
    assert models.accuracy(LABELS, trained.dev_probs.argmax(1)) == 1.0
    assert 1 <= trained.best_epoch <= len(trained.history["val_accuracy"])


def test_predictions_do_not_depend_on_batch_mates(tiny_ids):
    vec, ids = tiny_ids
    model = models.build_cnn(vec.vocabulary_size(), 2, embedding_dim=8, filters=4, seed=1)
    all_at_once = models.predict_proba(model, ids)
    one_by_one = np.concatenate([models.predict_proba(model, [x]) for x in ids[:6]])
    np.testing.assert_allclose(all_at_once[:6], one_by_one, atol=1e-6)


def test_models_seeded_and_checked(tiny_ids):
    vec, _ = tiny_ids
    v = vec.vocabulary_size()
    a = models.build_cnn(v, 3, embedding_dim=4, filters=2, seed=5).get_weights()
    b = models.build_cnn(v, 3, embedding_dim=4, filters=2, seed=5).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="num_classes"):
        models.build_cnn(v, 1)
    with pytest.raises(ValueError, match="embeddings should have shape"):
        models.build_bilstm(v, 2, embedding_dim=4, embeddings=np.zeros((v, 5)))
    init = np.random.default_rng(0).normal(size=(v, 4)).astype(np.float32)
    model = models.build_cnn(v, 2, embedding_dim=4, filters=2, embeddings=init)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], init)


def test_embedding_matrix_copies_known_words():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(["good", "film"], np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))
    matrix, found = models.embedding_matrix(["", "[UNK]", "good", "Film", "zzz"], kv, seed=0, match_scale=False)
    assert matrix.shape == (5, 3) and found == pytest.approx(2 / 3)
    np.testing.assert_array_equal(matrix[0], 0)
    np.testing.assert_array_equal(matrix[2], [1, 2, 3])
    np.testing.assert_array_equal(matrix[3], [4, 5, 6])  # found lower-cased
    assert np.abs(matrix[4]).max() <= 0.25


def test_embedding_matrix_matches_the_scale_of_the_random_rows():
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(400)]
    kv = KeyedVectors(vector_size=32)
    kv.add_vectors(words[:200], rng.normal(0, 0.15, (200, 32)).astype(np.float32))  # word2vec-sized entries
    vocab = ["", "[UNK]", *words]
    raw, _ = models.embedding_matrix(vocab, kv, scale=0.05, match_scale=False)
    matched, found = models.embedding_matrix(vocab, kv, scale=0.05)
    known, unknown = slice(2, 202), slice(202, None)
    assert found == pytest.approx(0.5)
    assert raw[known].std() / raw[unknown].std() > 4  # the mismatch the default removes
    target = 0.05 / np.sqrt(3)
    assert matched[known].std() == pytest.approx(target, rel=1e-5)
    assert matched[unknown].std() == pytest.approx(target, rel=0.05)  # uniform rows: sampling error ~1/sqrt(n)
    # Only the scale changes: every known row points the same way as its vector.
    cos = np.sum(matched[known] * raw[known], axis=1) / (
        np.linalg.norm(matched[known], axis=1) * np.linalg.norm(raw[known], axis=1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-5)


def test_bootstrap_interval_agrees_with_the_normal_approximation():
    correct = np.random.default_rng(3).random(1821) < 0.8
    p = correct.mean()
    low, high = models.bootstrap_interval(correct)
    half = 1.96 * np.sqrt(p * (1 - p) / correct.size)
    assert low < p < high
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)
    assert models.bootstrap_interval(np.ones(50)) == (1.0, 1.0)  # no errors: no uncertainty left to resample
    with pytest.raises(ValueError, match="0/1"):
        models.bootstrap_interval([0.5, 1.0])
    row = models.ResultRow("sst2", "CNN", 82.0, 82.7, "Kim", interval=(100 * low, 100 * high))
    assert row.verdict() == ("indistinguishable" if 100 * low <= 82.7 <= 100 * high else "below")
    assert models.ResultRow("trec", "CNN", 95.0, 91.2, "Kim", interval=(93.0, 97.0)).verdict() == "above"


def test_average_probabilities():
    a, b = np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.5, 0.5], [0.6, 0.4]])
    np.testing.assert_allclose(models.average_probabilities([a, b]), (a + b) / 2)
    np.testing.assert_allclose(models.average_probabilities([a, b], [3, 1]), (3 * a + b) / 4)
    with pytest.raises(ValueError, match="one shape"):
        models.average_probabilities([a, a[:1]])
    with pytest.raises(ValueError, match="weights"):
        models.average_probabilities([a, b], [1])


# --- metrics, compared with scikit-learn ------------------------------------------------


def test_metrics_equal_scikit_learn():
    from sklearn import metrics

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, size=300)
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 5, size=300))
    y_pred[y_pred == 4] = 3  # class 4 is never predicted: precision 0/0 -> 0, as sklearn's zero_division=0
    assert models.accuracy(y_true, y_pred) == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    np.testing.assert_array_equal(
        models.confusion_matrix(y_true, y_pred, 5), metrics.confusion_matrix(y_true, y_pred, labels=range(5))
    )
    scores = models.class_scores(y_true, y_pred, 5)
    p, r, f, s = metrics.precision_recall_fscore_support(y_true, y_pred, labels=range(5), zero_division=0)
    np.testing.assert_allclose(scores.precision, p, atol=1e-12)
    np.testing.assert_allclose(scores.recall, r, atol=1e-12)
    np.testing.assert_allclose(scores.f1, f, atol=1e-12)
    np.testing.assert_array_equal(scores.support, s)
    assert scores.macro_f1 == pytest.approx(metrics.f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert "macro" in scores.table(["a", "b", "c", "d", "e"])


def test_metric_errors_are_clear():
    with pytest.raises(ValueError, match="one length"):
        models.accuracy([0, 1], [0])
    with pytest.raises(ValueError, match=r"0\.\.1"):
        models.confusion_matrix([0, 2], [0, 1], 2)
    with pytest.raises(ValueError, match="square"):
        models.scores_from_confusion(np.zeros((2, 3)))


def test_most_confident_errors_and_results_table():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.99, 0.01]])
    errors = models.most_confident_errors(["a", "b", "c", "d"], [1, 1, 0, 1], probs, ["neg", "pos"], k=5)
    assert [e.text for e in errors] == ["d", "a", "c"]
    assert errors[0].true == "pos" and errors[0].predicted == "neg" and errors[0].confidence == pytest.approx(0.99)
    table = models.results_table([models.ResultRow("sst2", "CNN", 81.234, models.reference_for("sst2"), "Kim")])
    assert "| sst2 | CNN | 81.2 |  | 82.7 |  | Kim |" in table
    with pytest.raises(KeyError, match="known"):
        models.reference_for("sst2", "nobody")


def test_paired_bootstrap_is_narrower_than_two_separate_intervals():
    rng = np.random.default_rng(5)
    a = rng.random(1000) < 0.8
    b = a.copy()
    flips = rng.choice(1000, 20, replace=False)  # the models disagree on 20 examples only
    b[flips] = ~b[flips]
    low, high = models.paired_bootstrap_interval(a, b)
    diff = b.mean() - a.mean()
    assert low <= diff <= high
    # Only the 20 disagreements vary: half-width ~1.96 sqrt(20) / 1000, not 1.96 sqrt(2 p (1-p) / 1000).
    assert (high - low) / 2 == pytest.approx(1.96 * np.sqrt(20) / 1000, rel=0.25)
    assert (high - low) / 2 < 0.5 * 1.96 * np.sqrt(2 * 0.16 / 1000)
    assert models.paired_bootstrap_interval(a, a) == (0.0, 0.0)  # identical predictions: no difference
    with pytest.raises(ValueError, match="same examples"):
        models.paired_bootstrap_interval(a, b[:-1])
    with pytest.raises(ValueError, match="0/1"):
        models.paired_bootstrap_interval([0.5], [1.0])


def test_bootstrap_resamples_in_blocks_with_the_numbers_of_one_draw():
    import tracemalloc

    correct = np.random.default_rng(5).random(1821) < 0.8
    idx = np.random.default_rng(0).integers(0, correct.size, (2000, correct.size))  # all resamples at once
    one_draw = np.percentile(correct[idx].mean(axis=1), [2.5, 97.5])
    del idx
    tracemalloc.start()
    interval = models.bootstrap_interval(correct)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.allclose(interval, one_draw, atol=1e-12)
    assert peak < 10 * 2**20, f"{peak / 2**20:.0f} MB: resamples should be scored a block at a time"
