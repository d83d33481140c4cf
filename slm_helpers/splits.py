"""Leak-free train/dev/test splits.

Two mistakes make test scores lie. The classic one (in the course's source survey):
shuffling the texts and the labels *separately*, or shuffling one list and indexing the
other, so that labels no longer belong to their sentences. The quieter one: the same
sentence in train and test, so the model is tested on what it memorised. The split here
shuffles *indices* once, applies them to texts and labels together, keeps identical
(normalised) texts in one split, and keeps each label's share equal across splits.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np


def normalize_text(text: str) -> str:
    """The key under which two texts count as the same sentence: case and spaces folded."""
    return " ".join(text.lower().split())


def letters_digits(text: str) -> str:
    """A stricter key: lower-cased ASCII letters and digits only, so tokenization differences vanish
    ("it 's fine ." and "It's fine." get the same key)."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def stratified_group_split(
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    *,
    seed: int = 13,
    key: Callable[[str], str] = normalize_text,
) -> list[np.ndarray]:
    """Split example indices into parts of the given fractions, leak-free and stratified.

    Identical texts (after ``key``) always land in the same part; within each label, groups
    are shuffled with ``seed`` and dealt out so every part gets about its fraction of that
    label. Returns one sorted index array per fraction; together they cover every example
    exactly once.
    """
    labels = np.asarray(labels)
    if len(texts) != len(labels):
        raise ValueError(f"texts and labels differ in length: {len(texts)} vs {len(labels)}")
    fractions = np.asarray(fractions, dtype=float)
    if fractions.ndim != 1 or len(fractions) < 2 or np.any(fractions <= 0):
        raise ValueError(f"fractions must be two or more positive numbers, got {fractions.tolist()}")
    if not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"fractions must sum to 1, got {fractions.sum():.4f}")

    groups: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(texts):
        groups[key(text)].append(i)
    # A group's stratum is the label of its first member (duplicates nearly always agree).
    by_label: dict[int, list[list[int]]] = defaultdict(list)
    for members in groups.values():
        by_label[int(labels[members[0]])].append(members)

    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in fractions]
    bounds = np.cumsum(fractions)
    for label in sorted(by_label):
        label_groups = by_label[label]
        order = rng.permutation(len(label_groups))
        total = sum(len(g) for g in label_groups)
        seen = 0
        for g in order:
            members = label_groups[g]
            # Deal by the position of the group's middle, so parts get their share.
            position = (seen + len(members) / 2) / total
            part = int(np.searchsorted(bounds, position, side="right"))
            parts[min(part, len(parts) - 1)].extend(members)
            seen += len(members)
    return [np.array(sorted(p), dtype=np.int64) for p in parts]


def overlap(a: Sequence[str], b: Sequence[str], *, key: Callable[[str], str] = normalize_text) -> set[str]:
    """Texts (normalised) that occur in both ``a`` and ``b``: each one is a leak."""
    return {key(t) for t in a} & {key(t) for t in b}


def found_in(
    texts: Sequence[str], held_out: Sequence[str], *, key: Callable[[str], str] = normalize_text
) -> np.ndarray:
    """Boolean mask over ``texts``: True where the text (by ``key``) occurs in ``held_out``, a leak to drop."""
    keys = {key(t) for t in held_out}
    return np.array([key(t) in keys for t in texts], dtype=bool)
