"""Text to numbers: word vocabularies, byte-pair encoding, padding and masks.

The lesson builds each of these in front of the learner; this module keeps the tested
versions. Word-level ids match ``keras.layers.TextVectorization`` (0 = padding,
1 = ``[UNK]``, then tokens by falling frequency), so the two can be compared directly.
"""

from __future__ import annotations

import heapq
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

PAD, UNK = "", "[UNK]"
END_OF_WORD = "</w>"


_ASCII_SPACE = re.compile(r"[ \t\n\r\x0b\x0c]+")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def words(text: str, *, lower: bool = True) -> list[str]:
    """Split on white space (the data sets here come tokenized), optionally lower-cased.

    Matches ``TextVectorization(standardize="lower", split="whitespace")`` exactly: like
    ``tf.strings.lower`` and ``tf.strings.split`` it lower-cases ASCII letters only ("É"
    stays "É") and splits on ASCII white space only (a no-break space joins "8\u00a01/2").
    """
    if lower:
        text = text.translate(_ASCII_LOWER)
    return [w for w in _ASCII_SPACE.split(text) if w]


def build_vocabulary(tokenized: Iterable[Sequence[str]], max_tokens: int | None = None) -> list[str]:
    """A TextVectorization-style vocabulary: ``["", "[UNK]", most frequent, ...]``.

    Ties in frequency are broken by the token's UTF-8 bytes, larger first: the order
    ``TextVectorization.adapt`` uses (``np.lexsort((tokens, counts))[::-1]``).
    ``max_tokens`` counts the two reserved entries, as ``TextVectorization(max_tokens=...)`` does.
    """
    counts: Counter[str] = Counter()
    for tokens in tokenized:
        counts.update(tokens)
    ranked = [tok for tok, _ in sorted(counts.items(), key=lambda kv: (kv[1], kv[0].encode()), reverse=True)]
    if max_tokens is not None:
        if max_tokens < 3:
            raise ValueError(f"max_tokens must be at least 3 (padding, [UNK] and one token), got {max_tokens}")
        ranked = ranked[: max_tokens - 2]
    return [PAD, UNK, *ranked]


def encode(tokens: Sequence[str], vocabulary: Sequence[str] | dict[str, int]) -> list[int]:
    """Map tokens to ids; unknown tokens become 1 (``[UNK]``)."""
    index = vocabulary if isinstance(vocabulary, dict) else {t: i for i, t in enumerate(vocabulary)}
    return [index.get(tok, 1) for tok in tokens]


def oov_rate(tokenized: Iterable[Sequence[str]], vocabulary: Sequence[str]) -> float:
    """Share of running tokens not in ``vocabulary`` (padding and ``[UNK]`` excluded)."""
    known = set(vocabulary[2:])
    total = missing = 0
    for tokens in tokenized:
        total += len(tokens)
        missing += sum(1 for t in tokens if t not in known)
    if total == 0:
        raise ValueError("no tokens to measure an OOV rate on")
    return missing / total


def pad(
    sequences: Sequence[Sequence[int]],
    maxlen: int | None = None,
    *,
    value: int = 0,
    padding: str = "post",
    truncating: str = "post",
) -> np.ndarray:
    """Pad or cut id sequences to one length, as ``keras.utils.pad_sequences`` does.

    Unlike Keras (whose default is ``"pre"``), padding and truncation default to ``"post"``:
    the text starts at position 0, the layout masks and Transformers expect.
    """
    for name, where in (("padding", padding), ("truncating", truncating)):
        if where not in ("pre", "post"):
            raise ValueError(f"{name} must be 'pre' or 'post', got {where!r}")
    if maxlen is None:
        maxlen = max((len(s) for s in sequences), default=0)
    out = np.full((len(sequences), maxlen), value, dtype=np.int32)
    for row, seq in enumerate(sequences):
        seq = list(seq)
        seq = seq[:maxlen] if truncating == "post" else seq[max(0, len(seq) - maxlen) :]
        if not seq:
            continue
        if padding == "post":
            out[row, : len(seq)] = seq
        else:
            out[row, maxlen - len(seq) :] = seq
    return out


def padding_mask(ids: np.ndarray, pad_id: int = 0) -> np.ndarray:
    """True where there is a real token, False on padding (Keras's ``mask_zero`` convention)."""
    return np.asarray(ids) != pad_id


# --------------------------------------------------------------------------------------
# Byte-pair encoding (Sennrich et al., 2016), written to be read.


def _pairs(symbols: Sequence[str]) -> Counter[tuple[str, str]]:
    return Counter(zip(symbols, symbols[1:], strict=False))


