"""The local git hub: versions, downloads, tampering, concurrency, interruption."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from slm_helpers import sharing
from slm_helpers.sharing import hub_git
from slm_helpers.sharing.safety import HDF5_SIGNATURE

REPO = "course/toy"


def make_package(folder: Path, *, tag: str = "a", accuracy: float = 0.5, seed: int = 0) -> Path:
    """A package with the files of a Keras directory model (fake weights), a card and a manifest."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"tag": tag}), encoding="utf-8")
    (folder / "metadata.json").write_text('{"keras_version": "test"}', encoding="utf-8")
    weights = np.random.default_rng(seed).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    (folder / "model.weights.h5").write_bytes(HDF5_SIGNATURE + weights)
    (folder / "assets").mkdir()
    (folder / "assets" / "vocabulary.txt").write_text("\n[UNK]\ngood\nbad\n", encoding="utf-8")
    card = sharing.make_model_card(
        model_name="toy",
        repo_id=REPO,
        version="v1",
        description=f"A toy package ({tag}).",
        results=[sharing.Result("SetFit/sst2", "SST-2", "test", "accuracy", accuracy)],
        datasets=["SetFit/sst2"],
    )
    (folder / "README.md").write_text(str(card), encoding="utf-8")
    sharing.write_manifest(folder)
    return folder


def git_out(hub: sharing.LocalGitHub, *args: str) -> str:
    return hub_git.git(hub.repo_path(REPO), *args).decode()


@pytest.fixture
def hub(tmp_path: Path) -> sharing.LocalGitHub:
    return sharing.LocalGitHub(tmp_path / "hub")


def test_publish_download_round_trip(hub, tmp_path):
    pkg = make_package(tmp_path / "pkg", tag="one", accuracy=0.81)
    info = hub.publish(pkg, REPO, version="v1")
    assert info.version == "v1" and len(info.commit) == 40 and info.metric("accuracy") == pytest.approx(0.81)
    assert info.manifest_digest == sharing.manifest_digest(pkg)
    folder = hub.download(REPO, revision="v1")
    assert folder.name == info.commit
    for rel in [*sharing.manifest.package_files(pkg), "manifest.json"]:
        assert (folder / rel).read_bytes() == (pkg / rel).read_bytes(), rel
    assert hub.download(REPO, revision=info.commit[:12]) == folder, "a commit id is a revision too"
    assert hub.list_repos() == [REPO]
    # The hub is a real git repository: anyone can clone it.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--branch", "v1", str(hub.repo_path(REPO)), str(clone)], check=True,
                   env={**os.environ, **hub_git._GIT_ENV})  # fmt: skip
    assert (clone / "model.weights.h5").read_bytes() == (pkg / "model.weights.h5").read_bytes()


def test_each_publish_is_one_commit_and_one_tag_on_a_linear_history(hub, tmp_path):
    for i, version in enumerate(["v1", "v2", "v10"]):
        hub.publish(make_package(tmp_path / version, tag=version, accuracy=0.5 + i / 10), REPO, version=version)
    assert git_out(hub, "rev-list", "--count", "main").strip() == "3"
    assert git_out(hub, "rev-list", "--merges", "main").strip() == ""
    assert sorted(git_out(hub, "tag").split()) == ["v1", "v10", "v2"]
    versions = hub.list_versions(REPO)
    assert [v.version for v in versions] == ["v1", "v2", "v10"], "numeric order, not string order"
    assert [v.metric("accuracy") for v in versions] == pytest.approx([0.5, 0.6, 0.7])
    assert hub.resolve(REPO, "main") == versions[-1].commit
    # Files of an older version do not leak into a newer one: each commit holds exactly its package.
    assert json.loads((hub.download(REPO, revision="v2") / "config.json").read_text()) == {"tag": "v2"}


def test_a_published_version_never_changes(hub, tmp_path):
    hub.publish(make_package(tmp_path / "a", tag="a"), REPO, version="v1")
    before = git_out(hub, "rev-parse", "main")
    with pytest.raises(sharing.VersionExistsError, match="already published"):
        hub.publish(make_package(tmp_path / "b", tag="b"), REPO, version="v1")
    assert git_out(hub, "rev-parse", "main") == before


