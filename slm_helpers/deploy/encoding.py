"""Raw strings -> int32 ids in plain Python, exactly as the model's ``TextVectorization`` does it.

The ``.tflite`` file takes ids because string ops need Flex kernels the PyPI LiteRT interpreter
lacks. So the server tokenizes in Python, and it must do what the layer did in training:
``standardize="lower"`` lower-cases **ASCII only** (``tf.strings.lower`` without an encoding: "É"
stays "É"), ``split="whitespace"`` splits on the six ASCII white-space characters only (a
no-break space joins two words), unknown words map to id 1, and ``output_sequence_length``
keeps the first ``length`` tokens and pads with 0 at the end. Python's ``str.lower`` and
``str.split`` differ on all three points; the lesson and the tests prove parity with the layer.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ASCII_SPACE = re.compile(r"[ \t\n\v\f\r]+")  # what tf.strings.split splits on
PAD, UNK = 0, 1


class TextEncoder:
    """A pure-Python copy of a fitted ``TextVectorization(standardize="lower", split="whitespace")``."""

    def __init__(self, vocabulary: Sequence[str], length: int, *, lowercase: bool = True) -> None:
        vocabulary = list(vocabulary)
        if len(vocabulary) < 2 or vocabulary[0] != "" or vocabulary[1] != "[UNK]":
            raise ValueError("expected a TextVectorization vocabulary: '' (padding) and '[UNK]' first")
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        self.vocabulary = vocabulary
        self.length = int(length)
        self.lowercase = lowercase
        self._ids = {token: i for i, token in enumerate(vocabulary) if i >= 2}

    @classmethod
    def from_layer(cls, layer: Any) -> TextEncoder:
        """Read vocabulary, length and standardization from a ``TextVectorization`` layer."""
        config = layer.get_config()
        if config.get("split") != "whitespace" or config.get("standardize") not in ("lower", None):
            raise ValueError(
                "TextEncoder copies split='whitespace' with standardize='lower' or None; this layer has "
                f"split={config.get('split')!r}, standardize={config.get('standardize')!r}"
            )
        if not config.get("output_sequence_length"):
            raise ValueError("the layer needs output_sequence_length (a fixed length for the .tflite input)")
        vocabulary = [str(t) for t in layer.get_vocabulary()]
        return cls(vocabulary, config["output_sequence_length"], lowercase=config["standardize"] == "lower")

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text`` before the vocabulary lookup (and before truncation)."""
        if self.lowercase:
            text = text.translate(_ASCII_LOWER)
        return [t for t in _ASCII_SPACE.split(text) if t]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), length)`` int32 ids, padded with 0 at the end, unknown words as 1."""
        if isinstance(texts, str):
            raise TypeError("expected a list of strings, got one string: wrap it in a list")
        out = np.zeros((len(texts), self.length), np.int32)
        for row, text in enumerate(texts):
            ids = [self._ids.get(t, UNK) for t in self.tokens(text)[: self.length]]
            out[row, : len(ids)] = ids
        return out

    def save(self, path: str | Path) -> Path:
        """Write the encoder as JSON (vocabulary, length, lowercase)."""
        path = Path(path)
        data = {"vocabulary": self.vocabulary, "length": self.length, "lowercase": self.lowercase}
        path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> TextEncoder:
        """Read an encoder written by :meth:`save`."""
        data = json.loads(Path(path).read_text("utf-8"))
        return cls(data["vocabulary"], data["length"], lowercase=data["lowercase"])
