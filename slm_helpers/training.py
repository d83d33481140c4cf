"""Training utilities: a live loss plot, checkpoints that resume, timing, and scale-out.

:func:`fit` wraps ``model.fit`` with what every lesson that trains needs:

- a **live plot** (:func:`live_plot`) that redraws one figure in place, so a long run does
  not flood the notebook, next to Keras's usual progress bar;
- **checkpoints** (:class:`checkpoint state <CheckpointState>` in ``checkpoint_dir``)
  written after every epoch: the weights *and* the optimizer state (moments, step count,
  hence the learning-rate schedule) and the history. Run the same call again after an
  interruption and it resumes from the last checkpoint and ends where an uninterrupted
  run ends, provided the data of epoch ``e`` does not depend on where the run started
  (pass ``data`` as a function of the first epoch, e.g. :func:`random_windows`);
- **timing** (:class:`Throughput`): milliseconds per step and tokens per second, measured
  after the first execution, which includes tracing and XLA compilation;
- **scale-out**: ``strategy=`` a ``tf.distribute.Strategy`` (``MirroredStrategy`` over
  the GPUs or CPUs of one machine, ``MultiWorkerMirroredStrategy`` over machines). The
  model must be built inside ``strategy.scope()``, so pass a function that builds and
  compiles it; the global batch is split across replicas.

Keras and TensorFlow are imported inside the functions, so ``import slm_helpers`` stays
fast. The data helpers build ``tf.data`` pipelines of random windows from one long array
of token ids, the input of a language model.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

STATE_FILE = "state.json"
WEIGHTS_FILE = "latest.weights.h5"

# --------------------------------------------------------------------------------------
# Data: random windows of a token stream


def window_starts(num_tokens: int, block_size: int, count: int, seed: int) -> np.ndarray:
    """``count`` random start positions of windows of ``block_size + 1`` tokens.

    A window of ``block_size + 1`` ids gives the input (the first ``block_size``) and the
    target (the same shifted by one). Starts depend only on ``seed``, so batch ``i`` of a
    run is the same whether the run started at 0 or resumed later.
    """
    if block_size < 1 or count < 0:
        raise ValueError(f"block_size should be >= 1 and count >= 0, got {block_size} and {count}")
    if num_tokens < block_size + 1:
        raise ValueError(f"a stream of {num_tokens} tokens is too short for windows of {block_size + 1}")
    rng = np.random.default_rng(seed)
    return rng.integers(0, num_tokens - block_size, size=count).astype(np.int64)


def windows_dataset(tokens: np.ndarray, starts: np.ndarray, block_size: int, batch_size: int) -> Any:
    """A ``tf.data.Dataset`` of ``(x, y)`` batches, ``(batch_size, block_size)`` int32 each.

    ``y`` is ``x`` shifted left by one token: at every position the model predicts the next
    token. Windows are cut by ``tf.gather`` inside the pipeline, which runs in parallel with
    training (``prefetch``), so the step never waits for Python.
    """
    import tensorflow as tf

    tokens = np.asarray(tokens)
    if tokens.ndim != 1:
        raise ValueError(f"tokens should be one 1-D stream of ids, got shape {tokens.shape}")
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size and (starts.min() < 0 or starts.max() + block_size + 1 > len(tokens)):
        raise ValueError(
            f"window starts should lie in [0, {len(tokens) - block_size - 1}], got [{starts.min()}, {starts.max()}]"
        )
    stream = tf.constant(tokens.astype(np.int32))
    offsets = tf.range(block_size + 1, dtype=tf.int64)

    def cut(batch_starts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        window = tf.gather(stream, batch_starts[:, None] + offsets[None, :])
        return window[:, :-1], window[:, 1:]

    ds = tf.data.Dataset.from_tensor_slices(starts).batch(batch_size, drop_remainder=True)
    return ds.map(cut, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def random_windows(
    tokens: np.ndarray, *, block_size: int, batch_size: int, steps: int, seed: int
) -> Callable[[int, int], Any]:
    """Training data for :func:`fit`: a function ``(first_step, steps) -> dataset``.

    The run draws ``steps`` batches of random windows once, from ``seed``; the function
    returns the batches from ``first_step`` on, which is what a resumed run needs.
    """
    starts = window_starts(len(tokens), block_size, steps * batch_size, seed)

    def data(first_step: int, num_steps: int) -> Any:
        if not 0 <= first_step <= steps or first_step + num_steps > steps:
            raise ValueError(f"steps {first_step}..{first_step + num_steps} are outside this run's {steps} steps")
        chosen = starts[first_step * batch_size : (first_step + num_steps) * batch_size]
        return windows_dataset(tokens, chosen, block_size, batch_size)

    data.steps = steps  # type: ignore[attr-defined]
    return data


# --------------------------------------------------------------------------------------
# Callbacks (classes are created on first use, so that Keras is imported lazily)


@dataclass
class Curves:
    """What a live plot shows: training loss per logged step, validation loss per epoch."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)

    def add_train(self, step: int, loss: float) -> None:
        self.steps.append(int(step))
        self.loss.append(float(loss))

    def add_val(self, step: int, loss: float) -> None:
        self.val_steps.append(int(step))
        self.val_loss.append(float(loss))