def test_unknown_revisions_and_repos_are_clear_errors(hub, tmp_path):
    hub.publish(make_package(tmp_path / "a"), REPO, version="v1")
    with pytest.raises(sharing.VersionNotFoundError, match=r"v7.*published versions: v1"):
        hub.download(REPO, revision="v7")
    with pytest.raises(sharing.RepoNotFoundError, match="course/missing"):
        hub.download("course/missing", revision="v1")
    for bad in ["--output=/tmp/x", "main~1", "HEAD", "v1;ls"]:
        with pytest.raises(sharing.InvalidVersionError):
            hub.download(REPO, revision=bad)


@pytest.mark.parametrize("bad", ["../evil", "course/..", "/etc/passwd", "a/b/c", "course/../../x", "course/a b"])
def test_repo_ids_that_escape_the_root_are_rejected_before_any_write(tmp_path, bad):
    hub = sharing.LocalGitHub(tmp_path / "hub")
    pkg = make_package(tmp_path / "pkg")
    with pytest.raises(sharing.InvalidRepoIdError):
        hub.publish(pkg, bad, version="v1")
    assert not (tmp_path / "hub").exists() and not (tmp_path / "evil").exists()


def test_publish_refuses_a_package_that_does_not_match_its_manifest(hub, tmp_path):
    pkg = make_package(tmp_path / "pkg")
    (pkg / "config.json").write_text('{"tag": "changed after the manifest"}')
    with pytest.raises(sharing.TamperedFileError, match="config.json"):
        hub.publish(pkg, REPO, version="v1")
    assert hub.list_repos() == []


def _commit_tampered_version(hub: sharing.LocalGitHub, version: str) -> None:
    """Simulate a hub whose stored files differ from the manifest (a corrupted or malicious copy)."""
    repo = hub.repo_path(REPO)
    tree = hub_git.git(repo, "rev-parse", "main^{tree}").decode().strip()
    blob = hub_git.git(repo, "hash-object", "-w", "--stdin", input=HDF5_SIGNATURE + b"evil weights").decode().strip()
    env = {"GIT_INDEX_FILE": str(repo / "tamper-index")}
    hub_git.git(repo, "read-tree", tree, env=env)
    hub_git.git(repo, "update-index", "--cacheinfo", f"100644,{blob},model.weights.h5", env=env)
    new_tree = hub_git.git(repo, "write-tree", env=env).decode().strip()
    ident = {"GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@x", "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@x"}
    commit = hub_git.git(repo, "commit-tree", new_tree, "-p", "main", "-m", "tampered", env=ident).decode().strip()
    hub_git.git(repo, "update-ref", "refs/heads/main", commit)
    hub_git.git(repo, "tag", version, commit)


def test_a_tampered_file_in_a_downloaded_revision_is_refused(hub, tmp_path):
    hub.publish(make_package(tmp_path / "pkg"), REPO, version="v1")
    _commit_tampered_version(hub, "v2")
    with pytest.raises(sharing.TamperedFileError, match=r"changed model.weights.h5: expected sha256"):
        hub.download(REPO, revision="v2")
    target = hub.downloads / REPO / hub.resolve(REPO, "v2")
    assert not target.exists() and list(target.parent.iterdir()) == [], "the bad copy is deleted, nothing staged"
    # A good download that is changed on disk afterwards is refused the next time it is used.
    good = hub.download(REPO, revision="v1")
    (good / "assets" / "vocabulary.txt").write_text("\n[UNK]\ngood\nterrible\n")
    with pytest.raises(sharing.TamperedFileError, match="changed assets/vocabulary.txt"):
        hub.download(REPO, revision="v1")
    (good / "extra.json").write_text("{}")
    with pytest.raises(sharing.TamperedFileError, match="unexpected extra.json"):
        sharing.verify_folder(good)


def test_a_pinned_manifest_digest_is_enforced(hub, tmp_path):
    info = hub.publish(make_package(tmp_path / "a", tag="a"), REPO, version="v1")
    hub.publish(make_package(tmp_path / "b", tag="b"), REPO, version="v2")
    assert hub.download(REPO, revision="v1", expected_digest=info.manifest_digest).is_dir()
    with pytest.raises(sharing.TamperedFileError, match="not the package you pinned"):
        hub.download(REPO, revision="v2", expected_digest=info.manifest_digest)


