"""A local hub made of real git repositories: ``<root>/<owner>/<name>`` is a bare repo.

One publish is one commit on ``main`` plus one tag (the version). The files of the commit
are exactly the package's files, hashed into git objects with a private index, so no
working tree is ever half-updated. Both refs move in one ``git update-ref --stdin``
transaction: a reader sees the version completely or not at all. Publishers of the same
repo are serialized by an ``flock`` on ``<repo>/slm-publish.lock``, and the ref update also
checks that ``main`` is still where the commit's parent says (compare-and-swap), retrying
on git's own ``*.lock`` contention. Downloads use ``git archive`` of the tagged commit,
extracted into a staging folder, verified against the manifest, then renamed into place.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import random
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from .card import card_lineage, card_metadata, card_results
from .errors import (
    HubBusyError,
    RepoNotFoundError,
    SharingError,
    UnsafeFileError,
    VersionExistsError,
    VersionNotFoundError,
)
from .manifest import MANIFEST_NAME, package_files, verify_folder
from .naming import BRANCH, classify_revision, validate_repo_id, validate_version, version_key
from .safety import check_safe_files
from .versions import VersionInfo, default_hub_dir

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "slm-publish.lock"
ZERO_OID = "0" * 40
DEFAULT_AUTHOR = ("slm-course", "slm-course@localhost")
# The user's own git configuration (hooks, signing, templates) must not change what a publish does.
_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


class GitError(SharingError):
    """A git command failed; the message holds the command and git's own words."""


MIN_GIT = (2, 28)  # `init --initial-branch` (2.28) and `update-ref --stdin` transactions (2.27)


@functools.cache
def git_version() -> tuple[int, int]:
    """The installed git's (major, minor); a clear error when git is missing or too old."""
    try:
        out = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True).stdout
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        raise GitError(
            "the local hub needs the `git` command, which was not found; install git (https://git-scm.com) "
            "or publish to the Hugging Face Hub with a token"
        ) from exc
    found = re.search(r"(\d+)\.(\d+)", out)
    version = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    if version < MIN_GIT:
        raise GitError(f"the local hub needs git >= {MIN_GIT[0]}.{MIN_GIT[1]}, found {out.strip()!r}; update git")
    return version


