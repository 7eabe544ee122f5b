"""Duplicates among texts: exact (the same normalised words) and near (MinHash LSH from `datasketch`).

Near duplicates are pairs whose word-shingle sets have an estimated Jaccard similarity at or above a threshold: LSH
proposes candidates, and each candidate is confirmed on the MinHash estimate (LSH alone lets some pairs below the
threshold through). Default threshold 0.8 on word 5-gram shingles, as in Lee et al. 2022 ("Deduplicating Training
Data Makes Language Models Better", NearDup: MinHash, 5-grams, Jaccard >= 0.8).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from protocols.ngrams import normalised, words

NEAR_THRESHOLD = 0.8
SHINGLE = 5
NUM_PERM = 128


def exact_key(text: str) -> str:
    """A digest of the normalised text: equal for texts that differ only in case, spacing and punctuation."""
    return hashlib.blake2b(normalised(text).encode(), digest_size=16).hexdigest()


def _shingles(text: str) -> list[bytes]:
    tokens = words(text)
    if len(tokens) <= SHINGLE:
        return [" ".join(tokens).encode()]
    return [" ".join(tokens[i:i + SHINGLE]).encode() for i in range(len(tokens) - SHINGLE + 1)]


def _hash32(data: bytes) -> int:
    # CRC-32 (C, deterministic) instead of datasketch's default sha1, a third of the check's time (measured); not
    # Python's hash(), which is salted per process and made the near-duplicate counts vary from run to run.
    return zlib.crc32(data)


def minhashes(texts: Sequence[str]) -> list[Any]:
    """One datasketch MinHash per text (`MinHash.bulk` hashes each text's shingles in one numpy batch)."""
    from datasketch import MinHash

    return MinHash.bulk((_shingles(text) for text in texts), num_perm=NUM_PERM, hashfunc=_hash32)


class NearIndex:
    """Texts in a MinHash LSH, for "which indexed texts are near duplicates of this one?"."""

    def __init__(self, texts: Sequence[str], threshold: float = NEAR_THRESHOLD) -> None:
        from datasketch import MinHashLSH

        if not 0 < threshold <= 1:
            raise ValueError(f"near-duplicate threshold: expected 0 < t <= 1, got {threshold}")
        self.threshold = threshold
        self.hashes = minhashes(texts)
        self.lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        with self.lsh.insertion_session() as session:
            for item, minhash in enumerate(self.hashes):
                session.insert(item, minhash, check_duplication=False)

    def matches(self, minhash: Any) -> list[int]:
        """Indexed items whose estimated Jaccard similarity to `minhash` reaches the threshold, lowest first."""
        return sorted(item for item in self.lsh.query(minhash)
                      if self.hashes[item].jaccard(minhash) >= self.threshold)


@dataclass(frozen=True, kw_only=True)
class DedupConfig:
    """Duplicates in training data: exact (normalised text) always, near (MinHash LSH) above a threshold."""

    dedup: bool = field(default=True, metadata={
        "help": "drop duplicate problems (exact, and near duplicates with the same reference answer) and duplicate "
                "long thoughts, keeping the first; --no-dedup keeps all"})
    near_dup_threshold: float = field(default=NEAR_THRESHOLD, metadata={
        "help": "MinHash Jaccard similarity (word 5-grams) at which two texts are near duplicates; also the "
                "threshold at which a training question is a near duplicate of an eval question"})

    def __post_init__(self) -> None:
        if not 0 < self.near_dup_threshold <= 1:
            raise ValueError(f"near_dup_threshold: expected 0 < t <= 1, got {self.near_dup_threshold}")


@dataclass
class DedupResult:
    """Which texts to keep (the first of each group, in input order) and how many of the others were dropped."""

    kept: list[int]
    exact: int = 0  # same normalised text as an earlier one
    near: int = 0  # a near duplicate of an earlier kept one
    threshold: float | None = None
    examples: list[dict[str, int]] = field(default_factory=list)  # a few (dropped, kept) index pairs

    def stats(self) -> dict[str, Any]:
        return {"exact_duplicates": self.exact, "near_duplicates": self.near, "near_threshold": self.threshold}


def deduplicate(texts: Sequence[str], threshold: float | None = NEAR_THRESHOLD, examples: int = 5,
                labels: Sequence[str | None] | None = None) -> DedupResult:
    """The indices of `texts` to keep: exact duplicates of an earlier text dropped, and (unless `threshold` is None)
    near duplicates of an earlier kept text. Each text is compared with the kept ones only, so a chain a~b~c where
    a and c are far apart keeps a and c. With `labels` (reference answers), two near duplicates whose labels both
    exist and differ are different problems, both kept: MATH holds such pairs ("Compute sin 60" / "sin(-60)")."""
    seen: dict[str, int] = {}
    unique: list[int] = []
    result = DedupResult(kept=[], threshold=threshold)
    for item, text in enumerate(texts):
        key = exact_key(text)
        if key in seen:
            result.exact += 1
            if len(result.examples) < examples:
                result.examples.append({"dropped": item, "kept": seen[key]})
        else:
            seen[key] = item
            unique.append(item)
    if threshold is None:
        result.kept = unique
        return result
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    kept_hashes: dict[int, Any] = {}
    for item, minhash in zip(unique, minhashes([texts[item] for item in unique]), strict=True):
        close = [other for other in lsh.query(minhash) if kept_hashes[other].jaccard(minhash) >= threshold
                 and (labels is None or not _different(labels[other], labels[item]))]
        if close:
            result.near += 1
            if len(result.examples) < examples:
                result.examples.append({"dropped": item, "kept": min(close)})
            continue
        result.kept.append(item)
        kept_hashes[item] = minhash
        lsh.insert(item, minhash, check_duplication=False)
    return result


def _different(first: str | None, second: str | None) -> bool:
    return first is not None and second is not None and normalised(first) != normalised(second)
