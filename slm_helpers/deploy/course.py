"""The two published versions lesson 12 deploys, rebuilt with lesson 11's recipe.

Lesson 11 publishes ``course/sst2-cnn`` v1 (trained on SST-2) and v2 (v1 fine-tuned on SST-2 +
MR) into a throw-away hub. Lesson 12 starts from a hub that holds both; :func:`publish_in_subprocess`
makes one in a separate process, so the lesson's kernel never holds the training run's memory
(TensorFlow's import alone is ~0.7 GB; Binder gives 2 GB).

Run as ``python -m slm_helpers.deploy.course '<json arguments>'``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import data, models, settings, sharing, splits


def mr_without_sst_overlap(mr_train: Any, sst: Any) -> Any:
    """MR training sentences that neither equal, hold nor sit inside an SST-2 dev/test sentence (no leak).

    MR snippets often hold an SST sentence plus more, so exact matching is not enough
    (:func:`splits.contained_in`, letters and digits only).
    """
    leaked = splits.contained_in(mr_train.texts, sst.dev.texts + sst.test.texts)
    return mr_train.subset(np.flatnonzero(~leaked))


def _p_positive(model: Any, texts: list[str]) -> np.ndarray:
    import tensorflow as tf

    return model(tf.constant(texts), training=False).numpy()[:, 0]


def _scores(model: Any, sst: Any) -> dict[str, float]:
    return {split: float(np.mean((_p_positive(model, s.texts) > 0.5) == s.labels))
            for split, s in (("test", sst.test), ("validation", sst.dev))}


def _card(repo: str, version: str, scores: dict[str, float], **extra: Any) -> Any:
    results = [sharing.Result("SetFit/sst2", "SST-2", split, "accuracy", value) for split, value in scores.items()]
    return sharing.make_model_card(
        model_name="sst2-cnn", repo_id=repo, version=version, results=results,
        tags=["sentiment", "text-classification", "course"], license_link="https://nlp.stanford.edu/sentiment/",
        limitations="Trained on short, tokenized, lower-cased movie-review sentences; other text is out of domain.",
        **extra,
    )


def publish_sst2_cnn_versions(
    hub_root: str | Path, repo: str, work: str | Path, *,
    dim: int, max_tokens: int, lr: float, epochs: int, extra: int | None, finetune_epochs: int,
) -> list[Any]:
    """Train v1 on SST-2 train (early stopping on dev), publish it; fine-tune on SST-2 + MR, publish v2.

    ``extra``: how many MR training sentences (a seeded random subset) v2 adds; ``None`` for all.
    """
    import keras
    import tensorflow as tf

    settings.seed_everything(42)
    hub, work = sharing.LocalGitHub(hub_root), Path(work)
    sst = data.load("sst2", progress=False)
    more = mr_without_sst_overlap(data.load("mr", progress=False).train, sst)
    if extra is not None:  # a random subset: MR's train split is ordered by label
        more = more.subset(np.sort(settings.rng(1).permutation(len(more))[:extra]))
    model = models.build_text_cnn(sst.train.texts, max_tokens=max_tokens, dim=dim, lr=lr)
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True)
    model.fit(tf.constant(sst.train.texts), sst.train.labels, batch_size=64, epochs=epochs, verbose=0,
              validation_data=(tf.constant(sst.dev.texts), sst.dev.labels), callbacks=[stop])
    card = _card(repo, "v1", _scores(model, sst), datasets=["SetFit/sst2"],
                 description="A small convolutional sentiment classifier (course lessons 11-12).",
                 training=f"SST-2 train, Adam {lr:g}, batch 64, early stopping on SST-2 dev.")
    v1 = hub.publish(sharing.package_model(model, work / "sst2-cnn-v1", card=card), repo, version="v1")

    improved = sharing.load_model(hub.download(repo, revision="v1"))
    improved.compile(optimizer=keras.optimizers.Adam(lr / 3), loss="binary_crossentropy", metrics=["accuracy"])
    texts, labels = sst.train.texts + more.texts, np.concatenate([sst.train.labels, more.labels])
    improved.fit(tf.constant(texts), labels, batch_size=64, epochs=finetune_epochs, verbose=0)
    mr = "cornell-movie-review-data/rotten_tomatoes"
    card = _card(repo, "v2", _scores(improved, sst), datasets=["SetFit/sst2", mr],
                 description="v1 fine-tuned on SST-2 train plus MR training sentences (course lessons 11-12).",
                 training=f"From v1: {finetune_epochs} epoch(s), Adam {lr / 3:g}, SST-2 + {len(more):,} MR",
                 base_model=repo, base_model_revision="v1", base_model_commit=v1.commit)
    v2 = hub.publish(sharing.package_model(improved, work / "sst2-cnn-v2", card=card), repo, version="v2")
    print(f"v1 trained on {len(sst.train):,} SST-2 sentences; v2 fine-tuned on {len(texts):,} "
          f"(SST-2 train + {len(more):,} MR sentences not in SST-2 dev/test)")
    return [v1, v2]


def publish_in_subprocess(hub_root: str | Path, repo: str, work: str | Path, *, timeout: float = 1200,
                          **config: Any) -> str:
    """Run :func:`publish_sst2_cnn_versions` in a new Python process; return what it printed."""
    args = json.dumps({"hub_root": str(hub_root), "repo": repo, "work": str(work), **config})
    done = subprocess.run([sys.executable, "-m", __name__, args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"publishing failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


if __name__ == "__main__":
    kwargs = json.loads(sys.argv[1])
    publish_sst2_cnn_versions(kwargs.pop("hub_root"), kwargs.pop("repo"), kwargs.pop("work"), **kwargs)