def test_works_without_any_git_configuration(tmp_path, monkeypatch):
    # Machines without ~/.gitconfig (CI, Binder) have no user.name/user.email.
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    hub = sharing.LocalGitHub(tmp_path / "hub")
    assert hub.publish(make_package(tmp_path / "pkg"), REPO, version="v1").version == "v1"


def test_default_root_follows_slm_hub_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(sharing.HUB_DIR_ENV, str(tmp_path / "elsewhere"))
    assert sharing.LocalGitHub().root == (tmp_path / "elsewhere").resolve()
    assert isinstance(sharing.get_hub(), sharing.LocalGitHub)


# ---- eight publishers at once --------------------------------------------------------------


def _publish_worker(root: str, package: str, version: str, barrier) -> None:
    barrier.wait(timeout=60)  # start together, so the publishes really overlap
    sharing.LocalGitHub(root).publish(package, REPO, version=version)


def test_eight_processes_publishing_at_once_lose_nothing(hub, tmp_path):
    packages = {f"v{i}": make_package(tmp_path / f"pkg{i}", tag=f"v{i}", seed=i) for i in range(1, 9)}
    ctx = multiprocessing.get_context("forkserver")  # forks from a fresh server: cheap, and TF-free
    barrier = ctx.Barrier(len(packages))
    procs = [
        ctx.Process(target=_publish_worker, args=(str(hub.root), str(pkg), version, barrier))
        for version, pkg in packages.items()
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * 8
    versions = hub.list_versions(REPO)
    assert [v.version for v in versions] == list(packages)
    assert git_out(hub, "rev-list", "--count", "main").strip() == "8", "one commit per publish"
    assert git_out(hub, "rev-list", "--merges", "main").strip() == "", "a linear history"
    tagged = {v.commit for v in versions}
    assert set(git_out(hub, "rev-list", "main").split()) == tagged, "every commit on main is a version"
    for version, pkg in packages.items():  # none corrupted: each version holds exactly its own files
        folder = hub.download(REPO, revision=version)
        assert (folder / "model.weights.h5").read_bytes() == (pkg / "model.weights.h5").read_bytes()
        assert json.loads((folder / "config.json").read_text()) == {"tag": version}
    hub_git.git(hub.repo_path(REPO), "fsck", "--strict")


# ---- interrupted publishes ----------------------------------------------------------------


def _killed_publish_worker(root: str, package: str) -> None:
    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # the power goes off after the objects, before the refs

    hub_git.LocalGitHub._update_refs = die  # type: ignore[method-assign]
    sharing.LocalGitHub(root).publish(package, REPO, version="v2")


def test_a_publish_killed_half_way_leaves_no_half_version(hub, tmp_path):
    v1 = hub.publish(make_package(tmp_path / "a", tag="a"), REPO, version="v1")
    objects_before = git_out(hub, "count-objects", "-v")
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_killed_publish_worker, args=(str(hub.root), str(make_package(tmp_path / "b", tag="b"))))
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == -signal.SIGKILL
    assert git_out(hub, "count-objects", "-v") != objects_before, "the killed publish had written its objects"
    assert [v.version for v in hub.list_versions(REPO)] == ["v1"]
    assert hub.resolve(REPO, "main") == v1.commit
    orphans = git_out(hub, "fsck", "--strict", "--unreachable", "--no-reflogs")
    orphan_commits = [line.split()[-1] for line in orphans.splitlines() if line.startswith("unreachable commit")]
    assert len(orphan_commits) == 1, orphans
    with pytest.raises(sharing.VersionNotFoundError):  # the orphan is not downloadable, even by its id
        hub.download(REPO, revision=orphan_commits[0])
    # The lock died with the process: the next publish goes through at once.
    hub.lock_timeout = 5
    assert hub.publish(make_package(tmp_path / "c", tag="c"), REPO, version="v2").version == "v2"
    assert git_out(hub, "rev-list", "--count", "main").strip() == "2"


def test_a_publish_interrupted_by_an_exception_changes_nothing(hub, tmp_path, monkeypatch):
    v1 = hub.publish(make_package(tmp_path / "a"), REPO, version="v1")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hub_git.LocalGitHub, "_update_refs", interrupted)
    with pytest.raises(KeyboardInterrupt):
        hub.publish(make_package(tmp_path / "b"), REPO, version="v2")
    monkeypatch.undo()
    assert [v.version for v in hub.list_versions(REPO)] == ["v1"] and hub.resolve(REPO, "main") == v1.commit
    hub.lock_timeout = 5
    assert hub.publish(make_package(tmp_path / "c"), REPO, version="v2").version == "v2"


