"""Lesson 12 helpers: SavedModel/LiteRT export, the Python encoder, derived parity, releases, HTTP serving, app."""

from __future__ import annotations

import urllib.error
import urllib.request

import numpy as np
import pytest

from slm_helpers import deploy

LENGTH = 8
TEXTS = ["a good film", "a bad film", "not good at all", "great fun", "dull and slow", "GOOD Fun", "bad bad"] * 20
LABELS = np.array([1, 0, 0, 1, 0, 1, 0] * 20)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import keras
    import tensorflow as tf

    from slm_helpers import models

    model = models.build_text_cnn(TEXTS, max_tokens=50, dim=8, lr=1e-2, seq_len=LENGTH, seed=0)
    model.fit(tf.constant(TEXTS), LABELS, epochs=3, verbose=0)
    vectorizer, id_model = deploy.split_text_model(model)
    root = tmp_path_factory.mktemp("deploy")
    saved_ids = deploy.export_saved_model(id_model, root / "saved_ids")
    ids = vectorizer(tf.constant(TEXTS)).numpy().astype("int32")
    assert isinstance(vectorizer, keras.layers.TextVectorization)
    return model, vectorizer, id_model, saved_ids, root, ids


def test_split_model_and_fresh_process_equal_keras_within_the_derived_bound(exported):
    import tensorflow as tf

    model, vectorizer, id_model, _, root, ids = exported
    p = model(tf.constant(TEXTS), training=False).numpy()
    np.testing.assert_allclose(id_model(ids).numpy(), p, atol=1e-6)
    saved_text = deploy.export_saved_model(model, root / "saved_text")
    fresh = deploy.predict_in_fresh_process(saved_text, TEXTS[:20], batch=8)
    bound = deploy.cnn_error_bound(id_model, ids[:20])
    stats = deploy.check_parity(p[:20], fresh, 2 * bound)
    assert stats["worst_ratio"] <= 1 and 0 < bound.max() < 1e-4


def test_error_bound_holds_against_float64_and_is_not_vacuous(exported):
    import keras

    _, _, id_model, _, _, ids = exported
    bound = deploy.cnn_error_bound(id_model, ids, chunk=16)
    assert bound.shape == (len(ids), 1)
    # float64 copy of the same network: the exact value up to 1e-16, so float32 must lie within the bound
    keras.config.set_floatx("float64")
    try:
        clone = keras.models.clone_model(id_model)
        clone.build((None, LENGTH))
        clone.set_weights([w.astype("float64") for w in id_model.get_weights()])
        exact = np.asarray(clone(ids))
    finally:
        keras.config.set_floatx("float32")
    err = np.abs(id_model(ids).numpy().astype(np.float64) - exact)
    assert np.all(err <= bound), f"worst err/bound {np.max(err / bound):.2f}"
    assert np.median(bound) < 1e-3 * 0.25, "the bound is small enough to catch a real drift"


def test_parity_check_reports_numbers_and_refuses_shape_mismatch():
    ref = np.array([[0.2], [0.8]])
    with pytest.raises(AssertionError, match="1 of 2 outputs"):
        deploy.check_parity(ref, ref + np.array([[0.0], [1e-3]]), 1e-4)
    with pytest.raises(ValueError, match="shapes differ"):
        deploy.check_parity(ref, ref[:1], 1e-4)
    assert deploy.agreement(np.array([0.2, 0.9]), np.array([0.4, 0.4])) == 0.5
    assert deploy.gamma(3) == pytest.approx(3 * 2.0**-24, rel=1e-6)


def test_encoder_equals_text_vectorization_on_corner_cases(exported, tmp_path):
    import tensorflow as tf

    _, vectorizer, _, _, _, _ = exported
    encoder = deploy.TextEncoder.from_layer(vectorizer)
    corner = ["GOOD film", "CAFÉ good", "good\xa0film", "good\u2003film", "a\tb\nc\x0bd\x0ce\rf", "", "   ",
              "good " * 20, "Ｆｕｌｌ", "İstanbul good", "ß bad"]  # fmt: skip
    np.testing.assert_array_equal(encoder(TEXTS + corner), vectorizer(tf.constant(TEXTS + corner)).numpy())
    again = deploy.TextEncoder.load(encoder.save(tmp_path / "enc.json"))
    np.testing.assert_array_equal(again(corner), encoder(corner))
    with pytest.raises(TypeError, match="wrap it in a list"):
        encoder("one string")
    with pytest.raises(ValueError, match="padding"):
        deploy.TextEncoder(["a", "b"], 4)


