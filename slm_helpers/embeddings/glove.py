"""GloVe (Pennington, Socher and Manning, 2014): the real objective, its gradient, AdaGrad.

    J = Σ_{X_ij > 0} f(X_ij) (w_i·w̃_j + b_i + b̃_j − log X_ij)²,   f(x) = min(1, (x / x_max)^α)

with ``x_max = 100`` and ``α = 3/4``. Writing ``e_ij`` for the bracket, the gradient is

    ∂J/∂w_i = Σ_j 2 f(X_ij) e_ij w̃_j      ∂J/∂w̃_j = Σ_i 2 f(X_ij) e_ij w_i
    ∂J/∂b_i = Σ_j 2 f(X_ij) e_ij          ∂J/∂b̃_j = Σ_i 2 f(X_ij) e_ij.

Training is AdaGrad (initial rate 0.05, as in the paper) over shuffled mini-batches of the
non-zeros, fully vectorized: each batch gathers rows, computes all ``e_ij`` at once and
sums the gradients into the rows it touched. The final vectors are ``W + W̃``.
(The reference C code minimizes J / 2 one pair at a time, starts AdaGrad's sums at 1 and
divides by the sum before adding the current squared gradient; lesson 03 lists what each
difference does. With ``batch_size=1`` this module is the per-pair loop of standard AdaGrad.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

X_MAX = 100.0
ALPHA = 0.75


def glove_weight(x: Any, x_max: float = X_MAX, alpha: float = ALPHA) -> np.ndarray:
    """GloVe's weighting ``f(x) = min(1, (x / x_max)^α)``: rare pairs count less, none too much."""
    x = np.asarray(x, dtype=float)
    if np.any(x < 0):
        raise ValueError("co-occurrence counts cannot be negative")
    return np.minimum(1.0, (x / x_max) ** alpha)


@dataclass
class GloVeParams:
    """Word vectors ``w``, context vectors ``w_tilde`` and their biases."""

    w: np.ndarray  # (V, d)
    w_tilde: np.ndarray  # (V, d)
    b: np.ndarray  # (V,)
    b_tilde: np.ndarray  # (V,)

    @classmethod
    def initialize(cls, vocab_size: int, dim: int, seed: int = 0, dtype: Any = np.float32) -> GloVeParams:
        """Uniform in ±0.5/dim, as the reference code does (biases too)."""
        rng = np.random.default_rng(seed)

        def draw(*shape: int) -> np.ndarray:
            return ((rng.random(shape) - 0.5) / dim).astype(dtype)

        return cls(draw(vocab_size, dim), draw(vocab_size, dim), draw(vocab_size), draw(vocab_size))

    def vectors(self) -> np.ndarray:
        """The vectors GloVe publishes: ``W + W̃`` (word and context roles are symmetric)."""
        return self.w + self.w_tilde

    def copy(self) -> GloVeParams:
        return GloVeParams(self.w.copy(), self.w_tilde.copy(), self.b.copy(), self.b_tilde.copy())


