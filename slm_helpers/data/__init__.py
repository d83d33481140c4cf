"""Datasets for the course, behind one call: ``data.load(name)``.

>>> from slm_helpers import data
>>> sst = data.load("sst2")          # doctest: +SKIP
>>> sst.train.texts[0], sst.train.labels[0]  # doctest: +SKIP

Remote files are pinned (URL + SHA-256) in :mod:`.registry`, fetched once into a cache
(``SLM_DATA_DIR``), looked up first in the folders of ``SLM_DATA_MIRROR``, verified and
written atomically. See COURSE.md §6.
"""

from __future__ import annotations

from typing import Any

from . import loaders
from .decoding import DataEncodingError, decode_bytes, read_text
from .fetching import (
    DATA_DIR_ENV,
    MIRROR_ENV,
    ChecksumError,
    DataError,
    DataUnavailableError,
    cache_dir,
    fetch,
    mirror_dirs,
    sha256_of,
)
from .loaders import (
    AnalogySections,
    CharCorpus,
    ClassificationDataset,
    TextSplit,
    WordPairs,
)
from .registry import DATASETS, OFFLINE_CORPORA, DatasetInfo, RemoteFile, known_names


class UnknownDatasetError(KeyError):
    """A dataset name the registry does not know."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


_LOADERS = {
    "sst2": loaders.load_sst2,
    "mr": loaders.load_mr,
    "trec": loaders.load_trec,
    "tiny_shakespeare": loaders.load_tiny_shakespeare,
}
_OFFLINE = {
    "lee": loaders.load_lee,
    "wordsim353": lambda: loaders.load_word_pairs("wordsim353"),
    "simlex999": lambda: loaders.load_word_pairs("simlex999"),
    "questions_words": loaders.load_questions_words,
    "python_docs": loaders.load_python_docs,
}


def load(name: str, *, progress: bool = True) -> Any:
    """Load a dataset by name.

    ``"sst2"``, ``"mr"``, ``"trec"`` give a :class:`ClassificationDataset` (``.train``,
    ``.dev``, ``.test``, each with ``.texts`` and ``.labels``, and ``.label_names``);
    ``"tiny_shakespeare"`` a :class:`CharCorpus` (``.train``, ``.val``: 90/10 in order);
    ``"lee"`` and ``"python_docs"`` a list of documents; ``"wordsim353"`` and
    ``"simlex999"`` :class:`WordPairs`; ``"questions_words"`` :class:`AnalogySections`.
    """
    key = name.strip().lower().replace("-", "_")
    if key in _LOADERS:
        return _LOADERS[key](progress=progress)
    if key in _OFFLINE:
        return _OFFLINE[key]()
    raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(known_names())}")


def describe(name: str) -> str:
    """One paragraph on a dataset: what it is, its splits, license and citation."""
    key = name.strip().lower()
    if key in DATASETS:
        info = DATASETS[key]
        files = ", ".join(f.name for f in info.files)
        return (
            f"{info.name}: {info.description}. Splits: {info.splits}. Files: {files}. "
            f"License: {info.license}. Cite: {info.citation}."
        )
    if key in OFFLINE_CORPORA:
        return f"{key}: {OFFLINE_CORPORA[key]} (no download needed)."
    raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(known_names())}")


__all__ = [
    "AnalogySections",
    "CharCorpus",
    "ChecksumError",
    "ClassificationDataset",
    "DATASETS",
    "DATA_DIR_ENV",
    "DataEncodingError",
    "DataError",
    "DataUnavailableError",
    "DatasetInfo",
    "MIRROR_ENV",
    "OFFLINE_CORPORA",
    "RemoteFile",
    "TextSplit",
    "UnknownDatasetError",
    "WordPairs",
    "cache_dir",
    "decode_bytes",
    "describe",
    "fetch",
    "known_names",
    "load",
    "mirror_dirs",
    "read_text",
    "sha256_of",
]
