"""gensim 4 ``Word2Vec`` with course defaults, and a clear error for gensim 3 argument names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# gensim 4 renamed these; old tutorials (and the course's source survey) still use them.
RENAMED = {"size": "vector_size", "iter": "epochs", "sentences_count": None}


def train_word2vec(
    sentences: Sequence[Sequence[str]], *, sg: int = 1, vector_size: int = 100, window: int = 5,
    min_count: int = 5, negative: int = 5, sample: float = 1e-3, epochs: int = 5,
    workers: int = 1, seed: int = 42, **kwargs: Any,
) -> Any:
    """Train gensim's ``Word2Vec`` (``sg=1`` skip-gram, ``sg=0`` CBOW) and return the model.

    The defaults are the word2vec paper's for a small corpus (100 dimensions, window 5,
    5 negatives, sample 1e-3, 5 epochs). ``workers=1`` with a fixed ``seed`` repeats
    exactly (in a process whose ``PYTHONHASHSEED`` is fixed); with more workers the thread
    scheduling changes the order of updates, so results vary a little from run to run.
    """
    old = sorted(set(kwargs) & set(RENAMED))
    if old:
        names = ", ".join(f"{k}= is now {RENAMED[k]}=" if RENAMED[k] else f"{k}= was removed" for k in old)
        raise TypeError(f"gensim 4 renamed Word2Vec arguments: {names} (gensim 3 tutorials use the old names)")
    if not sentences:
        raise ValueError("no sentences to train on")
    if isinstance(sentences[0], str):
        raise ValueError("sentences must be lists of tokens, not strings; tokenize them first")
    from gensim.models import Word2Vec

    return Word2Vec(
        sentences, sg=sg, vector_size=vector_size, window=window, min_count=min_count,
        negative=negative, hs=0, sample=sample, epochs=epochs, workers=workers, seed=seed, **kwargs,
    )
