"""Manifests, the safe-format allowlist and repo id / version rules."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from slm_helpers import sharing
from slm_helpers.sharing.safety import HDF5_SIGNATURE


@pytest.fixture
def pkg(tmp_path: Path) -> Path:
    folder = tmp_path / "pkg"
    (folder / "assets").mkdir(parents=True)
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "model.weights.h5").write_bytes(HDF5_SIGNATURE + bytes(range(256)) * 8)
    (folder / "assets" / "vocabulary.txt").write_text("\n[UNK]\nthe\n")
    sharing.write_manifest(folder)
    return folder


def test_manifest_entry_is_sha256_and_size(tmp_path):
    big = tmp_path / "big.bin"
    data = np.random.default_rng(0).integers(0, 256, 3 * (1 << 20) + 5, dtype=np.uint8).tobytes()
    big.write_bytes(data)  # larger than one 1 MiB chunk: the chunked hash must equal the one-shot hash
    assert sharing.manifest_entry(big) == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    with pytest.raises(FileNotFoundError, match="regular file"):
        sharing.manifest_entry(tmp_path)


def test_manifest_lists_every_file_but_itself(pkg):
    manifest = json.loads((pkg / "manifest.json").read_text())
    assert sorted(manifest["files"]) == ["assets/vocabulary.txt", "config.json", "model.weights.h5"]
    assert manifest["files"]["config.json"]["sha256"] == hashlib.sha256(b'{"a": 1}').hexdigest()
    assert sharing.verify_folder(pkg) == manifest
    assert sharing.manifest_digest(pkg) == hashlib.sha256((pkg / "manifest.json").read_bytes()).hexdigest()


def test_changed_missing_and_extra_files_are_named(pkg):
    raw = bytearray((pkg / "model.weights.h5").read_bytes())
    raw[100] ^= 1  # one flipped bit, same size
    (pkg / "model.weights.h5").write_bytes(bytes(raw))
    (pkg / "assets" / "vocabulary.txt").unlink()
    (pkg / "assets" / "payload.json").write_text("{}")
    report = sharing.compare_with_manifest(pkg)
    assert [c[0] for c in report.changed] == ["model.weights.h5"]
    assert report.missing == ["assets/vocabulary.txt"] and report.unexpected == ["assets/payload.json"]
    with pytest.raises(sharing.TamperedFileError) as err:
        sharing.verify_folder(pkg)
    message = str(err.value)
    for expected in ("changed model.weights.h5", "missing assets/vocabulary.txt", "unexpected assets/payload.json",
                     "download the version again"):  # fmt: skip
        assert expected in message


@pytest.mark.parametrize(
    "name", ["../outside.txt", "/etc/passwd", "a/../../b", "manifest.json", "./config.json", "a\\b"]
)
def test_manifests_naming_files_outside_the_package_are_refused(pkg, name):
    manifest = json.loads((pkg / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": "0" * 64, "size": 1}
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(sharing.ManifestError, match="not allowed"):
        sharing.read_manifest(pkg)


def test_a_missing_or_broken_manifest_is_a_clear_error(pkg):
    (pkg / "manifest.json").write_text("{not json")
    with pytest.raises(sharing.ManifestError, match="not valid UTF-8 JSON"):
        sharing.verify_folder(pkg)
    (pkg / "manifest.json").unlink()
    with pytest.raises(sharing.ManifestError, match="missing"):
        sharing.verify_folder(pkg)


def test_symlinks_are_refused(pkg, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    os.symlink(secret, pkg / "assets" / "link.txt")
    with pytest.raises(sharing.UnsafeFileError, match="symbolic links"):
        sharing.write_manifest(pkg)


class _Payload:
    def __reduce__(self):
        return (print, ("this would run on load",))


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("model.pkl", pickle.dumps({"w": 1}), "pickle"),
        ("weights.json", pickle.dumps(_Payload()), "pickle"),  # a pickle with an innocent name
        ("tokenizer.joblib", b"anything", "pickle"),
        ("model.weights.h5", b"not hdf5 at all", "HDF5"),
        ("notes.txt", b"text\x00with a NUL", "NUL"),
        ("notes.md", b"\xff\xfe latin-1?", "UTF-8"),
        ("run.py", b"import os", "not allowed"),
        ("weights.safetensors", b"\x05\x00\x00\x00\x00\x00\x00\x00{oops", "safetensors"),
        ("tokenizer.json", pickle.dumps(_Payload(), protocol=0), "valid JSON"),  # a text pickle: printable
        ("vocab.json", b"{'not': 'json'}", "valid JSON"),
        ("legacy_model.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 8, "only HDF5 file allowed"),
    ],
)
def test_unsafe_formats_are_refused(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(sharing.UnsafeFileError, match=match):
        sharing.check_file(path)


def test_a_protocol_0_pickle_is_printable_text_and_would_pass_a_utf8_check():
    payload = pickle.dumps(_Payload(), protocol=0)
    assert payload.decode("utf-8") and b"\x00" not in payload and payload[0] != 0x80  # why JSON must be parsed


@pytest.mark.parametrize("version, ok", [("3.8.0", False), ("3.10.0", False), ("3.11.2", False), ("3.11.3", True),
                                         ("3.15.1", True), ("4.0.0.dev0", True)])
def test_keras_with_known_safe_mode_bypasses_is_refused(version, ok):
    if ok:
        assert sharing.require_safe_keras(version) == version
    else:
        with pytest.raises(sharing.UnsafeFileError, match="CVE-2025-1550"):
            sharing.require_safe_keras(version)
    assert sharing.require_safe_keras()  # the pinned Keras passes


def test_safe_formats_pass(pkg, tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.ones((2, 2), np.float32)}, str(pkg / "extra.safetensors"))
    assert "extra.safetensors" in sharing.check_safe_files(pkg)


@pytest.mark.parametrize("repo_id", ["course/sst2-cnn", "Alice/my_model.v2", "a/b", "x1/" + "n" * 96])
def test_valid_repo_ids(repo_id):
    assert sharing.validate_repo_id(repo_id) == tuple(repo_id.split("/"))


@pytest.mark.parametrize(
    "repo_id",
    ["", "sst2", "a/b/c", "/abs/path", "../x", "a/..", "a/../b", "..a/b", "a/b..c", "a--b/c", "-a/b", "a/b-",
     ".hidden/x", "a/.git", "a b/c", "a/b;rm -rf", "a/é", "a/b\n", "x/" + "n" * 97, None, 42],
)  # fmt: skip
def test_invalid_repo_ids_are_rejected(repo_id):
    with pytest.raises(sharing.InvalidRepoIdError):
        sharing.validate_repo_id(repo_id)


def test_versions_and_revisions():
    assert [sharing.validate_version(v) for v in ("v1", "v2.1", "v1.0.3")] == ["v1", "v2.1", "v1.0.3"]
    assert sorted(["v10", "v2", "v1.5", "v1"], key=sharing.version_key) == ["v1", "v1.5", "v2", "v10"]
    for bad in ("1", "v", "v01", "v1.2.3.4", "latest", "v1 ", "../v1"):
        with pytest.raises(sharing.InvalidVersionError):
            sharing.validate_version(bad)
    assert sharing.classify_revision("main") == "branch" and sharing.classify_revision("abc1234") == "commit"
    for bad in ("--output=x", "main~1", "HEAD", "refs/heads/main", "ABC1234"):
        with pytest.raises(sharing.InvalidVersionError):
            sharing.classify_revision(bad)
