"""Which files a model package may hold: formats that load without running code.

A pickle (``.pkl``, ``.joblib``, PyTorch ``.pt``/``.bin``/``.ckpt``, NumPy arrays saved with
``allow_pickle``) runs arbitrary Python while it is being loaded, so loading a stranger's
pickle is running a stranger's program. The course publishes and loads only an allowlist
of formats, each checked by its content, not only by its name: JSON (must parse as JSON),
Markdown and text (valid UTF-8, no NUL), the HDF5 weights file Keras writes
(``model.weights.h5``: plain arrays; no other HDF5 file, since a legacy HDF5 *model* can
carry a ``Lambda`` layer's code) and safetensors. Keras's ``safe_mode=True`` then refuses
code hidden in ``config.json`` (``Lambda`` layers).

What this cannot catch: a bug in a parser (HDF5, JSON) exploited by a crafted file; a
format we allow being loaded by *another* tool that treats it as code; and safe_mode's own
holes, which have a history: arbitrary module import despite safe_mode (CVE-2025-1550,
fixed in Keras 3.9), ``config.json`` switching safe_mode off (CVE-2025-8747/9906, fixed in
3.11.0), HDF5 ``load_model`` ignoring safe_mode (CVE-2025-9905, fixed in 3.11.3). So
:func:`require_safe_keras` refuses older Keras, and a package's digest still has to come
from someone you trust.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from .errors import UnsafeFileError
from .manifest import MANIFEST_NAME, package_files

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_ALLOWED_NAMES = {"model.weights.h5"}  # the weights file keras.saving.save_model writes
SAFE_KERAS = (3, 11, 3)  # the first release with every safe_mode fix above
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
        if suffix == ".json":
            try:  # a protocol-0 pickle is printable text: only parsing tells it from JSON
                json.loads(raw)
            except json.JSONDecodeError as exc:
                raise UnsafeFileError(f"{rel}: a .json file must be valid JSON ({exc.msg} at line {exc.lineno}); "
                                      "a text pickle, for instance, is not") from exc
    elif suffix == ".h5":
        if path.name not in HDF5_ALLOWED_NAMES:
            raise UnsafeFileError(f"{rel}: the only HDF5 file allowed is Keras's weights file "
                                  f"({', '.join(sorted(HDF5_ALLOWED_NAMES))}); a legacy HDF5 model can carry code")
        if head[:8] != HDF5_SIGNATURE:
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


def require_safe_keras(version: str | None = None) -> str:
    """Refuse to load packages with a Keras whose safe_mode has known holes; returns the version.

    ``version`` defaults to the installed Keras's. See the module docstring for the CVEs.
    """
    if version is None:
        import keras

        version = keras.__version__
    parts = tuple(int(p) for p in version.split("+")[0].split(".")[:3] if p.isdigit())
    if parts < SAFE_KERAS:
        raise UnsafeFileError(
            f"Keras {version} has known safe_mode bypasses (CVE-2025-1550, CVE-2025-8747/9906, CVE-2025-9905); "
            f"loading a shared model needs Keras >= {'.'.join(map(str, SAFE_KERAS))}")
    return version