def chunk_mean(previous_mean: float, previous_count: int, mean: float, count: int) -> float:
    """Mean over batches ``previous_count+1 .. count`` from two running means.

    Keras logs the running mean of the loss since the start of the epoch; the loss of the
    last few steps alone is ``(mean·count − previous_mean·previous_count) / (count −
    previous_count)``, which shows progress without the lag of the running mean.
    """
    if count <= previous_count:
        raise ValueError(f"count ({count}) should be larger than previous_count ({previous_count})")
    return (mean * count - previous_mean * previous_count) / (count - previous_count)


def plot_curves(curves: Curves, *, ax: Any = None, title: str = "", ylabel: str = "loss (nats/token)") -> Any:
    """Draw training and validation loss against the step; returns the matplotlib axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    ax.clear()
    if curves.steps:
        ax.plot(curves.steps, curves.loss, label="train (last steps)", color="tab:blue", alpha=0.8)
    if curves.val_steps:
        ax.plot(curves.val_steps, curves.val_loss, "o-", label="validation", color="tab:orange")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if curves.steps or curves.val_steps:
        ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    return ax


@cache
def _callback_classes() -> dict[str, type]:
    import keras

    class LivePlot(keras.callbacks.Callback):
        """Redraw one figure with the loss curves, at most every ``min_interval`` seconds.

        In a notebook the figure is shown once and updated in place through a display
        handle (one output, not one per update); outside IPython nothing is drawn and the
        curves are only recorded. ``step_offset`` and ``curves`` let a resumed run continue
        the same plot.
        """

        def __init__(
            self, *, steps_per_epoch: int, title: str = "", min_interval: float = 2.0, curves: Curves | None = None
        ) -> None:
            super().__init__()
            self.steps_per_epoch, self.title, self.min_interval = steps_per_epoch, title, min_interval
            self.curves = curves if curves is not None else Curves()
            self._handle: Any = None
            self._fig: Any = None
            self._last_draw = 0.0
            self._prev = (0.0, 0)
            self._epoch = 0

        def on_train_begin(self, logs: dict | None = None) -> None:
            try:
                from IPython import get_ipython
                from IPython.display import display
            except ImportError:
                return
            if get_ipython() is None:
                return
            import matplotlib.pyplot as plt

            self._fig, ax = plt.subplots(figsize=(7, 3.5))
            plot_curves(self.curves, ax=ax, title=self.title)
            self._handle = display(self._fig, display_id=True)
            plt.close(self._fig)  # shown through the handle only, not again at the cell's end

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._epoch, self._prev = epoch, (0.0, 0)

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if not logs or "loss" not in logs:
                return
            count = batch + 1
            if count <= self._prev[1]:
                return
            loss = chunk_mean(self._prev[0], self._prev[1], float(logs["loss"]), count)
            self._prev = (float(logs["loss"]), count)
            self.curves.add_train(self._epoch * self.steps_per_epoch + count, loss)
            self._draw()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if logs and "val_loss" in logs:
                self.curves.add_val((epoch + 1) * self.steps_per_epoch, float(logs["val_loss"]))
            self._draw(force=True)

        def _draw(self, force: bool = False) -> None:
            now = time.perf_counter()
            if self._handle is None or (not force and now - self._last_draw < self.min_interval):
                return
            plot_curves(self.curves, ax=self._fig.axes[0], title=self.title)
            self._handle.update(self._fig)
            self._last_draw = now

    class Throughput(keras.callbacks.Callback):
        """Wall time per training step, excluding the first execution (tracing + compiling)."""

        def __init__(self, tokens_per_step: int | None = None) -> None:
            super().__init__()
            self.tokens_per_step = tokens_per_step
            self.first_seconds = float("nan")
            self.steady_seconds = 0.0
            self.steady_steps = 0
            self.total_seconds = 0.0
            self._start = 0.0
            self._last: float | None = None
            self._last_count = 0

        def on_train_begin(self, logs: dict | None = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._last_count = 0

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            now, count = time.perf_counter(), batch + 1
            if self._last is None:
                self.first_seconds = now - self._start
            elif count > self._last_count:
                self.steady_seconds += now - self._last
                self.steady_steps += count - self._last_count
            self._last, self._last_count = now, count

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            # validation runs between epochs: do not count it as training time
            self._last = None if self._last is None else time.perf_counter()

        def on_train_end(self, logs: dict | None = None) -> None:
            self.total_seconds = time.perf_counter() - self._start

        @property
        def ms_per_step(self) -> float:
            return 1000 * self.steady_seconds / self.steady_steps if self.steady_steps else float("nan")

        @property
        def tokens_per_second(self) -> float:
            if not self.tokens_per_step or not self.steady_steps:
                return float("nan")
            return self.tokens_per_step * self.steady_steps / self.steady_seconds

    class Checkpoint(keras.callbacks.Callback):
        """After every epoch, save weights + optimizer state, then the state file.

        The weights go to a temporary file that is renamed into place, and the state
        file is written last, so a run killed at any moment leaves the previous complete
        checkpoint behind.
        """

        def __init__(self, directory: Path, history: dict[str, list[float]]) -> None:
            super().__init__()
            self.directory, self.history = Path(directory), history

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            for key, value in (logs or {}).items():
                self.history.setdefault(key, []).append(float(value))
            save_checkpoint(self.model, self.directory, epoch + 1, self.history)

    class StopAfter(keras.callbacks.Callback):
        """Raise :class:`TrainingInterrupted` after ``epochs`` epochs: a simulated crash."""

        def __init__(self, epochs: int) -> None:
            super().__init__()
            self.epochs = epochs

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if epoch + 1 >= self.epochs:
                raise TrainingInterrupted(f"simulated interruption after epoch {epoch + 1}")

    return {"LivePlot": LivePlot, "Throughput": Throughput, "Checkpoint": Checkpoint, "StopAfter": StopAfter}


class TrainingInterrupted(RuntimeError):
    """Raised by :func:`stop_after` to simulate a run that dies mid-way."""


def build_training_state(model: Any, x: Any, y: Any) -> None:
    """Create a compiled model's optimizer, loss and metric variables now, eagerly.

    Keras creates them inside the first traced training (and evaluation) step, and a
    ``tf.function`` that creates variables is traced a second time: a second or more per
    model on 2 cores (lesson 08 trains about twenty-five). One eager forward pass on a small
    example batch ``x`` with labels ``y`` creates them up front. Nothing is trained: the
    model runs in inference mode (no dropout draws), and the metric totals it touches are
    reset (``fit`` resets them at every epoch anyway).
    """
    if model.optimizer is None:
        raise ValueError("compile the model before building its training state")
    predictions = model(x, training=False)
    model.compute_loss(x=x, y=y, y_pred=predictions)
    model.compute_metrics(x, y, predictions, sample_weight=None)
    model.reset_metrics()
    model.optimizer.build(model.trainable_variables)


def live_plot(*, steps_per_epoch: int, title: str = "", min_interval: float = 2.0, curves: Curves | None = None) -> Any:
    """A Keras callback that redraws the loss curves in place (see ``LivePlot``)."""
    return _callback_classes()["LivePlot"](
        steps_per_epoch=steps_per_epoch, title=title, min_interval=min_interval, curves=curves
    )


def throughput(tokens_per_step: int | None = None) -> Any:
    """A Keras callback measuring ms/step and tokens/s (see ``Throughput``)."""
    return _callback_classes()["Throughput"](tokens_per_step)


def stop_after(epochs: int) -> Any:
    """A Keras callback that interrupts training after ``epochs`` epochs (for tests and demos)."""
    return _callback_classes()["StopAfter"](epochs)


# --------------------------------------------------------------------------------------
# Checkpoints


@dataclass
class CheckpointState:
    """What ``state.json`` records next to the weights."""

    epoch: int
    history: dict[str, list[float]]
    optimizer_iterations: int


def save_checkpoint(model: Any, directory: str | Path, epoch: int, history: dict[str, list[float]]) -> Path:
    """Save weights and optimizer state (one ``.weights.h5``) and ``state.json``, atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / ("tmp-" + WEIGHTS_FILE)
    model.save_weights(tmp, overwrite=True)  # Keras 3 includes the optimizer's variables
    os.replace(tmp, directory / WEIGHTS_FILE)
    iterations = int(model.optimizer.iterations.numpy()) if model.optimizer is not None else 0
    state = CheckpointState(epoch=epoch, history=history, optimizer_iterations=iterations)
    tmp_state = directory / ("tmp-" + STATE_FILE)
    tmp_state.write_text(json.dumps(asdict(state)), encoding="utf-8")
    os.replace(tmp_state, directory / STATE_FILE)
    return directory / WEIGHTS_FILE


