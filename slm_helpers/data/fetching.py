"""Get a verified local copy of a registered file: cache, then mirror, then download.

Every copy is checked against its pinned SHA-256 and written atomically (a temporary file
in the cache folder, then ``os.replace``), so an interrupted download never leaves a
half-written file under the real name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from .registry import RemoteFile

DATA_DIR_ENV = "SLM_DATA_DIR"
MIRROR_ENV = "SLM_DATA_MIRROR"
_CHUNK = 1 << 16


class DataError(RuntimeError):
    """Base class for data problems a learner can act on."""


class ChecksumError(DataError):
    """A file's SHA-256 is not the pinned one; the bad copy has been removed."""


class DataUnavailableError(DataError):
    """The file is not cached, not in a mirror and could not be downloaded."""


def cache_dir() -> Path:
    """Where verified downloads live: ``SLM_DATA_DIR`` or the user's cache folder."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "slm-course" / "data"


def mirror_dirs() -> list[Path]:
    """The folders listed in ``SLM_DATA_MIRROR`` (separated by ``os.pathsep``)."""
    raw = os.environ.get(MIRROR_ENV, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(remote: RemoteFile, *, progress: bool = True) -> Path:
    """Return the path of a verified copy of ``remote``, downloading it if needed.

    Order: the cache (verified on every call), each mirror folder, then the pinned URL.
    Raises :class:`ChecksumError` when a copy does not match and
    :class:`DataUnavailableError` when there is no way to get the file.
    """
    target = cache_dir() / remote.name
    if target.exists():
        _verify_or_remove(target, remote, origin="the cached copy")
        return target

    bad_mirrors: list[str] = []
    for folder in mirror_dirs():
        candidate = folder / remote.name
        if not candidate.is_file():
            continue
        actual = sha256_of(candidate)
        if actual != remote.sha256:
            # A mirror may be read-only or shared: never delete it, skip it and say so.
            bad_mirrors.append(f"{candidate} (sha256 {actual})")
            warnings.warn(
                f"{remote.name}: mirror copy {candidate} has sha256 {actual}, expected {remote.sha256}; ignoring it",
                stacklevel=2,
            )
            continue
        _atomic_write(target, lambda out, src=candidate: _copy_file(src, out))
        _verify_or_remove(target, remote, origin=f"the copy from mirror {candidate}")
        return target

    try:
        _atomic_write(target, lambda out: _download(remote, out, progress=progress))
    except (OSError, TimeoutError) as exc:  # URLError is an OSError
        mirrors = os.environ.get(MIRROR_ENV) or "(not set)"
        extra = f" Mirror copies with the wrong hash: {', '.join(bad_mirrors)}." if bad_mirrors else ""
        raise DataUnavailableError(
            f"{remote.name}: not in the cache ({target.parent}) and not in any folder of "
            f"{MIRROR_ENV}={mirrors}, and the download from {remote.url} failed ({exc}).{extra} "
            f"Connect to the internet, or set {MIRROR_ENV} to a folder that holds "
            f"{remote.name} (for example ../shared/data)."
        ) from exc
    _verify_or_remove(target, remote, origin=f"the download from {remote.url}")
    return target


def _verify_or_remove(path: Path, remote: RemoteFile, *, origin: str) -> None:
    actual = sha256_of(path)
    if actual != remote.sha256:
        path.unlink(missing_ok=True)
        raise ChecksumError(
            f"{remote.name} from {remote.url}: expected sha256 {remote.sha256}, got {actual} "
            f"({origin}). The file was removed; run again to re-download it."
        )


def _atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_file(src: Path, out: Path) -> None:
    shutil.copyfile(src, out)


def _download(remote: RemoteFile, out: Path, *, progress: bool) -> None:
    import urllib.request  # imported here: it pulls in http and ssl, slow for `import slm_helpers`

    request = urllib.request.Request(remote.url, headers={"User-Agent": "slm-course"})
    with urllib.request.urlopen(request, timeout=30) as response, open(out, "wb") as fh:
        total = int(response.headers.get("Content-Length") or remote.size)
        for chunk in _with_progress(iter(lambda: response.read(_CHUNK), b""), total, remote.name, progress):
            fh.write(chunk)


def _with_progress(chunks: Iterator[bytes], total: int, name: str, show: bool) -> Iterator[bytes]:
    if not show:
        yield from chunks
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {name}") as bar:
        for chunk in chunks:
            bar.update(len(chunk))
            yield chunk
