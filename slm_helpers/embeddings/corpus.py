"""The course corpus for word vectors: seven real, offline-available sources, tokenized.

Lessons 02 (Word2Vec) and 03 (GloVe) train on the same text, so their numbers can be put
side by side. The corpus joins what the data registry (and gensim's shipped test data)
offers without a network beyond the course mirror:

============== ================================================================ ==========
source         what                                                             unit
============== ================================================================ ==========
lee            Lee background corpus, 300 Australian news stories (gensim)      document
wikipedia      107 English Wikipedia articles from gensim's test dump (A–Al…)   paragraph
python_docs    Python's documentation topics (``pydoc_data.topics``)            paragraph
sst2           SST-2 *train* sentences (movie reviews)                          sentence
mr             MR *train* sentences (movie reviews)                             sentence
trec           TREC *train* questions                                           sentence
shakespeare    Tiny Shakespeare, the first 90 % (the char-LM train split)       speech
============== ================================================================ ==========

Only training splits are used, so lessons that later initialize classifiers with these
vectors never saw a test sentence. Exact duplicate sentences (SST-2 and MR both come from
Rotten Tomatoes snippets) are kept once. Building it takes a few seconds, so the tokenized
corpus is cached (gzip text, one sentence per line) under the data cache folder.
"""

from __future__ import annotations

import bz2
import gzip
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CORPUS_VERSION = 1
SOURCES = ("lee", "wikipedia", "python_docs", "sst2", "mr", "trec", "shakespeare")
WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"

# Letters and digits (any script), with inner apostrophes kept: "don't", "o'er", "n't".
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_PARAGRAPH = re.compile(r"\n\s*\n")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and return its words: runs of letters/digits, inner apostrophes kept.

    Punctuation, underscores and markup symbols are dropped, so ``"The King's horse."``
    gives ``["the", "king's", "horse"]``.

    >>> tokenize("The King's horse, 2 of them.")
    ['the', "king's", 'horse', '2', 'of', 'them']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower().translate(_APOSTROPHES))


def paragraphs(text: str) -> Iterator[list[str]]:
    """Tokenized paragraphs (blocks separated by blank lines), empty ones skipped."""
    for block in _PARAGRAPH.split(text):
        tokens = tokenize(block)
        if tokens:
            yield tokens


@dataclass
class CourseCorpus:
    """Tokenized sentences with the source each came from."""

    sentences: list[list[str]]
    sources: list[str]
    path: Path | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.sentences) != len(self.sources):
            raise ValueError(f"{len(self.sentences)} sentences but {len(self.sources)} source labels")

    def __len__(self) -> int:
        return len(self.sentences)

    @property
    def n_tokens(self) -> int:
        return sum(len(s) for s in self.sentences)

    def counts_by_source(self) -> dict[str, tuple[int, int]]:
        """``{source: (sentences, tokens)}`` in the order of :data:`SOURCES`."""
        table = {name: [0, 0] for name in SOURCES}
        for sentence, source in zip(self.sentences, self.sources, strict=True):
            table.setdefault(source, [0, 0])
            table[source][0] += 1
            table[source][1] += len(sentence)
        return {k: (v[0], v[1]) for k, v in table.items() if v[0]}

    def summary(self) -> str:
        """A small text table: sentences and tokens per source, and the total."""
        lines = [f"{'source':<12} {'sentences':>10} {'tokens':>10}"]
        for name, (n_sent, n_tok) in self.counts_by_source().items():
            lines.append(f"{name:<12} {n_sent:>10,} {n_tok:>10,}")
        lines.append(f"{'total':<12} {len(self):>10,} {self.n_tokens:>10,}")
        return "\n".join(lines)

    def subset(self, fraction: float, *, seed: int = 0) -> CourseCorpus:
        """A random ``fraction`` of the sentences (all sources mixed).

        Subsets with the same seed are nested: the 25 % subset is a prefix of the 50 % one,
        which is what a "quality vs corpus size" curve needs.
        """
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        order = np.random.default_rng(seed).permutation(len(self))
        keep = np.sort(order[: max(1, round(fraction * len(self)))])
        return CourseCorpus([self.sentences[i] for i in keep], [self.sources[i] for i in keep], self.path)


