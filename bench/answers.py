"""Answer-checking agreement and speed on MATH500.

    LONGTHOUGHT_DATA_DIR=../shared/data .venv/bin/python bench/answers.py

For every MATH500 problem, extracts the last \\boxed{} of its own reference solution and checks it against
the gold `answer` with `protocols.answers`. Prints the agreement rate (goal >= 99%) and pairs/second,
once through `equivalent` (string shortcut + math-verify) and once forcing math-verify on every pair.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocols import answers  # noqa: E402
from protocols.answers import sandbox  # noqa: E402
from protocols.problems import load  # noqa: E402


def _math_verify_only(pairs: list[tuple[str, str]]) -> list[bool]:
    futures = [sandbox.submit(gold, predicted, answers.DEFAULT_TIMEOUT, latex_only=True) for gold, predicted in pairs]
    return [sandbox.result(future) for future in futures]


def main() -> int:
    problems = load("math500")
    pairs = [(problem.answer, answers.extract_answer(problem.meta["solution"])) for problem in problems]
    answers.equivalent("1", "1.0")  # start the worker pool outside the timed region

    for label, check in (("equivalent()", answers.equivalent_many), ("math-verify only", _math_verify_only)):
        started = time.perf_counter()
        results = check(pairs)
        elapsed = time.perf_counter() - started
        agreed = sum(results)
        print(f"{label:>17}: agreement {agreed}/{len(pairs)} = {agreed / len(pairs):.2%}, "
              f"{len(pairs) / elapsed:.0f} pairs/s ({elapsed:.2f}s)")
        for (gold, predicted), ok in zip(pairs, results, strict=True):
            if not ok:
                print(f"    disagree: gold={gold!r} extracted={predicted!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
