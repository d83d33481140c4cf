"""Recurrent layers in NumPy: SimpleRNN (forward and BPTT), LSTM and GRU, in Keras's layout.

Written to be read next to lessons 04 and 05, and proven equal to ``keras.layers.SimpleRNN``,
``LSTM`` and ``GRU`` (unit tests in ``tests/test_reference_rnn.py``). Conventions, all
Keras's:

- Inputs are batch-major, ``x`` of shape ``(batch, time, features)``; row vectors, so a
  step is ``x_t @ kernel + h @ recurrent_kernel + bias``.
- Gates are packed side by side in the columns: LSTM ``[i, f, c, o]``, GRU ``[z, r, h]``.
- GRU: ``h_t = z * h_{t-1} + (1 - z) * h̃`` (``z`` keeps the old state). With
  ``reset_after=True`` (the Keras default) the bias has shape ``(2, 3 * units)``: row 0 is
  the input bias, row 1 the recurrent bias, and the reset gate multiplies
  ``h_{t-1} @ U_h + b_h`` *after* the matrix product.
- Masks: ``mask`` of shape ``(batch, time)``, True where the step is real. A masked step
  leaves the state unchanged, and its output repeats the previous step's output (zeros
  before the first real step), which is what Keras returns with ``return_sequences=True``.

The arithmetic runs in the dtype of the inputs (``float32`` in, ``float32`` out), so the
comparison with Keras is float32 against float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "SimpleRNNWeights", "LSTMWeights", "GRUWeights", "RNNResult", "SimpleRNNGrads",
    "sigmoid", "simple_rnn_step", "simple_rnn_forward", "simple_rnn_backward",
    "lstm_step", "lstm_forward", "gru_step", "gru_forward", "weights_from_keras",
]


# --------------------------------------------------------------------------- weights


@dataclass(frozen=True)
class SimpleRNNWeights:
    """``h_t = tanh(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``."""

    kernel: np.ndarray  # (features, units)
    recurrent_kernel: np.ndarray  # (units, units)
    bias: np.ndarray  # (units,)

    def __post_init__(self) -> None:
        _check_weights("SimpleRNN", self.kernel, self.recurrent_kernel, self.bias, gates=1, bias_shape=None)

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]


@dataclass(frozen=True)
class LSTMWeights:
    """LSTM weights, gates packed ``[i, f, c, o]`` along the last axis (Keras order)."""

    kernel: np.ndarray  # (features, 4 * units)
    recurrent_kernel: np.ndarray  # (units, 4 * units)
    bias: np.ndarray  # (4 * units,)

    def __post_init__(self) -> None:
        _check_weights("LSTM", self.kernel, self.recurrent_kernel, self.bias, gates=4, bias_shape=None)

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]


@dataclass(frozen=True)
class GRUWeights:
    """GRU weights, gates packed ``[z, r, h]``; bias ``(2, 3 * units)`` when ``reset_after``."""

    kernel: np.ndarray  # (features, 3 * units)
    recurrent_kernel: np.ndarray  # (units, 3 * units)
    bias: np.ndarray  # (2, 3 * units) if reset_after else (3 * units,)
    reset_after: bool = True

    def __post_init__(self) -> None:
        units = np.shape(self.recurrent_kernel)[0]
        shape = (2, 3 * units) if self.reset_after else (3 * units,)
        _check_weights("GRU", self.kernel, self.recurrent_kernel, self.bias, gates=3, bias_shape=shape)

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]


def _check_weights(name: str, kernel: Any, recurrent: Any, bias: Any, *, gates: int,
                   bias_shape: tuple[int, ...] | None) -> None:
    kernel, recurrent, bias = np.shape(kernel), np.shape(recurrent), np.shape(bias)
    if len(recurrent) != 2 or recurrent[1] != gates * recurrent[0]:
        raise ValueError(f"{name}: recurrent_kernel should have shape (units, {gates} * units), got {recurrent}")
    units = recurrent[0]
    if len(kernel) != 2 or kernel[1] != gates * units:
        raise ValueError(f"{name}: kernel should have shape (features, {gates * units}) for {units} units, "
                         f"got {kernel}")
    expected = bias_shape if bias_shape is not None else (gates * units,)
    if bias != expected:
        raise ValueError(f"{name}: bias should have shape {expected}, got {bias}"
                         + (" (reset_after=True needs the (2, 3 * units) bias)" if name == "GRU" else ""))


def weights_from_keras(layer: Any) -> SimpleRNNWeights | LSTMWeights | GRUWeights:
    """Copy the weights of a built ``keras.layers.SimpleRNN``, ``LSTM`` or ``GRU`` (or its cell).

    Raises ``ValueError`` for a layer this module does not reproduce (other activations,
    unbuilt layers, other layer types). A layer without bias gets a zero bias.
    """
    import keras

    cell = getattr(layer, "cell", layer)
    kinds = {keras.layers.SimpleRNNCell: "SimpleRNN", keras.layers.LSTMCell: "LSTM", keras.layers.GRUCell: "GRU"}
    kind = next((name for cls, name in kinds.items() if isinstance(cell, cls)), None)
    if kind is None:
        raise ValueError(f"expected a keras SimpleRNN, LSTM or GRU layer (or cell), got {type(layer).__name__}")
    if not cell.built:
        raise ValueError(f"the {kind} layer is not built yet: call it on an input (or build it) first")
    activation = keras.activations.serialize(cell.activation)
    if activation != "tanh":
        raise ValueError(f"{kind}: only activation='tanh' is reproduced here, the layer uses {activation!r}")
    if kind != "SimpleRNN":
        recurrent = keras.activations.serialize(cell.recurrent_activation)
        if recurrent != "sigmoid":
            raise ValueError(f"{kind}: only recurrent_activation='sigmoid' is reproduced, the layer uses {recurrent!r}")
    kernel = np.asarray(cell.kernel.numpy())
    recurrent_kernel = np.asarray(cell.recurrent_kernel.numpy())
    units = recurrent_kernel.shape[0]
    if kind == "GRU":
        shape = (2, 3 * units) if cell.reset_after else (3 * units,)
        bias = cell.bias.numpy() if cell.use_bias else np.zeros(shape, kernel.dtype)
        return GRUWeights(kernel, recurrent_kernel, np.asarray(bias), reset_after=bool(cell.reset_after))
    gates = 1 if kind == "SimpleRNN" else 4
    bias = cell.bias.numpy() if cell.use_bias else np.zeros(gates * units, kernel.dtype)
    cls = SimpleRNNWeights if kind == "SimpleRNN" else LSTMWeights
    return cls(kernel, recurrent_kernel, np.asarray(bias))


# --------------------------------------------------------------------------- helpers


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-x))``, written via tanh so it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _prepare(x: Any, mask: Any, weights: Any,
             states: list[Any | None]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Check shapes, pick the dtype, fill missing initial states with zeros."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x should have shape (batch, time, features), got {x.shape}; "
                         "add a batch axis with x[None] for a single sequence")
    batch, time, features = x.shape
    if features != weights.kernel.shape[0]:
        raise ValueError(f"x has {features} features but the kernel expects {weights.kernel.shape[0]}")
    dtype = np.result_type(x.dtype, weights.kernel.dtype, np.float32)
    if mask is None:
        mask = np.ones((batch, time), bool)
    mask = np.asarray(mask)
    if mask.shape != (batch, time):
        raise ValueError(f"mask should have shape (batch, time) = {(batch, time)}, got {mask.shape}")
    out = []
    for s in states:
        s = np.zeros((batch, weights.units), dtype) if s is None else np.asarray(s, dtype)
        if s.shape != (batch, weights.units):
            raise ValueError(f"an initial state should have shape (batch, units) = {(batch, weights.units)}, "
                             f"got {s.shape}")
        out.append(s)
    return x.astype(dtype, copy=False), mask.astype(bool), out


def _cast(weights: Any, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.asarray(a, dtype) for a in (weights.kernel, weights.recurrent_kernel, weights.bias))


@dataclass(frozen=True)
class RNNResult:
    """What a forward pass returns.

    ``outputs``: ``(batch, time, units)``, what Keras returns with ``return_sequences=True``;
    ``state``: the last hidden state (``return_state``); ``cell_state``: the LSTM's last
    ``c`` (None for other layers); ``states``: the hidden state after every step,
    ``(batch, time, units)``; ``initial_state`` and ``mask``: what the pass started from and
    which steps were real. The last three are what :func:`simple_rnn_backward` needs.
    """

    outputs: np.ndarray
    state: np.ndarray
    states: np.ndarray
    cell_state: np.ndarray | None = None
    initial_state: np.ndarray | None = None
    mask: np.ndarray | None = None

    @property
    def last_output(self) -> np.ndarray:
        """What Keras returns with ``return_sequences=False``."""
        return self.outputs[:, -1]


def _masked(m_t: np.ndarray, new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``new`` where the step is real, ``old`` where it is masked (m_t has shape (batch, 1))."""
    return np.where(m_t, new, old)


# --------------------------------------------------------------------------- SimpleRNN


def simple_rnn_step(x_t: np.ndarray, h_prev: np.ndarray, weights: SimpleRNNWeights) -> np.ndarray:
    """One step: ``h_t = tanh(x_t @ W + h_{t-1} @ U + b)`` for a batch of rows."""
    return np.tanh(x_t @ weights.kernel + h_prev @ weights.recurrent_kernel + weights.bias)


def simple_rnn_forward(x: Any, weights: SimpleRNNWeights, *, mask: Any = None,
                       initial_state: Any = None) -> RNNResult:
    """Run a tanh RNN over ``x`` of shape ``(batch, time, features)``, as ``keras.layers.SimpleRNN``."""
    x, mask, (h,) = _prepare(x, mask, weights, [initial_state])
    weights = SimpleRNNWeights(*_cast(weights, x.dtype))
    h0 = h
    output = np.zeros_like(h)  # Keras repeats the previous output at masked steps, zeros at first
    outputs, states = [], []
    for t in range(x.shape[1]):
        m_t = mask[:, t, None]
        h_new = simple_rnn_step(x[:, t], h, weights)
        h = _masked(m_t, h_new, h)
        output = _masked(m_t, h_new, output)
        outputs.append(output)
        states.append(h)
    return RNNResult(np.stack(outputs, axis=1), h, np.stack(states, axis=1), initial_state=h0, mask=mask)


@dataclass(frozen=True)
class SimpleRNNGrads:
    """Gradients of a loss with respect to the inputs, the weights and the initial state."""

    x: np.ndarray  # (batch, time, features)
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray
    initial_state: np.ndarray  # (batch, units)


def simple_rnn_backward(d_outputs: Any, result: RNNResult, x: Any, weights: SimpleRNNWeights, *,
                        d_state: Any = None) -> SimpleRNNGrads:
    """Backpropagation through time for :func:`simple_rnn_forward`.

    ``d_outputs`` is ``dL/d outputs`` ``(batch, time, units)`` (zeros where the loss does not
    use an output); ``d_state`` is ``dL/d state`` for the returned last state, if the loss
    uses it. Walks the steps backwards, carrying ``dL/dh`` from each step to the one before:

    ``da_t = dh_t * (1 - h_t**2)``, ``dW += x_t.T @ da_t``, ``dU += h_{t-1}.T @ da_t``,
    ``db += sum(da_t)``, ``dx_t = da_t @ W.T``, ``dh_{t-1} = da_t @ U.T``.
    """
    x = np.asarray(x, result.states.dtype)
    d_outputs = np.asarray(d_outputs, x.dtype)
    if d_outputs.shape != result.outputs.shape:
        raise ValueError(f"d_outputs should have the outputs' shape {result.outputs.shape}, got {d_outputs.shape}")
    W, U, _ = _cast(weights, x.dtype)
    mask = result.mask if result.mask is not None else np.ones(x.shape[:2], bool)
    h0 = result.initial_state if result.initial_state is not None else np.zeros_like(result.state)
    dW, dU = np.zeros_like(W), np.zeros_like(U)
    db = np.zeros(U.shape[0], x.dtype)
    dx = np.zeros_like(x)
    dh = np.zeros_like(result.state) if d_state is None else np.asarray(d_state, x.dtype).copy()
    d_carried_output = np.zeros_like(dh)  # gradient reaching an output repeated at masked steps
    for t in reversed(range(x.shape[1])):
        m_t = mask[:, t, None]
        h_prev = result.states[:, t - 1] if t > 0 else h0
        d_out = d_outputs[:, t] + d_carried_output
        # At a real step the output and the state are both h_new; at a masked step they
        # pass the previous output and state through unchanged.
        d_h_new = np.where(m_t, dh + d_out, 0.0)
        d_carried_output = np.where(m_t, 0.0, d_out)
        h_new = result.states[:, t]  # equals h_new wherever m_t is True, which is all that is used
        da = d_h_new * (1.0 - h_new**2)  # tanh'(a) = 1 - tanh(a)**2
        dW += x[:, t].T @ da
        dU += h_prev.T @ da
        db += da.sum(axis=0)
        dx[:, t] = da @ W.T
        dh = da @ U.T + np.where(m_t, 0.0, dh)
    return SimpleRNNGrads(dx, dW, dU, db, dh)


# --------------------------------------------------------------------------- LSTM


def lstm_step(x_t: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray,
              weights: LSTMWeights) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step, Keras gate order ``[i, f, c, o]``; returns ``(h_t, c_t)``.

    ``i, f, o = σ(·)`` (input, forget, output gates), ``c̃ = tanh(·)`` (candidate),
    ``c_t = f * c_{t-1} + i * c̃`` and ``h_t = o * tanh(c_t)``.
    """
    z = x_t @ weights.kernel + h_prev @ weights.recurrent_kernel + weights.bias
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)
    c_candidate = np.tanh(z_c)
    c = f * c_prev + i * c_candidate
    h = o * np.tanh(c)
    return h, c


def lstm_forward(x: Any, weights: LSTMWeights, *, mask: Any = None, initial_state: Any = None,
                 initial_cell_state: Any = None) -> RNNResult:
    """Run an LSTM over ``x`` of shape ``(batch, time, features)``, as ``keras.layers.LSTM``."""
    x, mask, (h, c) = _prepare(x, mask, weights, [initial_state, initial_cell_state])
    weights = LSTMWeights(*_cast(weights, x.dtype))
    h0 = h
    output = np.zeros_like(h)
    outputs, states = [], []
    for t in range(x.shape[1]):
        m_t = mask[:, t, None]
        h_new, c_new = lstm_step(x[:, t], h, c, weights)
        h, c = _masked(m_t, h_new, h), _masked(m_t, c_new, c)
        output = _masked(m_t, h_new, output)
        outputs.append(output)
        states.append(h)
    return RNNResult(np.stack(outputs, axis=1), h, np.stack(states, axis=1), cell_state=c,
                     initial_state=h0, mask=mask)


# --------------------------------------------------------------------------- GRU


def gru_step(x_t: np.ndarray, h_prev: np.ndarray, weights: GRUWeights) -> np.ndarray:
    """One GRU step, Keras gate order ``[z, r, h]``; returns ``h_t``.

    ``z = σ(x W_z + h U_z + b_z)`` (update), ``r = σ(x W_r + h U_r + b_r)`` (reset),
    candidate ``h̃ = tanh(x W_h + r * (h U_h + b'_h) + b_h)`` when ``reset_after`` (Keras and
    cuDNN), ``h̃ = tanh(x W_h + (r * h) U_h + b_h)`` otherwise (the 2014 paper), and
    ``h_t = z * h_{t-1} + (1 - z) * h̃``.
    """
    units = weights.units
    W, U = weights.kernel, weights.recurrent_kernel
    if weights.reset_after:
        b_input, b_recurrent = weights.bias[0], weights.bias[1]
    else:
        b_input, b_recurrent = weights.bias, np.zeros_like(weights.bias)
    x_z, x_r, x_h = np.split(x_t @ W + b_input, 3, axis=-1)
    # The update and reset gates see h_{t-1} through the first 2 * units columns of U.
    h_z, h_r = np.split(h_prev @ U[:, : 2 * units] + b_recurrent[: 2 * units], 2, axis=-1)
    z = sigmoid(x_z + h_z)
    r = sigmoid(x_r + h_r)
    U_h = U[:, 2 * units:]
    if weights.reset_after:
        h_candidate = np.tanh(x_h + r * (h_prev @ U_h + b_recurrent[2 * units:]))
    else:
        h_candidate = np.tanh(x_h + (r * h_prev) @ U_h)
    return z * h_prev + (1.0 - z) * h_candidate


def gru_forward(x: Any, weights: GRUWeights, *, mask: Any = None, initial_state: Any = None) -> RNNResult:
    """Run a GRU over ``x`` of shape ``(batch, time, features)``, as ``keras.layers.GRU``."""
    x, mask, (h,) = _prepare(x, mask, weights, [initial_state])
    weights = GRUWeights(*_cast(weights, x.dtype), reset_after=weights.reset_after)
    h0 = h
    output = np.zeros_like(h)
    outputs, states = [], []
    for t in range(x.shape[1]):
        m_t = mask[:, t, None]
        h_new = gru_step(x[:, t], h, weights)
        h = _masked(m_t, h_new, h)
        output = _masked(m_t, h_new, output)
        outputs.append(output)
        states.append(h)
    return RNNResult(np.stack(outputs, axis=1), h, np.stack(states, axis=1), initial_state=h0, mask=mask)
