"""Text classifiers for lesson 08: baselines, Keras models on token ids, and their evaluation.

The lesson builds each piece in front of the learner; this module keeps the tested versions.

- Baselines: the majority class and TF-IDF / NB-weighted logistic regression (scikit-learn).
- Token ids: a ``TextVectorization`` layer adapted on the training texts, and batches that
  group sentences of similar length (a sentence is padded to its *bucket* length, never to
  the longest sentence in the corpus: two to three times less work on CPU, and a sentence's
  prediction does not depend on the other sentences in its batch).
- Models: Kim's (2014) CNN and a bidirectional LSTM, both on a trainable ``Embedding``
  (optionally initialised from word vectors).
- Evaluation in NumPy: accuracy, confusion matrix, per-class precision/recall/F1 and macro
  F1 (equal to scikit-learn's), the most confident errors, and a results table.

TensorFlow, Keras and scikit-learn are imported inside the functions that need them, so
``import slm_helpers`` stays instant.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Padded lengths: a sentence of n tokens is padded to the smallest bucket >= n (and cut at
# the last one). The smallest bucket is at least the widest convolution window (5).
BUCKETS: tuple[int, ...] = (8, 16, 24, 32, 48, 64)

# Published test accuracies (%) on these data sets (shared/data/README.md). Kim 2014 trained
# SST-2 models on phrases as well as sentences and reported MR as 10-fold cross-validation,
# so the comparison is indicative, not like-for-like.
REFERENCES: dict[tuple[str, str], float] = {
    ("mr", "Kim 2014 CNN-rand"): 76.1,
    ("mr", "Kim 2014 CNN-static"): 81.0,
    ("mr", "Kim 2014 CNN-non-static"): 81.5,
    ("sst2", "Kim 2014 CNN-rand"): 82.7,
    ("sst2", "Kim 2014 CNN-static"): 86.8,
    ("sst2", "Kim 2014 CNN-non-static"): 87.2,
    ("sst2", "Tai et al. 2015 LSTM"): 84.9,
    ("sst2", "Tai et al. 2015 BiLSTM"): 87.5,
    ("trec", "Kim 2014 CNN-rand"): 91.2,
    ("trec", "Kim 2014 CNN-static"): 92.8,
    ("trec", "Kim 2014 CNN-non-static"): 93.6,
}


# --------------------------------------------------------------------------------------
# Baselines


def majority_class(train_labels: Sequence[int] | np.ndarray) -> int:
    """The most frequent training label (ties: the smallest label)."""
    labels = np.asarray(train_labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"expected a non-empty 1-D array of labels, got shape {labels.shape}")
    return int(np.argmax(np.bincount(labels)))


def tfidf_logreg(
    train_texts: Sequence[str],
    train_labels: Sequence[int] | np.ndarray,
    *,
    ngram_range: tuple[int, int] = (1, 2),
    C: float = 10.0,
    lowercase: bool = True,
) -> Any:
    """A fitted scikit-learn pipeline: TF-IDF of white-space tokens (sublinear tf), then logistic regression.

    The texts come tokenized, so tokens are white-space separated (``token_pattern=r"\\S+"``
    keeps punctuation and "n't", which carry sentiment and question type).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    _check_texts_labels(train_texts, train_labels)
    vectorizer = TfidfVectorizer(
        ngram_range=ngram_range, token_pattern=r"\S+", lowercase=lowercase, sublinear_tf=True, dtype=np.float32
    )
    # newton-cg converges in a few Newton steps on these sparse problems: 20-50x faster than lbfgs.
    classifier = LogisticRegression(C=C, solver="newton-cg", max_iter=200)
    return make_pipeline(vectorizer, classifier).fit(list(train_texts), np.asarray(train_labels))


