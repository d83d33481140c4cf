"""A model package: the Keras directory format, a model card and a manifest, in one folder.

::

    sst2-cnn/
      config.json          the architecture (JSON; no code unless a Lambda layer hides some)
      metadata.json        Keras version and save date
      model.weights.h5     every weight, plain HDF5 arrays
      assets/...           the TextVectorization vocabulary (text), so the model takes raw strings
      README.md            the model card (Hugging Face YAML header + Markdown)
      manifest.json        SHA-256 and size of every other file

The same folder is what a hub stores per version; ``keras.saving.load_model`` reads it as
is, and it is also the layout Keras itself uploads to the Hugging Face Hub.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .card import CARD_NAME
from .manifest import verify_folder, write_manifest
from .safety import check_safe_files, require_safe_keras

if TYPE_CHECKING:
    from huggingface_hub import ModelCard

KERAS_FILES = ("config.json", "metadata.json", "model.weights.h5")


def package_model(
    model: Any, folder: str | Path, *, card: ModelCard | str, overwrite: bool = False, include_optimizer: bool = False
) -> Path:
    """Save ``model`` with its card and manifest into ``folder``, all or nothing.

    Everything is written into a hidden staging folder beside ``folder`` and moved into
    place with one rename, so an interrupted call never leaves a half-written package.

    A published model is for use: by default the package holds an uncompiled copy, without
    the optimizer's state (Adam's two moments per weight would triple the weights file) and
    without a compile config. ``include_optimizer=True`` keeps both, for resuming training.
    """
    import keras

    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise FileExistsError(f"{folder} exists; pass overwrite=True to replace it, or choose a new folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        if include_optimizer or getattr(model, "optimizer", None) is None:
            keras.saving.save_model(model, staging, zipped=False)
        else:
            _save_uncompiled(model, staging)
        (staging / CARD_NAME).write_text(str(card), encoding="utf-8")
        check_safe_files(staging)
        write_manifest(staging)
        if folder.exists():
            old = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(folder, old)
            os.rename(staging, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _save_uncompiled(model: Any, folder: Path) -> None:
    """Save ``model`` without its optimizer or compile config.

    Keras 3 has no ``include_optimizer``: the copy is the saved model loaded back with
    ``compile=False`` (the same layers, weights and assets, TextVectorization's vocabulary
    included), saved again.
    """
    import keras

    full = folder.parent / f"{folder.name}-compiled"
    try:
        keras.saving.save_model(model, full, zipped=False)
        uncompiled = keras.saving.load_model(full, compile=False, safe_mode=True)
        keras.saving.save_model(uncompiled, folder, zipped=False)
    finally:
        shutil.rmtree(full, ignore_errors=True)


def load_model(folder: str | Path, *, expected_digest: str | None = None) -> Any:
    """Verify a package against its manifest and load it with Keras in safe mode.

    Raises ``TamperedFileError`` for changed, missing or extra files, ``UnsafeFileError``
    for formats that could run code, and Keras's ``ValueError`` for a ``Lambda`` layer.
    """
    import keras

    folder = Path(folder)
    require_safe_keras()
    verify_folder(folder, expected_digest=expected_digest)
    check_safe_files(folder)
    missing = [name for name in KERAS_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: not a Keras directory-format model, missing {missing}")
    from slm_helpers import optimizers

    optimizers.register()  # models compiled with slm_helpers' FusedAdam (lesson 08) name it in config.json
    return keras.saving.load_model(folder, safe_mode=True)
