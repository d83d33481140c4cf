"""A manifest: the SHA-256 and size of every file of a model package, in ``manifest.json``.

The manifest is written when the package is made, checked before a version is published
and again after every download, so a changed, missing or extra file is noticed before the
model is loaded. It proves integrity (nothing changed since the manifest was written); to
trust *who* wrote it, compare :func:`manifest_digest` with a digest from a channel you trust.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ManifestError, TamperedFileError, UnsafeFileError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "slm-course/manifest-v1"
_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (so large weight files need little memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_entry(path: str | Path) -> dict[str, Any]:
    """The manifest entry of one file: ``{"sha256": <hex>, "size": <bytes>}``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected a regular file to hash")
    return {"sha256": file_sha256(path), "size": path.stat().st_size}


def package_files(folder: str | Path) -> list[str]:
    """Relative POSIX paths of every file in ``folder`` except the manifest itself, sorted.

    Symbolic links and special files are refused: a link could smuggle a file from outside
    the package (``/etc/passwd``) into a published version.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: expected a model package folder")
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                raise UnsafeFileError(f"{rel}: symbolic links are not allowed in a model package; copy the file in")
            if name in filenames and not path.is_file():
                raise UnsafeFileError(f"{rel}: not a regular file; a package holds plain files and folders only")
            if name in filenames and rel != MANIFEST_NAME:
                found.append(rel)
    return sorted(found)


def build_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of ``folder`` as a dict (not written)."""
    folder = Path(folder)
    files = {rel: manifest_entry(folder / rel) for rel in package_files(folder)}
    return {"format": MANIFEST_FORMAT, "algorithm": "sha256", "files": files}


def write_manifest(folder: str | Path) -> dict[str, Any]:
    """Write ``manifest.json`` into ``folder`` (atomically) and return it."""
    folder = Path(folder)
    manifest = build_manifest(folder)
    tmp = folder / f".{MANIFEST_NAME}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MANIFEST_NAME)
    return manifest


def _safe_relative(rel: object) -> bool:
    # Checked as a string: PurePosixPath("./a") would quietly normalise to "a".
    if not isinstance(rel, str) or not rel or "\\" in rel or rel == MANIFEST_NAME:
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """Read and check the structure of ``folder/manifest.json``; raise ``ManifestError`` if it is unusable."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path} is missing: a model package needs a manifest; call write_manifest(folder)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path} is not valid UTF-8 JSON ({exc}); the package is damaged") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"{path}: expected format {MANIFEST_FORMAT!r}, found {str(manifest)[:80]!r}")
    files = manifest.get("files")
    if manifest.get("algorithm") != "sha256" or not isinstance(files, dict):
        raise ManifestError(f"{path}: expected algorithm 'sha256' and a 'files' mapping")
    for rel, entry in files.items():
        if not _safe_relative(rel):
            raise ManifestError(f"{path}: file name {rel!r} is absolute, escapes the package or is not allowed")
        ok_entry = isinstance(entry, dict) and isinstance(entry.get("sha256"), str) and len(entry["sha256"]) == 64
        if not ok_entry or not isinstance(entry.get("size"), int):
            raise ManifestError(f"{path}: entry for {rel!r} should be {{'sha256': 64 hex digits, 'size': int}}")
    return manifest


def manifest_digest(folder: str | Path) -> str:
    """SHA-256 of ``manifest.json`` itself: one number that pins every file of the package."""
    return file_sha256(Path(folder) / MANIFEST_NAME)


@dataclass
class ManifestReport:
    """What differs between a folder and its manifest."""

    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (file, expected sha256, found sha256)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.unexpected)

    def describe(self) -> str:
        lines = [f"  changed {f}: expected sha256 {e[:12]}…, found {g[:12]}…" for f, e, g in self.changed]
        lines += [f"  missing {f}" for f in self.missing]
        lines += [f"  unexpected {f} (not in the manifest)" for f in self.unexpected]
        return "\n".join(lines)


def compare_with_manifest(folder: str | Path) -> ManifestReport:
    """Hash every file of ``folder`` and compare with its manifest (raises only if the manifest is unusable)."""
    folder = Path(folder)
    expected = read_manifest(folder)["files"]
    present = set(package_files(folder))
    report = ManifestReport(missing=sorted(set(expected) - present), unexpected=sorted(present - set(expected)))
    for rel in sorted(set(expected) & present):
        want = expected[rel]
        # Compare sizes first (free), then hashes: a size change needs no hashing to be noticed.
        got = manifest_entry(folder / rel)
        if got["size"] != want["size"] or got["sha256"] != want["sha256"]:
            report.changed.append((rel, want["sha256"], got["sha256"]))
    return report


def verify_folder(folder: str | Path, *, expected_digest: str | None = None) -> dict[str, Any]:
    """Check every file of ``folder`` against its manifest; return the manifest or raise ``TamperedFileError``.

    ``expected_digest`` (optional) pins the manifest itself, see :func:`manifest_digest`.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if expected_digest is not None:
        got = manifest_digest(folder)
        if got != expected_digest:
            raise TamperedFileError(
                f"{folder}: manifest.json has sha256 {got}, expected {expected_digest}; this is not the package "
                "you pinned, do not load it"
            )
    report = compare_with_manifest(folder)
    if not report.ok:
        raise TamperedFileError(
            f"{folder} does not match its manifest, refusing to use it:\n{report.describe()}\n"
            "The files were changed after the package was made (or the transfer broke). Delete this copy and "
            "download the version again; if it still fails, the published version itself is damaged."
        )
    return manifest
