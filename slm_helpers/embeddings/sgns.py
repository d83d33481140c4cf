"""Skip-gram with negative sampling (Mikolov et al., 2013) in NumPy: small, exact, vectorized.

For a centre word ``c`` with input vector ``v_c``, a context word ``o`` with output vector
``u_o`` and ``K`` noise words with output vectors ``u_1 … u_K``, the loss of one pair is

    L = −log σ(u_o·v_c) − Σ_k log σ(−u_k·v_c)

and its gradients are

    ∂L/∂v_c = (σ(u_o·v_c) − 1) u_o + Σ_k σ(u_k·v_c) u_k
    ∂L/∂u_o = (σ(u_o·v_c) − 1) v_c
    ∂L/∂u_k = σ(u_k·v_c) v_c.

This is the teaching reference; gensim's ``Word2Vec(sg=1)`` is the production version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large ``|x|``."""
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """``log σ(x) = −log(1 + e^(−x))``, stable for large ``|x|``."""
    return -np.logaddexp(0.0, -np.asarray(x, dtype=float))


def sgns_pair_loss_and_grads(
    v_c: np.ndarray, u_o: np.ndarray, u_neg: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Loss and gradients of one (centre, context) pair with ``K`` negatives.

    ``v_c`` and ``u_o`` have shape ``(d,)``, ``u_neg`` has shape ``(K, d)``. Returns
    ``(loss, dL/dv_c, dL/du_o, dL/du_neg)`` with the shapes of the inputs.
    """
    v_c, u_o, u_neg = (np.asarray(a, dtype=float) for a in (v_c, u_o, u_neg))
    if v_c.ndim != 1 or u_o.shape != v_c.shape or u_neg.ndim != 2 or u_neg.shape[1] != v_c.shape[0]:
        raise ValueError(
            f"expected v_c (d,), u_o (d,), u_neg (K, d); got {v_c.shape}, {u_o.shape}, {u_neg.shape}"
        )
    pos, neg = u_o @ v_c, u_neg @ v_c
    loss = float(-log_sigmoid(pos) - log_sigmoid(-neg).sum())
    g_pos, g_neg = sigmoid(pos) - 1.0, sigmoid(neg)
    return loss, g_pos * u_o + g_neg @ u_neg, g_pos * v_c, g_neg[:, None] * v_c[None, :]


@dataclass
class SGNSBatch:
    """Per-pair losses and gradients of a batch (see :func:`sgns_batch_loss_and_grads`)."""

    losses: np.ndarray  # (B,)
    d_center: np.ndarray  # (B, d): dL/dv_c for each pair
    d_context: np.ndarray  # (B, d): dL/du_o
    d_negatives: np.ndarray  # (B, K, d): dL/du_k


def sgns_batch_loss_and_grads(
    w_in: np.ndarray, w_out: np.ndarray, centers: np.ndarray, contexts: np.ndarray, negatives: np.ndarray
) -> SGNSBatch:
    """:func:`sgns_pair_loss_and_grads` for ``B`` pairs at once (ids into ``w_in``/``w_out``)."""
    centers, contexts, negatives = np.asarray(centers), np.asarray(contexts), np.asarray(negatives)
    if centers.shape != contexts.shape or negatives.ndim != 2 or negatives.shape[0] != centers.shape[0]:
        raise ValueError(
            f"expected centers (B,), contexts (B,), negatives (B, K); got {centers.shape}, "
            f"{contexts.shape}, {negatives.shape}"
        )
    v_c, u_o, u_n = w_in[centers], w_out[contexts], w_out[negatives]
    pos = np.einsum("bd,bd->b", u_o, v_c)
    neg = np.einsum("bkd,bd->bk", u_n, v_c)
    losses = -log_sigmoid(pos) - log_sigmoid(-neg).sum(axis=1)
    g_pos = (sigmoid(pos) - 1.0).astype(w_in.dtype)
    g_neg = sigmoid(neg).astype(w_in.dtype)
    d_center = g_pos[:, None] * u_o + np.einsum("bk,bkd->bd", g_neg, u_n)
    return SGNSBatch(losses, d_center, g_pos[:, None] * v_c, g_neg[:, :, None] * v_c[:, None, :])


def scatter_add(target: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``target[rows] += values`` with repeated rows summed (like ``np.add.at``, but faster).

    The sum over repeats is a sparse (unique rows × n) matrix times ``values``: one C call.
    """
    from scipy.sparse import csr_matrix

    rows = np.asarray(rows).ravel()
    values = np.asarray(values).reshape(len(rows), -1)
    unique, inverse = np.unique(rows, return_inverse=True)
    n = len(rows)
    summed = csr_matrix((np.ones(n, dtype=values.dtype), (inverse, np.arange(n))), shape=(len(unique), n)) @ values
    if target.ndim == 1:
        target[unique] += summed[:, 0].astype(target.dtype, copy=False)
    else:
        target[unique] += summed.astype(target.dtype, copy=False)


# --------------------------------------------------------------------------------------
# Training data: frequent-word subsampling, dynamic windows, the noise distribution.


def keep_probability(counts: np.ndarray, sample: float = 1e-3) -> np.ndarray:
    """Probability of keeping each occurrence of a word (word2vec's and gensim's formula).

    With ``f`` the word's share of the corpus, ``p_keep = (√(f / sample) + 1) · sample / f``,
    capped at 1: words rarer than about ``sample`` are always kept, "the" mostly dropped.
    (The paper states ``p_discard = 1 − √(t / f)``; the released code uses the line above.)
    """
    counts = np.asarray(counts, dtype=float)
    if sample <= 0:
        return np.ones_like(counts)
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / sample) + 1.0) * sample / f)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """Negative-sampling distribution: unigram counts to the power 3/4, normalized."""
    p = np.asarray(counts, dtype=float) ** power
    return p / p.sum()


