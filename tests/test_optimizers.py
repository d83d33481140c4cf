"""FusedAdam (TensorFlow's fused ApplyAdam kernel) against keras.optimizers.Adam."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from slm_helpers.optimizers import FusedAdam


def _train(optimizer, steps=25, densify=False):
    """A few steps on an embedding (sparse IndexedSlices gradients) and a dense layer."""
    keras.utils.set_random_seed(0)
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(50, 8)(ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(ids, keras.layers.Dense(3)(x))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        x_batch = rng.integers(0, 50, size=(4, 6)).astype("int32")  # only some rows get gradients
        y_batch = rng.integers(0, 3, size=4)
        with tf.GradientTape() as tape:
            value = loss(y_batch, model(x_batch))
        grads = tape.gradient(value, model.trainable_variables)
        applied = [tf.convert_to_tensor(g) for g in grads] if densify else grads
        optimizer.apply_gradients(zip(applied, model.trainable_variables, strict=True))
    return [w.numpy() for w in model.trainable_variables], grads


def test_fused_adam_gives_keras_adam_weights():
    """Same weights as keras.optimizers.Adam given the (summed, dense) gradient."""
    ours, grads = _train(FusedAdam(learning_rate=0.01))
    theirs, _ = _train(keras.optimizers.Adam(learning_rate=0.01), densify=True)
    assert isinstance(grads[0], tf.IndexedSlices), "the embedding's gradient is sparse, as in lesson 08"
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-5)


def _slices(indices):
    """Three gradient rows for a (4, 2) variable; repeated indices add up."""
    values = tf.constant([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    return tf.IndexedSlices(values, tf.constant(indices), tf.constant([4, 2]))


def _sparse_steps(optimizer, indices):
    var = keras.Variable(np.zeros((4, 2), "float32"))
    grad = _slices(indices)
    for _ in range(3):
        optimizer.apply_gradients([(grad, var)])
    return var.numpy()


def _dense_steps(optimizer, indices):
    var = keras.Variable(np.zeros((4, 2), "float32"))
    grad = tf.convert_to_tensor(_slices(indices))  # sums the values of repeated rows
    for _ in range(3):
        optimizer.apply_gradients([(grad, var)])
    return var.numpy()


def test_repeated_rows_use_the_square_of_the_summed_gradient():
    """Row 1 occurs twice: Adam's v gets (g1 + g2)^2. Keras' Adam on the IndexedSlices does
    not (it squares each occurrence); FusedAdam does, like Keras' Adam on the dense sum."""
    dense = _dense_steps(keras.optimizers.Adam(0.1), [1, 1, 2])
    np.testing.assert_allclose(_sparse_steps(FusedAdam(0.1), [1, 1, 2]), dense, atol=1e-5)
    assert np.abs(_sparse_steps(keras.optimizers.Adam(0.1), [1, 1, 2]) - dense).max() > 0.05
    # Without repeated rows all three agree.
    unique = _dense_steps(keras.optimizers.Adam(0.1), [1, 2, 3])
    np.testing.assert_allclose(_sparse_steps(keras.optimizers.Adam(0.1), [1, 2, 3]), unique, atol=1e-6)
    np.testing.assert_allclose(_sparse_steps(FusedAdam(0.1), [1, 2, 3]), unique, atol=1e-5)


def test_fused_adam_moves_untouched_rows_like_dense_adam():
    """Rows without a gradient this step still move (their momentum decays): not lazy Adam."""
    var = keras.Variable(np.ones((3, 2), "float32"))
    optimizer = FusedAdam(learning_rate=0.1)
    optimizer.apply_gradients([(tf.IndexedSlices(tf.ones((1, 2)), tf.constant([0]), tf.constant([3, 2])), var)])
    after_one = var.numpy().copy()
    optimizer.apply_gradients([(tf.IndexedSlices(tf.ones((1, 2)), tf.constant([1]), tf.constant([3, 2])), var)])
    assert np.all(var.numpy()[0] < after_one[0]), "row 0 keeps moving on its momentum"
    np.testing.assert_allclose(var.numpy()[2], 1.0)  # never had a gradient: no momentum, no move


def test_fused_adam_round_trips_its_config():
    optimizer = FusedAdam(learning_rate=0.003, beta_2=0.98)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is FusedAdam and again.get_config() == optimizer.get_config()


@pytest.mark.parametrize("amsgrad", [True])
def test_fused_adam_falls_back_for_amsgrad(amsgrad):
    ours, _ = _train(FusedAdam(learning_rate=0.01, amsgrad=amsgrad), steps=5)
    theirs, _ = _train(keras.optimizers.Adam(learning_rate=0.01, amsgrad=amsgrad), steps=5)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_saved_model_loads_in_a_fresh_process_after_register(tmp_path):
    """Lesson 08's models are compiled with FusedAdam; a new process must be able to load them."""
    import subprocess
    import sys

    from slm_helpers import models

    path = tmp_path / "cnn.keras"
    models.build_cnn(50, 2, embedding_dim=8, filters=4, seed=0).save(path)
    load = f"import keras; m = keras.saving.load_model({str(path)!r}, safe_mode=True); "
    load += "print(type(m.optimizer).__name__)"
    without = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True)
    assert without.returncode != 0 and "FusedAdam" in without.stderr, "Keras alone does not know the class"
    with_register = subprocess.run(
        [sys.executable, "-c", "from slm_helpers import optimizers; optimizers.register(); " + load],
        capture_output=True,
        text=True,
    )
    assert with_register.returncode == 0, with_register.stderr[-2000:]
    assert with_register.stdout.strip().endswith("FusedAdam")