def _nonzeros(x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and values of the positive entries of a sparse or dense matrix."""
    if hasattr(x, "tocoo"):
        coo = x.tocoo()
        rows, cols, vals = coo.row, coo.col, coo.data
    else:
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"expected a 2-D co-occurrence matrix, got shape {x.shape}")
        rows, cols = np.nonzero(x)
        vals = x[rows, cols]
    keep = vals > 0
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64), vals[keep].astype(float)


def _errors(params: GloVeParams, rows: np.ndarray, cols: np.ndarray, log_x: np.ndarray,
            chunk: int = 1 << 18) -> np.ndarray:
    """``e_ij = w_i·w̃_j + b_i + b̃_j − log X_ij`` for each non-zero.

    Computed in chunks: gathering all rows at once would need ``nnz × d`` floats (gigabytes
    for a full corpus).
    """
    out = np.empty(len(rows), dtype=float)
    for start in range(0, len(rows), chunk):
        r, c = rows[start:start + chunk], cols[start:start + chunk]
        dots = np.einsum("nd,nd->n", np.take(params.w, r, axis=0), np.take(params.w_tilde, c, axis=0))
        out[start:start + chunk] = dots + np.take(params.b, r) + np.take(params.b_tilde, c) - log_x[start:start + chunk]
    return out


def glove_loss(params: GloVeParams, x: Any, x_max: float = X_MAX, alpha: float = ALPHA) -> float:
    """``J`` summed over the non-zeros of ``x`` (sparse or dense ``(V, V)``)."""
    rows, cols, vals = _nonzeros(x)
    e = _errors(params, rows, cols, np.log(vals))
    return float(np.sum(glove_weight(vals, x_max, alpha) * e.astype(float) ** 2))


def glove_loss_and_grads(
    params: GloVeParams, x: Any, x_max: float = X_MAX, alpha: float = ALPHA
) -> tuple[float, GloVeParams]:
    """``J`` and its exact gradient with respect to every parameter (dense arrays)."""
    rows, cols, vals = _nonzeros(x)
    f = glove_weight(vals, x_max, alpha)
    e = _errors(params, rows, cols, np.log(vals)).astype(float)
    g = 2.0 * f * e  # dJ/de_ij
    vocab_size = params.w.shape[0]
    d_w = np.zeros_like(params.w, dtype=float)
    d_wt = np.zeros_like(params.w_tilde, dtype=float)
    for start in range(0, len(rows), 1 << 18):  # in chunks, as in _errors
        r, c, gc = rows[start:start + (1 << 18)], cols[start:start + (1 << 18)], g[start:start + (1 << 18), None]
        np.add.at(d_w, r, gc * params.w_tilde[c])
        np.add.at(d_wt, c, gc * params.w[r])
    d_b = np.bincount(rows, weights=g, minlength=vocab_size)
    d_bt = np.bincount(cols, weights=g, minlength=vocab_size)
    return float(np.sum(f * e**2)), GloVeParams(d_w, d_wt, d_b, d_bt)


def _adagrad_rows(param: np.ndarray, gradsq: np.ndarray, rows: np.ndarray, grads: np.ndarray, lr: float) -> None:
    """AdaGrad on the rows a batch touched, as if its pairs were applied one by one.

    The reference code updates after every pair, adding each pair's squared gradient to
    the running sum. Here a row's gradients within the batch are summed, and so are their
    squares (not the square of the sum): a row hit by many pairs still moves as far as
    many small AdaGrad steps would, instead of one. The sums are one sparse product each.
    """
    from scipy.sparse import csr_matrix

    # The touched rows and each pair's position among them, without sorting (np.unique would).
    touched = np.bincount(rows, minlength=len(param)) > 0
    unique = np.flatnonzero(touched)
    position = np.cumsum(touched) - 1
    n = len(rows)
    scatter = csr_matrix((np.ones(n, dtype=grads.dtype), (position[rows], np.arange(n))), shape=(len(unique), n))
    acc = np.take(gradsq, unique, axis=0)
    acc += scatter @ np.square(grads)
    gradsq[unique] = acc
    step = scatter @ grads
    step *= lr
    step /= np.sqrt(acc)
    param[unique] = np.take(param, unique, axis=0) - step


@dataclass
class GloVeResult:
    """Trained parameters, the loss after each epoch and the training throughput."""

    params: GloVeParams
    history: list[dict[str, float]] = field(default_factory=list)
    nnz: int = 0
    seconds: float = 0.0

    @property
    def nonzeros_per_second(self) -> float:
        """Non-zero entries processed per second of training (all epochs)."""
        epochs = len(self.history)
        return self.nnz * epochs / self.seconds if self.seconds else float("nan")

    def vectors(self) -> np.ndarray:
        return self.params.vectors()


def train_glove(
    x: Any, *, dim: int = 50, epochs: int = 25, lr: float = 0.05, x_max: float = X_MAX,
    alpha: float = ALPHA, batch_size: int = 8192, seed: int = 0, eps: float = 1e-8,
    callback: Callable[[int, float, GloVeParams], None] | None = None,
) -> GloVeResult:
    """Fit GloVe to the co-occurrence matrix ``x`` with AdaGrad over shuffled mini-batches.

    Each epoch visits every non-zero once in a new random order. The loss recorded for an
    epoch is ``J`` accumulated over its batches (each batch measured before its update, as
    the reference code reports it). ``callback(epoch, loss, params)`` runs after each epoch.
    AdaGrad's squared-gradient sums start at ``eps`` (standard AdaGrad; the reference
    C code starts them at 1, which slows the first epochs when gradients are small).
    """
    rows, cols, vals = _nonzeros(x)
    if not len(vals):
        raise ValueError("the co-occurrence matrix has no positive entries")
    if dim < 1 or epochs < 1 or batch_size < 1:
        raise ValueError(f"dim, epochs and batch_size must be positive; got {dim}, {epochs}, {batch_size}")
    vocab_size = x.shape[0]
    # One table holds every parameter: row i = (w_i, b_i), row V + j = (w̃_j, b̃_j). A batch
    # then needs one gather per side and a single AdaGrad scatter for all four gradients.
    init = GloVeParams.initialize(vocab_size, dim, seed)
    table = np.empty((2 * vocab_size, dim + 1), dtype=np.float32)
    table[:vocab_size, :dim], table[vocab_size:, :dim] = init.w, init.w_tilde
    table[:vocab_size, dim], table[vocab_size:, dim] = init.b, init.b_tilde
    params = GloVeParams(table[:vocab_size, :dim], table[vocab_size:, :dim], table[:vocab_size, dim],
                         table[vocab_size:, dim])  # views: they follow the training
    gradsq = np.full_like(table, eps)
    rows, cols = rows.astype(np.intp), cols.astype(np.intp) + vocab_size
    log_x = np.log(vals).astype(np.float32)
    weight = glove_weight(vals, x_max, alpha).astype(np.float32)
    rng = np.random.default_rng(seed)
    result = GloVeResult(params, nnz=len(vals))
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(vals))
        total = 0.0
        for begin in range(0, len(order), batch_size):
            idx = order[begin:begin + batch_size]
            r, c = np.take(rows, idx), np.take(cols, idx)
            # np.take is several times faster than fancy indexing for row gathers.
            word, ctx = np.take(table, r, axis=0), np.take(table, c, axis=0)
            e = np.einsum("nd,nd->n", word[:, :dim], ctx[:, :dim])
            e += word[:, dim] + ctx[:, dim] - np.take(log_x, idx)
            fe = np.take(weight, idx) * e
            total += float(np.dot(fe, e))
            g = 2.0 * fe  # dJ/de_ij for each pair in the batch
            n = len(idx)
            grads = np.empty((2 * n, dim + 1), dtype=np.float32)
            np.multiply(g[:, None], ctx[:, :dim], out=grads[:n, :dim])  # dJ/dw_i
            np.multiply(g[:, None], word[:, :dim], out=grads[n:, :dim])  # dJ/dw̃_j
            grads[:n, dim] = grads[n:, dim] = g  # dJ/db_i and dJ/db̃_j
            _adagrad_rows(table, gradsq, np.concatenate([r, c]), grads, lr)
        result.seconds += time.perf_counter() - start  # training time only, not the callback's
        result.history.append({"epoch": float(epoch), "loss": total})
        if callback:
            callback(epoch, total, params)
    return result
