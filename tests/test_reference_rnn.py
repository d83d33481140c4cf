"""The NumPy recurrent layers equal Keras's SimpleRNN, LSTM and GRU (COURSE.md §7: 1e-5, float32).

Every comparison is float32 against float32: the inputs and the weights copied from the
Keras layer are float32, and the reference computes in the inputs' dtype.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from slm_helpers.compare import compare
from slm_helpers.reference import rnn

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

ATOL = 1e-5
# (batch, time, features, units): one step of one unit, small, long and narrow, a realistic size
SHAPES = [(1, 1, 1, 1), (3, 7, 4, 5), (5, 12, 2, 8), (2, 20, 6, 3), (8, 40, 16, 32)]
MASKS = ["none", "ragged"]


def _inputs(shape: tuple[int, int, int, int], mask_kind: str, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    batch, time, features, _ = shape
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, time, features)).astype(np.float32)
    if mask_kind == "none":
        return x, None
    mask = rng.random((batch, time)) > 0.3
    mask[0, :] = True  # one full sequence
    if batch > 1:
        mask[1, : max(1, time // 3)] = False  # masked first steps: Keras outputs zeros there
    if batch > 2:
        mask[2, :] = False  # an empty sequence: outputs zero, state stays the initial one
    return x, mask


def _layer(kind: str, units: int, features: int, seed: int, **kwargs):
    """A built Keras layer whose weights, biases included, are all random (not the defaults).

    Scaled like Keras's initialisers (variance 1 / fan-in): much larger recurrent weights
    make a tanh RNN chaotic, and then any two float32 implementations drift apart.
    """
    factory = {"SimpleRNN": keras.layers.SimpleRNN, "LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU}[kind]
    layer = factory(units, return_sequences=True, return_state=True, **kwargs)
    layer.build((None, None, features))
    rng = np.random.default_rng(seed + 1000)
    scales = {"kernel": features**-0.5, "recurrent_kernel": units**-0.5, "bias": 0.5}
    layer.set_weights([rng.normal(scale=scales[v.name], size=v.shape).astype(np.float32) for v in layer.weights])
    return layer


def _keras_run(layer, x, mask, initial_state=None):
    kwargs = {}
    if mask is not None:
        kwargs["mask"] = tf.constant(mask)
    if initial_state is not None:
        kwargs["initial_state"] = initial_state
    return [t.numpy() for t in layer(tf.constant(x), **kwargs)]


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_simple_rnn_forward_equals_keras(shape, mask_kind):
    x, mask = _inputs(shape, mask_kind, seed=1)
    layer = _layer("SimpleRNN", shape[3], shape[2], seed=1)
    outputs, state = _keras_run(layer, x, mask)
    ours = rnn.simple_rnn_forward(x, rnn.weights_from_keras(layer), mask=mask)
    assert ours.outputs.dtype == np.float32
    compare("simple_rnn_forward outputs", ours.outputs, "keras.layers.SimpleRNN", outputs, atol=ATOL).assert_ok()
    compare("simple_rnn_forward state", ours.state, "keras.layers.SimpleRNN state", state, atol=ATOL).assert_ok()


def test_simple_rnn_last_output_is_keras_return_sequences_false():
    x, mask = _inputs((4, 9, 3, 6), "ragged", seed=2)
    layer = _layer("SimpleRNN", 6, 3, seed=2)
    last = keras.layers.SimpleRNN(6)
    last.build((None, None, 3))
    last.set_weights(layer.get_weights())
    theirs = last(tf.constant(x), mask=tf.constant(mask)).numpy()
    ours = rnn.simple_rnn_forward(x, rnn.weights_from_keras(layer), mask=mask)
    compare("last_output", ours.last_output, "SimpleRNN(return_sequences=False)", theirs, atol=ATOL).assert_ok()


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_simple_rnn_bptt_equals_gradient_tape(shape, mask_kind):
    """Every gradient BPTT gives (inputs, weights, initial state) equals tf.GradientTape's."""
    batch, time, features, units = shape
    x, mask = _inputs(shape, mask_kind, seed=3)
    rng = np.random.default_rng(3)
    h0 = rng.normal(scale=0.5, size=(batch, units)).astype(np.float32)
    # A loss that uses every output and the last state, L = Σ G·outputs + Σ g·state, averaged
    # over batch and time as Keras losses are (float32 rounding grows with the gradients' size)
    g_outputs = (rng.normal(size=(batch, time, units)) / (batch * time)).astype(np.float32)
    g_state = (rng.normal(size=(batch, units)) / batch).astype(np.float32)
    layer = _layer("SimpleRNN", units, features, seed=3)
    x_t, h0_t = tf.constant(x), tf.constant(h0)
    with tf.GradientTape() as tape:
        tape.watch([x_t, h0_t])
        kwargs = {"mask": tf.constant(mask)} if mask is not None else {}
        outputs, state = layer(x_t, initial_state=h0_t, **kwargs)
        loss = tf.reduce_sum(outputs * g_outputs) + tf.reduce_sum(state * g_state)
    d_x, d_h0, d_kernel, d_recurrent, d_bias = (
        g.numpy() for g in tape.gradient(loss, [x_t, h0_t, *layer.trainable_weights])
    )
    weights = rnn.weights_from_keras(layer)
    forward = rnn.simple_rnn_forward(x, weights, mask=mask, initial_state=h0)
    compare("forward with h0", forward.outputs, "SimpleRNN", outputs.numpy(), atol=ATOL).assert_ok()
    grads = rnn.simple_rnn_backward(g_outputs, forward, x, weights, d_state=g_state)
    for name, ours, theirs in [("dL/dx", grads.x, d_x), ("dL/dh0", grads.initial_state, d_h0),
                               ("dL/dkernel", grads.kernel, d_kernel),
                               ("dL/drecurrent_kernel", grads.recurrent_kernel, d_recurrent),
                               ("dL/dbias", grads.bias, d_bias)]:
        compare(f"BPTT {name}", ours, "tf.GradientTape", theirs, atol=ATOL).assert_ok()


