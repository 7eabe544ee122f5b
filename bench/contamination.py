"""Decontamination and deduplication throughput: math_train_12k (12,000 problems) against MATH test (5,000).

    LONGTHOUGHT_DATA_DIR=../shared/data .venv/bin/python bench/contamination.py

Times, in one process: loading and indexing the eval set (question n-grams, question+solution n-grams, MinHash LSH),
checking the 12k training problems with their reference solutions (all three checks), and deduplicating them
(exact + MinHash LSH). Then the check alone on 3k, 6k and 12k problems, to show time grows linearly with rows.
Goal: decontaminating 12k against 5k in under 30 s on this machine. Each figure is wall time and, in brackets, this
process's CPU time: on a shared machine (2 cores, load 13 when measured) the CPU time is what the work costs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocols.contamination import EvalIndex, Item  # noqa: E402
from protocols.dedup import deduplicate  # noqa: E402
from protocols.problems import load  # noqa: E402


class Clock:
    """Wall and CPU seconds since the last lap."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.start = (self.wall, self.cpu)

    def lap(self) -> str:
        wall, cpu = time.perf_counter(), time.process_time()
        text = f"{wall - self.wall:.1f} s ({cpu - self.cpu:.1f} s CPU)"
        self.wall, self.cpu = wall, cpu
        return text

    def total(self) -> str:
        return f"{self.wall - self.start[0]:.1f} s ({self.cpu - self.start[1]:.1f} s CPU)"


def main() -> int:
    train = [Item(p.id, p.question, p.meta.get("solution")) for p in load("math_train_12k")]
    clock = Clock()
    index = EvalIndex(["math_test"])
    built = clock.lap()
    hits = index.check(train)
    checked = clock.lap()
    print(f"index math_test ({len(index.sets['math_test'].items)} problems): {built}; check {len(train)} training "
          f"problems: {checked}; total {clock.total()} (goal < 30 s); {sum(bool(hit) for hit in hits)} overlap")
    result = deduplicate([item.question for item in train])
    print(f"deduplicate {len(train)} questions: {clock.lap()} ({result.exact} exact, {result.near} near "
          f"duplicates at {result.threshold})")
    for rows in (3000, 6000, 12000):
        clock.lap()
        index.check(train[:rows])
        print(f"check {rows:>5} rows: {clock.lap()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
