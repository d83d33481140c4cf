"""Packaging a Keras model (directory format + card + manifest) and loading it back safely."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slm_helpers import settings, sharing

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

CARD = "---\nlicense: mit\n---\n# toy\n"


def _text_model():
    settings.seed_everything(0)
    vec = keras.layers.TextVectorization(max_tokens=50, standardize="lower", split="whitespace",
                                         output_sequence_length=6)  # fmt: skip
    vec.adapt(["a good film", "a bad film", "great acting , dull plot"])
    inp = keras.Input(shape=(), dtype="string")
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(50, 4)(vec(inp)))
    return keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(x))


@pytest.fixture(scope="module")
def text_model():
    return _text_model()


def test_package_holds_the_keras_directory_format_card_and_manifest(text_model, tmp_path):
    folder = sharing.package_model(text_model, tmp_path / "pkg", card=CARD)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert {"config.json", "metadata.json", "model.weights.h5", "README.md", "manifest.json"} <= set(files)
    assert any(f.startswith("assets/") and f.endswith("vocabulary.txt") for f in files), files
    assert json.loads((folder / "metadata.json").read_text())["keras_version"] == keras.__version__
    assert sharing.verify_folder(folder)["files"].keys() == set(files) - {"manifest.json"}
    assert [p.name for p in tmp_path.iterdir()] == ["pkg"], "no staging folder left"


def test_loaded_package_takes_raw_strings_and_predicts_the_same(text_model, tmp_path):
    folder = sharing.package_model(text_model, tmp_path / "pkg", card=CARD)
    loaded = sharing.load_model(folder)
    texts = tf.constant(["A GOOD film", "dull plot , bad acting", "words it never saw"])
    np.testing.assert_allclose(loaded(texts).numpy(), text_model(texts).numpy(), atol=1e-6)


def _h5_groups(folder):
    import h5py

    with h5py.File(folder / "model.weights.h5", "r") as h5:
        return set(h5.keys())


def _h5_values(folder):
    """How many numbers the weights file stores."""
    import h5py

    sizes = []
    with h5py.File(folder / "model.weights.h5", "r") as h5:
        h5.visititems(lambda _, obj: sizes.append(obj.size) if isinstance(obj, h5py.Dataset) else None)
    return sum(sizes)


def test_a_trained_model_is_published_without_its_optimizer_unless_asked(tmp_path):
    model = _text_model()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(tf.constant(["a good film", "a bad film"]), np.array([1.0, 0.0]), epochs=2, verbose=0)
    lean = sharing.package_model(model, tmp_path / "lean", card=CARD)
    full = sharing.package_model(model, tmp_path / "full", card=CARD, include_optimizer=True)
    assert "optimizer" not in _h5_groups(lean) and "optimizer" in _h5_groups(full)
    assert not json.loads((lean / "config.json").read_text()).get("compile_config")  # {} : nothing to compile
    assert json.loads((full / "config.json").read_text()).get("compile_config")
    n = model.count_params()
    assert (_h5_values(lean), _h5_values(full)) == (n, 3 * n + 2)  # Adam: two moments, step, learning rate
    loaded = sharing.load_model(lean)
    assert getattr(loaded, "optimizer", None) is None  # uncompiled: compile it to train it further
    texts = tf.constant(["a good film", "words it never saw"])
    np.testing.assert_allclose(loaded(texts).numpy(), model(texts).numpy(), atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "lean"], "no staging folder left"


def test_a_model_without_assets_loads_too(tmp_path):
    inp = keras.Input(shape=(3,))
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    folder = sharing.package_model(model, tmp_path / "pkg", card=CARD)
    x = np.ones((1, 3), np.float32)
    np.testing.assert_allclose(sharing.load_model(folder)(x).numpy(), model(x).numpy(), atol=1e-6)


def test_a_tampered_package_is_refused_before_keras_reads_it(text_model, tmp_path):
    folder = sharing.package_model(text_model, tmp_path / "pkg", card=CARD)
    vocab = next(folder.rglob("vocabulary.txt"))
    vocab.write_text(vocab.read_text().replace("good", "evil"))
    with pytest.raises(sharing.TamperedFileError, match="vocabulary.txt"):
        sharing.load_model(folder)


def test_safe_mode_refuses_a_lambda_layer(tmp_path):
    inp = keras.Input(shape=(3,))
    model = keras.Model(inp, keras.layers.Lambda(lambda x: x * 2.0)(inp))
    folder = sharing.package_model(model, tmp_path / "pkg", card=CARD)  # packaging is harmless...
    with pytest.raises(ValueError, match="safe_mode"):  # ...running a stranger's lambda is not
        sharing.load_model(folder)


def test_package_is_all_or_nothing(text_model, tmp_path, monkeypatch):
    with pytest.raises(FileExistsError):
        sharing.package_model(text_model, tmp_path, card=CARD)
    real_save = keras.saving.save_model

    def save_then_crash(model, path, **kwargs):
        real_save(model, path, **kwargs)
        raise KeyboardInterrupt  # interrupted after the weights, before card and manifest

    monkeypatch.setattr(keras.saving, "save_model", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        sharing.package_model(text_model, tmp_path / "pkg", card=CARD)
    assert list(tmp_path.iterdir()) == [], "no half-written package, no staging folder"
    monkeypatch.undo()
    first = sharing.package_model(text_model, tmp_path / "pkg", card=CARD)
    digest = sharing.manifest_digest(first)
    again = sharing.package_model(text_model, tmp_path / "pkg", card=CARD + "more\n", overwrite=True)
    assert sharing.manifest_digest(again) != digest and [p.name for p in tmp_path.iterdir()] == ["pkg"]


def test_published_keras_model_round_trip(text_model, tmp_path):
    hub = sharing.LocalGitHub(tmp_path / "hub")
    folder = sharing.package_model(text_model, tmp_path / "pkg", card=CARD)
    hub.publish(folder, "course/text", version="v1")
    loaded = sharing.load_model(hub.download("course/text", revision="v1"))
    texts = tf.constant(["a good film"])
    np.testing.assert_allclose(loaded(texts).numpy(), text_model(texts).numpy(), atol=1e-6)