def load_checkpoint(model: Any, directory: str | Path) -> CheckpointState | None:
    """Restore weights and optimizer state from ``directory``; ``None`` if there is none.

    The model must be built and compiled with the same architecture and optimizer.
    """
    directory = Path(directory)
    state_path, weights_path = directory / STATE_FILE, directory / WEIGHTS_FILE
    if not state_path.exists():
        return None
    if not weights_path.exists():
        raise FileNotFoundError(
            f"{state_path} exists but {weights_path} is missing; delete {directory} to start from scratch"
        )
    if not model.built:
        raise ValueError("build the model (call it on a batch or give keras.Input shapes) before resuming")
    if model.optimizer is None:
        raise ValueError("compile the model before resuming: the checkpoint holds optimizer state too")
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(weights_path)
    raw = json.loads(state_path.read_text(encoding="utf-8"))
    state = CheckpointState(**raw)
    found = int(model.optimizer.iterations.numpy())
    if found != state.optimizer_iterations:
        raise RuntimeError(
            f"the optimizer restored {found} iterations, the checkpoint says "
            f"{state.optimizer_iterations}; was the model compiled with another optimizer?"
        )
    return state


# --------------------------------------------------------------------------------------
# fit


@dataclass
class TrainingRun:
    """What :func:`fit` returns."""

    model: Any
    history: dict[str, list[float]]
    epochs_run: int
    resumed_from_epoch: int
    steps: int
    seconds: float
    first_execution_seconds: float
    ms_per_step: float
    tokens_per_second: float
    curves: Curves

    @property
    def final(self) -> dict[str, float]:
        """The last value of every logged metric."""
        return {k: v[-1] for k, v in self.history.items() if v}


