"""BERT's text normalization as the model specifies it, in front of keras-hub's WordPiece.

all-MiniLM-L6-v2's ``tokenizer.json`` (the reference: the Hugging Face ``tokenizers``
library reads it) normalizes text with ``BertNormalizer(clean_text, handle_chinese_chars,
strip_accents=None, lowercase=True)`` before splitting it: ``strip_accents=None`` means
"strip when lower-casing". keras-hub's converter passes only ``lowercase`` on, and its
lower-casing is NFKC case folding, which the reference does not do. So keras-hub alone
turns "café" into ``[UNK]`` (the vocabulary has ``cafe``), "…" into "...", and "ß" into
"ss": 272 of 26,237 SST-2, MR and TREC sentences got other ids than the model was trained on.

:func:`bert_normalize` does the reference's four steps in Python; :class:`ModelTokenizer`
runs them, then keras-hub's WordPiece with its own normalization switched off.
``tests/test_bert_text.py`` checks the ids equal the reference's on every sentence of the
course's datasets and on edge cases (full-width letters, "ß", "İ", CJK, control characters).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Rust's char::is_whitespace (the Unicode White_Space property), which the reference uses.
# Python's str.isspace differs: it also counts U+001C..U+001F.
_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# The CJK ideograph blocks the reference pads with spaces (each ideograph becomes a word).
_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def _is_control(ch: str) -> bool:
    """Unicode "Other" (Cc, Cf, Cn, Co, Cs) except tab and newlines, which count as spaces."""
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def bert_normalize(
    text: str,
    *,
    clean_text: bool = True,
    handle_chinese_chars: bool = True,
    strip_accents: bool | None = None,
    lowercase: bool = True,
) -> str:
    """The text after ``BertNormalizer``'s steps, in its order.

    1. clean: drop NUL, U+FFFD and control/format characters; every whitespace becomes " ";
    2. put spaces around CJK ideographs;
    3. strip accents (``None``: when lower-casing): decompose (NFD), drop nonspacing marks;
    4. lower-case each character (no NFKC, no case folding: "ß" stays "ß").
    """
    if not isinstance(text, str):
        raise TypeError(f"bert_normalize expects a str, got {type(text).__name__}")
    if clean_text:
        text = "".join(" " if ch in _WHITESPACE else ch for ch in text
                       if ch not in "\x00\ufffd" and not _is_control(ch))
    if handle_chinese_chars:
        text = "".join(f" {ch} " if _is_cjk(ch) else ch for ch in text)
    if lowercase if strip_accents is None else strip_accents:
        text = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")
    if lowercase:
        # Character by character, as the reference does: no context rules (a final capital
        # sigma becomes "σ", where str.lower() would give "ς").
        text = "".join(ch.lower() for ch in text)
    return text


def normalizer_config(folder: str | Path) -> dict[str, Any]:
    """The ``normalizer`` entry of the model's ``tokenizer.json`` (must be a BertNormalizer)."""
    path = Path(folder) / "tokenizer.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))["normalizer"]
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: no readable 'normalizer' entry ({err})") from err
    if config.get("type") != "BertNormalizer":
        raise ValueError(f"{path}: expected a BertNormalizer, found {config.get('type')!r}")
    return config


def max_seq_length(folder: str | Path) -> int:
    """The longest input the model was trained for, from ``sentence_bert_config.json``."""
    path = Path(folder) / "sentence_bert_config.json"
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["max_seq_length"])
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: no readable max_seq_length ({err})") from err


class ModelTokenizer:
    """keras-hub's ``BertTokenizer`` behind the model's own normalization.

    Called on a list of texts it returns one list of WordPiece ids per text (no ``[CLS]``
    or ``[SEP]``: :func:`slm_helpers.pretrained.tokenize` adds them and truncates).
    ``keras_tokenizer`` is the keras-hub layer, whose own lower-casing and accent
    stripping are off: they run here, as the reference runs them.
    """

    def __init__(self, keras_tokenizer: Any, normalizer: dict[str, Any]) -> None:
        self.keras_tokenizer = keras_tokenizer
        self.normalizer = {k: normalizer.get(k) for k in ("clean_text", "handle_chinese_chars",
                                                           "strip_accents", "lowercase")}
        self.cls_token_id = keras_tokenizer.cls_token_id
        self.sep_token_id = keras_tokenizer.sep_token_id

    @classmethod
    def from_folder(cls, folder: str | Path) -> ModelTokenizer:
        """The tokenizer of a Hugging Face-format BERT folder (``vocab.txt``, ``tokenizer.json``)."""
        import keras_hub

        # keras-hub's own lower-casing and accent stripping stay off (its defaults here).
        keras_tokenizer = keras_hub.models.BertTokenizer(vocabulary=str(Path(folder) / "vocab.txt"), lowercase=False)
        return cls(keras_tokenizer, normalizer_config(folder))

    def normalize(self, text: str) -> str:
        return bert_normalize(text, **self.normalizer)

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        if isinstance(texts, str):
            raise ValueError("the tokenizer expects a list of texts, got one string; wrap it in a list")
        pieces = self.keras_tokenizer([self.normalize(t) for t in texts])
        return pieces.to_list() if hasattr(pieces, "to_list") else [list(p) for p in pieces]

    def id_to_token(self, token_id: int) -> str:
        return self.keras_tokenizer.id_to_token(int(token_id))

    def vocabulary_size(self) -> int:
        return int(self.keras_tokenizer.vocabulary_size())


def reference_tokenizer(folder: str | Path) -> Any:
    """The ``tokenizers`` library's tokenizer from the folder's ``tokenizer.json``.

    Truncation and padding are switched off, so its ids are the whole ``[CLS] … [SEP]``.
    """
    try:
        import tokenizers
    except ImportError as err:  # a keras-hub dependency, so normally present
        raise ImportError("the reference tokenizer needs the `tokenizers` package: pip install tokenizers") from err
    reference = tokenizers.Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    reference.no_truncation()
    reference.no_padding()
    return reference
