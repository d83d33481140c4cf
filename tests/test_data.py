"""The dataset registry: real loading through the mirror, and every bad-input case."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from slm_helpers import data
from slm_helpers.data import fetching as fetch_module
from slm_helpers.data.decoding import DataEncodingError, decode_bytes, split_lines
from slm_helpers.data.registry import RemoteFile, all_remote_files
from slm_helpers.splits import overlap

CONTENT = b"1 a good film\n0 a bad film\n"


def remote(url: str = "https://example.invalid/toy.txt", content: bytes = CONTENT) -> RemoteFile:
    return RemoteFile("toy.txt", url, hashlib.sha256(content).hexdigest(), len(content), "utf-8")


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cache, mirror = tmp_path / "cache", tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("SLM_DATA_DIR", str(cache))
    monkeypatch.setenv("SLM_DATA_MIRROR", str(mirror))
    return cache, mirror


def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


# ---------------------------------------------------------------- registry and real data


def test_registry_matches_mirror_readme():
    readme = Path(__file__).resolve().parents[2] / "shared" / "data" / "README.md"
    if not readme.exists():
        pytest.skip("no ../shared/data/README.md beside the checkout")
    text = readme.read_text(encoding="utf-8")
    for f in all_remote_files():
        assert f.sha256 in text and f.url in text, f"{f.name}: URL or hash differs from the mirror README"


def test_sst2_splits(needs_data):
    sst = data.load("sst2", progress=False)
    assert (len(sst.train), len(sst.dev), len(sst.test)) == (6920, 872, 1821)
    assert set(np.unique(sst.train.labels)) == {0, 1}
    assert sst.label_names == ("negative", "positive")
    assert "crème brûlée" in " ".join(sst.test.texts)  # UTF-8 decoded, not mojibake


def test_mr_is_windows_1252_and_split_leak_free(needs_data):
    mr = data.load("mr", progress=False)
    assert len(mr.train) + len(mr.dev) + len(mr.test) == 10_662
    everything = mr.train.texts + mr.dev.texts + mr.test.texts
    # A known accented sentence, decoded correctly from Windows-1252 bytes.
    assert any("provides amélie's audrey tautou" in t for t in everything)
    assert any("ladrón de orquídeas" in t for t in everything)
    assert not any("Ã" in t for t in everything)
    # Leak-free: no sentence in two splits; stratified: each split about half positive.
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
        assert not overlap(mr.splits[a].texts, mr.splits[b].texts), f"{a}/{b} share sentences"
    for split in mr.splits.values():
        assert abs(split.labels.mean() - 0.5) < 0.01
    # Fixed: the same split every time.
    again = data.load("mr", progress=False)
    assert again.test.texts == mr.test.texts


def test_trec_latin1_dev_carved_from_train(needs_data):
    trec = data.load("trec", progress=False)
    assert len(trec.train) + len(trec.dev) == 5452 and len(trec.test) == 500
    assert abs(len(trec.dev) / 5452 - 0.1) < 0.01
    assert not overlap(trec.train.texts, trec.dev.texts)
    assert trec.label_names == ("DESC", "ENTY", "ABBR", "HUM", "LOC", "NUM")
    assert any("sister\u00f0city" in t for t in trec.train.texts + trec.dev.texts)  # byte 0xF0
    counts = np.bincount(np.concatenate([trec.train.labels, trec.dev.labels]), minlength=6)
    assert counts.tolist() == [1162, 1250, 86, 1223, 835, 896]
    question = trec.test.texts[trec.test.labels.tolist().index(2)]
    assert "stand for" in question or "abbreviation" in question or "full form" in question


def test_tiny_shakespeare_split_in_order(needs_data):
    corpus = data.load("tiny_shakespeare", progress=False)
    assert len(corpus.train) + len(corpus.val) == 1_115_394
    assert len(corpus.train) == int(1_115_394 * 0.9)
    assert corpus.train.startswith("First Citizen:")


def test_offline_corpora():
    assert len(data.load("lee")) == 300
    assert len(data.load("wordsim353").pairs) == 353
    simlex = data.load("simlex999")
    assert len(simlex.pairs) == 999 and simlex.scores.shape == (999,)
    analogies = data.load("questions_words")
    assert len(analogies.sections) == 14 and len(analogies) == 19_544
    assert len(data.load("python_docs")) > 50


def test_unknown_name_lists_known_names():
    with pytest.raises(data.UnknownDatasetError) as err:
        data.load("imdb")
    message = str(err.value)
    assert "imdb" in message and "sst2" in message and "tiny_shakespeare" in message


def test_describe_gives_license_and_citation():
    text = data.describe("mr")
    assert "Pang and Lee" in text and "seed 13" in text


# ---------------------------------------------------------------- fetch: mirror, cache, download


def test_mirror_copy_is_verified_and_cached(dirs):
    cache, mirror = dirs
    (mirror / "toy.txt").write_bytes(CONTENT)
    path = fetch_module.fetch(remote(), progress=False)
    assert path == cache / "toy.txt" and path.read_bytes() == CONTENT


def test_several_mirror_folders_are_searched(tmp_path, monkeypatch):
    empty, full = tmp_path / "empty", tmp_path / "full"
    empty.mkdir(), full.mkdir()
    (full / "toy.txt").write_bytes(CONTENT)
    monkeypatch.setenv("SLM_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SLM_DATA_MIRROR", f"{empty}:{full}")
    assert fetch_module.fetch(remote(), progress=False).read_bytes() == CONTENT


def test_no_network_no_mirror_names_the_variable_and_url(dirs, monkeypatch):
    no_network(monkeypatch)
    monkeypatch.delenv("SLM_DATA_MIRROR")
    with pytest.raises(data.DataUnavailableError) as err:
        fetch_module.fetch(remote(), progress=False)
    message = str(err.value)
    assert "SLM_DATA_MIRROR" in message and "https://example.invalid/toy.txt" in message
    assert not any(dirs[0].glob("*")) if dirs[0].exists() else True


def test_download_with_wrong_checksum_is_removed(dirs, monkeypatch):
    cache, _ = dirs

    def fake_download(rf, out, progress):
        out.write_bytes(b"<html>rate limited</html>")

    monkeypatch.setattr(fetch_module, "_download", fake_download)
    rf = remote()
    with pytest.raises(data.ChecksumError) as err:
        fetch_module.fetch(rf, progress=False)
    message = str(err.value)
    bad_hash = hashlib.sha256(b"<html>rate limited</html>").hexdigest()
    assert "toy.txt" in message and rf.url in message and rf.sha256 in message and bad_hash in message
    assert list(cache.iterdir()) == [], "the bad copy must be removed"


def test_corrupt_cached_copy_is_detected_and_removed(dirs):
    cache, mirror = dirs
    (mirror / "toy.txt").write_bytes(CONTENT)
    path = fetch_module.fetch(remote(), progress=False)
    path.write_bytes(CONTENT[:-3])  # truncated on disk later
    with pytest.raises(data.ChecksumError, match="cached copy"):
        fetch_module.fetch(remote(), progress=False)
    assert not path.exists()
    # Run again: it recovers from the mirror.
    assert fetch_module.fetch(remote(), progress=False).read_bytes() == CONTENT


def test_bad_mirror_copy_is_skipped_not_deleted(dirs, monkeypatch):
    _, mirror = dirs
    (mirror / "toy.txt").write_bytes(b"tampered")
    no_network(monkeypatch)
    with pytest.warns(UserWarning, match="ignoring it"), pytest.raises(data.DataUnavailableError) as err:
        fetch_module.fetch(remote(), progress=False)
    assert "wrong hash" in str(err.value)
    assert (mirror / "toy.txt").read_bytes() == b"tampered"


def test_interrupted_download_leaves_nothing(dirs, monkeypatch):
    cache, _ = dirs

    def dies_half_way(rf, out, progress):
        out.write_bytes(CONTENT[:5])
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(fetch_module, "_download", dies_half_way)
    with pytest.raises(data.DataUnavailableError, match="connection reset"):
        fetch_module.fetch(remote(), progress=False)
    assert list(cache.iterdir()) == []


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_real_download_over_http(dirs, monkeypatch, http_server, capsys):
    root, base = http_server
    (root / "toy.txt").write_bytes(CONTENT)
    monkeypatch.delenv("SLM_DATA_MIRROR")
    path = fetch_module.fetch(remote(f"{base}/toy.txt"), progress=True)
    assert path.read_bytes() == CONTENT
    assert "downloading toy.txt" in capsys.readouterr().err  # the progress bar


def test_real_download_of_a_changed_file_is_refused(dirs, monkeypatch, http_server):
    root, base = http_server
    (root / "toy.txt").write_bytes(CONTENT + b"1 an extra line\n")
    monkeypatch.delenv("SLM_DATA_MIRROR")
    with pytest.raises(data.ChecksumError):
        fetch_module.fetch(remote(f"{base}/toy.txt"), progress=False)
    assert not (dirs[0] / "toy.txt").exists()


# ---------------------------------------------------------------- decoding


def test_wrong_single_byte_encoding_is_refused_not_mojibake():
    utf8 = "a café scene".encode()
    with pytest.raises(DataEncodingError, match="mojibake"):
        decode_bytes(utf8, "cp1252", source="review.txt")
    with pytest.raises(DataEncodingError, match="mojibake"):
        decode_bytes(utf8, "latin-1", source="review.txt")


def test_invalid_bytes_name_the_file_and_position():
    with pytest.raises(DataEncodingError) as err:
        decode_bytes(b"caf\xe9", "utf-8", source="rt-polarity.pos")
    assert "rt-polarity.pos" in str(err.value) and "byte 3" in str(err.value)
    with pytest.raises(DataEncodingError):
        decode_bytes(b"undefined \x81 byte", "cp1252", source="x")


def test_split_lines_keeps_windows_1252_ellipsis_inside_a_line():
    text = b"wait for it \x85 nothing\nnext\n".decode("cp1252")
    assert split_lines(text) == ["wait for it \u2026 nothing", "next"]
    assert len("a\x85b\n".splitlines()) == 2  # why split_lines exists
    assert split_lines("a\x85b\n") == ["a\x85b"]