def test_bptt_without_state_gradient_and_without_mask():
    x, _ = _inputs((2, 5, 3, 4), "none", seed=4)
    layer = _layer("SimpleRNN", 4, 3, seed=4)
    x_t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_t)
        outputs, _ = layer(x_t)
        loss = tf.reduce_sum(outputs[:, -1] ** 2)  # only the last output counts
    d_x = tape.gradient(loss, x_t).numpy()
    weights = rnn.weights_from_keras(layer)
    forward = rnn.simple_rnn_forward(x, weights)
    d_outputs = np.zeros_like(forward.outputs)
    d_outputs[:, -1] = 2 * forward.outputs[:, -1]
    grads = rnn.simple_rnn_backward(d_outputs, forward, x, weights)
    compare("BPTT dL/dx", grads.x, "tf.GradientTape", d_x, atol=ATOL).assert_ok()


@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_lstm_forward_equals_keras(shape, mask_kind):
    x, mask = _inputs(shape, mask_kind, seed=5)
    layer = _layer("LSTM", shape[3], shape[2], seed=5)
    outputs, h, c = _keras_run(layer, x, mask)
    ours = rnn.lstm_forward(x, rnn.weights_from_keras(layer), mask=mask)
    compare("lstm_forward outputs", ours.outputs, "keras.layers.LSTM", outputs, atol=ATOL).assert_ok()
    compare("lstm_forward h", ours.state, "keras.layers.LSTM h", h, atol=ATOL).assert_ok()
    compare("lstm_forward c", ours.cell_state, "keras.layers.LSTM c", c, atol=ATOL).assert_ok()


def test_lstm_initial_states_equal_keras():
    x, mask = _inputs((3, 6, 2, 4), "ragged", seed=6)
    rng = np.random.default_rng(6)
    h0, c0 = (rng.normal(size=(3, 4)).astype(np.float32) for _ in range(2))
    layer = _layer("LSTM", 4, 2, seed=6)
    outputs, h, c = _keras_run(layer, x, mask, initial_state=[h0, c0])
    ours = rnn.lstm_forward(x, rnn.weights_from_keras(layer), mask=mask, initial_state=h0, initial_cell_state=c0)
    compare("lstm outputs from (h0, c0)", ours.outputs, "keras.layers.LSTM", outputs, atol=ATOL).assert_ok()
    compare("lstm c from (h0, c0)", ours.cell_state, "keras.layers.LSTM c", c, atol=ATOL).assert_ok()


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_gru_forward_equals_keras(shape, mask_kind, reset_after):
    x, mask = _inputs(shape, mask_kind, seed=7)
    layer = _layer("GRU", shape[3], shape[2], seed=7, reset_after=reset_after)
    outputs, state = _keras_run(layer, x, mask)
    weights = rnn.weights_from_keras(layer)
    assert weights.reset_after is reset_after
    assert weights.bias.shape == ((2, 3 * shape[3]) if reset_after else (3 * shape[3],))
    ours = rnn.gru_forward(x, weights, mask=mask)
    name = f"keras.layers.GRU(reset_after={reset_after})"
    compare("gru_forward outputs", ours.outputs, name, outputs, atol=ATOL).assert_ok()
    compare("gru_forward state", ours.state, name, state, atol=ATOL).assert_ok()