@dataclass
class NBLogReg:
    """Naive-Bayes-weighted logistic regression on binary n-grams (Wang and Manning, 2012).

    Each n-gram feature is scaled by its log-count ratio ``r = log((p/|p|1) / (q/|q|1))``,
    ``p`` and ``q`` the smoothed counts in positive and negative training sentences; a
    logistic regression is then trained on the scaled features. Binary labels only.
    """

    ngram_range: tuple[int, int] = (1, 2)
    C: float = 1.0
    alpha: float = 1.0
    lowercase: bool = True
    vectorizer: Any = field(default=None, repr=False)
    ratios: np.ndarray | None = field(default=None, repr=False)
    classifier: Any = field(default=None, repr=False)

    def fit(self, texts: Sequence[str], labels: Sequence[int] | np.ndarray) -> NBLogReg:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression

        _check_texts_labels(texts, labels)
        y = np.asarray(labels)
        if set(np.unique(y)) - {0, 1}:
            raise ValueError(f"NBLogReg needs binary labels 0/1, got {sorted(set(np.unique(y)))}")
        self.vectorizer = CountVectorizer(
            ngram_range=self.ngram_range, token_pattern=r"\S+", lowercase=self.lowercase, binary=True
        )
        x = self.vectorizer.fit_transform(list(texts))
        p = self.alpha + np.asarray(x[y == 1].sum(axis=0)).ravel()
        q = self.alpha + np.asarray(x[y == 0].sum(axis=0)).ravel()
        self.ratios = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
        classifier = LogisticRegression(C=self.C, solver="newton-cg", max_iter=200)
        self.classifier = classifier.fit(x.multiply(self.ratios).tocsr(), y)
        return self

    def _features(self, texts: Sequence[str]) -> Any:
        if self.classifier is None:
            raise RuntimeError("call fit(texts, labels) before predicting")
        return self.vectorizer.transform(list(texts)).multiply(self.ratios).tocsr()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        features = self._features(texts)  # raises first if not fitted
        return self.classifier.predict_proba(features)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict_proba(texts).argmax(axis=1)


def _check_texts_labels(texts: Sequence[str], labels: Sequence[int] | np.ndarray) -> None:
    if isinstance(texts, str):
        raise ValueError("expected a list of texts, got a single string")
    if len(texts) != len(labels):
        raise ValueError(f"texts and labels differ in length: {len(texts)} vs {len(labels)}")
    if len(texts) == 0:
        raise ValueError("no training texts")


# --------------------------------------------------------------------------------------
# Token ids and length-bucketed batches


def make_vectorizer(texts: Sequence[str], *, lowercase: bool = True, max_tokens: int | None = None) -> Any:
    """A ``keras.layers.TextVectorization`` adapted on ``texts``: white-space split, ragged output.

    ``lowercase=False`` keeps the case (for TREC, "Who"/"who" and proper names matter).
    Id 0 is padding, 1 is ``[UNK]``, then tokens by falling frequency (as in lesson 01).
    """
    import keras
    import tensorflow as tf

    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("expected a non-empty list of texts to adapt the vocabulary on")
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize="lower" if lowercase else None, split="whitespace", ragged=True
    )
    vectorizer.adapt(tf.constant(list(texts)))
    return vectorizer


def encode(vectorizer: Any, texts: Sequence[str], *, max_length: int = BUCKETS[-1]) -> list[np.ndarray]:
    """Token ids for each text (no padding), cut to ``max_length`` tokens."""
    import tensorflow as tf

    if isinstance(texts, str):
        raise ValueError("expected a list of texts, got a single string")
    if len(texts) == 0:
        return []
    ragged = vectorizer(tf.constant(list(texts)))
    return [np.asarray(row[:max_length], dtype=np.int32) for row in ragged.to_list()]


def bucket_length(n: int, buckets: Sequence[int] = BUCKETS) -> int:
    """The padded length of a sentence of ``n`` tokens: the smallest bucket >= n (the last if none)."""
    for b in buckets:
        if n <= b:
            return int(b)
    return int(buckets[-1])


@dataclass
class Batch:
    """One padded batch: the example indices it holds, ids ``(len(index), length)`` and labels."""

    index: np.ndarray
    ids: np.ndarray
    labels: np.ndarray


