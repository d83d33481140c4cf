"""Fast mode, seeding and the leak-free split."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from slm_helpers import settings, splits


def test_pick_follows_slm_fast(monkeypatch):
    monkeypatch.setenv("SLM_FAST", "1")
    assert settings.is_fast() and settings.pick(fast=1, full=2) == 1
    monkeypatch.setenv("SLM_FAST", "0")
    assert not settings.is_fast() and settings.mode() == "full"
    cfg = {"epochs": 3}
    picked = settings.pick(fast=cfg, full=cfg)
    picked["epochs"] = 9
    assert cfg["epochs"] == 3, "pick returns a copy so a lesson may edit it"
    monkeypatch.setenv("SLM_FAST", "maybe")
    with pytest.raises(ValueError, match="SLM_FAST"):
        settings.is_fast()


def test_seed_everything_repeats_numpy_and_keras():
    import keras

    settings.seed_everything(7)
    a = np.random.rand(3), keras.random.uniform((2,)).numpy()
    settings.seed_everything(7)
    b = np.random.rand(3), keras.random.uniform((2,)).numpy()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_split_is_stratified_grouped_and_complete():
    texts = [f"sentence {i % 700}" for i in range(1000)]  # 300 duplicates
    labels = np.array([i % 700 % 2 for i in range(1000)])
    parts = splits.stratified_group_split(texts, labels, (0.8, 0.1, 0.1), seed=1)
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(1000)), "every example exactly once"
    names = [{texts[i] for i in p} for p in parts]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    for p, frac in zip(parts, (0.8, 0.1, 0.1), strict=True):
        assert abs(len(p) / 1000 - frac) < 0.02
        assert abs(labels[p].mean() - labels.mean()) < 0.05
    again = splits.stratified_group_split(texts, labels, (0.8, 0.1, 0.1), seed=1)
    assert all((x == y).all() for x, y in zip(parts, again, strict=True))


def test_split_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        splits.stratified_group_split(["a"], [0, 1])
    with pytest.raises(ValueError, match="sum to 1"):
        splits.stratified_group_split(["a", "b"], [0, 1], (0.5, 0.4))


def _run(code: str) -> list[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")


def test_import_is_fast():
    code = "import time; t = time.perf_counter(); import slm_helpers; print(time.perf_counter() - t)"
    best = min(float(_run(code)[0]) for _ in range(3))
    assert best < 0.3, f"import slm_helpers took {best:.2f} s (bar 0.3 s)"


def test_modules_do_not_import_heavy_frameworks():
    code = (
        "import sys, pkgutil, importlib, slm_helpers\n"
        "for m in pkgutil.walk_packages(slm_helpers.__path__, 'slm_helpers.'): importlib.import_module(m.name)\n"
        "heavy = ('tensorflow', 'keras', 'gensim', 'plotly', 'sklearn', 'scipy', 'matplotlib', 'keras_hub')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    assert _run(code)[0] == "", "a helper module imports a heavy framework at import time"


def test_found_in_marks_leaks_under_either_key():
    held_out = ["It 's a fine film .", "dull"]
    texts = ["it's a fine film.", "DULL", "a new sentence"]
    np.testing.assert_array_equal(splits.found_in(texts, held_out), [False, True, False])
    np.testing.assert_array_equal(splits.found_in(texts, held_out, key=splits.letters_digits), [True, True, False])
    assert splits.letters_digits("It 's fine , 100 %") == "itsfine100"
