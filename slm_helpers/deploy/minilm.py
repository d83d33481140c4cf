"""MiniLM (lesson 10's sentence encoder) through the same export path: SavedModel, LiteRT float32, dynamic int8.

Measured in three processes, one per stage (:func:`measure_in_subprocess`): loading the
22 M-parameter model, converting it and running it each take 1.1-1.2 GB with TensorFlow, more
than a lesson kernel that already holds TensorFlow can add within Binder's 2 GB. Converting it
to a *float32* ``.tflite`` peaked at 1.26 GB on its own (TF 2.21, 2-core VM), too much beside a
kernel, so the float reference is the SavedModel: the comparison changes the runtime and the
weights' precision at once, and says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import data, pretrained, settings
from .export import checkpoint_values, export_weights_once, folder_size
from .litert import _interpreter, convert_litert, flex_ops
from .timing import latency_ms

INPUTS = ("token_ids", "segment_ids", "padding_mask")


class LiteRTEncoder:
    """Run a BERT-style ``.tflite`` encoder (three int32 inputs of shape ``(batch, length)``)."""

    def __init__(self, path: str | Path, *, num_threads: int = 1) -> None:
        self.interpreter = _interpreter(path, num_threads)
        self._inputs = {}
        for detail in self.interpreter.get_input_details():
            name = next((k for k in INPUTS if k in detail["name"]), None)
            if name is None:
                raise ValueError(f"unexpected input {detail['name']!r}; expected {INPUTS}")
            self._inputs[name] = detail["index"]
        self._out = self.interpreter.get_output_details()[0]["index"]
        self._shape: tuple[int, int] | None = None

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Sentence vectors for one padded batch (:func:`slm_helpers.pretrained.pad_batch`)."""
        shape = tuple(batch["token_ids"].shape)
        if shape != self._shape:
            for index in self._inputs.values():
                self.interpreter.resize_tensor_input(index, list(shape))
            self.interpreter.allocate_tensors()
            self._shape = shape
        for name, index in self._inputs.items():
            self.interpreter.set_tensor(index, batch[name].astype(np.int32))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out).copy()


