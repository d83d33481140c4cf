"""Deployable releases (``.tflite`` + text encoder + provenance, with a SHA-256 manifest) and the serving slot.

A release records which hub model it came from (repo id, revision, commit, manifest digest, the
card's metrics), so an answer of the endpoint can be traced back to a published version.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..sharing import verify_folder, write_manifest
from .encoding import TextEncoder
from .litert import LiteRTClassifier


def make_release(
    folder: str | Path, tflite: str | Path, encoder: TextEncoder, *, info: dict[str, Any]
) -> Path:
    """Write ``model.tflite``, ``encoder.json``, ``release.json`` (``info``) and ``manifest.json`` to a new folder."""
    if "revision" not in info or "repo_id" not in info:
        raise ValueError("info must say where the model came from: repo_id and revision")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=False)
    shutil.copyfile(tflite, folder / "model.tflite")
    encoder.save(folder / "encoder.json")
    (folder / "release.json").write_text(json.dumps(info, indent=2), "utf-8")
    write_manifest(folder)
    return folder


@dataclass
class Release:
    """A verified, loaded release: its model, its encoder and its ``release.json``."""

    folder: Path
    model: LiteRTClassifier
    encoder: TextEncoder
    info: dict[str, Any]


def load_release(folder: str | Path, *, num_threads: int = 1) -> Release:
    """Verify ``folder`` against its manifest (``TamperedFileError`` if a byte changed), then load it."""
    folder = Path(folder)
    verify_folder(folder)
    info = json.loads((folder / "release.json").read_text("utf-8"))
    return Release(folder, LiteRTClassifier(folder / "model.tflite", num_threads=num_threads),
                   TextEncoder.load(folder / "encoder.json"), info)


@dataclass
class Deployment:
    """The serving slot: the active release, and the history needed to roll back.

    ``rollout`` verifies and loads the new release *before* switching, so a tampered or broken
    release never serves; predictions run one at a time (a LiteRT interpreter is not thread-safe).
    """

    num_threads: int = 1
    history: list[Path] = field(default_factory=list)
    active: Release | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def info(self) -> dict[str, Any]:
        """``release.json`` of the active release."""
        if self.active is None:
            raise RuntimeError("nothing deployed yet: call rollout(folder)")
        return self.active.info

    def rollout(self, folder: str | Path) -> dict[str, Any]:
        """Switch to the release in ``folder`` (verified and loaded first); returns its info."""
        release = load_release(folder, num_threads=self.num_threads)
        with self._lock:
            self.active = release
            self.history.append(Path(folder))
        return release.info

    def rollback(self) -> dict[str, Any]:
        """Go back to the previous release (verified again); returns its info."""
        if len(self.history) < 2:
            raise RuntimeError("no earlier release to roll back to")
        release = load_release(self.history[-2], num_threads=self.num_threads)
        with self._lock:
            self.history.pop()
            self.active = release
        return release.info

    def predict_texts(self, texts: list[str]) -> np.ndarray:
        """P(positive) for raw texts with the active release's encoder and model, shape ``(len(texts),)``."""
        with self._lock:
            if self.active is None:
                raise RuntimeError("nothing deployed yet: call rollout(folder)")
            out = self.active.model.predict(self.active.encoder(texts))
        return positive_probability(out)


def positive_probability(outputs: np.ndarray) -> np.ndarray:
    """P(positive) from a sigmoid ``(b, 1)`` or a two-class softmax ``(b, 2)`` output."""
    outputs = np.asarray(outputs, np.float64)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        return outputs[:, 0]
    if outputs.ndim == 2 and outputs.shape[1] == 2:
        return outputs[:, 1]
    raise ValueError(f"expected (batch, 1) sigmoid or (batch, 2) softmax outputs, got {outputs.shape}")
