"""How far two correct float32 runs of the same text CNN may differ, derived, and the check that uses it.

Two float32 implementations (Keras/XLA and LiteRT/XNNPACK) add the same products in different
orders, so their outputs differ by rounding. For a sum of n terms computed in float32 in any
order, |computed - exact| <= gamma_n * sum|terms|, gamma_n = n*u/(1 - n*u), u = 2**-24
(Higham, *Accuracy and Stability of Numerical Algorithms*, 3.1). :func:`cnn_error_bound` carries
that bound through the chain Embedding -> Conv1D(+ReLU) -> global max/average pooling -> Dense
(+sigmoid) for every example, from float64 activations. Two runs differ by at most twice it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..reference.losses import sigmoid

U = 2.0**-24  # float32 unit roundoff
ACTIVATION_ULPS = 8  # each runtime's sigmoid kernel: a few ulps (XNNPACK and Eigen use rational approximations)


def gamma(n: int) -> float:
    """Higham's gamma_n = n u / (1 - n u) for float32."""
    return n * U / (1 - n * U)


def _layers(id_model: Any) -> list[Any]:
    import keras

    return [la for la in id_model.layers if not isinstance(la, (keras.layers.InputLayer, keras.layers.Dropout))]


def cnn_error_bound(id_model: Any, ids: np.ndarray, *, chunk: int = 256) -> np.ndarray:
    """Per-example bound on |float32 output - exact output| for an ids -> CNN -> sigmoid model.

    Accepts Embedding, Conv1D (valid padding, stride 1, ReLU or linear), GlobalMax/AveragePooling1D,
    Dense (sigmoid or linear) layers in that order (Dropout ignored: inference). Returns ``(batch, units)``.
    """
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f"expected (batch, length) ids, got shape {ids.shape}")
    layers = _layers(id_model)
    # in chunks: the float64 convolution windows of 2,000 sentences would take ~0.3 GB at once
    return np.concatenate([_bound(layers, ids[i : i + chunk]) for i in range(0, len(ids), chunk)])


def _bound(layers: list[Any], ids: np.ndarray) -> np.ndarray:
    import keras

    x = err = None
    for layer in layers:
        name = type(layer).__name__
        weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
        if isinstance(layer, keras.layers.Embedding):
            x, err = weights[0][ids], np.zeros(ids.shape + (weights[0].shape[1],))  # a lookup is exact
        elif isinstance(layer, keras.layers.Conv1D):
            cfg = layer.get_config()
            if cfg["padding"] != "valid" or tuple(cfg["strides"]) != (1,) or tuple(cfg["dilation_rate"]) != (1,):
                raise ValueError("cnn_error_bound handles Conv1D with valid padding, stride 1, dilation 1")
            kernel, bias = weights[0], weights[1] if len(weights) > 1 else 0.0
            width = kernel.shape[0]
            steps = x.shape[1] - width + 1
            windows = np.stack([x[:, i : i + steps] for i in range(width)], axis=2)  # (b, t, width, e)
            err_windows = np.stack([err[:, i : i + steps] for i in range(width)], axis=2)
            a = np.einsum("btke,kef->btf", windows, kernel) + bias
            mag = np.einsum("btke,kef->btf", np.abs(windows), np.abs(kernel)) + np.abs(bias)
            err = gamma(kernel.shape[0] * kernel.shape[1] + 1) * mag + np.einsum(
                "btke,kef->btf", err_windows, np.abs(kernel)
            )
            x, err = _activate(cfg["activation"], a, err, name)
        elif isinstance(layer, keras.layers.GlobalMaxPooling1D):
            x, err = x.max(axis=1), err.max(axis=1)  # max is 1-Lipschitz in the sup norm
        elif isinstance(layer, keras.layers.GlobalAveragePooling1D):
            steps = x.shape[1]
            x, err = x.mean(axis=1), err.mean(axis=1) + gamma(steps + 1) * np.abs(x).mean(axis=1)
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = weights[0], weights[1] if len(weights) > 1 else 0.0
            z = x @ kernel + bias
            mag = np.abs(x) @ np.abs(kernel) + np.abs(bias)
            err = gamma(kernel.shape[0] + 1) * mag + err @ np.abs(kernel)
            x, err = _activate(layer.get_config()["activation"], z, err, name)
        else:
            raise ValueError(f"cnn_error_bound does not handle {name} layers")
    # second-order terms (rounding of rounding errors, float64's own) are below 1e-3 of the bound
    return err * (1 + 1e-3)


def _activate(activation: str, z: np.ndarray, err: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    if activation == "linear":
        return z, err
    if activation == "relu":
        return np.maximum(z, 0), err  # exact in both runtimes, 1-Lipschitz
    if activation == "sigmoid":
        p = sigmoid(z)
        # sigma'(z + d) <= sigma'(z) e^|d| <= 1/4, plus the kernel's own rounding
        return p, err * np.minimum(0.25, p * (1 - p) * np.exp(err)) + ACTIVATION_ULPS * U
    raise ValueError(f"cnn_error_bound handles relu, sigmoid and linear activations; {name} has {activation!r}")


def check_parity(reference: np.ndarray, candidate: np.ndarray, tolerance: np.ndarray | float) -> dict[str, float]:
    """Compare two output arrays elementwise within ``tolerance``; ``AssertionError`` with numbers if not."""
    reference, candidate = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    if reference.shape != candidate.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {candidate.shape}")
    diff = np.abs(reference - candidate)
    tolerance = np.broadcast_to(np.asarray(tolerance, np.float64), diff.shape)
    worst = int(np.argmax(diff - tolerance)) if diff.size else 0
    if diff.size and np.any(diff > tolerance):
        raise AssertionError(
            f"{int(np.sum(diff > tolerance))} of {diff.size} outputs differ by more than the tolerance; worst: "
            f"|diff| {diff.flat[worst]:.3g} > {tolerance.flat[worst]:.3g} at flat index {worst}"
        )
    ratio = float(np.max(diff / np.maximum(tolerance, 1e-300))) if diff.size else 0.0
    return {"max_abs_diff": float(diff.max()) if diff.size else 0.0, "max_tolerance": float(tolerance.max()),
            "worst_ratio": ratio}


def agreement(p_a: np.ndarray, p_b: np.ndarray, threshold: float = 0.5) -> float:
    """Share of examples where two sigmoid (or softmax) outputs give the same label."""
    p_a, p_b = np.asarray(p_a), np.asarray(p_b)
    if p_a.shape != p_b.shape:
        raise ValueError(f"shapes differ: {p_a.shape} vs {p_b.shape}")
    if p_a.ndim == 2 and p_a.shape[1] > 1:
        return float(np.mean(p_a.argmax(-1) == p_b.argmax(-1)))
    return float(np.mean((p_a.reshape(-1) > threshold) == (p_b.reshape(-1) > threshold)))