def _merge_word(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    """Replace every non-overlapping occurrence of ``pair`` in ``symbols``, left to right."""
    merged, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged


def learn_bpe(word_counts: dict[str, int] | Counter[str], num_merges: int) -> list[tuple[str, str]]:
    """Learn up to ``num_merges`` merges from word frequencies.

    Each word starts as its characters plus ``</w>``; at every step the most frequent
    adjacent pair (counted over all words, weighted by word frequency) is merged. Ties go
    to the pair that sorts first, so the result is deterministic. Pair counts are updated
    incrementally (only words containing the merged pair are touched) and the best pair is
    found with a lazy max-heap (stale entries are re-pushed at their true count when popped),
    so thousands of merges take seconds, not minutes.
    """
    if num_merges < 0:
        raise ValueError(f"num_merges must be >= 0, got {num_merges}")
    words_ = [list(w) + [END_OF_WORD] for w in word_counts]
    freqs = list(word_counts.values())
    counts: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], set[int]] = {}
    for i, symbols in enumerate(words_):
        for pair, n in _pairs(symbols).items():
            counts[pair] += n * freqs[i]
            where.setdefault(pair, set()).add(i)
    heap = [(-c, p) for p, c in counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[str, str]] = []
    while len(merges) < num_merges and heap:
        neg, pair = heapq.heappop(heap)
        current = counts.get(pair, 0)
        if current != -neg:
            # Stale entry (the count fell since it was pushed): put it back at its true count.
            if current > 0:
                heapq.heappush(heap, (-current, pair))
            continue
        if current < 2:
            break  # merging a pair seen once only memorises that word
        merges.append(pair)
        grown: set[tuple[str, str]] = set()
        for i in sorted(where.pop(pair, ())):
            new = _merge_word(words_[i], pair)
            before, after = _pairs(words_[i]), _pairs(new)
            for p in before.keys() | after.keys():
                delta = after.get(p, 0) - before.get(p, 0)
                if delta:
                    counts[p] += delta * freqs[i]
                if delta > 0:  # only pairs with the new symbol appear or grow
                    where.setdefault(p, set()).add(i)
                    grown.add(p)
            words_[i] = new
        counts.pop(pair, None)
        # Only counts that may have grown need a new heap entry; falling ones are fixed lazily.
        for p in grown:
            if counts.get(p, 0) > 0:
                heapq.heappush(heap, (-counts[p], p))
    return merges


@dataclass
class BPETokenizer:
    """Apply learned merges to new text; ids follow ``vocabulary`` (0 pad, 1 ``[UNK]``)."""

    merges: list[tuple[str, str]]
    vocabulary: list[str] = field(default_factory=list)
    _ranks: dict[tuple[str, str], int] = field(init=False, repr=False)
    _cache: dict[str, list[str]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._ranks = {pair: rank for rank, pair in enumerate(self.merges)}

    @classmethod
    def train(cls, texts: Iterable[str], num_merges: int, *, lower: bool = True) -> BPETokenizer:
        """Learn merges from ``texts``; the vocabulary is every base symbol and every merge product.

        Base symbols (each training character and ``</w>``, sorted) come first, then each
        merge's product in merge order, as minbpe and the ``tokenizers`` library build it.
        (The pieces of the training words' final segmentation are not enough: a new word can
        stop at a base symbol or an intermediate product that no training word ends with.)
        """
        word_counts = Counter(w for text in texts for w in words(text, lower=lower))
        return cls.from_merges(learn_bpe(word_counts, num_merges), {ch for w in word_counts for ch in w})

    @classmethod
    def from_merges(cls, merges: list[tuple[str, str]], alphabet: Iterable[str]) -> BPETokenizer:
        """A tokenizer from merges and the training characters: vocabulary as in :meth:`train`."""
        base = sorted({*alphabet, END_OF_WORD})
        products = [a + b for a, b in merges]
        return cls(list(merges), [PAD, UNK, *dict.fromkeys([*base, *products])])  # dict: unique, in order

    @property
    def alphabet(self) -> list[str]:
        """The base symbols: the training characters (merge products are two characters or more)."""
        return [p for p in self.vocabulary[2:] if len(p) == 1]

    def segment_word(self, word: str) -> list[str]:
        """Split one word into subword pieces by applying merges in the order learned."""
        if word in self._cache:
            return self._cache[word]
        symbols = list(word) + [END_OF_WORD]
        while len(symbols) > 1:
            ranked = [(self._ranks.get(p, len(self._ranks)), p) for p in zip(symbols, symbols[1:], strict=False)]
            rank, best = min(ranked)
            if rank == len(self._ranks):
                break
            symbols = _merge_word(symbols, best)
        self._cache[word] = symbols
        return symbols

    def tokenize(self, text: str, *, lower: bool = True) -> list[str]:
        """Subword pieces of a whole text."""
        return [piece for w in words(text, lower=lower) for piece in self.segment_word(w)]

    def encode(self, text: str, *, lower: bool = True) -> list[int]:
        """Ids of the pieces; a piece never seen in training (a new character) is ``[UNK]``."""
        return encode(self.tokenize(text, lower=lower), self.vocabulary)

    def decode(self, ids: Iterable[int]) -> str:
        """Turn ids back into text (padding dropped; words end where ``</w>`` was)."""
        pieces = [self.vocabulary[i] for i in ids if i != 0]
        return "".join(pieces).replace(END_OF_WORD, " ").strip()
