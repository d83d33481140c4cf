"""Which repo ids, versions and revisions a hub accepts.

A repo id becomes a path on disk (``<root>/<owner>/<name>``) and a URL on the Hugging Face
Hub, so it is checked before it is used: ``..``, absolute paths, slashes inside a part,
white space and anything outside ``A-Z a-z 0-9 - _ .`` are refused. The rules follow the
Hugging Face Hub's (parts of at most 96 characters, no leading or trailing ``-`` or ``.``,
no ``--`` or ``..``), so an id valid here is valid there.
"""

from __future__ import annotations

import re

from .errors import InvalidRepoIdError, InvalidVersionError

_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
_VERSION = re.compile(r"v(0|[1-9][0-9]{0,5})(\.(0|[1-9][0-9]{0,5})){0,2}")
_COMMIT = re.compile(r"[0-9a-f]{7,40}")
BRANCH = "main"


def validate_repo_id(repo_id: object) -> tuple[str, str]:
    """Return ``(owner, name)`` for a valid ``owner/name`` repo id; raise ``InvalidRepoIdError`` otherwise."""
    if not isinstance(repo_id, str):
        raise InvalidRepoIdError(f"a repo id is a string 'owner/name', got {type(repo_id).__name__} {repo_id!r}")
    parts = repo_id.split("/")
    if len(parts) != 2:
        raise InvalidRepoIdError(
            f"repo id {repo_id!r}: expected exactly one '/', as in 'course/sst2-cnn' (owner/name); "
            "absolute paths and nested folders are not repo ids"
        )
    for part in parts:
        if part in ("", ".", "..") or ".." in part or "--" in part or not _PART.fullmatch(part):
            raise InvalidRepoIdError(
                f"repo id {repo_id!r}: the part {part!r} is not allowed; use 1-96 letters, digits, '-', '_' "
                "or '.', starting and ending with a letter or digit, without '..' or '--'"
            )
    return parts[0], parts[1]


def validate_version(version: object) -> str:
    """Return ``version`` if it looks like ``v1``, ``v2.1`` or ``v1.0.3``; raise ``InvalidVersionError`` otherwise."""
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise InvalidVersionError(
            f"version {version!r}: expected 'v' and up to three numbers, as in 'v1', 'v2' or 'v1.0.3'"
        )
    return version


def version_key(version: str) -> tuple[int, int, int]:
    """Sort key: ``v2 < v10`` and ``v1 == v1.0.0``."""
    numbers = [int(n) for n in validate_version(version)[1:].split(".")]
    return tuple(numbers + [0] * (3 - len(numbers)))  # type: ignore[return-value]


def classify_revision(revision: object) -> str:
    """``"version"``, ``"branch"`` (``main``) or ``"commit"`` (7-40 hex digits); raise for anything else.

    Checking the revision before it reaches ``git`` keeps option-like strings (``--output=...``)
    and ref expressions (``main~1``, ``HEAD@{1}``) out of the command line.
    """
    if revision == BRANCH:
        return "branch"
    if isinstance(revision, str) and _VERSION.fullmatch(revision):
        return "version"
    if isinstance(revision, str) and _COMMIT.fullmatch(revision):
        return "commit"
    raise InvalidVersionError(
        f"revision {revision!r}: expected a version ('v1'), the branch {BRANCH!r} (the latest publish) "
        "or a commit id (7-40 lower-case hex digits)"
    )
