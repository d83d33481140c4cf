"""Attention and the pre-norm Transformer block in NumPy, written to be read (lesson 06).

Shapes use these letters: ``B`` batch, ``T`` query length, ``S`` key/value length, ``D``
model width, ``H`` heads, ``K`` key width per head, ``V`` value width per head. Masks are
boolean and True means *may attend*, the convention of Keras's ``attention_mask``.

Every function here is compared with Keras in ``tests/test_reference_attention.py``:
``multi_head_attention`` with ``keras.layers.MultiHeadAttention`` (weights copied with
:meth:`MultiHeadParams.from_keras`), ``layer_norm`` with ``keras.layers.LayerNormalization``,
``sinusoidal_positional_encoding`` with ``keras_hub.layers.SinePositionEncoding`` and
``transformer_block`` with :func:`keras_prenorm_block`, a block built from Keras layers.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------
# Softmax and masks


def softmax(x: np.ndarray, axis: int = -1, mask: np.ndarray | None = None) -> np.ndarray:
    """Numerically stable softmax along ``axis``; entries where ``mask`` is False get 0.

    Subtracting the maximum first keeps ``exp`` from overflowing (it changes nothing, the
    constant cancels). A row whose entries are all masked gets all zeros, as
    ``keras.layers.Softmax`` gives, rather than NaN.
    """
    x = np.asarray(x)
    if mask is not None:
        mask = _broadcast_mask(mask, x.shape)
        x = np.where(mask, x, -np.inf)
    row_max = np.max(x, axis=axis, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0)  # fully masked row: avoid inf - inf
    e = np.exp(x - row_max)
    total = e.sum(axis=axis, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def _broadcast_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise ValueError(f"a mask must be boolean (True = attend), got dtype {mask.dtype}; "
                         "convert it with `mask.astype(bool)`")
    try:
        return np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(f"mask of shape {mask.shape} does not broadcast to scores of shape {shape}; "
                         "expected (..., T, S), e.g. (B, T, S), (B, 1, S) or (T, S)") from None


def causal_mask(query_length: int, key_length: int | None = None) -> np.ndarray:
    """``(T, S)`` boolean mask, True on and below the diagonal: position t sees 0..t.

    Same as Keras's ``use_causal_mask=True`` (a lower-triangular matrix anchored top-left).
    """
    key_length = query_length if key_length is None else key_length
    return np.tril(np.ones((query_length, key_length), dtype=bool))


def attention_mask(key_mask: np.ndarray, query_mask: np.ndarray | None = None, *,
                   causal: bool = False) -> np.ndarray:
    """Combine padding masks (and a causal mask) into one ``(B, T, S)`` attention mask.

    ``key_mask`` ``(B, S)``: True on real tokens. ``query_mask`` ``(B, T)``, optional: rows
    of padded queries are masked out completely (their outputs are then meaningless and
    are ignored downstream). Without ``query_mask`` the queries are the keys (T = S).
    """
    key_mask = np.asarray(key_mask, dtype=bool)
    if key_mask.ndim != 2:
        raise ValueError(f"key_mask should be (batch, key_length), got shape {key_mask.shape}")
    batch, key_length = key_mask.shape
    query_length = key_length if query_mask is None else np.shape(query_mask)[1]
    mask = np.broadcast_to(key_mask[:, None, :], (batch, query_length, key_length))
    if query_mask is not None:
        mask = mask & np.asarray(query_mask, dtype=bool)[:, :, None]
    if causal:
        mask = mask & causal_mask(query_length, key_length)[None]
    return np.array(mask)


# --------------------------------------------------------------------------------------
# Scaled dot-product attention


def scaled_dot_product_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                                 mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``softmax(Q Kᵀ / √K) V`` for ``q (..., T, K)``, ``k (..., S, K)``, ``v (..., S, V)``.

    ``mask`` broadcasts to ``(..., T, S)``. Returns ``(output (..., T, V), weights (..., T, S))``.
    """
    q, k, v = np.asarray(q), np.asarray(k), np.asarray(v)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys need the same width: q {q.shape}, k {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values need the same length: k {k.shape}, v {v.shape}")
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    weights = softmax(scores, axis=-1, mask=mask)
    return weights @ v, weights


def attention_backward(q: np.ndarray, k: np.ndarray, v: np.ndarray, grad_output: np.ndarray,
                       mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``sum(grad_output * attention(q, k, v))`` with respect to q, k and v.

    With ``A = softmax(S)``, ``S = Q Kᵀ/√K`` and ``O = A V``:
    ``dV = Aᵀ dO``, ``dA = dO Vᵀ``, ``dS = A ⊙ (dA − rowsum(dA ⊙ A))`` (the softmax
    Jacobian), ``dQ = dS K/√K``, ``dK = dSᵀ Q/√K``. Masked entries have A = 0, so dS = 0.
    """
    _, weights = scaled_dot_product_attention(q, k, v, mask)
    scale = 1.0 / math.sqrt(q.shape[-1])
    d_v = np.swapaxes(weights, -1, -2) @ grad_output
    d_weights = grad_output @ np.swapaxes(v, -1, -2)
    d_scores = weights * (d_weights - np.sum(d_weights * weights, axis=-1, keepdims=True))
    d_q = d_scores @ k * scale
    d_k = np.swapaxes(d_scores, -1, -2) @ q * scale
    return d_q, d_k, d_v


# --------------------------------------------------------------------------------------
# Multi-head attention


@dataclass
class MultiHeadParams:
    """Weights of multi-head attention, in ``keras.layers.MultiHeadAttention``'s layout.

    ``wq``, ``wk``: ``(D, H, K)``; ``wv``: ``(D, H, V)``; biases ``(H, K)`` / ``(H, V)``;
    ``wo``: ``(H, V, D)`` and ``bo``: ``(D,)``. Reshaping ``wo`` to ``(H·V, D)`` gives the
    usual "concatenate the heads, then multiply by W_O".
    """

    wq: np.ndarray
    bq: np.ndarray
    wk: np.ndarray
    bk: np.ndarray
    wv: np.ndarray
    bv: np.ndarray
    wo: np.ndarray
    bo: np.ndarray

    def __post_init__(self) -> None:
        d, h, k = np.shape(self.wq)
        v, out = np.shape(self.wv)[-1], np.shape(self.wo)[-1]
        expected = {"bq": (h, k), "wk": (d, h, k), "bk": (h, k), "wv": (d, h, v), "bv": (h, v),
                    "wo": (h, v, out), "bo": (out,)}
        for name, shape in expected.items():
            if tuple(np.shape(getattr(self, name))) != shape:
                raise ValueError(f"MultiHeadParams.{name} should have shape {shape} (from wq {np.shape(self.wq)} "
                                 f"and wv {np.shape(self.wv)}), got {np.shape(getattr(self, name))}")

    @property
    def num_heads(self) -> int:
        return int(self.wq.shape[1])

    @property
    def key_dim(self) -> int:
        return int(self.wq.shape[2])

    @property
    def value_dim(self) -> int:
        return int(self.wv.shape[2])

    @classmethod
    def init(cls, rng: np.random.Generator, d_model: int, num_heads: int, key_dim: int,
             value_dim: int | None = None, dtype: Any = np.float32) -> MultiHeadParams:
        """Random weights (scaled normal) and small random biases, for tests and toys."""
        value_dim = key_dim if value_dim is None else value_dim

        def normal(*shape: int, fan_in: int) -> np.ndarray:
            return (rng.normal(size=shape) / math.sqrt(fan_in)).astype(dtype)

        return cls(
            wq=normal(d_model, num_heads, key_dim, fan_in=d_model), bq=normal(num_heads, key_dim, fan_in=10),
            wk=normal(d_model, num_heads, key_dim, fan_in=d_model), bk=normal(num_heads, key_dim, fan_in=10),
            wv=normal(d_model, num_heads, value_dim, fan_in=d_model), bv=normal(num_heads, value_dim, fan_in=10),
            wo=normal(num_heads, value_dim, d_model, fan_in=num_heads * value_dim), bo=normal(d_model, fan_in=10),
        )

    @classmethod
    def from_keras(cls, layer: Any) -> MultiHeadParams:
        """Copy the weights of a built ``keras.layers.MultiHeadAttention`` (with biases)."""
        dense = [layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense]
        if any(getattr(d, "bias", None) is None for d in dense):
            raise ValueError("from_keras expects MultiHeadAttention(use_bias=True); "
                             "this layer has no biases")
        (wq, bq), (wk, bk), (wv, bv), (wo, bo) = [
            (np.asarray(d.kernel.numpy()), np.asarray(d.bias.numpy())) for d in dense
        ]
        return cls(wq, bq, wk, bk, wv, bv, wo, bo)

    def keras_weights(self) -> list[np.ndarray]:
        """The list ``MultiHeadAttention.set_weights`` expects (q, k, v, output; kernel, bias)."""
        return [self.wq, self.bq, self.wk, self.bk, self.wv, self.bv, self.wo, self.bo]


def multi_head_attention(query: np.ndarray, value: np.ndarray, params: MultiHeadParams,
                         key: np.ndarray | None = None,
                         mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Multi-head attention, as ``MultiHeadAttention()(query, value, key, attention_mask=mask)``.

    ``query (B, T, D)``, ``value`` and ``key`` ``(B, S, D)`` (key defaults to value), ``mask``
    ``(B, T, S)`` boolean. Returns ``(output (B, T, D), weights (B, H, T, S))``.
    """
    key = value if key is None else key
    for name, x in (("query", query), ("key", key), ("value", value)):
        if np.ndim(x) != 3 or np.shape(x)[-1] != params.wq.shape[0]:
            raise ValueError(f"{name} should be (batch, length, {params.wq.shape[0]}), got shape {np.shape(x)}")
    # Project each token into every head: (B, T, D) x (D, H, K) -> (B, T, H, K) -> (B, H, T, K).
    q = (np.einsum("btd,dhk->bthk", query, params.wq) + params.bq).transpose(0, 2, 1, 3)
    k = (np.einsum("bsd,dhk->bshk", key, params.wk) + params.bk).transpose(0, 2, 1, 3)
    v = (np.einsum("bsd,dhv->bshv", value, params.wv) + params.bv).transpose(0, 2, 1, 3)
    head_mask = None if mask is None else np.asarray(mask)[:, None, :, :]  # same mask for every head
    heads, weights = scaled_dot_product_attention(q, k, v, head_mask)  # (B, H, T, V)
    # Concatenate the heads and apply W_O in one step: sum over heads h and value dims v.
    output = np.einsum("bhtv,hvd->btd", heads, params.wo) + params.bo
    return output, weights


# --------------------------------------------------------------------------------------
# Positional encoding, layer norm, feed-forward, the block


def sinusoidal_positional_encoding(length: int, d_model: int, *, max_wavelength: float = 10_000.0,
                                   dtype: Any = np.float32) -> np.ndarray:
    """``(length, d_model)`` sinusoids of Vaswani et al. (2017):

    ``PE[p, 2i] = sin(p / 10000^(2i/D))`` and ``PE[p, 2i+1] = cos(p / 10000^(2i/D))``
    (sines on even columns, cosines on odd ones, as ``keras_hub.layers.SinePositionEncoding``).

    Computed in ``dtype``, in Keras's order. In float32 the angle ``p·ω`` is itself rounded,
    so any float32 implementation, Keras's included, is off from the exact value by a few
    ulps of the angle: about 1e-5 at p ≈ 200 and 1e-4 at p ≈ 2000. Two correct float32
    implementations may differ by the sum of their errors; see
    :func:`positional_encoding_error_bound`. Pass ``dtype=np.float64`` for exact values.
    """
    if length < 0 or d_model < 1:
        raise ValueError(f"need length >= 0 and d_model >= 1, got length={length}, d_model={d_model}")
    positions = np.arange(length).astype(dtype)[:, None]
    pair = (2 * (np.arange(d_model) // 2)).astype(dtype)  # columns 2i and 2i+1 share a frequency
    inv_freq = np.power(np.asarray(1 / max_wavelength, dtype=dtype), pair / np.asarray(d_model, dtype=dtype))
    angles = positions * inv_freq
    return np.where(np.arange(d_model) % 2 == 0, np.sin(angles), np.cos(angles)).astype(dtype)


# float32 unit roundoff, and the ulps we allow the libm/Eigen pow and sin: glibc's and
# numpy's SIMD float32 kernels are within 1-4 ulps, and they differ between CPUs.
_U32 = 2.0**-24
_LIBM_ULPS = 4


def positional_encoding_error_bound(length: int, d_model: int, *,
                                    max_wavelength: float = 10_000.0) -> np.ndarray:
    """``(length, d_model)`` bound on ``|float32 encoding - exact encoding|``, entry by entry.

    Error analysis of the float32 steps: the exponent ``e = 2i/D`` and base ``1/10000``
    are rounded (relative ``u = 2**-24`` each, amplified by ``|e·ln b|`` and ``e`` in
    ``ω = b**e``), ``pow`` adds a few ulps, rounding ``p·ω`` adds one more, and a ulp of
    the angle ``a`` moves ``sin a`` by up to ``|a|·u``; ``sin`` itself adds a few ulps of a
    number ≤ 1. So the bound is ``|a|·u·(e·(ln(max_wavelength) + 1) + 1 + 4) + 4u``
    (just ``4u`` in the first two columns, whose angle ``p·1`` is exact).
    """
    e = (2 * (np.arange(d_model) // 2)) / d_model
    angle = np.arange(length)[:, None] * max_wavelength ** (-e)
    relative = e * (math.log(max_wavelength) + 1) + 1 + _LIBM_ULPS
    relative[e == 0] = 0.0  # pow(b, 0) = 1 exactly and p·1 is exact: only sin's own error
    return np.abs(angle) * _U32 * relative + _LIBM_ULPS * _U32


def positions_within(atol: float, d_model: int, *, max_wavelength: float = 10_000.0) -> int:
    """How many positions two float32 encodings provably agree within ``atol`` (twice the bound)."""
    length = 1
    while 2 * positional_encoding_error_bound(length + 1, d_model,
                                              max_wavelength=max_wavelength).max() <= atol:
        length += 1
    return length


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *, epsilon: float = 1e-3) -> np.ndarray:
    """Normalize each vector over its last axis, then scale and shift.

    ``epsilon`` defaults to Keras's ``LayerNormalization`` default, 1e-3 (PyTorch uses 1e-5).
    The variance is the biased one (divide by D), as in every framework.
    """
    x = np.asarray(x)
    if np.shape(gamma) != x.shape[-1:] or np.shape(beta) != x.shape[-1:]:
        raise ValueError(f"gamma and beta should have shape {x.shape[-1:]}, got {np.shape(gamma)} and {np.shape(beta)}")
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, ``x Φ(x)``, as ``keras.activations.gelu`` (``approximate=False``)."""
    from scipy.special import erf  # scipy comes with scikit-learn; imported here to keep imports light

    return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(np.asarray(x).dtype)


ACTIVATIONS = {"relu": relu, "gelu": gelu}


def feed_forward(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray,
                 activation: str = "relu") -> np.ndarray:
    """The position-wise feed-forward network ``act(x W1 + b1) W2 + b2``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation should be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    return ACTIVATIONS[activation](x @ w1 + b1) @ w2 + b2


@dataclass
class BlockParams:
    """Weights of a pre-norm Transformer block (see :func:`transformer_block`)."""

    ln1_gamma: np.ndarray
    ln1_beta: np.ndarray
    attention: MultiHeadParams
    ln2_gamma: np.ndarray
    ln2_beta: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    activation: str = "relu"
    epsilon: float = 1e-3

    @classmethod
    def init(cls, rng: np.random.Generator, d_model: int, num_heads: int, d_ff: int,
             activation: str = "relu", dtype: Any = np.float32) -> BlockParams:
        """Random weights, with non-trivial layer-norm scales, for tests and toys."""
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) should be divisible by num_heads ({num_heads})")

        def normal(*shape: int, scale: float) -> np.ndarray:
            return (rng.normal(size=shape) * scale).astype(dtype)

        return cls(
            ln1_gamma=1 + normal(d_model, scale=0.1), ln1_beta=normal(d_model, scale=0.1),
            attention=MultiHeadParams.init(rng, d_model, num_heads, d_model // num_heads, dtype=dtype),
            ln2_gamma=1 + normal(d_model, scale=0.1), ln2_beta=normal(d_model, scale=0.1),
            w1=normal(d_model, d_ff, scale=d_model ** -0.5), b1=normal(d_ff, scale=0.1),
            w2=normal(d_ff, d_model, scale=d_ff ** -0.5), b2=normal(d_model, scale=0.1),
            activation=activation,
        )

    def keras_weights(self) -> list[np.ndarray]:
        """Weights in the order of :func:`keras_prenorm_block`'s ``get_weights()``."""
        return [self.ln1_gamma, self.ln1_beta, *self.attention.keras_weights(), self.ln2_gamma,
                self.ln2_beta, self.w1, self.b1, self.w2, self.b2]


def transformer_block(x: np.ndarray, params: BlockParams,
                      mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A pre-norm Transformer block (GPT-2 style), ``x (B, T, D)``, ``mask (B, T, T)``:

    ``h = x + MHA(LN1(x))`` then ``y = h + FFN(LN2(h))``. Returns ``(y, attention weights)``.
    """
    normed = layer_norm(x, params.ln1_gamma, params.ln1_beta, epsilon=params.epsilon)
    attended, weights = multi_head_attention(normed, normed, params.attention, mask=mask)
    h = x + attended
    normed = layer_norm(h, params.ln2_gamma, params.ln2_beta, epsilon=params.epsilon)
    y = h + feed_forward(normed, params.w1, params.b1, params.w2, params.b2, params.activation)
    return y, weights


def keras_prenorm_block(d_model: int, num_heads: int, d_ff: int, *, activation: str = "relu",
                        epsilon: float = 1e-3, name: str = "block") -> Any:
    """The same pre-norm block built from Keras layers: a model ``[x (B, T, D), mask (B, T, T)] -> y``.

    Layers are named ``ln1``, ``mha``, ``ln2``, ``ffn_in``, ``ffn_out`` so that
    :func:`block_params_from_keras` can read their weights back.
    """
    import keras

    if d_model % num_heads:
        raise ValueError(f"d_model ({d_model}) should be divisible by num_heads ({num_heads})")
    x = keras.Input(shape=(None, d_model), name=f"{name}_x")
    mask = keras.Input(shape=(None, None), dtype="bool", name=f"{name}_mask")
    normed = keras.layers.LayerNormalization(epsilon=epsilon, name="ln1")(x)
    attended = keras.layers.MultiHeadAttention(num_heads, key_dim=d_model // num_heads, name="mha")(
        normed, normed, attention_mask=mask)
    h = keras.layers.Add(name="residual1")([x, attended])
    normed = keras.layers.LayerNormalization(epsilon=epsilon, name="ln2")(h)
    hidden = keras.layers.Dense(d_ff, activation=activation, name="ffn_in")(normed)
    y = keras.layers.Add(name="residual2")([h, keras.layers.Dense(d_model, name="ffn_out")(hidden)])
    return keras.Model([x, mask], y, name=name)


def block_params_from_keras(block: Any) -> BlockParams:
    """Read the weights of a :func:`keras_prenorm_block` model into :class:`BlockParams`."""
    ln1, ln2 = block.get_layer("ln1"), block.get_layer("ln2")
    ffn_in, ffn_out = block.get_layer("ffn_in"), block.get_layer("ffn_out")
    if ln1.epsilon != ln2.epsilon:
        raise ValueError(f"both layer norms should share epsilon, got {ln1.epsilon} and {ln2.epsilon}")
    activation = ffn_in.activation.__name__
    return BlockParams(
        ln1_gamma=ln1.gamma.numpy(), ln1_beta=ln1.beta.numpy(),
        attention=MultiHeadParams.from_keras(block.get_layer("mha")),
        ln2_gamma=ln2.gamma.numpy(), ln2_beta=ln2.beta.numpy(),
        w1=ffn_in.kernel.numpy(), b1=ffn_in.bias.numpy(), w2=ffn_out.kernel.numpy(), b2=ffn_out.bias.numpy(),
        activation=activation, epsilon=float(ln1.epsilon),
    )


# --------------------------------------------------------------------------------------
# Counting: parameters and FLOPs


def mha_param_count(d_model: int, num_heads: int, key_dim: int, value_dim: int | None = None) -> int:
    """Parameters of ``MultiHeadAttention(num_heads, key_dim, value_dim)`` with biases.

    Q and K: ``D·H·K + H·K`` each; V: ``D·H·V + H·V``; output: ``H·V·D + D``.
    """
    value_dim = key_dim if value_dim is None else value_dim
    qk = 2 * (d_model * num_heads * key_dim + num_heads * key_dim)
    v = d_model * num_heads * value_dim + num_heads * value_dim
    out = num_heads * value_dim * d_model + d_model
    return qk + v + out


def block_param_count(d_model: int, num_heads: int, d_ff: int) -> int:
    """Parameters of a pre-norm block with ``key_dim = D / H``: ``4D² + 4D`` for attention,
    ``2·D·F + F + D`` for the feed-forward network and ``4D`` for two layer norms."""
    return (mha_param_count(d_model, num_heads, d_model // num_heads)
            + (d_model * d_ff + d_ff) + (d_ff * d_model + d_model) + 2 * (2 * d_model))


def attention_flops(seq_len: int, d_model: int, num_heads: int, key_dim: int | None = None) -> dict[str, int]:
    """Floating-point operations (2 per multiply-add) of one self-attention layer, one sequence.

    ``projections`` (Q, K, V and output: ``4·n·D·H·K`` multiply-adds) grow linearly in the
    length n; ``scores`` (``Q Kᵀ``) and ``weighted_sum`` (``A V``), ``n²·H·K`` each, grow
    quadratically. Softmax and biases are left out: they are lower order.
    """
    key_dim = d_model // num_heads if key_dim is None else key_dim
    width = num_heads * key_dim
    counts = {
        "projections": 2 * 4 * seq_len * d_model * width,
        "scores": 2 * seq_len * seq_len * width,
        "weighted_sum": 2 * seq_len * seq_len * width,
    }
    counts["total"] = sum(counts.values())
    return counts


# --------------------------------------------------------------------------------------
# Looking at attention: one head of one layer, as a heat map


def attention_map(weights: Sequence[np.ndarray] | np.ndarray, layer: int, head: int,
                  example: int = 0) -> np.ndarray:
    """The ``(T, S)`` attention matrix of one head of one layer for one example.

    ``weights`` is a list with one ``(B, H, T, S)`` array per layer (a single array counts
    as one layer). This is the callback behind the lesson's layer/head selector.
    """
    layers = [weights] if isinstance(weights, np.ndarray) else list(weights)
    if not 0 <= layer < len(layers):
        raise ValueError(f"layer should be in 0..{len(layers) - 1}, got {layer}")
    w = np.asarray(layers[layer])
    if w.ndim != 4:
        raise ValueError(f"attention weights should be (batch, heads, T, S), got shape {w.shape}")
    if not 0 <= head < w.shape[1]:
        raise ValueError(f"head should be in 0..{w.shape[1] - 1}, got {head}")
    if not 0 <= example < w.shape[0]:
        raise ValueError(f"example should be in 0..{w.shape[0] - 1}, got {example}")
    return w[example, head]


def plot_attention(matrix: np.ndarray, query_tokens: Sequence[str], key_tokens: Sequence[str] | None = None,
                   *, ax: Any = None, title: str | None = None, vmax: float | None = 1.0) -> Any:
    """Draw an attention matrix as a heat map (rows: queries, columns: keys); returns the axes.

    Colours run from 0 to ``vmax`` (default 1, so every head is drawn on the same scale);
    ``vmax=None`` stretches them to the matrix's largest weight.
    """
    import matplotlib.pyplot as plt

    key_tokens = query_tokens if key_tokens is None else key_tokens
    matrix = np.asarray(matrix)
    if matrix.shape != (len(query_tokens), len(key_tokens)):
        raise ValueError(f"matrix shape {matrix.shape} does not match {len(query_tokens)} query "
                         f"and {len(key_tokens)} key tokens")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.35 * len(key_tokens) + 2, 0.35 * len(query_tokens) + 1.5))
    top = vmax if vmax is not None else max(float(matrix.max()), 1e-9)
    image = ax.imshow(matrix, cmap="viridis", vmin=0.0, vmax=top)
    ax.set_xticks(range(len(key_tokens)), key_tokens, rotation=90)
    ax.set_yticks(range(len(query_tokens)), query_tokens)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query")
    if title:
        ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, fraction=0.046)
    return ax


# --------------------------------------------------------------------------------------
# Measuring the O(n²) cost


@dataclass(frozen=True)
class AttentionCost:
    """Time and peak memory of :func:`scaled_dot_product_attention` for each length."""

    lengths: np.ndarray
    seconds: np.ndarray
    peak_bytes: np.ndarray
    score_bytes: np.ndarray  # the size of one (n, n) score matrix


def _best_seconds(run: Any, args: tuple, repeats: int) -> float:
    """The shortest wall time of ``repeats`` calls of ``run(*args)``: the least disturbed one."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = run(*args)
        getattr(result, "numpy", lambda: None)()  # a tensor is read back: its work has finished
        best = min(best, time.perf_counter() - start)
    return best


def measure_attention_cost(lengths: Sequence[int], *, width: int = 64, repeats: int = 3,
                           seed: int = 0, dtype: Any = np.float32, threads: int | None = 1) -> AttentionCost:
    """Time (best of ``repeats``) and peak traced memory of single-head attention, n×width.

    Memory is NumPy's allocations during the call, read with :mod:`tracemalloc`; time is
    measured in separate runs without tracing, which would slow them down. Timing runs use
    ``threads`` BLAS threads (``None``: the library default): on a small machine shared with
    other work, multi-threaded BLAS times vary wildly, one thread gives steady numbers.
    """
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    rng = np.random.default_rng(seed)
    seconds, peaks = [], []
    for n in lengths:
        q, k, v = (rng.normal(size=(n, width)).astype(dtype) for _ in range(3))
        with threadpool_limits(limits=threads) if threads else nullcontext():
            seconds.append(_best_seconds(scaled_dot_product_attention, (q, k, v), repeats))
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        scaled_dot_product_attention(q, k, v)
        peaks.append(tracemalloc.get_traced_memory()[1] - base)
        if not was_tracing:
            tracemalloc.stop()
    lengths_arr = np.asarray(lengths)
    return AttentionCost(lengths_arr, np.asarray(seconds), np.asarray(peaks),
                         lengths_arr ** 2 * np.dtype(dtype).itemsize)


def power_law_exponent(x: Sequence[float], y: Sequence[float]) -> float:
    """The slope ``p`` of the least-squares line through ``(log x, log y)``: ``y ≈ c·x^p``."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError(f"need two or more positive (x, y) pairs of equal length, got {x.shape} and {y.shape}")
    slope, _ = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope)


def measure_keras_block_seconds(block: Any, lengths: Sequence[int], *, repeats: int = 3, seed: int = 0) -> np.ndarray:
    """Best-of-``repeats`` time of one forward pass of a Keras block on one sequence of each length.

    ``block`` is a model ``[x (1, n, D), mask (1, n, n)] -> y`` such as
    :func:`keras_prenorm_block`. Each length gets its own compiled function, traced and run
    once before timing, so the times are the block's arithmetic and memory traffic, not
    Python or tracing.
    """
    import tensorflow as tf

    if repeats < 1 or not len(lengths):
        raise ValueError(f"need one or more lengths and repeats >= 1, got {len(lengths)} lengths, repeats={repeats}")
    width = int(block.inputs[0].shape[-1])
    rng = np.random.default_rng(seed)
    seconds = []
    for n in lengths:
        x = tf.constant(rng.normal(size=(1, n, width)).astype(np.float32))
        mask = tf.ones((1, n, n), dtype=tf.bool)
        forward = tf.function(lambda x, mask: block([x, mask], training=False))
        forward(x, mask).numpy()  # trace and warm up
        seconds.append(_best_seconds(forward, (x, mask), repeats))
    return np.asarray(seconds)
