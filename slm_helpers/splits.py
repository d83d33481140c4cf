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


_PTB_BRACKETS = re.compile(r"-[lr][rcs]b-")  # SST writes ( ) { } [ ] as -lrb- -rrb- -lcb- ...


def letters_digits(text: str) -> str:
    """A stricter key: lower-cased ASCII letters and digits only, so tokenization differences vanish
    ("it 's fine ." and "It's fine." get the same key; SST's "-lrb-" and "(" both vanish)."""
    return re.sub(r"[^a-z0-9]+", "", _PTB_BRACKETS.sub("", text.lower()))


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


def contained_in(
    texts: Sequence[str],
    held_out: Sequence[str],
    *,
    key: Callable[[str], str] = letters_digits,
    min_chars: int = 25,
) -> np.ndarray:
    """Boolean mask over ``texts``: True where a text and a held-out text contain one another.

    Exact matching misses the common leak between corpora cut from the same reviews: an MR
    snippet holds an SST test sentence *plus more* (or the reverse). A text is marked when,
    by ``key``, it equals a held-out text, contains one of at least ``min_chars`` characters,
    or is itself at least ``min_chars`` long and contained in one. Shorter pieces ("a
    film") would mark nearly everything. Candidates come from an index of ``min_chars``-long
    windows and are then checked with ``in``, so the cost grows with the total text length.
    """
    if min_chars < 1:
        raise ValueError(f"min_chars must be at least 1, got {min_chars}")
    keys = [key(t) for t in texts]
    held = [key(t) for t in held_out]
    exact = set(held)
    marked = np.array([k in exact for k in keys], dtype=bool)
    marked |= _holds_any(keys, [h for h in held if len(h) >= min_chars], min_chars)
    marked |= _inside_any(keys, held, min_chars)
    return marked


def _windows(keys: Sequence[str], width: int) -> dict[str, list[int]]:
    """Every ``width``-long substring of each key -> the indices of the keys holding it."""
    index: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        for w in {k[j:j + width] for j in range(len(k) - width + 1)}:
            index[w].append(i)
    return index


def _holds_any(keys: Sequence[str], needles: Sequence[str], width: int) -> np.ndarray:
    """Mask over ``keys``: True where the key contains one of ``needles`` (each at least ``width`` long)."""
    index, marked = _windows(keys, width), np.zeros(len(keys), dtype=bool)
    for needle in needles:
        for i in index.get(needle[:width], ()):
            marked[i] = marked[i] or needle in keys[i]
    return marked


def _inside_any(keys: Sequence[str], haystacks: Sequence[str], width: int) -> np.ndarray:
    """Mask over ``keys``: True where a key at least ``width`` long occurs inside one of ``haystacks``."""
    index = _windows(haystacks, width)
    return np.array([len(k) >= width and any(k in haystacks[i] for i in index.get(k[:width], ()))
                     for k in keys], dtype=bool)