def test_litert_variants_builtin_only_smaller_and_close(exported):
    _, _, id_model, saved_ids, root, ids = exported

    def representative():
        for row in ids[:50]:
            yield [row[None, :]]

    p = id_model(ids).numpy()
    sizes = {}
    for q in deploy.QUANTIZATIONS:
        path = deploy.convert_litert(saved_ids, root / f"{q}.tflite", quantization=q,
                                     representative=representative if q == "int8" else None)
        assert deploy.flex_ops(path) == [] and "GATHER" in deploy.tflite_op_names(path)
        sizes[q] = path.stat().st_size
        out = deploy.LiteRTClassifier(path).predict(ids)
        if q == "float32":
            deploy.check_parity(p, out, 2 * deploy.cnn_error_bound(id_model, ids))
        else:
            assert np.abs(out - p).max() < 0.1
    assert deploy.weight_bytes_by_dtype(root / "int8.tflite").get("float32", 0) == 0
    with pytest.raises(ValueError, match="representative"):
        deploy.convert_litert(saved_ids, root / "x.tflite", quantization="int8")
    with pytest.raises(ValueError, match="quantization must be"):
        deploy.convert_litert(saved_ids, root / "x.tflite", quantization="int4")
    with pytest.raises(ValueError, match="expected ids of shape"):
        deploy.LiteRTClassifier(root / "float32.tflite").predict(ids[:, :3])


def test_flex_model_is_detected_and_fails_at_invoke(exported):
    model, _, _, _, root, _ = exported
    from ai_edge_litert.interpreter import Interpreter

    naive = root / "naive.tflite"
    model.export(str(naive), format="litert", verbose=False)
    assert "FlexStringSplitV2" in deploy.flex_ops(naive)
    interpreter = Interpreter(model_path=str(naive))
    with pytest.raises(RuntimeError, match="Select TensorFlow op"):
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.array([b"good"]))
        interpreter.invoke()


def test_percentiles_latency_and_bad_timings():
    times = list(np.random.default_rng(0).exponential(1.0, 101))
    stats = deploy.percentiles(times)
    assert stats["p95_ms"] == pytest.approx(np.percentile(times, 95)) and stats["median_ms"] <= stats["p99_ms"]
    assert deploy.latency_ms(lambda: None, repeats=5)["median_ms"] >= 0
    for bad in ([], [1.0, -1.0], [float("nan")]):
        with pytest.raises(ValueError):
            deploy.percentiles(bad)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "JSON object"),
        ({"texts": "hi"}, "must be a list"),
        ({"texts": []}, "empty"),
        ({"texts": ["a"] * 3}, "at most 2"),
        ({"texts": [1]}, "must be a string"),
        ({"texts": ["  "]}, "blank"),
        ({"texts": ["x" * 11]}, "at most 10"),
    ],
)
def test_validate_texts_clear_errors(payload, message):
    with pytest.raises(deploy.RequestError, match=message):
        deploy.validate_texts(payload, max_texts=2, max_chars=10)


def _release(exported, name, version, quantization="float32"):
    _, vectorizer, _, saved_ids, root, _ = exported
    path = deploy.convert_litert(saved_ids, root / f"{name}.tflite", quantization=quantization)
    info = {"repo_id": "course/test", "revision": version, "commit": "0" * 40}
    return deploy.make_release(root / name, path, deploy.TextEncoder.from_layer(vectorizer), info=info)


