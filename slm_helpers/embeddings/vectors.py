"""One API for every set of word vectors: gensim ``KeyedVectors``.

Vectors trained here (NumPy SGNS, GloVe) are wrapped in ``KeyedVectors`` or written to the
word2vec text format and read back, so lessons query all models the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _check(words: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"expected vectors of shape ({len(words)}, dim) for {len(words)} words, "
                         f"got {vectors.shape}")
    if len(set(words)) != len(words):
        raise ValueError("words must be unique")
    bad = [w for w in words if not w or any(ch.isspace() for ch in w)]
    if bad:
        raise ValueError(f"words must be non-empty and contain no white space; found {bad[:3]}")
    return vectors


def to_keyed_vectors(words: Sequence[str], vectors: np.ndarray) -> Any:
    """Wrap ``vectors`` (one row per word) in a gensim ``KeyedVectors``."""
    from gensim.models import KeyedVectors

    vectors = _check(words, vectors)
    # count=0: KeyedVectors(count=n) would pre-allocate n empty rows that add_vectors appends after.
    kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
    kv.add_vectors(list(words), vectors.astype(np.float32))
    return kv


def save_word2vec_text(path: str | Path, words: Sequence[str], vectors: np.ndarray) -> Path:
    """Write the word2vec text format: a ``"<count> <dim>"`` header, then ``word v1 v2 …``.

    Written by hand (it is that simple); ``KeyedVectors.load_word2vec_format(path)`` reads it.
    """
    vectors = _check(words, vectors)
    path = Path(path)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(f"{len(words)} {vectors.shape[1]}\n")
        for word, row in zip(words, vectors, strict=True):
            fh.write(word + " " + " ".join(f"{x:.6g}" for x in row) + "\n")
    return path


def load_word2vec_text(path: str | Path) -> Any:
    """Read a word2vec text file into gensim ``KeyedVectors``."""
    from gensim.models import KeyedVectors

    return KeyedVectors.load_word2vec_format(str(path), binary=False)
