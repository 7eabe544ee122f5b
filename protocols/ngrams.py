"""Normalised words and word n-grams of maths text: the shared unit of decontamination and deduplication.

Normalisation lowercases (NFKC first, so full-width digits and ligatures match), maps `\\dfrac`/`\\tfrac` to
`\\frac`, and keeps runs of letters and digits as words, and the signs and brackets `< > = + - * / ^ ! | ( )` as
words of their own: punctuation, `$`, braces and spacing never decide whether two problems share a phrase, but a
sign does ("k < 0" and "k > 0", "sin(-60)" and "sin 60" are different problems: measured on MATH train, dropping
the signs made such pairs duplicates, as it made "88 / 4 / 2" and "88 / (4 / 2)").
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from itertools import chain

_WORD = re.compile(r"[a-z0-9]+|[<>=+\-*/^!|()]")
_FRAC = re.compile(r"\\[dt]frac\b")
# A gram held by more eval texts than this is shared phrasing ("the answer is", LaTeX boilerplate): it still counts
# toward a text's coverage, but does not make every text holding it a candidate (that was half the check's time).
COMMON = 20


def words(text: str) -> list[str]:
    """The normalised words of `text`."""
    return _WORD.findall(_FRAC.sub(r"\\frac", unicodedata.normalize("NFKC", text).lower()))


def normalised(text: str) -> str:
    """`text` as its normalised words joined by single spaces (the key of exact duplicates)."""
    return " ".join(words(text))


def gram_sequence(tokens: list[str], n: int) -> list[int]:
    """Hashes of the word n-grams of `tokens` in order; a text shorter than n words is one gram of all its words (so
    an exact short duplicate still matches). Python's tuple hash: 64 bits, collisions negligible at millions of
    grams, and the hashes live only in this process (nothing is stored)."""
    if len(tokens) < n:
        return [hash(tuple(tokens))] if tokens else []
    return list(map(hash, zip(*(tokens[i:] for i in range(n)))))  # the n-tuples, built in C


def ngrams(tokens: list[str], n: int) -> set[int]:
    """The set of `gram_sequence`."""
    return set(gram_sequence(tokens, n))


class NgramIndex:
    """Which indexed texts (one eval set) does a training text cover, and how much of each?

    Coverage of an indexed text = the share of its words that lie inside an n-gram the training text also holds.
    A text counts as matched at coverage >= `share` (default 0.5): the rule of open-instruct's decontamination for
    Tulu 3 (8-grams, match threshold 0.5) and of cosmopedia's. "Any shared 8-gram" (open-r1, s1) flagged 2,644 of
    math_train_12k's 12,000 problems against MATH500 (measured): MATH problems share phrasing ("what is the
    value of", "express your answer as a common fraction" and its LaTeX), not problems.

    Hand-written over a dict on purpose: the lookup is exact (gram -> texts), which a dict answers in O(1) per gram,
    and the counting is a few lines; the libraries that do this (open-r1's, s1's and open-instruct's scripts) are
    scripts or need a search server (Elasticsearch), not importable packages.
    """

    def __init__(self, texts: Iterable[str], n: int, share: float = 0.5) -> None:
        self.n, self.share = n, share
        tokens = [words(text) for text in texts]
        self.lengths = [len(item) for item in tokens]
        self.sequences = [gram_sequence(item, n) for item in tokens]
        # Built with C-level dict and Counter operations, not a Python loop per gram (3x faster, measured):
        # `grams` maps each gram to the first text holding it, `shared` a gram held by several texts to all of them.
        self.grams: dict[int, int] = {}
        for item in reversed(range(len(self.sequences))):
            self.grams.update(dict.fromkeys(self.sequences[item], item))
        holders = Counter(chain.from_iterable(map(set, self.sequences)))
        repeated = {gram for gram, count in holders.items() if count > 1}
        self.shared: dict[int, list[int]] = {}
        for item, sequence in enumerate(self.sequences):
            for gram in repeated.intersection(sequence):
                self.shared.setdefault(gram, []).append(item)

    def coverage(self, item: int, grams: set[int]) -> float:
        """The share of indexed text `item`'s words inside n-grams that `grams` also holds."""
        sequence, length = self.sequences[item], self.lengths[item]
        if length < self.n:  # one gram of all its words
            return 1.0 if sequence and sequence[0] in grams else 0.0
        covered, end = 0, 0
        for start, gram in enumerate(sequence):
            if gram in grams:
                covered += start + self.n - max(start, end)
                end = start + self.n
        return covered / length

    def best_match(self, grams: set[int]) -> tuple[int, float] | None:
        """(indexed item, coverage) of the most covered text at coverage >= share, else None."""
        counts: dict[int, int] = {}
        for gram in grams & self.grams.keys():  # the shared grams, found by one C-level set intersection
            holders = self.shared.get(gram)
            if holders is None:
                counts[self.grams[gram]] = counts.get(self.grams[gram], 0) + 1
            elif len(holders) <= COMMON:  # a gram in many eval texts is phrasing: it nominates none of them
                for item in holders:
                    counts[item] = counts.get(item, 0) + 1
        best = None
        for item, shared in counts.items():
            # Each shared gram covers at most n words: skip texts that cannot reach the share (boilerplate hits).
            if shared * self.n < self.share * min(self.lengths[item], self.n * len(self.sequences[item])):
                continue
            covered = self.coverage(item, grams)
            if covered >= self.share and (best is None or covered > best[1]):
                best = (item, covered)
        return best
