"""Model cards in the Hugging Face format, written and read with huggingface_hub."""

from __future__ import annotations

import math

import pytest
import yaml

from slm_helpers import sharing

RESULTS = [
    sharing.Result("SetFit/sst2", "SST-2", "test", "accuracy", 0.8123456789),
    sharing.Result("SetFit/sst2", "SST-2", "validation", "accuracy", 0.79),
]


def _card(**kwargs):
    args = dict(model_name="sst2-cnn", repo_id="course/sst2-cnn", version="v2", description="A CNN.",
                results=RESULTS, datasets=["SetFit/sst2"], tags=["sentiment"])  # fmt: skip
    return sharing.make_model_card(**{**args, **kwargs})


def _header(card) -> dict:
    text = str(card)
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_card_header_has_the_hub_metadata():
    header = _header(_card(base_model="course/sst2-cnn", base_model_revision="v1", base_model_commit="ab" * 20))
    assert header["license"] == "other" and header["license_name"] == "research-only"
    assert header["language"] == "en" and header["library_name"] == "keras"
    assert header["datasets"] == ["SetFit/sst2"] and header["metrics"] == ["accuracy"]
    assert header["tags"] == ["sentiment"] and header["pipeline_tag"] == "text-classification"
    assert header["base_model"] == "course/sst2-cnn" and header["base_model_relation"] == "finetune"
    assert header["base_model_revision"] == "v1" and header["base_model_commit"] == "ab" * 20
    (entry,) = header["model-index"]
    assert entry["name"] == "sst2-cnn"
    first = entry["results"][0]
    assert first["task"]["type"] == "text-classification"
    assert first["dataset"] == {"name": "SST-2", "type": "SetFit/sst2", "split": "test"}
    assert first["metrics"] == [{"type": "accuracy", "value": 0.812346}]


def test_card_round_trip_through_huggingface_hub_and_the_light_reader():
    card = _card(base_model="course/sst2-cnn", base_model_revision="v1")
    full = sharing.load_card(str(card))
    light = sharing.card_metadata(str(card))
    assert sharing.card_results(full) == sharing.card_results(light)
    got = sharing.card_results(light)
    assert [(r.split, r.value) for r in got] == [("test", pytest.approx(0.812346)), ("validation", 0.79)]
    assert sharing.card_lineage(full) == {"base_model": "course/sst2-cnn", "base_model_revision": "v1",
                                          "base_model_commit": None}  # fmt: skip
    assert "| SST-2 | test | accuracy | 0.8123 |" in str(card), "the body shows the same table for people"


def test_a_card_without_lineage_has_no_base_model():
    header = _header(_card())
    assert "base_model" not in header and "base_model_relation" not in header


def test_bad_results_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        _card(results=[])
    with pytest.raises(ValueError, match="finite"):
        sharing.Result("SetFit/sst2", "SST-2", "test", "accuracy", math.nan)
    with pytest.raises(ValueError, match="YAML header"):
        sharing.card_metadata("# just a title\n")
