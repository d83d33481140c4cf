"""Intrinsic evaluation of word vectors, with coverage always beside the score.

- Word similarity: Spearman ρ between cosine similarities and human scores on the pairs
  whose two words are in the vocabulary (WordSim-353, SimLex-999).
- Analogies: 3CosAdd (``b − a + c``, nearest word other than ``a``, ``b``, ``c``) on the
  Mikolov questions whose four words are in the vocabulary.

A ρ on 40 % of the pairs is not comparable with a ρ on 100 %: every result carries its
coverage, and the string form prints both. The numbers equal gensim's
``evaluate_word_pairs`` / ``evaluate_word_analogies`` (the lessons assert it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank (as ``scipy.stats.rankdata``)."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    # Start and end position of each run of equal values; every member gets the mean rank.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def spearman_rho(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's r of the (tie-averaged) ranks."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"expected two 1-D arrays of the same length, got {x.shape} and {y.shape}")
    if len(x) < 3:
        return float("nan")
    rx, ry = rankdata(x) - (len(x) + 1) / 2, rankdata(y) - (len(y) + 1) / 2
    denom = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / denom) if denom else float("nan")


@dataclass(frozen=True)
class SimilarityResult:
    """Spearman ρ on the covered pairs of a word-similarity benchmark."""

    benchmark: str
    rho: float
    n_covered: int
    n_pairs: int

    @property
    def coverage(self) -> float:
        return self.n_covered / self.n_pairs if self.n_pairs else 0.0

    def __str__(self) -> str:
        return (f"{self.benchmark}: Spearman ρ = {self.rho:.3f} on {self.n_covered}/{self.n_pairs} "
                f"pairs (coverage {self.coverage:.0%})")


def _pairs_and_scores(benchmark: Any, scores: Sequence[float] | None) -> tuple[str, list, np.ndarray]:
    if hasattr(benchmark, "pairs"):
        return getattr(benchmark, "name", "pairs"), list(benchmark.pairs), np.asarray(benchmark.scores, float)
    if scores is None:
        raise ValueError("pass a WordPairs benchmark, or pairs together with scores=")
    pairs = list(benchmark)
    if len(pairs) != len(scores):
        raise ValueError(f"{len(pairs)} pairs but {len(scores)} scores")
    return "pairs", pairs, np.asarray(scores, dtype=float)


def cosine(kv: Any, a: str, b: str) -> float:
    """Cosine similarity of two words' vectors."""
    return float(np.dot(kv.get_vector(a, norm=True), kv.get_vector(b, norm=True)))


def evaluate_similarity(kv: Any, benchmark: Any, scores: Sequence[float] | None = None) -> SimilarityResult:
    """Spearman ρ of cosine similarity vs human scores, on the pairs the vocabulary covers.

    ``kv`` is a gensim ``KeyedVectors`` (or anything with ``key_to_index`` and
    ``get_vector(word, norm=True)``); ``benchmark`` a :class:`~slm_helpers.data.WordPairs`,
    or a list of word pairs with ``scores``. Words are looked up lower-cased.
    """
    name, pairs, human = _pairs_and_scores(benchmark, scores)
    vocab = kv.key_to_index
    covered = [i for i, (a, b) in enumerate(pairs) if a.lower() in vocab and b.lower() in vocab]
    model = [cosine(kv, pairs[i][0].lower(), pairs[i][1].lower()) for i in covered]
    rho = spearman_rho(np.array(model), human[covered]) if covered else float("nan")
    return SimilarityResult(name, rho, len(covered), len(pairs))


@dataclass(frozen=True)
class AnalogyResult:
    """3CosAdd accuracy on the analogy questions whose four words are in the vocabulary."""

    accuracy: float
    n_correct: int
    n_covered: int
    n_questions: int
    sections: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # correct, covered, total

    @property
    def coverage(self) -> float:
        return self.n_covered / self.n_questions if self.n_questions else 0.0

    def __str__(self) -> str:
        return (f"analogies: accuracy {self.accuracy:.1%} ({self.n_correct}/{self.n_covered}) on "
                f"{self.n_covered}/{self.n_questions} questions (coverage {self.coverage:.0%})")

    def section_table(self) -> str:
        """Per section: correct / covered / total questions."""
        lines = [f"{'section':<28} {'correct':>8} {'covered':>8} {'total':>6} {'accuracy':>9}"]
        for name, (right, covered, total) in self.sections.items():
            acc = f"{right / covered:.1%}" if covered else "—"
            lines.append(f"{name:<28} {right:>8} {covered:>8} {total:>6} {acc:>9}")
        return "\n".join(lines)


