"""Parse the registered files into splits a lesson can use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..splits import stratified_group_split
from .decoding import read_text, split_lines
from .fetching import fetch
from .registry import DATASETS, MR_FILES, SHAKESPEARE_FILE, SST_FILES, TREC_FILES, DatasetInfo, RemoteFile

SPLIT_SEED = 13
TREC_LABELS = ("DESC", "ENTY", "ABBR", "HUM", "LOC", "NUM")
SENTIMENT_LABELS = ("negative", "positive")


@dataclass
class TextSplit:
    """Parallel lists of texts and integer labels."""

    texts: list[str]
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: np.ndarray) -> TextSplit:
        """The examples at ``indices``, texts and labels together."""
        return TextSplit([self.texts[i] for i in indices], self.labels[indices])


@dataclass
class ClassificationDataset:
    """A text classification dataset with train, dev and test splits."""

    name: str
    train: TextSplit
    dev: TextSplit
    test: TextSplit
    label_names: tuple[str, ...]
    info: DatasetInfo = field(repr=False)

    @property
    def splits(self) -> dict[str, TextSplit]:
        return {"train": self.train, "dev": self.dev, "test": self.test}

    def summary(self) -> str:
        sizes = ", ".join(f"{k} {len(v):,}" for k, v in self.splits.items())
        return f"{self.name}: {sizes}; {len(self.label_names)} classes {list(self.label_names)}"


@dataclass
class CharCorpus:
    """A character corpus split in order into train and validation text."""

    name: str
    train: str
    val: str
    info: DatasetInfo = field(repr=False)


def _labelled_lines(remote: RemoteFile, progress: bool) -> TextSplit:
    """Parse ``LABEL SENTENCE`` lines."""
    path = fetch(remote, progress=progress)
    texts, labels = [], []
    for number, line in enumerate(split_lines(read_text(path, remote.encoding)), start=1):
        label, _, text = line.partition(" ")
        if not label.isdigit() or not text.strip():
            raise ValueError(f"{remote.name} line {number}: expected 'LABEL SENTENCE', got {line[:60]!r}")
        texts.append(text.strip())
        labels.append(int(label))
    return TextSplit(texts, np.array(labels))


def load_sst2(progress: bool = True) -> ClassificationDataset:
    train, dev, test = (_labelled_lines(f, progress) for f in SST_FILES)
    return ClassificationDataset("sst2", train, dev, test, SENTIMENT_LABELS, DATASETS["sst2"])


def load_trec(progress: bool = True) -> ClassificationDataset:
    full_train, test = (_labelled_lines(f, progress) for f in TREC_FILES)
    train_idx, dev_idx = stratified_group_split(full_train.texts, full_train.labels, (0.9, 0.1), seed=SPLIT_SEED)
    return ClassificationDataset(
        "trec",
        full_train.subset(train_idx),
        full_train.subset(dev_idx),
        test,
        TREC_LABELS,
        DATASETS["trec"],
    )


def load_mr(progress: bool = True) -> ClassificationDataset:
    texts: list[str] = []
    labels: list[int] = []
    for remote, label in ((MR_FILES[1], 0), (MR_FILES[0], 1)):  # neg = 0, pos = 1
        path = fetch(remote, progress=progress)
        lines = [line.strip() for line in split_lines(read_text(path, remote.encoding))]
        texts.extend(lines)
        labels.extend([label] * len(lines))
    everything = TextSplit(texts, np.array(labels))
    parts = stratified_group_split(texts, everything.labels, (0.8, 0.1, 0.1), seed=SPLIT_SEED)
    train, dev, test = (everything.subset(p) for p in parts)
    return ClassificationDataset("mr", train, dev, test, SENTIMENT_LABELS, DATASETS["mr"])


def load_tiny_shakespeare(progress: bool = True) -> CharCorpus:
    path = fetch(SHAKESPEARE_FILE, progress=progress)
    text = read_text(path, SHAKESPEARE_FILE.encoding)
    cut = int(len(text) * 0.9)
    return CharCorpus("tiny_shakespeare", text[:cut], text[cut:], DATASETS["tiny_shakespeare"])


@dataclass
class WordPairs:
    """Word pairs with human scores (a word-similarity benchmark)."""

    name: str
    pairs: list[tuple[str, str]]
    scores: np.ndarray
    path: Path


@dataclass
class AnalogySections:
    """Analogy questions ``a : b :: c : d`` grouped by section."""

    path: Path
    sections: dict[str, list[tuple[str, str, str, str]]]

    def __len__(self) -> int:
        return sum(len(q) for q in self.sections.values())


def gensim_test_file(name: str) -> Path:
    """Path of a file in gensim's shipped test data."""
    from gensim.test.utils import datapath

    path = Path(datapath(name))
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not in gensim's test data at {path.parent}; reinstall gensim")
    return path


def load_lee() -> list[str]:
    """The Lee background corpus: 300 news documents."""
    path = gensim_test_file("lee_background.cor")
    return [line for line in split_lines(read_text(path, "utf-8")) if line.strip()]


def load_word_pairs(name: str) -> WordPairs:
    path = gensim_test_file({"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}[name])
    pairs, scores = [], []
    for line in split_lines(read_text(path, "utf-8")):
        if not line.strip() or line.startswith("#"):
            continue
        a, b, score = line.split("\t")[:3]
        pairs.append((a.lower(), b.lower()))
        scores.append(float(score))
    return WordPairs(name, pairs, np.array(scores), path)


def load_questions_words() -> AnalogySections:
    path = gensim_test_file("questions-words.txt")
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for line in split_lines(read_text(path, "utf-8")):
        if line.startswith(":"):
            current = line[1:].strip()
            sections[current] = []
        elif line.strip() and current is not None:
            a, b, c, d = line.lower().split()
            sections[current].append((a, b, c, d))
    return AnalogySections(path, sections)


def load_python_docs() -> list[str]:
    """Python's documentation topics (``pydoc_data.topics``), one text per topic, sorted by name."""
    from pydoc_data.topics import topics

    return [topics[name] for name in sorted(topics)]
