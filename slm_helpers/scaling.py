"""Training compute of a small GPT, and reading loss-against-compute curves (lesson 09).

The course's GPT (lesson 09) spends its arithmetic in matrix products. Per token, one
forward pass costs ``2·N`` for the ``N`` weights of its matrices (a multiply and an add per
weight) plus the attention products ``QKᵀ`` and ``A·V``; the backward pass costs twice the
forward (a product each for the gradients of the inputs and of the weights). The embedding
lookups are copies, not arithmetic, so their parameters do not count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# TensorFlow op types that do a GPT's matrix products (Keras 3 on TensorFlow).
MATMUL_OPS = ("MatMul", "BatchMatMulV2", "BatchMatMulV3", "BatchMatMul")


@dataclass(frozen=True)
class GptFlops:
    """Training FLOPs per token: ``dense`` (6 × the matrices' weights) and ``attention``."""

    dense: float
    attention: float

    @property
    def total(self) -> float:
        return self.dense + self.attention

    @property
    def attention_share(self) -> float:
        return self.attention / self.total


def gpt_matrix_params(vocab_size: int, layers: int, width: int) -> int:
    """Weights in a bias-free GPT's matrices: 12·D² per block (W_qkv, W_out, a 4·D FFN) and the head D·V."""
    for name, value in (("vocab_size", vocab_size), ("layers", layers), ("width", width)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return layers * 12 * width * width + width * vocab_size


def gpt_flops_per_token(vocab_size: int, block: int, layers: int, width: int) -> GptFlops:
    """Training FLOPs (forward + backward) per token of a bias-free char GPT with a 4·D feed-forward.

    ``dense = 6·N`` over the matrix weights ``N`` (embeddings excluded: a lookup does no
    arithmetic). ``attention = 3 · layers · 4·T·D``: per token and layer the forward pass
    multiplies a query with ``T`` keys and ``T`` weights with values, ``2·T·D`` FLOPs each,
    over the whole window, because a masked implementation computes the masked half too.
    """
    if int(block) != block or block < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    dense = 6.0 * gpt_matrix_params(vocab_size, layers, width)
    return GptFlops(dense=dense, attention=3.0 * layers * 4 * block * width)


def graph_matmul_flops(function: Callable[..., Any], *input_signature: Any) -> int:
    """FLOPs of the matrix products in ``function``'s TensorFlow graph: 2·m·n·k for each one.

    ``input_signature`` holds ``tf.TensorSpec`` objects with fully known shapes. The count
    reads every ``MatMul`` / ``BatchMatMul`` op of the traced graph, its operand shapes and
    transpose flags, so it checks a formula against what TensorFlow really computes. (TF's
    own v1 profiler miscounts a batched product whose first operand is transposed, which the
    backward pass of attention uses.)
    """
    import tensorflow as tf

    graph = tf.function(function).get_concrete_function(*input_signature).graph
    total = 0
    for op in graph.get_operations():
        if op.type not in MATMUL_OPS:
            continue
        a, b = (tuple(t.shape.as_list()) for t in op.inputs[:2])
        if None in a + b:
            raise ValueError(f"{op.name}: shapes {a} and {b} are not fully known; give complete TensorSpecs")
        flag_a, flag_b = ("transpose_a", "transpose_b") if op.type == "MatMul" else ("adj_x", "adj_y")
        m, k = (a[-1], a[-2]) if op.get_attr(flag_a) else (a[-2], a[-1])
        n = b[-2] if op.get_attr(flag_b) else b[-1]
        batch = np.broadcast_shapes(a[:-2], b[:-2])
        total += 2 * int(np.prod(batch, dtype=np.int64)) * m * n * k
    return total


def _curve(flops: Sequence[float], losses: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(flops, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ValueError(f"a curve needs two or more (flops, loss) points of equal count, got {x.shape} and {y.shape}")
    if not (np.all(x > 0) and np.all(np.diff(x) > 0)):
        raise ValueError("a curve's FLOPs must be positive and increasing (cumulative compute)")
    return x, y


def loss_at(flops: Sequence[float], losses: Sequence[float], budget: float) -> float:
    """A curve's loss at ``budget`` FLOPs, linear in log-FLOPs between its points; NaN outside them."""
    x, y = _curve(flops, losses)
    if not x[0] <= budget <= x[-1]:
        return float("nan")
    return float(np.interp(np.log(budget), np.log(x), y))


def lower_envelope(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], grid: Sequence[float]
) -> tuple[np.ndarray, list[str | None]]:
    """At each budget of ``grid``: the lowest loss any curve reaches, and which curve it is.

    A curve only counts where it was measured (between its first and last point); where
    no curve was, the loss is NaN and the label None.
    """
    if not curves:
        raise ValueError("no curves given")
    best = np.full(len(grid), np.nan)
    labels: list[str | None] = [None] * len(grid)
    for label, (flops, losses) in curves.items():
        for i, budget in enumerate(grid):
            value = loss_at(flops, losses, budget)
            if not np.isnan(value) and (np.isnan(best[i]) or value < best[i]):
                best[i], labels[i] = value, label
    return best, labels