def skipgram_pairs(
    encoded: Sequence[np.ndarray], window: int, rng: np.random.Generator,
    keep_prob: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """All (centre, context) id pairs of one epoch, shuffled.

    As in word2vec: frequent words are first dropped with ``1 − keep_prob``; each centre
    then draws its own window size ``b`` uniformly from ``1..window`` (nearer words are
    seen more often); pairs never cross a sentence boundary.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if not encoded:
        raise ValueError("no sentences to make pairs from")
    ids = np.concatenate(encoded)
    sentence = np.repeat(np.arange(len(encoded)), [len(s) for s in encoded])
    if keep_prob is not None:
        kept = rng.random(len(ids)) < keep_prob[ids]
        ids, sentence = ids[kept], sentence[kept]
    reach = rng.integers(1, window + 1, size=len(ids))
    centers, contexts = [], []
    for d in range(1, window + 1):
        same = sentence[:-d] == sentence[d:]
        right = same & (reach[:-d] >= d)  # centre i, context i + d
        left = same & (reach[d:] >= d)  # centre i + d, context i
        centers += [ids[:-d][right], ids[d:][left]]
        contexts += [ids[d:][right], ids[:-d][left]]
    c, o = np.concatenate(centers), np.concatenate(contexts)
    order = rng.permutation(len(c))
    return c[order].astype(np.int32), o[order].astype(np.int32)


@dataclass
class SGNSResult:
    """Trained SGNS weights: ``w_in`` are the word vectors word2vec keeps."""

    w_in: np.ndarray
    w_out: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)


EpochCallback = Callable[[int, np.ndarray, np.ndarray, float], None]


def train_sgns(
    encoded: Sequence[np.ndarray], counts: np.ndarray, *, dim: int = 50, window: int = 5,
    negative: int = 5, epochs: int = 3, lr: float = 0.025, min_lr: float = 1e-4,
    batch_size: int = 512, sample: float = 1e-3, seed: int = 0,
    callback: EpochCallback | None = None,
) -> SGNSResult:
    """Train skip-gram with negative sampling by mini-batch SGD.

    Initialization and schedule follow word2vec: input vectors uniform in ±0.5/dim, output
    vectors zero, learning rate falling linearly from ``lr`` to ``min_lr``. Each batch's
XX
    """
    counts = np.asarray(counts)
    vocab_size = len(counts)
    if vocab_size < 2 or dim < 1 or epochs < 1 or negative < 1:
        raise ValueError(f"need ≥ 2 words, dim ≥ 1, epochs ≥ 1, negative ≥ 1; got "
                         f"{vocab_size}, {dim}, {epochs}, {negative}")
    rng = np.random.default_rng(seed)
    w_in = ((rng.random((vocab_size, dim)) - 0.5) / dim).astype(np.float32)
    w_out = np.zeros((vocab_size, dim), dtype=np.float32)
    cdf = np.cumsum(noise_distribution(counts))
    keep = keep_probability(counts, sample)
    result = SGNSResult(w_in, w_out)
    if callback:
        callback(0, w_in, w_out, float("nan"))
    # The schedule needs the number of batches; epochs differ a little after subsampling.
    expected_pairs = len(skipgram_pairs(encoded, window, np.random.default_rng(seed), keep)[0])
    total_steps, step = max(1, epochs * -(-expected_pairs // batch_size)), 0
    for epoch in range(1, epochs + 1):
        centers, contexts = skipgram_pairs(encoded, window, rng, keep)
        loss_sum = 0.0
        for start in range(0, len(centers), batch_size):
            c, o = centers[start:start + batch_size], contexts[start:start + batch_size]
            noise = np.minimum(np.searchsorted(cdf, rng.random((len(c), negative))), vocab_size - 1)
            batch = sgns_batch_loss_and_grads(w_in, w_out, c, o, noise)
            rate = max(min_lr, lr - (lr - min_lr) * step / total_steps)
            # Sum the gradients of a row repeated in the batch: a frequent word gets as many
            # steps as plain SGD would give it, taken at once.
            scatter_add(w_in, c, -rate * batch.d_center)
            scatter_add(w_out, np.concatenate([o, noise.ravel()]),
                        -rate * np.concatenate([batch.d_context, batch.d_negatives.reshape(-1, dim)]))
            loss_sum += float(batch.losses.sum())
            step += 1
        mean_loss = loss_sum / max(1, len(centers))
        result.history.append({"epoch": epoch, "loss": mean_loss, "pairs": float(len(centers))})
        if callback:
            callback(epoch, w_in, w_out, mean_loss)
    return result
