"""Lesson 12: from a published model to a served one.

One module per concern: :mod:`.export` (SavedModel from raw strings, the ids part for LiteRT),
:mod:`.encoding` (the text -> ids step in plain Python, equal to ``TextVectorization``),
:mod:`.litert` (conversion, quantization, the interpreter), :mod:`.parity` (derived float32
tolerances), :mod:`.timing` (latency percentiles), :mod:`.releases` (verified releases, rollout,
rollback), :mod:`.serving` (FastAPI endpoint, micro-batching, loopback server, load test) and
:mod:`.app` (the widget app's logic).
"""

from ..sharing import TamperedFileError
from .app import analyse, app_dir, build_app, current_release, render, set_current_release
from .encoding import TextEncoder
from .export import (
    checkpoint_values,
    export_saved_model,
    export_weights_once,
    folder_size,
    predict_in_fresh_process,
    split_text_model,
)
from .litert import QUANTIZATIONS, LiteRTClassifier, convert_litert, flex_ops, tflite_op_names, weight_bytes_by_dtype
from .parity import agreement, check_parity, cnn_error_bound, gamma
from .releases import Deployment, Release, load_release, make_release, positive_probability
from .serving import (
    LABELS,
    MAX_CHARS,
    MAX_TEXTS,
    MicroBatcher,
    RequestError,
    free_port,
    load_test,
    make_app,
    post_json,
    serve,
    validate_texts,
)
from .timing import latency_ms, percentiles

__all__ = [
    "LABELS",
    "MAX_CHARS",
    "MAX_TEXTS",
    "QUANTIZATIONS",
    "Deployment",
    "LiteRTClassifier",
    "MicroBatcher",
    "Release",
    "RequestError",
    "TamperedFileError",
    "TextEncoder",
    "agreement",
    "analyse",
    "app_dir",
    "build_app",
    "check_parity",
    "checkpoint_values",
    "cnn_error_bound",
    "convert_litert",
    "current_release",
    "export_saved_model",
    "export_weights_once",
    "flex_ops",
    "folder_size",
    "free_port",
    "gamma",
    "latency_ms",
    "load_release",
    "load_test",
    "make_app",
    "make_release",
    "percentiles",
    "positive_probability",
    "post_json",
    "predict_in_fresh_process",
    "render",
    "serve",
    "set_current_release",
    "split_text_model",
    "tflite_op_names",
    "validate_texts",
    "weight_bytes_by_dtype",
]