def test_release_rollout_rollback_and_tampering(exported):
    v1, v2 = _release(exported, "rel1", "v1"), _release(exported, "rel2", "v2", "dynamic")
    slot = deploy.Deployment()
    with pytest.raises(RuntimeError, match="nothing deployed"):
        slot.predict_texts(["good"])
    assert slot.rollout(v1)["revision"] == "v1"
    assert slot.rollout(v2)["revision"] == "v2"
    assert slot.rollback()["revision"] == "v1" and slot.predict_texts(TEXTS).shape == (len(TEXTS),)
    with pytest.raises(RuntimeError, match="no earlier release"):
        slot.rollback()
    data = bytearray((v2 / "model.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (v2 / "model.tflite").write_bytes(bytes(data))
    with pytest.raises(deploy.TamperedFileError):
        slot.rollout(v2)
    assert slot.info["revision"] == "v1"  # the bad release never served
    with pytest.raises(ValueError, match="repo_id and revision"):
        deploy.make_release(v1.parent / "x", v1 / "model.tflite", slot.active.encoder, info={})


def test_http_endpoint_limits_in_process_then_loopback_and_batching(exported):
    from fastapi.testclient import TestClient

    slot = deploy.Deployment()
    slot.rollout(_release(exported, "http", "v1"))
    client = TestClient(deploy.make_app(slot, max_texts=4, max_chars=100))
    ok = client.post("/predict", json={"texts": ["good film", "bad"]})
    assert ok.status_code == 200 and ok.json()["revision"] == "v1" and ok.json()["repo_id"] == "course/test"
    np.testing.assert_allclose(np.sum(ok.json()["probabilities"], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.array(ok.json()["probabilities"])[:, 1], slot.predict_texts(["good film", "bad"]),
                               atol=1e-6)
    assert client.post("/predict", content=b"{not json").status_code == 400
    assert "UTF-8" in client.post("/predict", content=b"\xff\xfe").json()["detail"]
    assert "at most 4" in client.post("/predict", json={"texts": ["a"] * 5}).json()["detail"]
    assert "at most 100" in client.post("/predict", json={"texts": ["a" * 101]}).json()["detail"]
    assert client.get("/health").json()["status"] == "ok" and client.get("/openapi.json").status_code == 200

    batcher = deploy.MicroBatcher(slot.predict_texts, max_batch=8, max_wait_ms=5)
    app = deploy.make_app(slot, batcher=batcher)
    with deploy.serve(app) as url:
        assert url.startswith("http://127.0.0.1:")
        status, body = deploy.post_json(url + "/predict", {"texts": ["fine"]})
        assert status == 200 and body["labels"][0] in deploy.LABELS
        assert deploy.post_json(url + "/predict", [])[0] == 422
        result = deploy.load_test(url, TEXTS, requests=64, concurrency=8)
        assert result["requests"] == 64 and result["failures"] == 0 and result["p99_ms"] >= result["median_ms"]
    assert max(batcher.batch_sizes) > 1, "concurrent requests shared a model call"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/health", timeout=2)  # stopped


def test_server_is_stopped_when_the_body_fails(exported):
    from fastapi import FastAPI

    with pytest.raises(ZeroDivisionError), deploy.serve(FastAPI()) as url:
        raise ZeroDivisionError("the body failed")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/docs", timeout=2)


def test_batcher_passes_errors_to_every_waiting_request():
    import asyncio

    def broken(texts):
        raise RuntimeError("model crashed")

    async def main():
        batcher = deploy.MicroBatcher(broken, max_batch=4, max_wait_ms=5)
        return await asyncio.gather(batcher(["a"]), batcher(["b"]), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) for r in results)


def test_app_logic_analyse_render_and_current_release(exported, tmp_path):
    slot = deploy.Deployment()
    folder = _release(exported, "app", "v1")
    slot.rollout(folder)
    encoder = slot.active.encoder
    result = deploy.analyse(slot.predict_texts, encoder, "a good film zzzunseen", top=4)
    assert result["label"] in deploy.LABELS and len(result["tokens"]) == 4 and result["unknown"] == ["zzzunseen"]
    effects = [abs(e) for _, e in result["tokens"]]
    assert effects == sorted(effects, reverse=True), "largest effect first"
    p_without = slot.predict_texts(["a film zzzunseen"])[0]
    assert dict(result["tokens"])["good"] == pytest.approx(result["p_positive"] - p_without, abs=1e-6)
    page = deploy.render(result)
    assert "P(positive)" in page and "zzzunseen" in page
    assert "<script>" not in deploy.render(deploy.analyse(slot.predict_texts, encoder, "<script> good"))
    assert deploy.analyse(slot.predict_texts, encoder, "   ")["label"] is None
    assert deploy.current_release(tmp_path) is None
    deploy.set_current_release(folder.parent, folder)
    assert deploy.current_release(folder.parent) == folder
    box = deploy.build_app(slot.predict_texts, encoder, title="t", initial="good")
    text, out = box.children[1], box.children[2]
    text.value = "bad bad"
    assert deploy.render(deploy.analyse(slot.predict_texts, encoder, "bad bad")) == out.value


def _wait_for(url: str, proc, timeout: float) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}:\n{proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=60):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    raise RuntimeError(f"voila did not answer on {url} within {timeout} s")


ERROR_MARKS = ("Traceback", "There was an error", 'data-mime-type="application/vnd.jupyter.stderr"')


@pytest.mark.parametrize("case", ["release", "no-release", "tampered"])
def test_voila_serves_the_app_without_code_or_errors(exported, tmp_path, case):
    import os
    import subprocess
    import sys
    from pathlib import Path

    apps = tmp_path / "apps"
    apps.mkdir()
    if case != "no-release":
        target = _release(exported, f"voila-{case}", "v7")
        target = target.rename(apps / "v7")
        deploy.set_current_release(apps, target)
    if case == "tampered":  # the negative control: the page must show the failure
        (target / "encoder.json").write_text("{}")
    env = dict(os.environ, SLM_APP_DIR=str(apps))
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):  # isolate from the user's Jupyter
        env[name] = str(tmp_path / name.lower())
    port = deploy.free_port()
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "apps" / "sentiment_app.ipynb"
    cmd = [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
           "--show_tracebacks=True"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for(url, proc, timeout=120)
        with urllib.request.urlopen(url, timeout=120) as resp:  # Voila runs the notebook for each page view
            assert resp.status == 200
            page = resp.read().decode("utf-8")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    # Voila answers 200 even when a cell fails: read the page
    assert "deploy.current_release()" not in page, "the code is hidden"
    if case == "tampered":
        assert any(mark in page for mark in ERROR_MARKS) and "TamperedFileError" in page
        return
    for mark in ERROR_MARKS:
        assert mark not in page, f"{mark!r} in the Voila page"
    if case == "release":
        assert "slm-serving" in page and "course/test" in page and "v7" in page
        assert "application/vnd.jupyter.widget-view+json" in page, "the widget app rendered"
    else:
        assert "slm-missing" in page and "run lesson 12" in page


def test_export_weights_once_stores_each_weight_once_and_computes_the_same(exported, tmp_path):
    import tensorflow as tf

    _, _, id_model, saved_ids, _, ids = exported
    once = deploy.export_weights_once(id_model, tmp_path / "once")
    assert deploy.checkpoint_values(saved_ids) >= 2 * id_model.count_params()  # keras-team/keras#23553
    assert deploy.checkpoint_values(once) <= sum(int(np.prod(v.shape)) for v in id_model.variables) + 1
    loaded = tf.saved_model.load(str(once))  # keep a reference: its variables live as long as it does
    np.testing.assert_allclose(loaded.serve(ids).numpy(), id_model(ids).numpy(), atol=1e-6)
    assert deploy.flex_ops(deploy.convert_litert(once, tmp_path / "once.tflite")) == []


def test_minilm_stages_measure_the_real_encoder(tmp_path, needs_data):
    from slm_helpers.deploy import minilm

    result = minilm.measure_in_subprocess(tmp_path, n_train=40, n_test=30, repeats=3)
    (full, quant) = result["rows"]
    assert result["flex_ops"] == [] and result["n_test"] == 30
    assert abs(result["stored_values"] - 22_565_376) <= 1, "each of MiniLM's 22.6 M weights stored once"
    assert 80 < full["size_mb"] < 95 and 18 < quant["size_mb"] < 27
    assert full["min_cosine"] > 0.9999 and quant["min_cosine"] > 0.98
    assert quant["b1_median_ms"] > 0 and full["b1_median_ms"] > 0
