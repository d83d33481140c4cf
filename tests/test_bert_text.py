"""Tests for slm_helpers.bert_text: the model's normalization, and ids equal to the reference tokenizer's."""

from __future__ import annotations

import json

import pytest

from slm_helpers import bert_text
from slm_helpers import pretrained as pt

# Each case: text, what BertNormalizer makes of it (checked against `tokenizers` below too).
CASES = [
    ("Café García CLICHÉS", "cafe garcia cliches"),  # accents go with lower-casing
    ("Straße", "straße"),  # lower-cased, not case-folded ("ss")
    ("Ｆｕｌｌ", "ｆｕｌｌ"),  # no NFKC: full-width letters stay full-width
    ("ΣΊΣΥΦΟΣ", "σισυφοσ"),  # character by character: no final sigma
    ("İstanbul", "istanbul"),  # NFD splits off the dot above, accent stripping drops it, then "I" → "i"
    ("北京 is", " 北  京  is"),  # CJK ideographs spaced
    ("tab\there\nnul\x00zw\u200bsp\u3000x", "tab here nulzwsp x"),  # whitespace → " ", controls and formats gone
    ("…½", "…½"),  # no compatibility mapping ("..." / "1⁄2")
]


def test_bert_normalize_follows_the_reference_steps():
    tokenizers = pytest.importorskip("tokenizers")
    reference = tokenizers.normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                      strip_accents=None, lowercase=True)
    for text, _ in CASES:
        assert bert_text.bert_normalize(text) == reference.normalize_str(text), repr(text)


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_bert_normalize_examples(text, expected):
    assert bert_text.bert_normalize(text) == expected


def test_strip_accents_none_follows_lowercase_and_can_be_forced():
    assert bert_text.bert_normalize("Café", lowercase=False) == "Café"
    assert bert_text.bert_normalize("Café", lowercase=False, strip_accents=True) == "Cafe"
    assert bert_text.bert_normalize("Café", strip_accents=False) == "café"
    with pytest.raises(TypeError, match="str"):
        bert_text.bert_normalize(b"caf\xc3\xa9")


def test_config_readers_say_which_file_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="tokenizer.json"):
        bert_text.normalizer_config(tmp_path)
    (tmp_path / "tokenizer.json").write_text(json.dumps({"normalizer": {"type": "NFKC"}}))
    with pytest.raises(ValueError, match="BertNormalizer"):
        bert_text.normalizer_config(tmp_path)
    (tmp_path / "sentence_bert_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="max_seq_length"):
        bert_text.max_seq_length(tmp_path)


@pytest.fixture(scope="module")
def real_model():
    folder = pt.offline_folder()
    if folder is None or pt.missing_files(folder):
        pytest.skip(f"the offline package {pt.OFFLINE_PACKAGE} is not installed")
    return folder, pt.load_tokenizer(pt.resolve_source(str(folder))), bert_text.reference_tokenizer(folder)


EDGE = ["Ｆｕｌｌ ｗｉｄｔｈ", "ß Straße", "İstanbul", "ΣΊΣΥΦΟΣ ΟΔΟΣ", "北京大学 is in 北京", "한국어 日本語のテキスト",
        "zero\u200bwidth", "tab\there\x00nul\x0bvt\x1cfs\x85nel", "\u2028line\u3000ideo", "…½ ﬁ №", "a" * 150,
        "emoji 😀 ok", "combining e\u0301 a\u0308", "\ufffdreplacement", "Ⅻ ⑫", "naïve coöperate"]


def test_real_model_length_is_its_max_seq_length(real_model):
    folder, _, _ = real_model
    assert bert_text.max_seq_length(folder) == pt.MAX_LENGTH == 256


def test_real_model_ids_equal_the_reference_on_edge_cases(real_model):
    _, tokenizer, reference = real_model
    for ids, text in zip(pt.tokenize(tokenizer, EDGE), EDGE, strict=True):
        assert ids.tolist() == reference.encode(text).ids, repr(text)


def test_real_model_ids_equal_the_reference_on_every_course_sentence(real_model, needs_data):
    """Every sentence of SST-2, MR and TREC; keras-hub's tokenizer alone differs on hundreds."""
    import keras_hub

    from slm_helpers import data

    folder, tokenizer, reference = real_model
    texts = [t for name in ("sst2", "mr", "trec") for split in ("train", "dev", "test")
             if (part := getattr(data.load(name, progress=False), split, None)) is not None for t in part.texts]
    assert len(texts) > 26_000
    expected = [e.ids for e in reference.encode_batch(texts)]
    ours = [ids.tolist() for ids in pt.tokenize(tokenizer, texts)]
    assert [i for i, (a, b) in enumerate(zip(ours, expected, strict=True)) if a != b] == []
    keras_only = pt.tokenize(keras_hub.models.BertTokenizer.from_preset(str(folder)), texts)
    assert sum(a.tolist() != b for a, b in zip(keras_only, expected, strict=True)) > 200  # the bug this module fixes