def _wikipedia_paragraphs() -> Iterator[list[str]]:
    """Paragraphs of the article pages in gensim's shortened Wikipedia dump (redirects skipped)."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    from ..data.loaders import gensim_test_file

    with bz2.open(gensim_test_file(WIKI_DUMP), "rb") as fh:
        for _title, text, _pageid in extract_pages(fh, filter_namespaces=("0",)):
            if text.lstrip().lower().startswith("#redirect"):
                continue
            yield from paragraphs(filter_wiki(text))


def _source_sentences(name: str, progress: bool) -> Iterable[list[str]]:
    from .. import data

    if name == "lee":
        return (tokenize(doc) for doc in data.load("lee"))
    if name == "wikipedia":
        return _wikipedia_paragraphs()
    if name == "python_docs":
        return (p for topic in data.load("python_docs") for p in paragraphs(topic))
    if name in ("sst2", "mr", "trec"):
        return (tokenize(s) for s in data.load(name, progress=progress).train.texts)
    if name == "shakespeare":
        return paragraphs(data.load("tiny_shakespeare", progress=progress).train)
    raise ValueError(f"unknown corpus source {name!r}; sources are {', '.join(SOURCES)}")


def build_course_corpus(sources: Sequence[str] = SOURCES, *, progress: bool = False) -> CourseCorpus:
    """Read and tokenize every source (no cache); exact duplicate sentences kept once."""
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown corpus sources {unknown}; choose from {list(SOURCES)}")
    seen: set[tuple[str, ...]] = set()
    sentences, labels = [], []
    for name in sources:
        for tokens in _source_sentences(name, progress):
            key = tuple(tokens)
            if not tokens or key in seen:
                continue
            seen.add(key)
            sentences.append(tokens)
            labels.append(name)
    return CourseCorpus(sentences, labels)


def _cache_path() -> Path:
    from ..data import cache_dir

    return cache_dir() / f"course_corpus_v{CORPUS_VERSION}.txt.gz"


def _write_cache(corpus: CourseCorpus, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temporary file and rename, so a crash or a parallel run never leaves half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    os.close(fd)
    try:
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=4) as fh:
            for source, tokens in zip(corpus.sources, corpus.sentences, strict=True):
                fh.write(f"{source}\t{' '.join(tokens)}\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _read_cache(path: Path) -> CourseCorpus:
    sentences, labels = [], []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            source, sep, text = line.rstrip("\n").partition("\t")
            if not sep or source not in SOURCES:
                raise ValueError(f"{path} line {number}: expected 'source<TAB>tokens'; delete the file to rebuild it")
            sentences.append(text.split(" "))
            labels.append(source)
    return CourseCorpus(sentences, labels, path)


def load_course_corpus(*, fraction: float = 1.0, seed: int = 0, cache: bool = True,
                       progress: bool = False) -> CourseCorpus:
    """The course corpus (all seven sources), or a random ``fraction`` of its sentences.

    The first call builds it (a few seconds) and caches it under the data cache folder
    (``SLM_DATA_DIR``); later calls read the cache. ``cache=False`` always rebuilds.
    """
    path = _cache_path()
    if cache and path.is_file():
        try:
            corpus = _read_cache(path)
        except (OSError, EOFError, ValueError):
            path.unlink(missing_ok=True)  # a damaged cache is rebuilt, never trusted
            corpus = None
    else:
        corpus = None
    if corpus is None:
        corpus = build_course_corpus(progress=progress)
        if cache:
            _write_cache(corpus, path)
            corpus.path = path
    return corpus if fraction == 1.0 else corpus.subset(fraction, seed=seed)


# --------------------------------------------------------------------------------------
# Vocabulary and integer encoding (gensim's conventions, so ids line up with Word2Vec's).


@dataclass
class Vocabulary:
    """Words kept for training, most frequent first, with their corpus counts."""

    words: list[str]
    counts: np.ndarray
    index: dict[str, int] = field(repr=False)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of the tokens in the vocabulary; other tokens are dropped (as word2vec does)."""
        index = self.index
        return np.array([index[t] for t in tokens if t in index], dtype=np.int32)


def build_vocabulary(sentences: Iterable[Sequence[str]], min_count: int = 5) -> Vocabulary:
    """Words seen at least ``min_count`` times, by falling count.

    Ties are broken as gensim 4 breaks them (the word seen *last* first), so ``vocab.words``
    equals ``Word2Vec(..., min_count=min_count).wv.index_to_key`` on the same sentences.
    """
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    counts: Counter[str] = Counter()
    for tokens in sentences:
        counts.update(tokens)
    # Counter keeps first-seen order; gensim sorts with np.lexsort((-index, -count)).
    seen = [(w, c) for w, c in counts.items() if c >= min_count]
    kept = [seen[i] for i in sorted(range(len(seen)), key=lambda i: (-seen[i][1], -i))]
    if not kept:
        raise ValueError(f"no word occurs {min_count} times; lower min_count or use more text")
    words = [w for w, _ in kept]
    return Vocabulary(words, np.array([c for _, c in kept], dtype=np.int64),
                      {w: i for i, w in enumerate(words)})


def encode_sentences(sentences: Iterable[Sequence[str]], vocab: Vocabulary) -> list[np.ndarray]:
    """Each sentence as an int32 id array, out-of-vocabulary words removed, empty ones dropped."""
    encoded = (vocab.encode(tokens) for tokens in sentences)
    return [ids for ids in encoded if len(ids)]