def git(git_dir: Path | None, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    """Run ``git [--git-dir DIR] ARGS``; return stdout, raise ``GitError`` with stderr on failure."""
    git_version()
    cmd = ["git", "-c", "core.autocrlf=false", "-c", "commit.gpgSign=false", "-c", "gc.auto=0"]
    if git_dir is not None:
        cmd += ["--git-dir", str(git_dir)]
    cmd += list(args)
    run_env = {**os.environ, **_GIT_ENV, **(env or {})}
    proc = subprocess.run(cmd, input=input, capture_output=True, env=run_env, check=False)
    if proc.returncode != 0:
        raise GitError(f"`git {' '.join(args)}` failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return proc.stdout


@contextlib.contextmanager
def repo_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed); released on exit or process death."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise HubBusyError(
                            f"{path} stayed locked for {timeout:.0f} s: another publish to this repo is running "
                            "(or hung); try again later"
                        ) from None
                    time.sleep(0.02 + random.random() * 0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _extract_plain(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract only plain files and folders with safe relative names (publish never stores anything else)."""
    members = tar.getmembers()
    for member in members:
        parts = member.name.split("/")
        if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in parts:
            raise UnsafeFileError(
                f"{member.name!r} in the stored version is a link, a device or escapes the folder; "
                "a package holds plain files only, so this version was not made by publish() and is refused"
            )
    # filter="data" (Python >= 3.11.4) re-checks the same and drops permissions and owners.
    extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    tar.extractall(dest, members=members, **extra)


class LocalGitHub:
    """A hub in a folder: ``publish``, ``download``, ``list_versions``, ``list_repos``."""

    kind = "local-git"

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        downloads: str | Path | None = None,
        author: tuple[str, str] = DEFAULT_AUTHOR,
        lock_timeout: float = 120.0,
    ) -> None:
        self.root = Path(root).expanduser().resolve() if root is not None else default_hub_dir().resolve()
        self.downloads = Path(downloads).expanduser().resolve() if downloads else self.root / ".downloads"
        self.author = author
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"LocalGitHub(root={str(self.root)!r})"

    # ---- repositories -------------------------------------------------------------
    def repo_path(self, repo_id: str) -> Path:
        owner, name = validate_repo_id(repo_id)
        return self.root / owner / name

    def _existing_repo(self, repo_id: str) -> Path:
        path = self.repo_path(repo_id)
        if not (path / "HEAD").is_file():
            known = ", ".join(self.list_repos()) or "none yet"
            raise RepoNotFoundError(f"no repo {repo_id!r} in the hub at {self.root} (repos: {known})")
        return path

    def list_repos(self) -> list[str]:
        """Every ``owner/name`` in the hub (hidden staging folders are skipped)."""
        if not self.root.is_dir():
            return []
        return sorted(
            f"{owner.name}/{repo.name}"
            for owner in self.root.iterdir()
            if owner.is_dir() and not owner.name.startswith(".")
            for repo in owner.iterdir()
            if not repo.name.startswith(".") and (repo / "HEAD").is_file()
        )

    def _ensure_repo(self, repo_id: str) -> Path:
        """Create the bare repo if needed: initialised aside, then renamed into place (atomic)."""
        path = self.repo_path(repo_id)
        if (path / "HEAD").is_file():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.parent / f".{path.name}.init-{uuid.uuid4().hex[:8]}"
        try:
            git(None, "init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(staging))
            (staging / "description").write_text(f"{repo_id}: model versions published with slm_helpers.sharing\n")
            try:
                os.rename(staging, path)
            except OSError:
                if not (path / "HEAD").is_file():  # not a lost race: a real problem
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return path

    # ---- publish ------------------------------------------------------------------
    def publish(self, folder: str | Path, repo_id: str, *, version: str, message: str | None = None) -> VersionInfo:
        """Publish the package in ``folder`` as ``version`` of ``repo_id``: one commit and one tag."""
        folder = Path(folder)
        validate_version(version)
        verify_folder(folder)  # never publish a package that does not match its own manifest
        check_safe_files(folder)
        repo = self._ensure_repo(repo_id)
        files = [*package_files(folder), MANIFEST_NAME]
        commit = self._publish_locked(repo, repo_id, folder, files, version, message)
        return self._version_info(repo_id, repo, version, commit)

    def _publish_locked(
        self, repo: Path, repo_id: str, folder: Path, files: list[str], version: str, message: str | None
    ) -> str:
        last_error = ""
        with repo_lock(repo / LOCK_NAME, self.lock_timeout):
            for attempt in range(40):
                if self._ref(repo, f"refs/tags/{version}"):
                    raise VersionExistsError(self._exists_message(repo_id, version))
                parent = self._ref(repo, f"refs/heads/{BRANCH}")
                commit = self._write_commit(repo, folder, files, parent, message or f"Publish {repo_id} {version}")
                last_error = self._update_refs(repo, version, commit, parent)
                if not last_error:
                    return commit
                time.sleep(min(1.0, 0.02 * 2**attempt) * (0.5 + random.random()))  # git lock contention: back off
        raise HubBusyError(f"could not update the refs of {repo_id!r} after 40 attempts ({last_error}); try again")

    def _exists_message(self, repo_id: str, version: str) -> str:
        return (
            f"{repo_id} {version} is already published, and published versions never change; "
            "publish the new model as the next version"
        )

    def _ref(self, repo: Path, ref: str) -> str | None:
        try:
            return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip() or None
        except GitError:
            return None

    def _write_commit(self, repo: Path, folder: Path, files: list[str], parent: str | None, message: str) -> str:
        """Write blobs, a tree and a commit for exactly ``files``; no ref changes yet (invisible)."""
        name, email = self.author
        identity = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        paths = "".join(f"{folder / rel}\n" for rel in files).encode()
        blobs = git(repo, "hash-object", "-w", "--no-filters", "--stdin-paths", input=paths).decode().split()
        with tempfile.TemporaryDirectory(prefix="slm-publish-") as tmp:
            index_env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            entries = "".join(f"100644 {blob}\t{rel}\n" for blob, rel in zip(blobs, files, strict=True))
            git(repo, "update-index", "--add", "--index-info", input=entries.encode(), env=index_env)
            tree = git(repo, "write-tree", env=index_env).decode().strip()
        parents = ["-p", parent] if parent else []
        return git(repo, "commit-tree", tree, *parents, "-m", message, env=identity).decode().strip()

    def _update_refs(self, repo: Path, version: str, commit: str, parent: str | None) -> str:
        """Move ``main`` and create the tag in one transaction; return ``""`` or git's error to retry on."""
        script = (
            "start\n"
            f"create refs/tags/{version} {commit}\n"
            f"update refs/heads/{BRANCH} {commit} {parent or ZERO_OID}\n"
            "prepare\ncommit\n"
        )
        try:
            git(repo, "update-ref", "--stdin", input=script.encode())
            return ""
        except GitError as exc:
            return str(exc)  # the tag appeared, main moved, or a *.lock was held: the caller re-checks

    # ---- read ---------------------------------------------------------------------
    def _published(self, repo: Path, commit: str) -> bool:
        try:
            git(repo, "merge-base", "--is-ancestor", commit, f"refs/heads/{BRANCH}")
            return True
        except GitError:
            return False

    def resolve(self, repo_id: str, revision: str = BRANCH) -> str:
        """The full commit id of ``revision`` (a version, ``main`` or a commit id)."""
        repo = self._existing_repo(repo_id)
        kind = classify_revision(revision)
        ref = {"version": f"refs/tags/{revision}", "branch": f"refs/heads/{revision}", "commit": revision}[kind]
        commit = self._ref(repo, ref)
        if commit is not None and kind == "commit" and not self._published(repo, commit):
            commit = None  # an object left by an interrupted publish is not a version
        if commit is None:
            versions = ", ".join(v.version for v in self.list_versions(repo_id)) or "none"
            raise VersionNotFoundError(f"{repo_id} has no revision {revision!r} (published versions: {versions})")
        return commit

    def list_versions(self, repo_id: str) -> list[VersionInfo]:
        """Every published version, oldest first, with the results and lineage from its card."""
        repo = self._existing_repo(repo_id)
        out = git(repo, "for-each-ref", "--format=%(refname:strip=2) %(objectname) %(creatordate:iso-strict)",
                  "refs/tags")  # fmt: skip
        infos = []
        for line in out.decode().splitlines():
            version, commit, date = line.split(" ", 2)
            with contextlib.suppress(SharingError, ValueError):
                validate_version(version)
                infos.append(self._version_info(repo_id, repo, version, commit, date))
        return sorted(infos, key=lambda v: version_key(v.version))

    def _version_info(
        self, repo_id: str, repo: Path, version: str, commit: str, date: str | None = None
    ) -> VersionInfo:
        import hashlib

        if date is None:
            date = git(repo, "show", "-s", "--format=%cI", commit).decode().strip()
        digest = hashlib.sha256(git(repo, "cat-file", "blob", f"{commit}:{MANIFEST_NAME}")).hexdigest()
        try:
            card = card_metadata(git(repo, "cat-file", "blob", f"{commit}:README.md").decode("utf-8"))
            results, lineage = tuple(card_results(card)), card_lineage(card)
        except (GitError, UnicodeDecodeError, ValueError):
            results, lineage = (), {}
        return VersionInfo(
            repo_id=repo_id,
            version=version,
            commit=commit,
            date=date,
            manifest_digest=digest,
            results=results,
            base_model=lineage.get("base_model"),
            base_model_revision=lineage.get("base_model_revision"),
        )

    def download(
        self,
        repo_id: str,
        *,
        revision: str = BRANCH,
        dest: str | Path | None = None,
        expected_digest: str | None = None,
    ) -> Path:
        """Fetch ``revision`` into ``dest`` (default ``<downloads>/<owner>/<name>/<commit>``), verified.

        The files are extracted into a hidden staging folder and checked against the manifest
        (and ``expected_digest`` if given) before one rename makes them visible; a copy that
        fails the check is deleted and ``TamperedFileError`` says which files differ.
        """
        repo = self._existing_repo(repo_id)
        commit = self.resolve(repo_id, revision)
        owner, name = validate_repo_id(repo_id)
        dest = Path(dest) if dest is not None else self.downloads / owner / name / commit
        if dest.exists():
            verify_folder(dest, expected_digest=expected_digest)  # a cached copy is checked every time
            check_safe_files(dest)
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            archive = git(repo, "archive", "--format=tar", commit)
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
                _extract_plain(tar, staging)
            staging.mkdir(exist_ok=True)
            verify_folder(staging, expected_digest=expected_digest)
            check_safe_files(staging)
            try:
                os.rename(staging, dest)
            except OSError:
                if not dest.exists():  # a concurrent download of the same commit won the rename: fine
                    raise
                verify_folder(dest, expected_digest=expected_digest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return dest
