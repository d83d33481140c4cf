"""Turning next-token logits into text: greedy, temperature, top-k and top-p sampling (lesson 09).

A language model gives, for every position, a vector of *logits* over the vocabulary. A
decoding rule turns the logits of the last position into the next token:

- **greedy**: the most likely token (``argmax``); deterministic, often repetitive;
- **temperature** ``τ``: sample from ``softmax(z / τ)``; ``τ < 1`` sharpens, ``τ > 1``
  flattens, ``τ → 0`` becomes greedy;
- **top-k**: sample only among the ``k`` most likely tokens;
- **top-p** (nucleus, Holtzman et al. 2020): sample only among the smallest set of most
  likely tokens whose probability mass reaches ``p``.

Everything here is NumPy on a ``(V,)`` or ``(B, V)`` array of logits, so it can be read
and tested without a framework; :func:`sampling_probabilities` is the one place the rules
combine (temperature first, then top-k, then top-p, as Hugging Face and keras-hub do).
``tests/test_generation.py`` compares the rules with ``keras_hub.samplers``.
:func:`keras_next_logits` adapts a Keras causal LM to the ``next_logits`` callable that
:func:`generate` drives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NextLogits = Callable[[np.ndarray], np.ndarray]
"""``(B, t)`` int token ids -> ``(B, V)`` logits of the token that follows each row."""


@dataclass(frozen=True)
class Decoding:
    """A decoding rule. ``temperature=0`` means greedy; ``top_k``/``top_p`` None means off."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        _check_temperature(self.temperature)
        if self.top_k is not None and (not isinstance(self.top_k, (int, np.integer)) or self.top_k < 1):
            raise ValueError(f"top_k should be a positive integer or None, got {self.top_k!r}")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p should be in (0, 1] or None, got {self.top_p!r}")

    @property
    def name(self) -> str:
        if self.temperature == 0:
            return "greedy"
        parts = [f"τ={self.temperature:g}"]
        if self.top_k is not None:
            parts.append(f"top-k={self.top_k}")
        if self.top_p is not None:
            parts.append(f"top-p={self.top_p:g}")
        return ", ".join(parts)



# --------------------------------------------------------------------------------------
# The rules, on logits


def _as_logits(logits: Any) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim not in (1, 2) or z.shape[-1] == 0:
        raise ValueError(f"logits should have shape (V,) or (B, V) with V > 0, got shape {z.shape}")
    if np.isnan(z).any() or np.isposinf(z).any():
        raise ValueError("logits contain nan or +inf; check the model's output (a diverged training?)")
    return z


def _check_temperature(temperature: float) -> None:
    if not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature should be a finite number >= 0 (0 = greedy), got {temperature!r}")


GREEDY = Decoding(temperature=0.0)


def softmax(logits: Any) -> np.ndarray:
    """Stable softmax over the last axis; ``-inf`` logits get probability exactly 0."""
    z = _as_logits(logits)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def greedy(logits: Any) -> np.ndarray:
    """The most likely token of each row (ties: the lowest id, like ``np.argmax``)."""
    return np.argmax(_as_logits(logits), axis=-1)


def apply_temperature(logits: Any, temperature: float) -> np.ndarray:
    """``logits / temperature``; ``temperature=0`` keeps only the argmax (the greedy limit).

    As ``τ → 0`` the softmax of ``z / τ`` puts all its mass on the largest logit, so
    ``τ = 0`` is defined as greedy: the maximum keeps its logit, every other token gets
    ``-inf``.
    """
    _check_temperature(temperature)
    z = _as_logits(logits)
    if temperature == 0:
        keep = np.zeros(z.shape, dtype=bool)
        np.put_along_axis(keep, np.argmax(z, axis=-1)[..., None], True, axis=-1)
        return np.where(keep, z, -np.inf)
    return z / temperature


def top_k_filter(logits: Any, k: int) -> np.ndarray:
    """Keep the ``k`` largest logits of each row, set the others to ``-inf``.

    Exactly ``k`` survive; among equal logits the lower ids win, as in ``tf.math.top_k``.
    ``k`` at least the vocabulary size keeps everything.
    """
    z = _as_logits(logits)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k should be a positive integer, got {k!r}")
    if k >= z.shape[-1]:
        return z.copy()
    order = np.argsort(-z, axis=-1, kind="stable")  # descending, ties by id
    keep = np.zeros(z.shape, dtype=bool)
    np.put_along_axis(keep, order[..., :k], True, axis=-1)
    return np.where(keep, z, -np.inf)


