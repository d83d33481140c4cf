"""The same hub API on the Hugging Face Hub, through ``huggingface_hub.HfApi``.

A publish is ``create_repo`` (once), ``upload_folder`` (one commit whose files are exactly
the package: files of the previous version that the new one lacks are deleted in the same
commit) and ``create_tag`` (the version). ``parent_commit`` makes the upload fail rather
than silently overwrite when someone else pushed in between. A download fetches the tagged
commit with ``snapshot_download`` into a staging folder, verifies it against the manifest,
then renames it into place, exactly as the local hub does.

Everything here needs the network and a token, so the course's tests replace ``HfApi`` with
a mock checked against its real signatures. Not tested offline: authentication, the real
upload protocol (LFS/Xet for the weights), the server's answer to a conflicting
``parent_commit``, rate limits, and the Hub's own validation of the card's metadata.
Unlike the local hub, the commit and the tag are two requests: if the second fails, the
commit is on ``main`` without a version tag (not a version; publish again to tag it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from .card import CARD_NAME, card_lineage, card_metadata, card_results
from .errors import RepoNotFoundError, SharingError, VersionExistsError, VersionNotFoundError
from .manifest import MANIFEST_NAME, manifest_digest, package_files, verify_folder
from .naming import BRANCH, classify_revision, validate_repo_id, validate_version, version_key
from .safety import check_safe_files
from .versions import VersionInfo, default_hub_dir

HUB_METADATA_FILES = (".gitattributes",)  # created by the Hub itself in every repo, not part of a package


class HfHub:
    """The Hugging Face Hub with the same ``publish``/``download``/``list_versions`` as :class:`LocalGitHub`."""

    kind = "huggingface"

    def __init__(
        self,
        token: str | None,
        *,
        api: Any = None,
        private: bool = True,
        downloads: str | Path | None = None,
    ) -> None:
        if api is None:
            if not token:
                raise ValueError("HfHub needs a token (https://huggingface.co/settings/tokens) or an HfApi")
            from huggingface_hub import HfApi

            from .. import __version__

            api = HfApi(token=token, library_name="slm-course", library_version=__version__)
        self.api = api
        self.private = private
        self.downloads = Path(downloads) if downloads else default_hub_dir().parent / "hf-downloads"

    def __repr__(self) -> str:
        return f"HfHub(private={self.private})"

    def _tags(self, repo_id: str) -> dict[str, str]:
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            refs = self.api.list_repo_refs(repo_id, repo_type="model")
        except RepositoryNotFoundError as exc:
            raise RepoNotFoundError(
                f"no repo {repo_id!r} on the Hugging Face Hub (or no access with this token)"
            ) from exc
        return {t.name: t.target_commit for t in refs.tags}

    def publish(self, folder: str | Path, repo_id: str, *, version: str, message: str | None = None) -> VersionInfo:
        """Publish ``folder`` as ``version``: one commit on ``main`` and one tag."""
        folder = Path(folder)
        validate_repo_id(repo_id)
        validate_version(version)
        verify_folder(folder)
        check_safe_files(folder)
        self.api.create_repo(repo_id, repo_type="model", private=self.private, exist_ok=True)
        if version in self._tags(repo_id):
            raise VersionExistsError(f"{repo_id} {version} is already published; publish the next version")
        head = self.api.model_info(repo_id, revision=BRANCH).sha
        remote = set(self.api.list_repo_files(repo_id, revision=BRANCH, repo_type="model"))
        local = {*package_files(folder), MANIFEST_NAME}
        stale = sorted(remote - local - set(HUB_METADATA_FILES))
        info = self.api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="model",
            revision=BRANCH,
            commit_message=message or f"Publish {repo_id} {version}",
            delete_patterns=stale or None,
            parent_commit=head,
        )
        self.api.create_tag(repo_id, tag=version, revision=info.oid, tag_message=f"{repo_id} {version}",
                            repo_type="model")  # fmt: skip
        # Results and lineage from the card just uploaded, as list_versions reads them later.
        card = card_metadata((folder / CARD_NAME).read_text(encoding="utf-8"))
        lineage = card_lineage(card)
        return VersionInfo(
            repo_id=repo_id,
            version=version,
            commit=info.oid,
            manifest_digest=manifest_digest(folder),
            results=tuple(card_results(card)),
            base_model=lineage.get("base_model"),
            base_model_revision=lineage.get("base_model_revision"),
        )

    def resolve(self, repo_id: str, revision: str = BRANCH) -> str:
        """The full commit id of ``revision`` (a version tag, ``main`` or a 40-digit commit id)."""
        validate_repo_id(repo_id)
        kind = classify_revision(revision)
        if kind == "version":
            tags = self._tags(repo_id)
            if revision not in tags:
                known = ", ".join(sorted(tags, key=version_key)) or "none"
                raise VersionNotFoundError(f"{repo_id} has no version {revision!r} (published versions: {known})")
            return tags[revision]
        return self.api.model_info(repo_id, revision=revision).sha

    def download(
        self,
        repo_id: str,
        *,
        revision: str = BRANCH,
        dest: str | Path | None = None,
        expected_digest: str | None = None,
    ) -> Path:
        """Fetch ``revision`` (pinned to its commit) into ``dest``, verified against the manifest."""
        owner, name = validate_repo_id(repo_id)
        commit = self.resolve(repo_id, revision)
        dest = Path(dest) if dest is not None else self.downloads / owner / name / commit
        if dest.exists():
            verify_folder(dest, expected_digest=expected_digest)
            check_safe_files(dest)
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            self.api.snapshot_download(repo_id=repo_id, repo_type="model", revision=commit, local_dir=str(staging),
                                       ignore_patterns=list(HUB_METADATA_FILES))  # fmt: skip
            # snapshot_download keeps its bookkeeping in local_dir/.cache: not part of the package.
            shutil.rmtree(staging / ".cache", ignore_errors=True)
            verify_folder(staging, expected_digest=expected_digest)
            check_safe_files(staging)
            try:
                os.rename(staging, dest)
            except OSError:
                if not dest.exists():
                    raise
                verify_folder(dest, expected_digest=expected_digest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return dest

    def list_versions(self, repo_id: str) -> list[VersionInfo]:
        """Every version tag, oldest first, with results and lineage read from its card."""
        validate_repo_id(repo_id)
        tags = self._tags(repo_id)  # first: a missing repo is a RepoNotFoundError
        dates = {c.commit_id: c.created_at.isoformat() for c in self.api.list_repo_commits(repo_id)}
        infos = []
        for version, commit in tags.items():
            try:
                validate_version(version)
            except SharingError:
                continue  # tags that are not course versions
            readme = self.api.hf_hub_download(repo_id, "README.md", revision=commit, repo_type="model")
            manifest = self.api.hf_hub_download(repo_id, MANIFEST_NAME, revision=commit, repo_type="model")
            card = card_metadata(Path(readme).read_text(encoding="utf-8"))
            lineage = card_lineage(card)
            infos.append(
                VersionInfo(
                    repo_id=repo_id,
                    version=version,
                    commit=commit,
                    date=dates.get(commit),
                    manifest_digest=hashlib.sha256(Path(manifest).read_bytes()).hexdigest(),
                    results=tuple(card_results(card)),
                    base_model=lineage.get("base_model"),
                    base_model_revision=lineage.get("base_model_revision"),
                )
            )
        return sorted(infos, key=lambda v: version_key(v.version))
