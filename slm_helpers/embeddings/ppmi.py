"""Count-based word vectors: positive PMI of the co-occurrence matrix, then a truncated SVD.

The classic baseline for GloVe and word2vec (Levy, Goldberg and Dagan 2015, "Improving
distributional similarity with lessons learned from word embeddings"):

    PMI(i, j) = log( X_ij · Σ X / (X_i· · P_α(j) · Σ X) ),   PPMI = max(PMI, 0)

with the context distribution smoothed, ``P_α(j) ∝ X_·j^α`` (α = 0.75, as word2vec's
negative sampling does), then ``PPMI ≈ U Σ Vᵀ`` truncated to ``dim`` dimensions and the
vectors ``U Σ^p`` (``p = 0.5`` by default: the paper found ``p`` of 0 or 0.5 better
than the textbook ``p = 1``). Only the non-zeros of ``X`` are ever touched: PPMI is zero
wherever ``X`` is.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def ppmi_matrix(x: Any, context_smoothing: float = 0.75) -> Any:
    """Positive PMI of a non-negative co-occurrence matrix, as a SciPy CSR matrix."""
    from scipy.sparse import csr_matrix

    coo = csr_matrix(x, dtype=np.float64).tocoo()
    if coo.shape[0] != coo.shape[1]:
        raise ValueError(f"expected a square co-occurrence matrix, got shape {coo.shape}")
    if coo.nnz == 0 or np.any(coo.data < 0):
        raise ValueError("the co-occurrence matrix needs positive entries and no negative ones")
    rows = np.asarray(coo.sum(axis=1)).ravel()
    cols = np.asarray(coo.sum(axis=0)).ravel() ** context_smoothing
    p_word = rows / rows.sum()
    p_context = cols / cols.sum()
    p_pair = coo.data / coo.data.sum()
    pmi = np.log(p_pair) - np.log(p_word[coo.row]) - np.log(p_context[coo.col])
    keep = pmi > 0
    return csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape)


def ppmi_svd_vectors(
    x: Any, dim: int = 50, *, context_smoothing: float = 0.75, eigenvalue_power: float = 0.5, seed: int = 0
) -> np.ndarray:
    """Word vectors ``U Σ^p`` from the rank-``dim`` SVD of the PPMI matrix of ``x``."""
    from scipy.sparse.linalg import svds

    ppmi = ppmi_matrix(x, context_smoothing)
    if not 1 <= dim < min(ppmi.shape):
        raise ValueError(f"dim must be between 1 and {min(ppmi.shape) - 1}, got {dim}")
    start = np.random.default_rng(seed).uniform(-1, 1, min(ppmi.shape))  # ARPACK's start: reproducible
    u, s, _ = svds(ppmi, k=dim, v0=start)
    order = np.argsort(-s)  # svds returns the singular values in ascending order
    return (u[:, order] * s[order] ** eigenvalue_power).astype(np.float32)