def test_gru_variants_differ():
    """reset_after changes the function: using the wrong variant is caught, not hidden."""
    x, _ = _inputs((2, 5, 3, 4), "none", seed=8)
    layer = _layer("GRU", 4, 3, seed=8)
    w = rnn.weights_from_keras(layer)
    before = rnn.GRUWeights(w.kernel, w.recurrent_kernel, w.bias[0] + w.bias[1], reset_after=False)
    diff = np.abs(rnn.gru_forward(x, w).outputs - rnn.gru_forward(x, before).outputs).max()
    assert diff > 1e-3


def test_layers_without_bias():
    x, mask = _inputs((3, 5, 2, 3), "ragged", seed=9)
    for kind, forward in [("SimpleRNN", rnn.simple_rnn_forward), ("LSTM", rnn.lstm_forward),
                          ("GRU", rnn.gru_forward)]:
        layer = _layer(kind, 3, 2, seed=9, use_bias=False)
        outputs = _keras_run(layer, x, mask)[0]
        ours = forward(x, rnn.weights_from_keras(layer), mask=mask).outputs
        compare(f"{kind} without bias", ours, f"keras.layers.{kind}", outputs, atol=ATOL).assert_ok()


def test_steps_match_a_one_step_forward():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 1, 3)).astype(np.float32)
    h = rng.normal(size=(2, 4)).astype(np.float32)
    c = rng.normal(size=(2, 4)).astype(np.float32)
    lstm = rnn.weights_from_keras(_layer("LSTM", 4, 3, seed=10))
    h1, c1 = rnn.lstm_step(x[:, 0], h, c, lstm)
    full = rnn.lstm_forward(x, lstm, initial_state=h, initial_cell_state=c)
    np.testing.assert_allclose(h1, full.state, atol=1e-7)
    np.testing.assert_allclose(c1, full.cell_state, atol=1e-7)
    gru = rnn.weights_from_keras(_layer("GRU", 4, 3, seed=10))
    np.testing.assert_allclose(rnn.gru_step(x[:, 0], h, gru), rnn.gru_forward(x, gru, initial_state=h).state, atol=1e-7)


def test_float64_inputs_compute_in_float64():
    rng = np.random.default_rng(11)
    w = rnn.SimpleRNNWeights(rng.normal(size=(2, 3)), rng.normal(size=(3, 3)), rng.normal(size=3))
    result = rnn.simple_rnn_forward(rng.normal(size=(1, 4, 2)), w)
    assert result.outputs.dtype == np.float64


def test_sigmoid_is_stable_and_exact():
    x = np.array([-1000.0, -5.0, 0.0, 5.0, 1000.0])
    with np.errstate(all="raise"):
        s = rnn.sigmoid(x)
    np.testing.assert_allclose(s, [0.0, 1 / (1 + np.exp(5)), 0.5, 1 / (1 + np.exp(-5)), 1.0], rtol=1e-12, atol=1e-300)


def test_bad_shapes_and_layers_are_explained():
    rng = np.random.default_rng(12)
    w = rnn.SimpleRNNWeights(rng.normal(size=(2, 3)), rng.normal(size=(3, 3)), rng.normal(size=3))
    with pytest.raises(ValueError, match="batch, time, features"):
        rnn.simple_rnn_forward(rng.normal(size=(4, 2)), w)
    with pytest.raises(ValueError, match="features"):
        rnn.simple_rnn_forward(rng.normal(size=(1, 4, 5)), w)
    with pytest.raises(ValueError, match="mask"):
        rnn.simple_rnn_forward(rng.normal(size=(1, 4, 2)), w, mask=np.ones((1, 3), bool))
    with pytest.raises(ValueError, match="initial state"):
        rnn.simple_rnn_forward(rng.normal(size=(1, 4, 2)), w, initial_state=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="recurrent_kernel"):
        rnn.LSTMWeights(rng.normal(size=(2, 12)), rng.normal(size=(3, 9)), rng.normal(size=12))
    with pytest.raises(ValueError, match=r"\(2, 3 \* units\)"):
        rnn.GRUWeights(rng.normal(size=(2, 9)), rng.normal(size=(3, 9)), rng.normal(size=9), reset_after=True)
    with pytest.raises(ValueError, match="not built"):
        rnn.weights_from_keras(keras.layers.LSTM(3))
    with pytest.raises(ValueError, match="SimpleRNN, LSTM or GRU"):
        rnn.weights_from_keras(keras.layers.Dense(3))
    relu = keras.layers.SimpleRNN(3, activation="relu")
    relu.build((None, None, 2))
    with pytest.raises(ValueError, match="tanh"):
        rnn.weights_from_keras(relu)


def test_importing_the_module_does_not_import_tensorflow():
    """``import slm_helpers`` must stay fast: Keras is imported only by weights_from_keras."""
    code = "import sys, slm_helpers.reference.rnn; print('keras' in sys.modules or 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