def top_p_filter(logits: Any, p: float) -> np.ndarray:
    """Keep the smallest set of most likely tokens whose probability reaches ``p``.

    Sort tokens by probability, descending; keep token ``i`` while the mass *before* it is
    still below ``p``. The most likely token is always kept, and ``p = 1`` keeps every
    token with non-zero probability. (keras-hub's ``TopPSampler`` keeps a token while the
    mass before it is ``<= p``: the two differ only when a partial sum equals ``p``
    exactly.)
    """
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p should be in (0, 1], got {p!r}")
    z = _as_logits(logits)
    probs = softmax(z)
    order = np.argsort(-probs, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    mass_before = np.cumsum(sorted_probs, axis=-1) - sorted_probs
    keep_sorted = mass_before < p
    keep_sorted[..., 0] = True
    keep = np.zeros(z.shape, dtype=bool)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return np.where(keep & (probs > 0), z, -np.inf)


def sampling_probabilities(logits: Any, decoding: Decoding = Decoding()) -> np.ndarray:
    """The distribution a decoding rule samples from: temperature, then top-k, then top-p."""
    z = apply_temperature(logits, decoding.temperature)
    if decoding.top_k is not None:
        z = top_k_filter(z, decoding.top_k)
    if decoding.top_p is not None:
        z = top_p_filter(z, decoding.top_p)
    return softmax(z)


def sample(logits: Any, decoding: Decoding, rng: np.random.Generator) -> np.ndarray:
    """Draw one token per row of ``logits`` with ``decoding``; greedy needs no randomness."""
    if decoding.temperature == 0:
        return greedy(logits)
    probs = np.atleast_2d(sampling_probabilities(logits, decoding))
    # Inverse-CDF sampling, vectorized over rows; the clip guards against u > cdf[-1]
    # when the cumulative sum rounds to slightly below 1.
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random((probs.shape[0], 1)) * cdf[:, -1:]
    ids = np.minimum((cdf <= u).sum(axis=-1), probs.shape[-1] - 1)
    return ids if np.ndim(logits) == 2 else ids[0]


# --------------------------------------------------------------------------------------
# Generation loop


def generate(
    next_logits: NextLogits,
    prompt_ids: Sequence[int] | np.ndarray,
    num_tokens: int,
    decoding: Decoding = GREEDY,
    *,
    seed: int = 0,
    num_samples: int = 1,
) -> np.ndarray:
    """Extend ``prompt_ids`` by ``num_tokens`` tokens, one at a time.

    ``next_logits`` maps the ids so far, ``(num_samples, t)``, to the logits of the next
    token, ``(num_samples, V)``. Returns ``(num_samples, len(prompt) + num_tokens)`` ids.
    The same ``seed`` gives the same text.
    """
    prompt = np.asarray(prompt_ids, dtype=np.int64)
    if prompt.ndim != 1 or prompt.size == 0:
        raise ValueError(f"prompt_ids should be a non-empty 1-D sequence of ids, got shape {prompt.shape}")
    if num_tokens < 0 or num_samples < 1:
        raise ValueError(f"num_tokens should be >= 0 and num_samples >= 1, got {num_tokens} and {num_samples}")
    rng = np.random.default_rng(seed)
    ids = np.tile(prompt, (num_samples, 1))
    for _ in range(num_tokens):
        logits = np.asarray(next_logits(ids))
        if logits.ndim != 2 or logits.shape[0] != num_samples:
            raise ValueError(f"next_logits should return (num_samples={num_samples}, V) logits, "
                             f"got shape {logits.shape}")
        ids = np.concatenate([ids, sample(logits, decoding, rng)[:, None]], axis=1)
    return ids


def keras_next_logits(model: Any, block_size: int, *, jit_compile: bool = True) -> NextLogits:
    """Wrap a Keras causal LM ``(B, block_size) ids -> (B, block_size, V) logits``.

    The model always sees exactly ``block_size`` positions, so it is traced and compiled
    once: a context longer than that keeps its last ``block_size`` ids; a shorter one is
    padded on the right with id 0 and the logits are read at its last real position. The
    causal mask guarantees that padding to the right changes nothing to the left.
    """
    import tensorflow as tf

    if block_size < 1:
        raise ValueError(f"block_size should be >= 1, got {block_size}")

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def forward(window: tf.Tensor, last: tf.Tensor) -> tf.Tensor:
        logits = model(window, training=False)
        return tf.gather(logits, last, axis=1, batch_dims=0)[:, 0]

    def next_logits(ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"ids should be (batch, length >= 1), got shape {ids.shape}")
        window = ids[:, -block_size:]
        length = window.shape[1]
        if length < block_size:
            window = np.pad(window, ((0, 0), (0, block_size - length)))
        last = np.array([length - 1], dtype=np.int32)
        return forward(tf.constant(window, dtype=tf.int32), tf.constant(last)).numpy().astype(np.float64)

    return next_logits