def _resolve_model(model: Any, strategy: Any) -> Any:
    if strategy is None:
        return model() if callable(model) and not hasattr(model, "fit") else model
    if callable(model) and not hasattr(model, "fit"):
        with strategy.scope():
            return model()
    if getattr(model, "_distribute_strategy", None) is not strategy:
        raise ValueError(
            "with strategy= the model must be built and compiled inside strategy.scope(); "
            "pass a function that builds and compiles it, e.g. fit(lambda: make_model(), ...)"
        )
    return model


def _one_step_per_execution_if_replicated(model: Any, strategy: Any) -> None:
    # Keras 3.15 on TF 2.21 fails with "You must feed a value for placeholder tensor
    # 'while/cond/...'" when steps_per_execution > 1 runs on several replicas; one step
    # per execution works (the cost is a little Python overhead per step).
    if strategy is None or strategy.num_replicas_in_sync < 2 or getattr(model, "steps_per_execution", 1) <= 1:
        return
    import warnings

    warnings.warn(
        f"steps_per_execution={model.steps_per_execution} is not supported with "
        f"{strategy.num_replicas_in_sync} replicas in this Keras version; using 1",
        stacklevel=3,
    )
    model.steps_per_execution = 1
    model.train_function = model.test_function = model.predict_function = None


def _check_steps_per_execution(model: Any, steps_per_epoch: int | None) -> None:
    """Refuse an epoch that is not a whole number of executions.

    Keras 3 (3.15) then silently rounds each epoch *up*: ``steps_per_epoch=10`` with
    ``steps_per_execution=4`` trains 12 steps per epoch, so epochs, checkpoints and
    validation land at other steps than asked for, and the data may run out early.
    """
    per_call = int(getattr(model, "steps_per_execution", 1) or 1)
    if steps_per_epoch is not None and per_call > 1 and steps_per_epoch % per_call:
        raise ValueError(
            f"steps_per_epoch={steps_per_epoch} is not a multiple of the model's steps_per_execution="
            f"{per_call}: Keras would run {-(-steps_per_epoch // per_call) * per_call} steps per epoch. "
            "Pick steps_per_execution dividing steps_per_epoch."
        )