def length_batches(
    ids: Sequence[np.ndarray],
    labels: Sequence[int] | np.ndarray | None = None,
    *,
    batch_size: int = 50,
    buckets: Sequence[int] = BUCKETS,
    shuffle: bool = False,
    seed: int = 0,
) -> list[Batch]:
    """Group sentences by bucket length and pad each batch to its bucket.

    Without ``shuffle`` the batches come bucket by bucket, in example order inside a bucket;
    with it, examples are shuffled inside each bucket and the batches are shuffled too.
    Every example appears in exactly one batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if list(buckets) != sorted(set(buckets)) or not buckets or buckets[0] < 1:
        raise ValueError(f"buckets must be increasing positive lengths, got {list(buckets)}")
    y = np.zeros(len(ids), dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
    if len(y) != len(ids):
        raise ValueError(f"ids and labels differ in length: {len(ids)} vs {len(y)}")
    padded = np.array([bucket_length(len(x), buckets) for x in ids], dtype=np.int64)
    rng = np.random.default_rng(seed)
    out: list[Batch] = []
    for length in buckets:
        members = np.flatnonzero(padded == length)
        if shuffle:
            members = rng.permutation(members)
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            x = np.zeros((len(chunk), length), dtype=np.int32)
            for row, i in enumerate(chunk):
                seq = ids[i][:length]
                x[row, : len(seq)] = seq
            out.append(Batch(chunk, x, y[chunk]))
    if shuffle:
        out = [out[i] for i in rng.permutation(len(out))]
    return out


def make_dataset(
    ids: Sequence[np.ndarray],
    labels: Sequence[int] | np.ndarray,
    *,
    batch_size: int = 50,
    shuffle: bool = True,
    seed: int = 0,
    buckets: Sequence[int] = BUCKETS,
) -> Any:
    """A ``tf.data.Dataset`` of ``(ids, labels)`` length-bucketed batches for ``model.fit``.

    With ``shuffle``, each pass (epoch) draws a new order, seeded by ``seed`` and the pass
    number, so training repeats exactly.
    """
    import tensorflow as tf

    labels = np.asarray(labels, dtype=np.int64)
    count = len(length_batches(ids, labels, batch_size=batch_size, buckets=buckets))
    passes = iter(range(1 << 30))

    def generate() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        epoch = next(passes)
        for batch in length_batches(
            ids, labels, batch_size=batch_size, buckets=buckets, shuffle=shuffle, seed=seed + 1000 * epoch
        ):
            yield batch.ids, batch.labels

    signature = (tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.int64))
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(count)).prefetch(2)


def predict_proba(model: Any, ids: Sequence[np.ndarray], *, batch_size: int = 256) -> np.ndarray:
    """Class probabilities ``(len(ids), classes)`` in the order of ``ids``.

    Runs ``model.predict`` over length-bucketed batches (one traced function for all of
    them; calling the model eagerly per batch is much slower, for LSTMs especially).
    """
    import tensorflow as tf

    batches = length_batches(ids, batch_size=batch_size)
    if not batches:
        raise ValueError("no examples to predict")

    def generate() -> Iterator[np.ndarray]:
        for batch in batches:
            yield batch.ids

    dataset = tf.data.Dataset.from_generator(generate, output_signature=tf.TensorSpec((None, None), tf.int32))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(batches)))
    probs = np.asarray(model.predict(dataset, verbose=0), dtype=np.float32)
    out = np.empty_like(probs)
    out[np.concatenate([b.index for b in batches])] = probs
    return out


# --------------------------------------------------------------------------------------
# Keras models


def _embedding(
    vocab_size: int, embedding_dim: int, embeddings: np.ndarray | None, mask_zero: bool, init_scale: float
) -> Any:
    import keras

    if embeddings is not None:
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.shape != (vocab_size, embedding_dim):
            raise ValueError(
                f"embeddings should have shape (vocab_size, embedding_dim) = {(vocab_size, embedding_dim)}, "
                f"got {embeddings.shape}"
            )
        init: Any = keras.initializers.Constant(embeddings)
    else:
        init = keras.initializers.RandomUniform(-init_scale, init_scale)
    return keras.layers.Embedding(
        vocab_size, embedding_dim, embeddings_initializer=init, mask_zero=mask_zero, name="embedding"
    )


def _check_sizes(vocab_size: int, num_classes: int) -> None:
    if vocab_size < 3:
        raise ValueError(f"vocab_size must count padding, [UNK] and at least one word (>= 3), got {vocab_size}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")


def build_text_cnn(
    texts: Sequence[str], *, max_tokens: int, dim: int, lr: float, seq_len: int = 56, seed: int = 42
) -> Any:
    """Lesson 11's shareable classifier, compiled: raw strings -> ``TextVectorization`` (inside the
    model, so it carries its vocabulary) -> embedding -> ``Conv1D(dim, 3)`` -> max over time ->
    dropout 0.5 -> sigmoid P(positive). Input: a batch of strings, shape ``(batch,)``.
    """
    import keras
    import tensorflow as tf

    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("expected a non-empty list of texts to adapt the vocabulary on")
    keras.utils.set_random_seed(seed)
    vectorize = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize="lower", split="whitespace", output_sequence_length=seq_len
    )
    vectorize.adapt(tf.constant(list(texts)))
    inputs = keras.Input(shape=(), dtype="string", name="text")
    x = keras.layers.Embedding(vectorize.vocabulary_size(), dim, name="embedding")(vectorize(inputs))
    x = keras.layers.Conv1D(dim, 3, activation="relu", name="conv")(x)
    x = keras.layers.GlobalMaxPooling1D(name="max_over_time")(x)
    x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_positive")(x)
    model = keras.Model(inputs, outputs, name="sst2_cnn")
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def build_cnn(
    vocab_size: int,
    num_classes: int,
    *,
    embedding_dim: int = 128,
    filters: int = 100,
    kernel_sizes: Sequence[int] = (3, 4, 5),
    dropout: float = 0.5,
    l2: float = 0.0,
    embeddings: np.ndarray | None = None,
    seed: int | None = None,
    learning_rate: float = 1e-3,
    mask_padding: bool = True,
    init_scale: float = 0.05,
) -> Any:
    """Kim's (2014) CNN, compiled: embedding -> parallel 1-D convolutions (ReLU) -> max over
    time -> dropout -> softmax.

    Input: int ids ``(batch, length)`` with ``length >= max(kernel_sizes)``; output: class
    probabilities. ``l2`` penalises the convolution and output weights; ``embeddings``
    (``(vocab_size, embedding_dim)``) initialises the embedding (it stays trainable).
    """
    import keras

    _check_sizes(vocab_size, num_classes)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    reg = keras.regularizers.L2(l2) if l2 else None
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    x = _embedding(vocab_size, embedding_dim, embeddings, mask_zero=False, init_scale=init_scale)(ids)
    if mask_padding:
        # 1 on real tokens, 0 on padding, shape (batch, length, 1). Padding vectors are zeroed
        # before the convolutions (like Kim's zero padding) and windows centred on padding are
        # zeroed before max pooling, so (ReLU outputs being >= 0) a prediction does not
        # depend on how much padding a batch adds.
        mask = keras.ops.expand_dims(keras.ops.cast(keras.ops.not_equal(ids, 0), "float32"), -1)
        x = keras.layers.Multiply(name="zero_padding")([x, mask])
    pooled = []
    for k in kernel_sizes:
        conv = keras.layers.Conv1D(
            filters,
            k,
            padding="same" if mask_padding else "valid",
            activation="relu",
            kernel_regularizer=reg,
            name=f"conv_{k}",
        )(x)
        if mask_padding:
            conv = keras.layers.Multiply(name=f"mask_{k}")([conv, mask])
        pooled.append(keras.layers.GlobalMaxPooling1D(name=f"max_over_time_{k}")(conv))
    x = keras.layers.Concatenate(name="features")(pooled) if len(pooled) > 1 else pooled[0]
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probs = keras.layers.Dense(num_classes, activation="softmax", kernel_regularizer=reg, name="probs")(x)
    model = keras.Model(ids, probs, name="kim_cnn")
    return compile_classifier(model, learning_rate)


def build_bilstm(
    vocab_size: int,
    num_classes: int,
    *,
    embedding_dim: int = 128,
    units: int = 64,
    dropout: float = 0.5,
    l2: float = 0.0,
    embeddings: np.ndarray | None = None,
    seed: int | None = None,
    learning_rate: float = 1e-3,
    init_scale: float = 0.05,
) -> Any:
    """A bidirectional LSTM classifier, compiled: embedding (padding masked) -> BiLSTM (last
    states of both directions) -> dropout -> softmax."""
    import keras

    _check_sizes(vocab_size, num_classes)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    reg = keras.regularizers.L2(l2) if l2 else None
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    x = _embedding(vocab_size, embedding_dim, embeddings, mask_zero=True, init_scale=init_scale)(ids)
    x = keras.layers.Bidirectional(keras.layers.LSTM(units, kernel_regularizer=reg), name="bilstm")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probs = keras.layers.Dense(num_classes, activation="softmax", kernel_regularizer=reg, name="probs")(x)
    model = keras.Model(ids, probs, name="bilstm")
    return compile_classifier(model, learning_rate)


def compile_classifier(model: Any, learning_rate: float = 1e-3) -> Any:
    """Compile with Adam (``FusedAdam``), sparse categorical cross-entropy and accuracy, and
    create the optimizer's and metrics' variables now (one trace of the training step, not
    two); return the model."""
    from slm_helpers.optimizers import FusedAdam
    from slm_helpers.training import build_training_state

    model.compile(
        optimizer=FusedAdam(learning_rate),  # keras.optimizers.Adam's update, in one fused kernel
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    build_training_state(model, np.ones((1, 8), dtype=np.int32), np.zeros((1,), dtype=np.int64))
    return model


def early_stopping(patience: int = 2, *, restore_best: bool = True) -> Any:
    """Stop when dev accuracy has not improved for ``patience`` epochs; then keep the best weights."""
    import keras

    return keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=restore_best
    )


@dataclass
class TrainedModel:
    """A trained classifier with its per-epoch history, dev probabilities and time."""

    name: str
    model: Any
    history: dict[str, list[float]]
    dev_probs: np.ndarray | None
    seconds: float

    @property
    def best_epoch(self) -> int:
        """1-based epoch with the best dev accuracy (the weights early stopping keeps)."""
        if "val_accuracy" not in self.history:
            raise ValueError(f"{self.name} was trained without a dev set")
        return int(np.argmax(self.history["val_accuracy"])) + 1

    @property
    def best_dev_accuracy(self) -> float:
        if "val_accuracy" not in self.history:
            raise ValueError(f"{self.name} was trained without a dev set")
        return float(max(self.history["val_accuracy"]))


def train_classifier(
    name: str,
    model: Any,
    train: tuple[Sequence[np.ndarray], np.ndarray],
    dev: tuple[Sequence[np.ndarray], np.ndarray] | None,
    *,
    epochs: int,
    batch_size: int = 50,
    patience: int | None = 2,
    restore_best: bool = True,
    seed: int = 0,
    verbose: int = 0,
) -> TrainedModel:
    """Fit ``model`` on length-bucketed batches, watching dev accuracy each epoch.

    Early stopping watches dev accuracy and, at the end, restores the best epoch's weights;
    ``patience=None`` never stops early, so all ``epochs`` run (to *see* overfitting) and
    ``restore_best=False`` keeps the last epoch's weights. ``dev=None`` trains exactly
    ``epochs`` epochs with no dev set (a final fit on train + dev, with the epoch count
    found on dev). The test set is never touched here.
    """
    train_ds = make_dataset(*train, batch_size=batch_size, shuffle=True, seed=seed)
    # One endless iterator for the whole fit (each pass still reshuffles with its own seed):
    # Keras would otherwise make and tear down a generator-backed iterator every epoch (we saw
    # pauses of 1.2-1.7 s at the start of some epochs that way; same batches either way).
    steps_per_epoch = len(train_ds)
    train_ds = train_ds.repeat()
    callbacks = []
    if dev is None:
        if patience is not None:
            raise ValueError("early stopping needs a dev set; pass patience=None with dev=None")
        dev_ds = None
    else:
        dev_ds = make_dataset(*dev, batch_size=256, shuffle=False)
        if restore_best or patience is not None:
            callbacks.append(early_stopping(epochs if patience is None else patience, restore_best=restore_best))
    start = time.perf_counter()
    history = model.fit(
        train_ds,
        validation_data=dev_ds,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        shuffle=False,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    dev_probs = None if dev is None else predict_proba(model, dev[0])
    # The traced training and evaluation graphs (tens of MB per model) are rebuilt by the next
    # `fit` if there is one; dropping them keeps a lesson that trains many models in memory.
    model.train_function = model.test_function = None
    return TrainedModel(name, model, dict(history.history), dev_probs, seconds)


def embedding_matrix(
    vocabulary: Sequence[str],
    vectors: Any,
    *,
    lowercase: bool = True,
    seed: int = 0,
    scale: float = 0.25,
    match_scale: bool = True,
) -> tuple[np.ndarray, float]:
    """An embedding matrix for ``vocabulary`` from word vectors, and the share of words found.

    ``vectors`` is anything with ``key_to_index`` and ``vector_size`` and ``vectors[word]``
    (gensim ``KeyedVectors``). Row 0 (padding) is zero; words without a vector (and
    ``[UNK]``) get U(-scale, scale), as Kim (2014) did. With ``match_scale`` (the default)
    the copied vectors are multiplied by one factor so that their entries have the standard
    deviation of those random rows (scale / sqrt(3)): Kim matched the two scales too, and a
    start whose known rows are several times larger than the rest (and than the random
    initialisation it is compared with) measures the scale, not what the vectors mean. With
    ``lowercase`` a word missing as-is is looked up lower-cased.
    """
    dim = int(vectors.vector_size)
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-scale, scale, size=(len(vocabulary), dim)).astype(np.float32)
    matrix[0] = 0.0
    rows = []
    for i, word in enumerate(vocabulary[2:], start=2):
        key = word if word in vectors.key_to_index else (word.lower() if lowercase else None)
        if key is not None and key in vectors.key_to_index:
            matrix[i] = vectors[key]
            rows.append(i)
    if match_scale and len(rows) > 1:
        spread = float(matrix[rows].std())
        if spread > 0:
            matrix[rows] *= (scale / np.sqrt(3.0)) / spread
    return matrix, len(rows) / max(1, len(vocabulary) - 2)


def average_probabilities(probs: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """The (weighted) mean of several models' class probabilities: a simple ensemble."""
    arrays = [np.asarray(p, dtype=np.float64) for p in probs]
    if not arrays or len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 2:
        raise ValueError(f"expected probability arrays of one shape (n, classes), got {[a.shape for a in arrays]}")
    stacked = np.stack(arrays)
    w = np.ones(len(stacked)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(stacked),) or np.any(w < 0) or w.sum() == 0:
        raise ValueError(f"expected {len(stacked)} non-negative weights, got {list(np.atleast_1d(w))}")
    return np.tensordot(w / w.sum(), stacked, axes=1)


