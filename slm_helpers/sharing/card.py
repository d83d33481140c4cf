"""Model cards in the Hugging Face format: a ``README.md`` whose YAML header is machine-readable.

The header (license, language, library_name, tags, datasets, metrics, base_model and a
``model-index`` with measured results) is what the Hub shows, searches and compares; the
Markdown body is for people. Cards are written and read with ``huggingface_hub``'s own
``ModelCard``/``ModelCardData``/``EvalResult``, so they follow the Hub's schema exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # huggingface_hub is imported lazily: `import slm_helpers` stays fast
    from huggingface_hub import ModelCard, ModelCardData

CARD_NAME = "README.md"
# The YAML header, as huggingface_hub.repocard finds it.
_YAML_BLOCK = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")

CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

{{ description }}

## How to use

```python
import tensorflow as tf
from slm_helpers import sharing

folder = sharing.download("{{ repo_id }}", revision="{{ version }}")  # checked against manifest.json
model = sharing.load_model(folder)  # Keras with safe_mode=True
model.predict(tf.constant(["a gripping , beautifully acted film"]))  # P(positive)
```

The model takes raw strings: its `TextVectorization` layer (lower-case, split on white
space, vocabulary in `assets/`) is part of the saved model.

## Training

{{ training }}

## Evaluation

| dataset | split | metric | value |
|---|---|---|---|
{% for r in results %}| {{ r.dataset_name }} | {{ r.split }} | {{ r.metric }} | {{ "%.4f"|format(r.value) }} |
{% endfor %}
{% if base_model %}
## Lineage

Fine-tuned from `{{ base_model }}` at revision `{{ base_model_revision }}`
(commit `{{ base_model_commit }}`).
{% endif %}
## Limitations

{{ limitations }}

## Files

`config.json`, `metadata.json`, `model.weights.h5` and `assets/` are the Keras 3 directory
format; `manifest.json` lists the SHA-256 of every file. Nothing in this package is a pickle.
"""


@dataclass(frozen=True)
class Result:
    """One measured number, as the card's ``model-index`` records it."""

    dataset: str  # Hugging Face dataset id, e.g. "SetFit/sst2"
    dataset_name: str  # shown to people, e.g. "SST-2"
    split: str
    metric: str
    value: float
    task: str = "text-classification"

    def __post_init__(self) -> None:
        value = float(self.value)
        if not math.isfinite(value):
            what = f"{self.dataset_name} {self.split} {self.metric}"
            raise ValueError(f"result {what}: value must be finite, got {value}")
        object.__setattr__(self, "value", value)


def make_model_card(
    *,
    model_name: str,
    repo_id: str,
    version: str,
    description: str,
    results: Sequence[Result],
    datasets: Sequence[str],
    license: str = "other",
    license_name: str | None = None,
    license_link: str | None = None,
    language: str = "en",
    tags: Sequence[str] = (),
    training: str = "",
    limitations: str = "",
    base_model: str | None = None,
    base_model_revision: str | None = None,
    base_model_commit: str | None = None,
) -> ModelCard:
    """Build a card whose YAML holds the metadata and a ``model-index`` of ``results``.

    ``base_model`` (a repo id) with ``base_model_relation: finetune`` is the Hub's way to
    record lineage; the Hub links repos, not revisions, so the exact parent revision and
    commit go into two extra keys, ``base_model_revision`` and ``base_model_commit``.
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    if not results:
        raise ValueError("a model card needs at least one measured result for its model-index")
    extra: dict[str, Any] = {}
    if base_model:
        extra.update(base_model_relation="finetune", base_model_revision=base_model_revision)
        if base_model_commit:
            extra["base_model_commit"] = base_model_commit
    if license == "other":
        extra.update(license_name=license_name or "research-only", license_link=license_link)
    data = ModelCardData(
        model_name=model_name,
        license=license,
        language=language,
        library_name="keras",
        pipeline_tag="text-classification",
        tags=list(tags) or None,
        datasets=list(datasets),
        metrics=sorted({r.metric for r in results}),
        base_model=base_model,
        eval_results=[
            EvalResult(
                task_type=r.task,
                dataset_type=r.dataset,
                dataset_name=r.dataset_name,
                dataset_split=r.split,
                metric_type=r.metric,
                metric_value=round(r.value, 6),
            )
            for r in results
        ],
        **{k: v for k, v in extra.items() if v is not None},
    )
    return ModelCard.from_template(
        data,
        template_str=CARD_TEMPLATE,
        model_name=model_name,
        repo_id=repo_id,
        version=version,
        description=description.strip(),
        training=training.strip() or "Not stated.",
        limitations=limitations.strip() or "Not stated.",
        results=list(results),
        base_model=base_model,
        base_model_revision=base_model_revision,
        base_model_commit=base_model_commit,
    )


def load_card(source: str | Path) -> ModelCard:
    """A card from a package folder, a ``README.md`` path or the card's text."""
    from huggingface_hub import ModelCard

    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and Path(source).exists()):
        path = Path(source)
        text = (path / CARD_NAME if path.is_dir() else path).read_text(encoding="utf-8")
    else:
        text = str(source)
    return ModelCard(text, ignore_metadata_errors=False)


def card_metadata(text: str) -> ModelCardData:
    """Only the YAML header of a card's text, parsed into ``ModelCardData``.

    Hubs call this for every version they list; it avoids importing the Hub client
    (``huggingface_hub.repocard`` pulls in the HTTP stack) just to read a header.
    """
    import yaml
    from huggingface_hub.repocard_data import ModelCardData

    match = _YAML_BLOCK.search(text)
    header = yaml.safe_load(match.group(2)) if match else None
    if not isinstance(header, dict):
        raise ValueError("a model card starts with a YAML header between '---' lines; none was found")
    return ModelCardData(**header)


def _data(card: ModelCard | ModelCardData) -> ModelCardData:
    return getattr(card, "data", card)


def card_results(card: ModelCard | ModelCardData) -> list[Result]:
    """The measured results of a card's ``model-index``."""
    return [
        Result(
            dataset=r.dataset_type,
            dataset_name=r.dataset_name,
            split=r.dataset_split or "",
            metric=r.metric_type,
            value=float(r.metric_value),
            task=r.task_type,
        )
        for r in (_data(card).eval_results or [])
    ]


def card_lineage(card: ModelCard | ModelCardData) -> dict[str, str | None]:
    """``base_model``, ``base_model_revision`` and ``base_model_commit`` of a card (``None`` when absent)."""
    data = _data(card).to_dict()
    return {key: data.get(key) for key in ("base_model", "base_model_revision", "base_model_commit")}
