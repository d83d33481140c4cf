"""Training utilities: data windows, fit with timing, checkpoint/resume, MirroredStrategy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from slm_helpers import training

VOCAB, BLOCK, BATCH = 7, 8, 4


def token_stream(n: int = 2_000, seed: int = 0) -> np.ndarray:
    # A learnable stream: mostly "next id = id + 1", with some noise.
    rng = np.random.default_rng(seed)
    ids = np.cumsum(rng.choice([1, 1, 1, 2], size=n)) % VOCAB
    return ids.astype(np.int32)


def tiny_lm(seed: int = 0, jit_compile: bool | str = "auto"):
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((BLOCK,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 8)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(VOCAB)(x))
    schedule = keras.optimizers.schedules.CosineDecay(0.0, 40, warmup_target=0.05, warmup_steps=5)
    model.compile(keras.optimizers.AdamW(schedule, weight_decay=0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=2, jit_compile=jit_compile)
    return model


def test_window_starts_are_reproducible_and_in_range():
    a = training.window_starts(100, 10, 500, seed=1)
    np.testing.assert_array_equal(a, training.window_starts(100, 10, 500, seed=1))
    assert a.min() >= 0 and a.max() <= 100 - 11
    with pytest.raises(ValueError, match="too short"):
        training.window_starts(5, 10, 1, seed=0)


def test_windows_dataset_targets_are_inputs_shifted_by_one():
    tokens = np.arange(50, dtype=np.int32)
    ds = training.windows_dataset(tokens, np.array([0, 5, 41, 3]), block_size=8, batch_size=2)
    batches = [(x.numpy(), y.numpy()) for x, y in ds]
    assert len(batches) == 2
    x, y = batches[0]
    assert x.shape == y.shape == (2, 8) and x.dtype == np.int32
    np.testing.assert_array_equal(x[1], np.arange(5, 13))
    np.testing.assert_array_equal(y, x + 1)
    with pytest.raises(ValueError, match="window starts"):
        training.windows_dataset(tokens, np.array([45]), block_size=8, batch_size=1)


def test_random_windows_resume_sees_the_same_batches():
    tokens = token_stream()
    data = training.random_windows(tokens, block_size=BLOCK, batch_size=BATCH, steps=10, seed=3)
    full = [x.numpy() for x, _ in data(0, 10)]
    tail = [x.numpy() for x, _ in data(6, 4)]
    np.testing.assert_array_equal(np.stack(full[6:]), np.stack(tail))
    with pytest.raises(ValueError, match="outside"):
        data(8, 5)


def test_chunk_mean_recovers_the_mean_of_the_last_batches():
    losses = np.array([5.0, 4.0, 3.0, 2.5, 2.0, 1.0])
    m2, m6 = losses[:2].mean(), losses.mean()
    assert training.chunk_mean(m2, 2, m6, 6) == pytest.approx(losses[2:].mean())
    with pytest.raises(ValueError):
        training.chunk_mean(1.0, 3, 1.0, 3)


def test_fit_trains_and_reports_throughput():
    tokens = token_stream()
    data = training.random_windows(tokens, block_size=BLOCK, batch_size=BATCH, steps=40, seed=0)
    val = training.windows_dataset(tokens, training.window_starts(len(tokens), BLOCK, 16, seed=9), BLOCK, BATCH)
    run = training.fit(tiny_lm(), data, epochs=4, steps_per_epoch=10, validation_data=val,
                       tokens_per_step=BATCH * BLOCK, verbose=0)
    assert set(run.history) >= {"loss", "val_loss"} and len(run.history["val_loss"]) == 4
    assert run.history["val_loss"][-1] < 0.75 * np.log(VOCAB)
    assert run.steps == 40 and run.ms_per_step > 0
    assert run.tokens_per_second == pytest.approx(BATCH * BLOCK / run.ms_per_step * 1000)
    assert len(run.curves.val_loss) == 4 and run.curves.steps[-1] == 40
    assert run.final["val_loss"] == run.history["val_loss"][-1]


def test_fit_refuses_an_epoch_that_is_not_whole_executions():
    tokens = token_stream()
    data = training.random_windows(tokens, block_size=BLOCK, batch_size=BATCH, steps=40, seed=0)
    # Why: Keras itself rounds the epoch up to whole executions (5 steps asked, 6 run), silently.
    model = tiny_lm()
    model.fit(data(0, 40), epochs=1, steps_per_epoch=5, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 6
    with pytest.raises(ValueError, match="steps_per_epoch=5 is not a multiple of .*steps_per_execution=2"):
        training.fit(tiny_lm(), data, epochs=4, steps_per_epoch=5, live=False, verbose=0)


def test_interrupted_training_resumes_and_ends_at_the_same_place(tmp_path: Path):
    tokens = token_stream()
    val = training.windows_dataset(tokens, training.window_starts(len(tokens), BLOCK, 8, seed=9), BLOCK, BATCH)

    def run(model, directory, callbacks=()):
        data = training.random_windows(tokens, block_size=BLOCK, batch_size=BATCH, steps=40, seed=0)
        return training.fit(model, data, epochs=4, steps_per_epoch=10, validation_data=val,
                            checkpoint_dir=directory, callbacks=callbacks, live=False, verbose=0)

    straight = run(tiny_lm(seed=0, jit_compile=True), tmp_path / "straight")

    with pytest.raises(training.TrainingInterrupted):
        run(tiny_lm(seed=0, jit_compile=True), tmp_path / "resumed", callbacks=[training.stop_after(2)])
    state = json.loads((tmp_path / "resumed" / training.STATE_FILE).read_text())
    assert state["epoch"] == 2 and state["optimizer_iterations"] == 20

    # A new process would build a fresh model (other seed: the checkpoint must overwrite it)
    resumed = run(tiny_lm(seed=123, jit_compile=True), tmp_path / "resumed")
    assert resumed.resumed_from_epoch == 2 and resumed.epochs_run == 2
    assert int(resumed.model.optimizer.iterations.numpy()) == 40
    for a, b in zip(straight.model.get_weights(), resumed.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(resumed.history["val_loss"], straight.history["val_loss"], atol=1e-6)
    np.testing.assert_allclose(resumed.history["loss"], straight.history["loss"], atol=1e-6)

    # Running a finished run again does nothing and returns the saved history
    again = run(tiny_lm(seed=5), tmp_path / "resumed")
    assert again.epochs_run == 0 and again.history == resumed.history


def test_checkpoint_errors_are_clear(tmp_path: Path):
    model = tiny_lm()
    assert training.load_checkpoint(model, tmp_path / "none") is None
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / training.STATE_FILE).write_text("{}")
    with pytest.raises(FileNotFoundError, match="missing"):
        training.load_checkpoint(model, tmp_path / "broken")


def test_strategy_requires_a_model_built_in_its_scope():
    import tensorflow as tf

    with pytest.raises(ValueError, match="strategy.scope"):
        training.fit(tiny_lm(), None, epochs=1, strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {tests!r})
    from slm_helpers import training
    devices = training.logical_cpus(2)
    import numpy as np
    import tensorflow as tf
    from test_training import BATCH, BLOCK, VOCAB, tiny_lm, token_stream

    tokens = token_stream()
    val = training.windows_dataset(tokens, training.window_starts(len(tokens), BLOCK, 16, seed=9), BLOCK, BATCH)
    results = {{"devices": devices}}
    for name, strategy in [("single", None), ("mirrored", tf.distribute.MirroredStrategy(devices))]:
        data = training.random_windows(tokens, block_size=BLOCK, batch_size=BATCH, steps=40, seed=0)
        run = training.fit(lambda: tiny_lm(seed=0), data, epochs=4, steps_per_epoch=10,
                           validation_data=val, strategy=strategy, live=False, verbose=0)
        replicas = run.model.distribute_strategy.num_replicas_in_sync
        results[name] = {{"val_loss": run.history["val_loss"], "replicas": replicas,
                          "shapes": [list(w.shape) for w in run.model.get_weights()]}}
    print("RESULT " + json.dumps(results))
    """
)