def test_git_lock_contention_is_retried(hub, tmp_path):
    hub.publish(make_package(tmp_path / "a"), REPO, version="v1")
    lock = hub.repo_path(REPO) / "refs" / "heads" / "main.lock"
    lock.write_text("held by someone else")  # git's own ref lock, as a crashed git would leave it
    calls = []
    real = hub_git.LocalGitHub._update_refs

    def flaky(self, *args):
        calls.append(1)
        if len(calls) == 3:
            lock.unlink()
        return real(self, *args)

    hub._update_refs = flaky.__get__(hub)  # type: ignore[method-assign]
    assert hub.publish(make_package(tmp_path / "b"), REPO, version="v2").version == "v2"
    assert len(calls) >= 3, "the first attempts failed on the lock and were retried"


def test_tag_and_branch_move_together_or_not_at_all(hub, tmp_path):
    v1 = hub.publish(make_package(tmp_path / "a"), REPO, version="v1")
    repo = hub.repo_path(REPO)
    commit = hub._write_commit(repo, make_package(tmp_path / "b"), ["config.json"], v1.commit, "x")
    stale_parent = "1" * 40  # main is not there any more: the branch update must fail...
    assert "expected" in hub._update_refs(repo, "v2", commit, stale_parent)
    assert hub._ref(repo, "refs/tags/v2") is None, "...and so must the tag, in the same transaction"
    assert hub._update_refs(repo, "v2", commit, v1.commit) == ""
    assert hub.resolve(REPO, "v2") == hub.resolve(REPO, "main") == commit


def test_a_stored_symlink_is_refused_on_download(hub, tmp_path):
    hub.publish(make_package(tmp_path / "a"), REPO, version="v1")
    repo = hub.repo_path(REPO)
    link = hub_git.git(repo, "hash-object", "-w", "--stdin", input=b"/etc/passwd").decode().strip()
    env = {"GIT_INDEX_FILE": str(tmp_path / "index")}
    hub_git.git(repo, "read-tree", "main", env=env)
    hub_git.git(repo, "update-index", "--add", "--cacheinfo", f"120000,{link},assets/secret.txt", env=env)
    tree = hub_git.git(repo, "write-tree", env=env).decode().strip()
    ident = {"GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@x", "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@x"}
    commit = hub_git.git(repo, "commit-tree", tree, "-p", "main", "-m", "link", env=ident).decode().strip()
    hub_git.git(repo, "update-ref", "refs/heads/main", commit)
    hub_git.git(repo, "tag", "v2", commit)
    with pytest.raises(sharing.UnsafeFileError, match="assets/secret.txt"):
        hub.download(REPO, revision="v2")
    assert not (hub.downloads / REPO / commit).exists()


def test_a_missing_git_is_a_clear_error(hub, tmp_path, monkeypatch):
    pkg = make_package(tmp_path / "a")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    hub_git.git_version.cache_clear()
    try:
        with pytest.raises(sharing.SharingError, match="needs the `git` command"):
            hub.publish(pkg, REPO, version="v1")
    finally:
        hub_git.git_version.cache_clear()


def test_command_line(tmp_path):
    import sys

    pkg = make_package(tmp_path / "pkg", accuracy=0.75)

    def cli(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "slm_helpers.sharing", "--root", str(tmp_path / "hub"), *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=False)

    published = cli("publish", str(pkg), REPO, "--version", "v1")
    assert published.returncode == 0 and published.stdout.startswith(f"published {REPO} v1 "), published.stderr
    listed = cli("versions", REPO)
    assert "version=v1" in listed.stdout and "SST-2 test accuracy=0.75" in listed.stdout
    folder = Path(cli("download", REPO, "--revision", "v1").stdout.strip())
    assert cli("verify", str(folder)).returncode == 0
    (folder / "config.json").write_text("{}")
    failed = cli("verify", str(folder))
    assert failed.returncode == 1 and "TamperedFileError" in failed.stderr and "config.json" in failed.stderr
    missing = cli("download", REPO, "--revision", "v9")
    assert missing.returncode == 1 and "published versions: v1" in missing.stderr
