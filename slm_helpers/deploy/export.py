"""Export a Keras text classifier: a SavedModel from raw strings, and the int-ids part for LiteRT."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def export_saved_model(model: Any, folder: str | Path) -> Path:
    """``model.export(folder, format="tf_saved_model")`` (a compiled ``serve`` signature); returns the folder."""
    folder = Path(folder)
    model.export(str(folder), format="tf_saved_model", verbose=False)
    return folder


def export_weights_once(model: Any, folder: str | Path) -> Path:
    """A SavedModel of ``model`` (signature ``serve`` / ``serving_default``) that stores each weight once.

    ``model.export`` writes every variable twice on the TensorFlow backend (keras-team/keras#23553:
    once as the Keras wrapper, once as the ``tf.Variable`` the traced function captured), so the
    folder, and the memory of every process that loads it, is twice the weights. Saving a
    ``tf.Module`` that tracks only the captured ``tf.Variable`` objects avoids that. For models
    whose only state is variables (a lookup table inside, as in ``TextVectorization``, makes
    ``tf.saved_model.save`` refuse with "untracked resource": use :func:`export_saved_model`).
    """
    import tensorflow as tf

    spec = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype, name=t.name), model.input)
    module = tf.Module()
    module.weights_once = [v.value for v in model.variables]  # the tf.Variables the function captures
    module.serve = tf.function(lambda inputs: model(inputs, training=False), input_signature=[spec])
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    return Path(folder)


def checkpoint_values(folder: str | Path) -> int:
    """How many numbers a SavedModel's checkpoint stores (compare with ``model.count_params()``)."""
    import tensorflow as tf

    entries = tf.train.list_variables(str(Path(folder) / "variables" / "variables"))
    return int(sum(np.prod(shape) for _, shape in entries))


def folder_size(folder: str | Path) -> int:
    """Total bytes of the files under ``folder`` (or the size of one file)."""
    path = Path(folder)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def split_text_model(model: Any) -> tuple[Any, Any]:
    """``(vectorizer, id_model)`` of a chain ``strings -> TextVectorization -> ... -> output``.

    ``id_model`` takes ``(batch, length)`` int32 ids and shares the trained layers (no copy), so
    ``id_model(vectorizer(texts))`` equals ``model(texts)``. Only plain chains are accepted.
    """
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not layers or not isinstance(layers[0], keras.layers.TextVectorization):
        raise ValueError("expected a model whose first layer after the input is TextVectorization")
    for layer in layers:
        if len(layer._inbound_nodes) != 1 or len(layer._inbound_nodes[0].input_tensors) != 1:
            raise ValueError(f"layer {layer.name!r} is not part of a plain chain (one input, used once)")
    vectorizer, rest = layers[0], layers[1:]
    length = vectorizer.get_config().get("output_sequence_length")
    if not length:
        raise ValueError("the TextVectorization layer needs output_sequence_length for a fixed-size id input")
    ids = keras.Input(shape=(length,), dtype="int32", name="ids")
    x = ids
    for layer in rest:
        x = layer(x)
    return vectorizer, keras.Model(ids, x, name=f"{model.name}_ids")


_FRESH = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    folder, texts_file, out_file, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    texts = json.loads(open(texts_file, encoding="utf-8").read())
    served = tf.saved_model.load(folder)
    outs = [served.serve(tf.constant(texts[i:i + batch])).numpy() for i in range(0, len(texts), batch)]
    np.save(out_file, np.concatenate(outs))
    """
)


def predict_in_fresh_process(
    folder: str | Path, texts: Sequence[str], *, batch: int = 512, timeout: float = 300
) -> np.ndarray:
    """Outputs of the SavedModel's ``serve`` on ``texts``, computed by a new Python process.

    The new process has no Keras objects and no Python code of ours: only ``tf.saved_model.load``.
    """
    with tempfile.TemporaryDirectory(prefix="slm-fresh-") as tmp:
        texts_file, out_file = Path(tmp) / "texts.json", Path(tmp) / "out.npy"
        texts_file.write_text(json.dumps(list(texts)), "utf-8")
        done = subprocess.run(
            [sys.executable, "-c", _FRESH, str(folder), str(texts_file), str(out_file), str(batch)],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the fresh process failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        return np.load(out_file)