# --------------------------------------------------------------------------------------
# Evaluation


def _check_pairs(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(f"expected two 1-D label arrays of one length, got {y_true.shape} and {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("no labels to score")
    return y_true.astype(np.int64), y_pred.astype(np.int64)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Share of predictions equal to the true label."""
    y_true, y_pred = _check_pairs(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as ``j`` (scikit-learn's layout)."""
    y_true, y_pred = _check_pairs(y_true, y_pred)
    if min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


@dataclass
class ClassScores:
    """Per-class precision, recall, F1 and support, and their macro averages."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    @property
    def macro_f1(self) -> float:
        return float(self.f1.mean())

    @property
    def macro_precision(self) -> float:
        return float(self.precision.mean())

    @property
    def macro_recall(self) -> float:
        return float(self.recall.mean())

    def table(self, label_names: Sequence[str]) -> str:
        """A plain-text report, one row per class, then the macro average."""
        rows = [f"{'class':>8} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}"]
        for name, p, r, f, s in zip(label_names, self.precision, self.recall, self.f1, self.support, strict=True):
            rows.append(f"{name:>8} {p:9.3f} {r:7.3f} {f:6.3f} {s:8d}")
        rows.append(
            f"{'macro':>8} {self.macro_precision:9.3f} {self.macro_recall:7.3f} {self.macro_f1:6.3f} "
            f"{int(self.support.sum()):8d}"
        )
        return "\n".join(rows)


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # 0/0 counts as 0 (scikit-learn's zero_division=0): a class never predicted has precision 0.
    return np.divide(num, den, out=np.zeros(num.shape, dtype=np.float64), where=den > 0)


def scores_from_confusion(matrix: np.ndarray) -> ClassScores:
    """Precision ``TP/(TP+FP)``, recall ``TP/(TP+FN)`` and F1 ``2PR/(P+R)`` per class."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"expected a square confusion matrix, got shape {matrix.shape}")
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    actual = matrix.sum(axis=1).astype(np.float64)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, actual)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return ClassScores(precision, recall, f1, actual.astype(np.int64))


def class_scores(y_true: Any, y_pred: Any, num_classes: int) -> ClassScores:
    """Per-class precision/recall/F1 from labels (equal to scikit-learn's ``zero_division=0``)."""
    return scores_from_confusion(confusion_matrix(y_true, y_pred, num_classes))


@dataclass
class Error:
    """One misclassified example, for error analysis."""

    text: str
    true: str
    predicted: str
    confidence: float


def most_confident_errors(
    texts: Sequence[str], y_true: Any, probs: np.ndarray, label_names: Sequence[str], k: int = 10
) -> list[Error]:
    """The ``k`` misclassified texts the model was most sure about (the most telling errors)."""
    probs = np.asarray(probs)
    y_true = np.asarray(y_true)
    if probs.ndim != 2 or len(probs) != len(texts) or len(y_true) != len(texts):
        raise ValueError(f"expected {len(texts)} rows of probabilities and labels, got {probs.shape}, {y_true.shape}")
    y_pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    order = wrong[np.argsort(-probs[wrong, y_pred[wrong]], kind="stable")][:k]
    return [Error(texts[i], label_names[y_true[i]], label_names[y_pred[i]], float(probs[i, y_pred[i]])) for i in order]


@dataclass
class ResultRow:
    """One line of a results table: our test accuracy (%), its 95 % interval, and a published reference."""

    dataset: str
    model: str
    ours: float
    reference: float | None = None
    reference_name: str = ""
    interval: tuple[float, float] | None = None  # (low, high) in %, e.g. from bootstrap_interval

    def verdict(self) -> str:
        """How ours compares with the reference: inside our interval is "indistinguishable"."""
        if self.reference is None or self.interval is None:
            return ""
        low, high = self.interval
        return "indistinguishable" if low <= self.reference <= high else ("above" if low > self.reference else "below")


def results_table(rows: Sequence[ResultRow]) -> str:
    """A Markdown table of results (accuracy in %), the reference beside ours, with intervals where given."""
    lines = ["| dataset | model | test acc. (%) | 95 % interval | published (%) | vs. published | reference |",
             "|---|---|---:|---:|---:|---|---|"]
    for r in rows:
        ref = "" if r.reference is None else f"{r.reference:.1f}"
        ci = "" if r.interval is None else f"{r.interval[0]:.1f} to {r.interval[1]:.1f}"
        lines.append(f"| {r.dataset} | {r.model} | {r.ours:.1f} | {ci} | {ref} | {r.verdict()} | {r.reference_name} |")
    return "\n".join(lines)


def _correct_flags(correct: Any) -> np.ndarray:
    flags = np.asarray(correct, dtype=np.float64).ravel()
    if flags.size == 0 or not np.isin(flags, (0.0, 1.0)).all():
        raise ValueError(f"expected one 0/1 (or bool) per example, got {flags.size} values")
    return flags


_BOOTSTRAP_BLOCK_VALUES = 200_000  # indices per block of resamples: 1.6 MB as int64


def _percentile_bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray], size: int, n: int, seed: int, level: float
) -> tuple[float, float]:
    """The ``level`` percentile interval of ``statistic`` over ``n`` resamples (rows of indices)."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    # Resamples are drawn and scored a block of rows at a time, so memory stays at a few MB
    # for any n (all at once, 2,000 resamples of SST-2's 1,821 test sentences took 90 MB);
    # drawing the blocks one after another gives the same numbers as one (n, size) draw.
    rows = max(1, _BOOTSTRAP_BLOCK_VALUES // size)
    values = np.concatenate([statistic(rng.integers(0, size, (min(rows, n - start), size)))
                             for start in range(0, n, rows)])
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_interval(correct: Any, *, n: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """A percentile-bootstrap interval for an accuracy: resample the test examples with replacement.

    ``correct`` is one boolean (or 0/1) per test example. For n examples the interval's
    half-width is close to 1.96·sqrt(p(1-p)/n), the normal approximation.
    """
    flags = _correct_flags(correct)
    return _percentile_bootstrap(lambda idx: flags[idx].mean(axis=1), flags.size, n, seed, level)


def paired_bootstrap_interval(
    correct_a: Any, correct_b: Any, *, n: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """An interval for accuracy(b) - accuracy(a) on the same test examples (a paired bootstrap).

    Each resample draws test examples with replacement and scores both models on it, so
    the examples both get right (or wrong) cancel: the interval is narrower than two
    separate intervals suggest. An interval that contains 0 means "no clear difference".
    """
    a, b = _correct_flags(correct_a), _correct_flags(correct_b)
    if a.size != b.size:
        raise ValueError(f"both models must be scored on the same examples: got {a.size} and {b.size}")
    return _percentile_bootstrap(lambda idx: b[idx].mean(axis=1) - a[idx].mean(axis=1), a.size, n, seed, level)


def reference_for(dataset: str, name: str = "Kim 2014 CNN-rand") -> float:
    """A published test accuracy (%) from :data:`REFERENCES`, with a clear error if unknown."""
    key = (dataset, name)
    if key not in REFERENCES:
        known = sorted(m for d, m in REFERENCES if d == dataset)
        raise KeyError(f"no published number for {name!r} on {dataset!r}; known: {known}")
    return REFERENCES[key]
