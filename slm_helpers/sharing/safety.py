"""Which files a model package may hold: formats that load without running code.

A pickle (``.pkl``, ``.joblib``, PyTorch ``.pt``/``.bin``/``.ckpt``, NumPy arrays saved with
``allow_pickle``) runs arbitrary Python while it is being loaded, so loading a stranger's
pickle is running a stranger's program. The course publishes and loads only an allowlist
of formats, each checked by its first bytes, not only by its name: JSON, Markdown and text
(valid UTF-8), HDF5 weights (``model.weights.h5``, plain arrays) and safetensors. Keras's
``safe_mode=True`` then refuses code hidden in ``config.json`` (``Lambda`` layers).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from .errors import UnsafeFileError
from .manifest import MANIFEST_NAME, package_files

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
TEXT_SUFFIXES = {".json", ".md", ".txt"}
ALLOWED_SUFFIXES = TEXT_SUFFIXES | {".h5", ".safetensors"}
PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt", ".npy", ".npz", ".dill"}


def _looks_like_pickle(head: bytes) -> bool:
    # Protocols 2-5 start with the PROTO opcode 0x80 and the protocol number.
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def check_file(path: str | Path, rel: str | None = None) -> None:
    """Raise ``UnsafeFileError`` unless ``path`` is an allowed format whose content matches its name."""
    path = Path(path)
    rel = rel or path.name
    suffix = path.suffix.lower()
    with open(path, "rb") as handle:
        head = handle.read(16)
    if suffix in PICKLE_SUFFIXES or _looks_like_pickle(head):
        raise UnsafeFileError(
            f"{rel}: looks like a pickle; loading a pickle runs arbitrary code, so it is refused. Save weights "
            "with Keras (model.weights.h5) or safetensors, and preprocessing as JSON or text"
        )
    if suffix not in ALLOWED_SUFFIXES:
        raise UnsafeFileError(
            f"{rel}: the format {suffix or '(no extension)'!r} is not allowed in a model package; "
            f"allowed: {', '.join(sorted(ALLOWED_SUFFIXES))}"
        )
    if suffix in TEXT_SUFFIXES:
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnsafeFileError(f"{rel}: a {suffix} file must be UTF-8 text ({exc})") from exc
        if b"\x00" in raw:
            raise UnsafeFileError(f"{rel}: a {suffix} file must not contain NUL bytes (binary data in disguise?)")
    elif suffix == ".h5" and head[:8] != HDF5_SIGNATURE:
        raise UnsafeFileError(f"{rel}: expected an HDF5 file (signature {HDF5_SIGNATURE!r}), found {head[:8]!r}")
    elif suffix == ".safetensors":
        _check_safetensors_header(path, rel)


def _check_safetensors_header(path: Path, rel: str) -> None:
    with open(path, "rb") as handle:
        raw_len = handle.read(8)
        size = struct.unpack("<Q", raw_len)[0] if len(raw_len) == 8 else -1
        if not 0 < size <= 100_000_000:
            raise UnsafeFileError(f"{rel}: not a safetensors file (header length {size})")
        try:
            json.loads(handle.read(size))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UnsafeFileError(f"{rel}: not a safetensors file (header is not JSON)") from exc


def check_safe_files(folder: str | Path) -> list[str]:
    """Check every file of a package (see :func:`check_file`); return the relative paths checked."""
    folder = Path(folder)
    files = package_files(folder)
    for rel in [*files, MANIFEST_NAME] if (folder / MANIFEST_NAME).exists() else files:
        check_file(folder / rel, rel)
    return files