def test_mirrored_strategy_over_two_logical_cpus_matches_single_device():
    # A fresh interpreter: logical devices must be configured before TensorFlow starts.
    script = MIRRORED_SCRIPT.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    results = json.loads(line[len("RESULT "):])
    assert len(results["devices"]) == 2
    single, mirrored = results["single"], results["mirrored"]
    assert single["replicas"] == 1 and mirrored["replicas"] == 2
    assert single["shapes"] == mirrored["shapes"]
    # Same global batch, gradients summed over replicas: the same training, up to rounding.
    np.testing.assert_allclose(mirrored["val_loss"], single["val_loss"], atol=1e-3)
    assert mirrored["val_loss"][-1] < 0.75 * np.log(VOCAB)


def test_live_plot_records_curves_outside_a_notebook():
    tokens = token_stream()
    data = training.random_windows(tokens, block_size=BLOCK, batch_size=BATCH, steps=20, seed=0)
    curves = training.Curves()
    plot = training.live_plot(steps_per_epoch=10, curves=curves, min_interval=0.0)
    training.fit(tiny_lm(), data, epochs=2, steps_per_epoch=10, callbacks=[plot], live=False, verbose=0)
    assert curves.steps == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]  # every execution of 2 steps
    assert all(np.isfinite(curves.loss))
    ax = training.plot_curves(curves, title="tiny")
    assert ax.get_title() == "tiny" and len(ax.lines) == 1
