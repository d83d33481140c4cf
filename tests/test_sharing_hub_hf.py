"""The Hugging Face Hub path, offline: ``HfApi`` is replaced by an autospec'd mock over an in-memory hub.

``create_autospec`` checks every call against the real ``HfApi`` signatures of the
installed huggingface_hub, so a renamed argument fails here. Not covered offline (no
maintained local Hub server is installable): authentication, the real upload protocol
(LFS/Xet), the server's answer to a stale ``parent_commit``, and the Hub's card validation.
"""

from __future__ import annotations

import fnmatch
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from huggingface_hub import HfApi
from huggingface_hub.hf_api import GitCommitInfo, GitRefInfo, GitRefs

from slm_helpers import sharing
from tests.test_sharing_hub_git import REPO, make_package


class FakeHub:
    """Just enough of the Hub's behaviour: repos of commits (file dicts), a main branch and tags."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.repos: dict[str, dict] = {}

    def _commit(self, repo: dict, files: dict[str, bytes], title: str) -> str:
        oid = hashlib.sha1(repr((repo["head"], sorted(files.items()), title)).encode()).hexdigest()
        repo["commits"][oid] = files
        repo["log"].insert(0, (oid, title))
        repo["head"] = oid
        return oid

    def _repo(self, repo_id: str) -> dict:
        if repo_id not in self.repos:
            from huggingface_hub.errors import RepositoryNotFoundError

            raise RepositoryNotFoundError(f"404 {repo_id}", response=mock.MagicMock(status_code=404))
        return self.repos[repo_id]

    def create_repo(self, repo_id, *, repo_type=None, private=None, exist_ok=False, **_):
        if repo_id not in self.repos:
            self.repos[repo_id] = {"commits": {}, "tags": {}, "head": None, "log": [], "private": private}
            self._commit(self.repos[repo_id], {".gitattributes": b"*.h5 filter=lfs\n"}, "initial commit")
        return f"https://huggingface.co/{repo_id}"

    def list_repo_refs(self, repo_id, *, repo_type=None, **_):
        repo = self._repo(repo_id)
        tags = [GitRefInfo(name=t, ref=f"refs/tags/{t}", target_commit=c) for t, c in repo["tags"].items()]
        return GitRefs(branches=[GitRefInfo("main", "refs/heads/main", repo["head"])], converts=[], tags=tags)

    def model_info(self, repo_id, *, revision=None, **_):
        repo = self._repo(repo_id)
        return SimpleNamespace(sha=repo["head"] if revision in (None, "main") else revision)

    def list_repo_files(self, repo_id, *, revision=None, repo_type=None, **_):
        return sorted(self._repo(repo_id)["commits"][self.model_info(repo_id, revision=revision).sha])

    def upload_folder(self, *, repo_id, folder_path, commit_message=None, delete_patterns=None, parent_commit=None,
                      revision=None, repo_type=None, **_):  # fmt: skip
        repo = self._repo(repo_id)
        if parent_commit is not None and parent_commit != repo["head"]:
            raise RuntimeError("412 Precondition Failed: parent_commit is not the head of main")
        files = dict(repo["commits"][repo["head"]])
        for pattern in delete_patterns or []:
            files = {k: v for k, v in files.items() if not fnmatch.fnmatch(k, pattern)}
        for path in Path(folder_path).rglob("*"):
            if path.is_file():
                files[path.relative_to(folder_path).as_posix()] = path.read_bytes()
        return SimpleNamespace(oid=self._commit(repo, files, commit_message))

    def create_tag(self, repo_id, *, tag, revision=None, tag_message=None, repo_type=None, exist_ok=False, **_):
        repo = self._repo(repo_id)
        assert tag not in repo["tags"], "409 Conflict: tag exists"
        repo["tags"][tag] = revision

    def snapshot_download(self, repo_id, *, revision=None, local_dir=None, ignore_patterns=None, repo_type=None, **_):
        files = self._repo(repo_id)["commits"][revision]
        for rel, data in files.items():
            if not any(fnmatch.fnmatch(rel, p) for p in ignore_patterns or []):
                (Path(local_dir) / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(local_dir) / rel).write_bytes(data)
        bookkeeping = Path(local_dir) / ".cache" / "huggingface" / "download"  # as the real client leaves it
        bookkeeping.mkdir(parents=True)
        (bookkeeping / "README.md.metadata").write_text("etag")
        return str(local_dir)

    def hf_hub_download(self, repo_id, filename, *, revision=None, repo_type=None, **_):
        out = self.tmp / "hf-cache" / revision / filename
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(self._repo(repo_id)["commits"][revision][filename])
        return str(out)

    def list_repo_commits(self, repo_id, *, repo_type=None, **_):
        when = datetime(2026, 1, 1, tzinfo=UTC)
        return [GitCommitInfo(oid, [], when, title, title, None, None) for oid, title in self._repo(repo_id)["log"]]


@pytest.fixture
def fake(tmp_path):
    return FakeHub(tmp_path)


@pytest.fixture
def hub(fake, tmp_path):
    api = mock.create_autospec(HfApi, instance=True)  # calls are checked against the real signatures
    for name in ("create_repo", "list_repo_refs", "model_info", "list_repo_files", "upload_folder", "create_tag",
                 "snapshot_download", "hf_hub_download", "list_repo_commits"):  # fmt: skip
        getattr(api, name).side_effect = getattr(fake, name)
    return sharing.HfHub(None, api=api, downloads=tmp_path / "downloads")


def test_publish_list_download_round_trip(hub, fake, tmp_path):
    v1 = hub.publish(make_package(tmp_path / "a", tag="a", accuracy=0.8), REPO, version="v1")
    v2 = hub.publish(make_package(tmp_path / "b", tag="b", accuracy=0.85), REPO, version="v2")
    assert fake.repos[REPO]["private"] is True, "private unless asked otherwise"
    assert fake.repos[REPO]["tags"] == {"v1": v1.commit, "v2": v2.commit}
    versions = hub.list_versions(REPO)
    assert [(v.version, v.metric("accuracy")) for v in versions] == [("v1", 0.8), ("v2", 0.85)]
    assert versions[0].manifest_digest == sharing.manifest_digest(tmp_path / "a") == v1.manifest_digest
    folder = hub.download(REPO, revision="v1")
    assert folder.name == v1.commit and not (folder / ".cache").exists() and not (folder / ".gitattributes").exists()
    assert (folder / "config.json").read_text() == '{"tag": "a"}'
    assert sharing.verify_folder(folder)


def test_calls_use_the_real_hfapi_arguments(hub, tmp_path):
    v1 = hub.publish(make_package(tmp_path / "a"), REPO, version="v1")
    upload = hub.api.upload_folder.call_args.kwargs
    assert upload["parent_commit"] and upload["repo_id"] == REPO and upload["revision"] == "main"
    assert hub.api.create_tag.call_args.kwargs == {"tag": "v1", "revision": v1.commit, "tag_message": f"{REPO} v1",
                                                   "repo_type": "model"}  # fmt: skip
    with pytest.raises(TypeError):  # the mock is strict: an argument HfApi does not have is an error
        hub.api.upload_folder(repo_id=REPO, folder_path=".", no_such_argument=1)


def test_files_dropped_by_a_new_version_are_deleted_in_its_commit(hub, fake, tmp_path):
    hub.publish(make_package(tmp_path / "a"), REPO, version="v1")
    second = make_package(tmp_path / "b", tag="b")
    (second / "assets" / "vocabulary.txt").unlink()
    sharing.write_manifest(second)
    v2 = hub.publish(second, REPO, version="v2")
    assert "assets/vocabulary.txt" not in fake.repos[REPO]["commits"][v2.commit]
    assert ".gitattributes" in fake.repos[REPO]["commits"][v2.commit], "the Hub's own file is kept"
    assert sharing.verify_folder(hub.download(REPO, revision="v2"))


def test_existing_versions_and_unknown_revisions(hub, tmp_path):
    hub.publish(make_package(tmp_path / "a"), REPO, version="v1")
    with pytest.raises(sharing.VersionExistsError):
        hub.publish(make_package(tmp_path / "b"), REPO, version="v1")
    with pytest.raises(sharing.VersionNotFoundError, match="published versions: v1"):
        hub.download(REPO, revision="v3")
    with pytest.raises(sharing.RepoNotFoundError):
        hub.list_versions("course/nothing")
    with pytest.raises(sharing.InvalidRepoIdError):
        hub.download("../../etc", revision="v1")


def test_a_tampered_file_served_by_the_hub_is_refused(hub, fake, tmp_path):
    v1 = hub.publish(make_package(tmp_path / "a"), REPO, version="v1")
    fake.repos[REPO]["commits"][v1.commit]["config.json"] = b'{"tag": "evil"}'
    with pytest.raises(sharing.TamperedFileError, match="changed config.json"):
        hub.download(REPO, revision="v1")
    assert list((tmp_path / "downloads" / REPO).iterdir()) == [], "nothing left behind"


def test_a_concurrent_push_is_not_overwritten(hub, fake, tmp_path):
    hub.publish(make_package(tmp_path / "a"), REPO, version="v1")
    real_model_info = fake.model_info

    def stale_head(repo_id, **kwargs):
        info = real_model_info(repo_id, **kwargs)
        fake._commit(fake.repos[REPO], {"other.json": b"{}"}, "someone else pushed")  # lands in between
        return info

    hub.api.model_info.side_effect = stale_head
    with pytest.raises(RuntimeError, match="412"):
        hub.publish(make_package(tmp_path / "b"), REPO, version="v2")
    assert "v2" not in fake.repos[REPO]["tags"]


def test_get_hub_goes_online_only_with_a_token(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_from_the_environment")
    assert isinstance(sharing.get_hub(), sharing.LocalGitHub), "a token in the environment is not used silently"
    with mock.patch("huggingface_hub.HfApi") as api_class:
        hub = sharing.get_hub(token="hf_explicit")
    assert isinstance(hub, sharing.HfHub)
    assert api_class.call_args.kwargs["token"] == "hf_explicit"
    with pytest.raises(ValueError, match="token"):
        sharing.HfHub(None)