def fit(
    model: Any,
    data: Any,
    *,
    epochs: int,
    steps_per_epoch: int | None = None,
    validation_data: Any = None,
    validation_steps: int | None = None,
    checkpoint_dir: str | Path | None = None,
    strategy: Any = None,
    callbacks: Sequence[Any] = (),
    live: bool = True,
    title: str = "",
    tokens_per_step: int | None = None,
    verbose: Any = "auto",
) -> TrainingRun:
    """Train ``model`` with Keras's ``fit``, plus live plot, checkpoints and timing.

    ``model``: a compiled Keras model, or a function returning one (required with
    ``strategy``, since the model has to be created inside ``strategy.scope()``).
    ``data``: anything ``model.fit`` accepts (a ``tf.data.Dataset``, arrays as ``(x, y)``),
    or a function ``(first_step, num_steps) -> dataset`` such as :func:`random_windows`,
    which makes resumed runs see exactly the batches an uninterrupted run sees.
    ``checkpoint_dir``: save after every epoch and, if it holds a checkpoint, resume from
    it. A run that already finished returns at once with the saved history.
    """
    model = _resolve_model(model, strategy)
    _one_step_per_execution_if_replicated(model, strategy)
    if epochs < 1:
        raise ValueError(f"epochs should be >= 1, got {epochs}")
    _check_steps_per_execution(model, steps_per_epoch)
    classes = _callback_classes()
    history: dict[str, list[float]] = {}
    start_epoch = 0
    if checkpoint_dir is not None:
        state = load_checkpoint(model, checkpoint_dir)
        if state is not None:
            start_epoch, history = state.epoch, {k: list(v) for k, v in state.history.items()}
            if start_epoch > epochs:
                raise ValueError(
                    f"the checkpoint in {checkpoint_dir} is at epoch {start_epoch}, "
                    f"beyond epochs={epochs}; use another directory"
                )
    if callable(data) and not hasattr(data, "element_spec"):
        if steps_per_epoch is None:
            raise ValueError("a data function needs steps_per_epoch")
        remaining = (epochs - start_epoch) * steps_per_epoch
        data = data(start_epoch * steps_per_epoch, remaining) if remaining else None
    shuffle = not hasattr(data, "element_spec")  # a tf.data pipeline does its own shuffling
    curves = Curves()
    spe = steps_per_epoch or 0
    for i, val in enumerate(history.get("val_loss", [])):
        curves.add_val((i + 1) * spe, val)
    timer = classes["Throughput"](tokens_per_step)
    extra: list[Any] = [timer]
    if live and steps_per_epoch:
        extra.append(classes["LivePlot"](steps_per_epoch=steps_per_epoch, title=title, curves=curves))
    if checkpoint_dir is not None:
        extra.append(classes["Checkpoint"](Path(checkpoint_dir), history))
    if strategy is None and start_epoch < epochs and hasattr(data, "element_spec") and not model.optimizer.built:
        batch = next(iter(data.take(1)))
        if isinstance(batch, tuple) and len(batch) >= 2:  # (x, y): build before the first trace, not in it
            build_training_state(model, batch[0][:1], batch[1][:1])
    started = time.perf_counter()
    if start_epoch < epochs:
        result = model.fit(
            data,
            epochs=epochs,
            initial_epoch=start_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_data=validation_data,
            validation_steps=validation_steps,
            callbacks=[*extra, *callbacks],
            verbose=verbose,
            shuffle=shuffle,
        )
        if checkpoint_dir is None:
            history = {k: [float(x) for x in v] for k, v in result.history.items()}
    seconds = time.perf_counter() - started
    steps = (epochs - start_epoch) * (steps_per_epoch or 0)
    return TrainingRun(
        model=model,
        history=history,
        epochs_run=epochs - start_epoch,
        resumed_from_epoch=start_epoch,
        steps=steps,
        seconds=seconds,
        first_execution_seconds=timer.first_seconds,
        ms_per_step=timer.ms_per_step,
        tokens_per_second=timer.tokens_per_second,
        curves=curves,
    )


# --------------------------------------------------------------------------------------
# Scale-out helpers


def logical_cpus(count: int) -> list[str]:
    """Split the CPU into ``count`` logical devices (to try ``MirroredStrategy`` without GPUs).

    Must run before TensorFlow executes anything (restart the kernel otherwise). Returns the
    device names, e.g. ``["/device:CPU:0", "/device:CPU:1"]``.
    """
    import tensorflow as tf

    if count < 1:
        raise ValueError(f"count should be >= 1, got {count}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    existing = tf.config.get_logical_device_configuration(cpu)
    if existing is None or len(existing) != count:
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
            )
        except RuntimeError as exc:
            raise RuntimeError(
                f"TensorFlow is already initialized with "
                f"{len(tf.config.list_logical_devices('CPU'))} logical CPU(s); call "
                "logical_cpus() before any TensorFlow operation (restart the kernel)"
            ) from exc
    return [d.name for d in tf.config.list_logical_devices("CPU")]
