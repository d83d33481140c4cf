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


def test_contained_in_catches_a_held_out_sentence_inside_a_longer_snippet():
    held_out = ["It 's a charming and often affecting journey .", "bad ."]
    texts = [
        "it's a charming and often affecting journey, and a long one",  # held-out sentence plus more
        "charming and often affecting",  # a piece of a held-out sentence, 26 letters
        "a bad movie",  # contains the short held-out "bad": too short to count
        "-lrb- it 's a charming and often affecting journey . -rrb-",  # PTB brackets vanish
        "something else entirely, at some length",
    ]
    np.testing.assert_array_equal(splits.contained_in(texts, held_out), [True, True, False, True, False])
    exact = splits.found_in(texts, held_out, key=splits.letters_digits)
    np.testing.assert_array_equal(exact, [False, False, False, True, False])  # exact matching misses the first two
    np.testing.assert_array_equal(splits.contained_in(["bad ."], held_out), [True])  # equal, whatever the length
    with pytest.raises(ValueError, match="min_chars"):
        splits.contained_in(texts, held_out, min_chars=0)


def test_contained_in_equals_brute_force_on_random_text():
    rng = np.random.default_rng(0)
    alphabet = np.array(list("ab"))
    held = ["".join(rng.choice(alphabet, rng.integers(1, 14))) for _ in range(60)]
    texts = ["".join(rng.choice(alphabet, rng.integers(1, 20))) for _ in range(200)]
    width = 6
    brute = [t in held or any(len(h) >= width and h in t for h in held) or
             (len(t) >= width and any(t in h for h in held)) for t in texts]
    got = splits.contained_in(texts, held, key=lambda s: s, min_chars=width)
    np.testing.assert_array_equal(got, brute)
    assert 0 < sum(brute) < len(texts)  # the test exercises both outcomes


def test_mr_train_holds_sst2_test_sentences_that_exact_matching_misses(needs_data):
    from slm_helpers import data

    sst, mr = data.load("sst2", progress=False), data.load("mr", progress=False)
    held_out = sst.dev.texts + sst.test.texts
    exact = splits.found_in(mr.train.texts, held_out, key=splits.letters_digits)
    contained = splits.contained_in(mr.train.texts, held_out)
    assert (contained & ~exact).sum() > 200, "containment finds leaks exact matching keeps"
    kept = [splits.letters_digits(t) for t in np.array(mr.train.texts, dtype=object)[~contained]]
    leaked_tests = [t for t in map(splits.letters_digits, sst.test.texts) if len(t) >= 25 and any(t in k for k in kept)]
    assert not leaked_tests, f"{len(leaked_tests)} SST-2 test sentences still inside kept MR text"