def analogy_predictions(kv: Any, questions: Sequence[tuple[str, str, str]], batch_size: int = 512) -> list[str]:
    """3CosAdd answers to ``a : b :: c : ?`` (all words must be in ``kv``).

    The answer is the word whose unit vector has the largest dot product with
    ``â·(−1) + b̂ + ĉ`` (hats: unit vectors), excluding ``a``, ``b`` and ``c`` themselves:
    what ``kv.most_similar(positive=[b, c], negative=[a])`` returns first.
    """
    if not questions:
        return []
    unit = kv.get_normed_vectors()
    index = kv.key_to_index
    ids = np.array([[index[w] for w in q] for q in questions])
    answers: list[str] = []
    for start in range(0, len(ids), batch_size):
        a, b, c = ids[start:start + batch_size].T
        scores = (unit[b] - unit[a] + unit[c]) @ unit.T
        rows = np.arange(len(a))
        for excluded in (a, b, c):
            scores[rows, excluded] = -np.inf
        answers += [kv.index_to_key[i] for i in scores.argmax(axis=1)]
    return answers


def evaluate_analogies(kv: Any, benchmark: Any) -> AnalogyResult:
    """3CosAdd accuracy per section and overall, on the questions the vocabulary covers.

    ``benchmark`` is an :class:`~slm_helpers.data.AnalogySections` or a dict
    ``{section: [(a, b, c, d), ...]}``. Words are looked up lower-cased.
    """
    sections: Mapping[str, Sequence[tuple[str, str, str, str]]] = getattr(benchmark, "sections", benchmark)
    vocab = kv.key_to_index
    table: dict[str, tuple[int, int, int]] = {}
    correct = covered = total = 0
    for name, questions in sections.items():
        lowered = [tuple(w.lower() for w in q) for q in questions]
        inside = [q for q in lowered if all(w in vocab for w in q)]
        answers = analogy_predictions(kv, [q[:3] for q in inside])
        right = sum(ans == q[3] for ans, q in zip(answers, inside, strict=True))
        table[name] = (right, len(inside), len(questions))
        correct, covered, total = correct + right, covered + len(inside), total + len(questions)
    accuracy = correct / covered if covered else float("nan")
    return AnalogyResult(accuracy, correct, covered, total, table)


# --------------------------------------------------------------------------------------
# Everything at once, for comparison tables.


@dataclass(frozen=True)
class Benchmarks:
    """WordSim-353, SimLex-999 and the analogy questions, loaded once."""

    wordsim353: Any
    simlex999: Any
    analogies: Any


def load_benchmarks() -> Benchmarks:
    """The three benchmarks shipped with gensim (no download)."""
    from .. import data

    return Benchmarks(data.load("wordsim353"), data.load("simlex999"), data.load("questions_words"))


@dataclass(frozen=True)
class Evaluation:
    """One model's scores on all benchmarks."""

    model: str
    wordsim353: SimilarityResult
    simlex999: SimilarityResult
    analogies: AnalogyResult
    vocab_size: int

    def row(self) -> dict[str, float | str | int]:
        return {
            "model": self.model, "vocab": self.vocab_size,
            "WS353 ρ": self.wordsim353.rho, "WS353 cov": self.wordsim353.coverage,
            "SimLex ρ": self.simlex999.rho, "SimLex cov": self.simlex999.coverage,
            "analogy acc": self.analogies.accuracy, "analogy cov": self.analogies.coverage,
        }


def evaluate_all(kv: Any, benchmarks: Benchmarks, model: str = "model") -> Evaluation:
    """WordSim-353 ρ, SimLex-999 ρ and analogy accuracy, each with its coverage."""
    return Evaluation(
        model,
        evaluate_similarity(kv, benchmarks.wordsim353),
        evaluate_similarity(kv, benchmarks.simlex999),
        evaluate_analogies(kv, benchmarks.analogies),
        len(kv.key_to_index),
    )


def format_table(rows: Sequence[Mapping[str, Any]], *, floats: str = ".3f") -> str:
    """A Markdown table from dicts with the same keys (coverage columns as percentages)."""
    if not rows:
        raise ValueError("no rows to format")
    headers = list(rows[0])

    def cell(key: str, value: Any) -> str:
        if isinstance(value, float):
            if np.isnan(value):
                return "—"
            return f"{value:.0%}" if "cov" in key else format(value, floats)
        return f"{value:,}" if isinstance(value, int) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(k, r[k]) for k in headers) + " |" for r in rows]
    return "\n".join(lines)
