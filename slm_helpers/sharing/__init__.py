"""Share models: package, publish versions, download a revision, verify it, load it safely.

>>> from slm_helpers import sharing
>>> hub = sharing.get_hub(root="/tmp/my-hub")                     # doctest: +SKIP
>>> sharing.package_model(model, "pkg/sst2-cnn", card=card)       # doctest: +SKIP
>>> hub.publish("pkg/sst2-cnn", "course/sst2-cnn", version="v1")  # doctest: +SKIP
>>> folder = hub.download("course/sst2-cnn", revision="v1")       # doctest: +SKIP
>>> model = sharing.load_model(folder)                            # doctest: +SKIP

The default hub is local and git-backed (:class:`LocalGitHub`, under ``$SLM_HUB_DIR`` or
``~/.cache/slm-course/hub``); with a token, :func:`get_hub` returns the Hugging Face Hub
(:class:`HfHub`) with the same methods and the same package layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .card import CARD_NAME, Result, card_lineage, card_metadata, card_results, load_card, make_model_card
from .errors import (
    HubBusyError,
    InvalidRepoIdError,
    InvalidVersionError,
    ManifestError,
    RepoNotFoundError,
    SharingError,
    TamperedFileError,
    UnsafeFileError,
    VersionExistsError,
    VersionNotFoundError,
)
from .hub_git import LocalGitHub
from .hub_hf import HfHub
from .manifest import (
    MANIFEST_NAME,
    ManifestReport,
    build_manifest,
    compare_with_manifest,
    file_sha256,
    manifest_digest,
    manifest_entry,
    read_manifest,
    verify_folder,
    write_manifest,
)
from .naming import classify_revision, validate_repo_id, validate_version, version_key
from .package import load_model, package_model
from .safety import ALLOWED_SUFFIXES, check_file, check_safe_files, require_safe_keras
from .versions import HUB_DIR_ENV, VersionInfo, default_hub_dir

__all__ = [
    "ALLOWED_SUFFIXES",
    "CARD_NAME",
    "HUB_DIR_ENV",
    "MANIFEST_NAME",
    "HfHub",
    "HubBusyError",
    "InvalidRepoIdError",
    "InvalidVersionError",
    "LocalGitHub",
    "ManifestError",
    "ManifestReport",
    "RepoNotFoundError",
    "Result",
    "SharingError",
    "TamperedFileError",
    "UnsafeFileError",
    "VersionExistsError",
    "VersionInfo",
    "VersionNotFoundError",
    "build_manifest",
    "card_lineage",
    "card_metadata",
    "card_results",
    "check_file",
    "check_safe_files",
    "require_safe_keras",
    "classify_revision",
    "compare_with_manifest",
    "default_hub_dir",
    "download",
    "file_sha256",
    "get_hub",
    "list_versions",
    "load_card",
    "load_model",
    "make_model_card",
    "manifest_digest",
    "manifest_entry",
    "package_model",
    "publish",
    "read_manifest",
    "validate_repo_id",
    "validate_version",
    "verify_folder",
    "version_key",
    "write_manifest",
]


def get_hub(*, token: str | None = None, root: str | Path | None = None, **options: Any) -> LocalGitHub | HfHub:
    """The Hugging Face Hub when ``token`` is given, else the local git hub at ``root``.

    The token is never read from the environment behind your back: publishing online is
    something you ask for, e.g. ``get_hub(token=os.environ["HF_TOKEN"])``.
    """
    if token:
        return HfHub(token, **options)
    return LocalGitHub(root, **options)


def publish(
    folder: str | Path, repo_id: str, *, version: str, token: str | None = None, root: str | Path | None = None
) -> VersionInfo:
    """Publish a package folder as ``version`` of ``repo_id`` (see :func:`get_hub` for where)."""
    return get_hub(token=token, root=root).publish(folder, repo_id, version=version)


def download(
    repo_id: str,
    *,
    revision: str = "main",
    dest: str | Path | None = None,
    expected_digest: str | None = None,
    token: str | None = None,
    root: str | Path | None = None,
) -> Path:
    """Download ``revision`` of ``repo_id``, verified against its manifest; return the folder."""
    hub = get_hub(token=token, root=root)
    return hub.download(repo_id, revision=revision, dest=dest, expected_digest=expected_digest)


def list_versions(repo_id: str, *, token: str | None = None, root: str | Path | None = None) -> list[VersionInfo]:
    """Every published version of ``repo_id`` with the results from its card, oldest first."""
    return get_hub(token=token, root=root).list_versions(repo_id)
