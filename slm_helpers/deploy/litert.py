"""LiteRT (TFLite): convert a SavedModel to builtin ops, quantize it, read its ops, run it.

Uses ``ai_edge_litert.interpreter`` (the maintained interpreter; ``tf.lite.Interpreter`` is
deprecated). Neither PyPI interpreter has Flex (SELECT_TF_OPS) kernels, so conversion here
allows builtin ops only and fails early instead of producing a file that fails at ``invoke``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

QUANTIZATIONS = ("float32", "dynamic", "int8")


def convert_litert(
    saved_model: str | Path,
    path: str | Path,
    *,
    quantization: str = "float32",
    representative: Callable[[], Iterable[list[np.ndarray]]] | None = None,
) -> Path:
    """Convert a SavedModel to a builtin-ops-only ``.tflite`` file.

    ``quantization``: ``"float32"`` (none); ``"dynamic"`` (dynamic-range: weights stored as int8,
    ``Optimize.DEFAULT``); ``"int8"`` (full integer: activations too, calibrated on
    ``representative``, a function yielding lists of input arrays, e.g. 200 training batches).
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if quantization == "int8" and representative is None:
        raise ValueError("int8 quantization needs representative=... (calibration inputs from the training set)")
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex: refuse at conversion
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "int8":
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    path = Path(path)
    path.write_bytes(converter.convert())
    return path


def _interpreter(path: str | Path, num_threads: int = 1) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path), num_threads=num_threads)


def tflite_op_names(path: str | Path) -> list[str]:
    """Sorted distinct op names in a ``.tflite`` file (Flex ops show as ``Flex...``)."""
    # _get_ops_details is the interpreter's only op listing (the public analyzer prints text).
    return sorted({op["op_name"] for op in _interpreter(path)._get_ops_details()})


def flex_ops(path: str | Path) -> list[str]:
    """The Flex (SELECT_TF_OPS) ops in a ``.tflite`` file: these need kernels PyPI's LiteRT lacks."""
    return [op for op in tflite_op_names(path) if op.startswith("Flex")]


def weight_bytes_by_dtype(path: str | Path) -> dict[str, int]:
    """Bytes of constant tensors (weights) per dtype, e.g. ``{"float32": 5_000_000, "int8": 40}``."""
    interpreter = _interpreter(path)
    interpreter.allocate_tensors()
    counts: Counter[str] = Counter()
    for detail in interpreter.get_tensor_details():
        try:
            value = interpreter.get_tensor(detail["index"])
        except ValueError:  # intermediate tensors without data
            continue
        if value.size > 1 and detail["name"].count(";") == 0 and "serving_default" not in detail["name"]:
            counts[np.dtype(detail["dtype"]).name] += value.nbytes
    return dict(counts)


class LiteRTClassifier:
    """Run a ``.tflite`` classifier on ``(batch, length)`` int32 id arrays."""

    def __init__(self, path: str | Path, *, num_threads: int = 1) -> None:
        self.path = Path(path)
        self.num_threads = num_threads
        self.interpreter = _interpreter(self.path, num_threads)
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        self.length = int(self._in["shape"][1])
        self._batch = -1

    def predict(self, ids: np.ndarray) -> np.ndarray:
        """Model outputs for a ``(batch, length)`` array of token ids."""
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.shape[1] != self.length or ids.shape[0] < 1:
            raise ValueError(f"expected ids of shape (batch >= 1, {self.length}), got {ids.shape}")
        if ids.shape[0] != self._batch:  # resizing re-plans memory: only when the batch size changes
            self.interpreter.resize_tensor_input(self._in["index"], list(ids.shape))
            self.interpreter.allocate_tensors()
            self._batch = ids.shape[0]
        self.interpreter.set_tensor(self._in["index"], ids.astype(self._in["dtype"]))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out["index"]).copy()
