"""GloVe's co-occurrence matrix: symmetric window, each pair weighted by 1 / distance.

``X[i, j]`` sums ``1/d`` over every occurrence of word ``j`` at distance ``d ≤ window``
from an occurrence of word ``i`` (Pennington et al., 2014, §4.2; ``cooccur.c``). Windows
stop at sentence boundaries. The counting is vectorized over the corpus, one distance at a
time, and the result is a SciPy sparse matrix (most word pairs never meet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def cooccurrence_matrix(
    encoded: Sequence[np.ndarray], vocab_size: int, *, window: int = 10,
    distance_weighting: bool = True, symmetric: bool = True, dtype: Any = np.float64,
) -> Any:
    """The ``(vocab_size, vocab_size)`` co-occurrence counts as a ``scipy.sparse.csr_matrix``.

    ``encoded`` holds one id array per sentence (ids in ``0..vocab_size-1``). With
    ``symmetric=False`` only words to the *right* of ``i`` count; with
    ``distance_weighting=False`` every pair in the window counts 1.
    """
    from scipy.sparse import coo_matrix, csr_matrix

    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if not encoded:
        raise ValueError("no sentences to count co-occurrences in")
    ids = np.concatenate([np.asarray(s) for s in encoded]).astype(np.int64)
    if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"ids must lie in 0..{vocab_size - 1}; found {ids.min()}..{ids.max()}")
    sentence = np.repeat(np.arange(len(encoded)), [len(s) for s in encoded])
    counts = csr_matrix((vocab_size, vocab_size), dtype=dtype)
    for d in range(1, window + 1):
        same = sentence[:-d] == sentence[d:]
        left, right = ids[:-d][same], ids[d:][same]
        weight = 1.0 / d if distance_weighting else 1.0
        # COO -> CSR sums repeated (i, j) entries: that is the counting.
        counts = counts + coo_matrix(
            (np.full(len(left), weight, dtype=dtype), (left, right)), shape=(vocab_size, vocab_size)
        ).tocsr()
    if symmetric:
        counts = counts + counts.T.tocsr()
    counts.sum_duplicates()
    counts.eliminate_zeros()
    return counts