def encode(fn: Any, sequences: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray:
    """``fn(pad_batch(...))`` over length-sorted batches; rows back in input order."""
    order = np.argsort([len(s) for s in sequences], kind="stable")
    out: np.ndarray | None = None
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        vec = np.asarray(fn(pretrained.pad_batch([sequences[i] for i in idx])))
        if out is None:
            out = np.empty((len(sequences), vec.shape[1]), np.float32)
        out[idx] = vec
    assert out is not None
    return out


def _save_sequences(path: Path, sequences: list[np.ndarray]) -> None:
    lengths = np.array([len(s) for s in sequences])
    np.savez(path, ids=np.concatenate(sequences), lengths=lengths)


def _load_sequences(path: Path) -> list[np.ndarray]:
    with np.load(path) as f:
        return np.split(f["ids"], np.cumsum(f["lengths"])[:-1])


def export_encoder(work: str | Path, *, n_train: int, n_test: int) -> Path:
    """Stage 1: lesson 10's sentence encoder (MiniLM, mean pooling, L2 normalization) as a SavedModel.

    Also tokenizes the SST-2 sentences stage 3 uses (seeded subsets), so stage 3 needs no keras-hub.
    """
    import keras
    from keras import ops

    work = Path(work)
    backbone = pretrained.load_backbone(dropout=0.0)
    sequence = backbone.output["sequence_output"]
    vector = ops.nn.normalize(pretrained._masked_mean(sequence, backbone.input["padding_mask"]), axis=-1, order=2)
    folder = export_weights_once(keras.Model(backbone.input, vector, name="minilm_encoder"), work / "minilm_saved")
    sst, rng, tokenizer = data.load("sst2", progress=False), settings.rng(3), pretrained.load_tokenizer()
    for split, n in (("train", n_train), ("test", n_test)):
        part = getattr(sst, split)
        idx = np.sort(rng.permutation(len(part))[:n])
        _save_sequences(work / f"{split}_tokens.npz", pretrained.tokenize(tokenizer, [part.texts[i] for i in idx]))
        np.save(work / f"{split}_labels.npy", part.labels[idx])
    return folder


def convert(work: str | Path) -> Path:
    """Stage 2: the dynamic-range ``.tflite`` (a float32 one peaked at 1.26 GB to convert: see the module doc)."""
    return convert_litert(Path(work) / "minilm_saved", Path(work) / "minilm_dynamic.tflite", quantization="dynamic")


def evaluate(work: str | Path, *, repeats: int) -> dict[str, Any]:
    """Stage 3: sizes, batch-1 latency, cosine to the float model and an SST-2 probe's accuracy, per variant."""
    import tensorflow as tf
    from sklearn.linear_model import LogisticRegression

    settings.seed_everything(42)
    work = Path(work)
    saved, tflite = work / "minilm_saved", work / "minilm_dynamic.tflite"
    train_seq, test_seq = _load_sequences(work / "train_tokens.npz"), _load_sequences(work / "test_tokens.npz")
    train_y, test_y = np.load(work / "train_labels.npy"), np.load(work / "test_labels.npy")
    served = tf.saved_model.load(str(saved))

    def float_fn(batch: dict[str, np.ndarray]) -> np.ndarray:
        return served.serve({k: tf.constant(v) for k, v in batch.items()}).numpy()

    runners = {"SavedModel (float32)": float_fn, "LiteRT dynamic int8": LiteRTEncoder(tflite)}
    vectors = {name: (encode(fn, train_seq), encode(fn, test_seq)) for name, fn in runners.items()}
    reference = vectors["SavedModel (float32)"]
    probe = LogisticRegression(C=4.0, max_iter=2000).fit(reference[0], train_y)
    median_length = sorted(len(s) for s in test_seq)[len(test_seq) // 2]
    typical = pretrained.pad_batch([next(s for s in test_seq if len(s) == median_length)])
    rows = []
    for (name, fn), size in zip(runners.items(), (folder_size(saved), tflite.stat().st_size), strict=True):
        cos = np.sum(vectors[name][1] * reference[1], axis=1)  # both L2-normalized
        lat = latency_ms(lambda fn=fn: fn(typical), repeats=repeats)
        rows.append({"variant": name, "size_mb": size / 2**20, "b1_median_ms": lat["median_ms"],
                     "b1_p95_ms": lat["p95_ms"], "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean()),
                     "probe_accuracy": float(probe.score(vectors[name][1], test_y))})
    return {"rows": rows, "typical_length": median_length, "n_train": len(train_seq), "n_test": len(test_seq),
            "flex_ops": flex_ops(tflite), "stored_values": checkpoint_values(saved)}


def measure_in_subprocess(
    work: str | Path, *, n_train: int, n_test: int, repeats: int, timeout: float = 900
) -> dict[str, Any]:
    """The three stages, each in a new Python process (each peaks at ~1.1-1.2 GB, and exits); stage 3's dict."""
    out = ""
    stages = (("export", {"n_train": n_train, "n_test": n_test}), ("convert", {}), ("evaluate", {"repeats": repeats}))
    for stage, args in stages:
        done = subprocess.run([sys.executable, "-m", __name__, stage, json.dumps({"work": str(work), **args})],
                              capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"MiniLM stage {stage!r} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        out = done.stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == "__main__":
    stage, kwargs = sys.argv[1], json.loads(sys.argv[2])
    work_dir = kwargs.pop("work")
    if stage == "export":
        print(export_encoder(work_dir, **kwargs))
    elif stage == "convert":
        print(convert(work_dir))
    else:
        print(json.dumps(evaluate(work_dir, **kwargs)))
