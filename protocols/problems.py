"""Named problem sets and user JSONL files, loaded as `Problem`s.

    LONGTHOUGHT_DATA_DIR=../shared/data python -m protocols.problems math500 --limit 3

Resolution: a path to a `.jsonl` file; else `$LONGTHOUGHT_DATA_DIR/<file>`; else the Hugging Face Hub.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocols.answers import last_boxed
from protocols.cli import command_parser, parse
from protocols.terminal import neutralise
from protocols.types import Problem

DATA_DIR_ENV = "LONGTHOUGHT_DATA_DIR"
MATH_SUBJECTS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)


class ProblemSetError(ValueError):
    """A problem set could not be found or read; the message says what and where."""


@dataclass(frozen=True)
class ProblemSet:
    """Where a named set lives on disk, how it loads from the Hub, and how many problems it holds."""

    name: str
    relative_path: str
    size: int
    from_hub: Callable[[], Iterable[dict[str, Any]]]
    row_to_problem: Callable[[dict[str, Any], int, str], Problem]


def _math_problem(row: dict[str, Any], line: int, source: str) -> Problem:
    solution = row.get("solution")
    answer = row.get("answer")
    if answer is None and solution:
        answer = last_boxed(solution)
    level = row.get("level")
    if isinstance(level, str) and level.startswith("Level "):
        level = int(level.removeprefix("Level ")) if level.removeprefix("Level ").isdigit() else level
    meta = {"solution": solution, "subject": row.get("subject") or row.get("type"), "level": level}
    return Problem(
        id=row.get("unique_id") or f"{source}/{line}",
        question=_required(row, "problem", line, source),
        answer=answer or None,  # a few MATH train solutions have no boxed answer
        source=source,
        meta={key: value for key, value in meta.items() if value is not None},
    )


def _gsm8k_problem(row: dict[str, Any], line: int, source: str) -> Problem:
    worked = _required(row, "answer", line, source)
    solution, marker, final = worked.rpartition("####")
    if not marker:
        raise ProblemSetError(f"{source}:{line}: GSM8K answer has no '#### N' line")
    return Problem(
        id=f"{source}/{line}",
        question=_required(row, "question", line, source),
        answer=final.strip().replace(",", ""),
        source=source,
        meta={"solution": solution.strip()},
    )


def _user_problem(row: dict[str, Any], line: int, source: str) -> Problem:
    question = row.get("problem", row.get("question"))
    if not isinstance(question, str) or not question.strip():
        raise ProblemSetError(f"{source}:{line}: expected a non-empty string field 'problem' or 'question'")
    answer = row.get("answer")
    # json reads NaN and Infinity as floats, and True is an int: none is a gold answer ("nan" would be checked as one).
    if answer is not None and (not isinstance(answer, str | int | float) or isinstance(answer, bool)
                               or (isinstance(answer, float) and not math.isfinite(answer))):
        raise ProblemSetError(f"{source}:{line}: field 'answer' must be a string or a finite number, got {answer!r}")
    if isinstance(answer, str) and "####" in answer:  # GSM8K-style worked answer
        answer = answer.rpartition("####")[2].strip().replace(",", "")
    known = {"id", "problem", "question", "answer"}
    return Problem(
        id=str(row.get("id", f"{Path(source).stem}/{line}")),
        question=question,
        answer=None if answer is None else str(answer),
        source=source,
        meta={key: value for key, value in row.items() if key not in known},
    )


def _required(row: dict[str, Any], field: str, line: int, source: str) -> str:
    value = row.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ProblemSetError(f"{source}:{line}: expected a non-empty string field {field!r}")
    return value


def _hub(path: str, split: str, config: str | None = None) -> Iterator[dict[str, Any]]:
    import datasets  # heavy import, only for the Hub path

    yield from datasets.load_dataset(path, config, split=split)


def _hub_math(split: str) -> Iterator[dict[str, Any]]:
    for subject in MATH_SUBJECTS:
        yield from _hub("EleutherAI/hendrycks_math", split, subject)


def _hub_math_12k() -> Iterator[dict[str, Any]]:
    # PRM800K's train split is MATH train + test minus the MATH500 test problems.
    held_out = {row["problem"] for row in _hub("HuggingFaceH4/MATH-500", "test")}
    for split in ("train", "test"):
        yield from (row for row in _hub_math(split) if row["problem"] not in held_out)


PROBLEM_SETS: dict[str, ProblemSet] = {
    spec.name: spec
    for spec in (
        ProblemSet("math_train", "math/train.jsonl", 7500, lambda: _hub_math("train"), _math_problem),
        ProblemSet("math_train_12k", "math/prm800k_train_12k.jsonl", 12000, _hub_math_12k, _math_problem),
        ProblemSet("math_test", "math/test.jsonl", 5000, lambda: _hub_math("test"), _math_problem),
        ProblemSet("math500", "math500/test.jsonl", 500, lambda: _hub("HuggingFaceH4/MATH-500", "test"), _math_problem),
        ProblemSet("gsm8k_train", "gsm8k/train.jsonl", 7473, lambda: _hub("openai/gsm8k", "train", "main"), _gsm8k_problem),
        ProblemSet("gsm8k_test", "gsm8k/test.jsonl", 1319, lambda: _hub("openai/gsm8k", "test", "main"), _gsm8k_problem),
    )
}


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; a malformed line names file and line."""
    try:
        handle = path.open("rb")  # bytes, decoded line by line: a binary file's error names its line
    except OSError as error:
        raise ProblemSetError(f"{path}: cannot open ({error.strerror})") from None
    with handle:
        for number, data in enumerate(handle, start=1):
            try:
                line = data.decode("utf-8-sig" if number == 1 else "utf-8")  # a BOM on line 1 is editors' noise
            except UnicodeDecodeError as error:
                raise ProblemSetError(f"{path}:{number}: not UTF-8 text (byte {data[error.start]:#04x} at column "
                                      f"{error.start + 1}); expected one JSON object per line") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ProblemSetError(f"{path}:{number}: invalid JSON ({error.msg} at column {error.colno})") from None
            if not isinstance(row, dict):
                raise ProblemSetError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            yield number, row


ARITH_SIZE = 5000  # problems per generated split: enough for any experiment here; --limit takes fewer


def _arith_rows(name: str) -> list[Problem] | None:
    """`arith_chain_<split>` (level 2) or `arith_chain_L<level>_<split>`: generated, seeded, train/test disjoint."""
    from protocols import arithmetic

    parts = name.split("_")
    if parts[:2] != ["arith", "chain"] or len(parts) not in (3, 4) or parts[-1] not in ("train", "test"):
        return None
    level = int(parts[2][1:]) if len(parts) == 4 and parts[2][1:].isdigit() else 2 if len(parts) == 3 else None
    if level not in arithmetic.LEVELS:
        raise ProblemSetError(f"{name}: no such arithmetic level (use L1 to L{max(arithmetic.LEVELS)})")
    test = arithmetic.split("test", level, ARITH_SIZE, seed=0)
    chains = test if parts[-1] == "test" else \
        arithmetic.split("train", level, ARITH_SIZE, seed=0, exclude={chain.key for _, chain in test})
    return [Problem(id=pid, question=chain.question(), answer=str(chain.answer()), source=name,
                    meta={"solution": chain.solution(), "level": level, "ops": [list(op) for op in chain.ops]})
            for pid, chain in chains]


def _load_rows(name: str) -> list[Problem]:
    generated = _arith_rows(name)
    if generated is not None:
        return generated
    path = Path(name).expanduser()
    if name.endswith(".jsonl") or path.is_file():
        return [_user_problem(row, number, str(path)) for number, row in read_jsonl(path)]
    spec = PROBLEM_SETS.get(name)
    if spec is None:
        known = ", ".join(PROBLEM_SETS) + ", arith_chain_train, arith_chain_test (or arith_chain_L<1-4>_<split>)"
        raise ProblemSetError(f"unknown problem set {name!r}: use one of {known}, or a path to a .jsonl file")
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        file = Path(data_dir).expanduser() / spec.relative_path
        if not file.is_file():
            raise ProblemSetError(f"{name}: {file} not found (from {DATA_DIR_ENV}={data_dir})")
        return [spec.row_to_problem(row, number, name) for number, row in read_jsonl(file)]
    try:
        rows = list(spec.from_hub())
    except Exception as error:  # noqa: BLE001 - any Hub failure gets the same actionable message
        raise ProblemSetError(
            f"{name}: not found locally and the Hugging Face Hub failed ({type(error).__name__}); "
            f"set {DATA_DIR_ENV} to a data directory holding {spec.relative_path}"
        ) from None
    return [spec.row_to_problem(row, index, name) for index, row in enumerate(rows)]


def load(name: str, limit: int | None = None, seed: int | None = None) -> list[Problem]:
    """Load a named problem set or a `.jsonl` path; `seed` shuffles before `limit` takes the first N."""
    if limit is not None and limit < 0:
        raise ProblemSetError(f"limit must be >= 0, got {limit}")
    problems = _load_rows(name)
    if not problems:  # a run over nothing is a mistake (a truncated export, the wrong file), not "nothing to do"
        raise ProblemSetError(f"{name}: no problems in it (expected one JSON object per line)")
    seen: set[str] = set()
    for problem in problems:
        if problem.id in seen:
            raise ProblemSetError(f"{name}: duplicate problem id {problem.id!r}")
        seen.add(problem.id)
    if seed is not None:
        random.Random(seed).shuffle(problems)
    return problems if limit is None else problems[:limit]


@dataclass(frozen=True)
class PrintConfig:
    """How many problems to print, in which order, and how (the set is the positional argument)."""

    limit: int = field(default=3, metadata={"help": "print the first N problems"})
    seed: int | None = field(default=None, metadata={"help": "shuffle with this seed before --limit"})
    json: bool = field(default=False, metadata={"help": "print one JSON object per line"})


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("protocols.problems", (PrintConfig,), "Print problems of a set.")
    parser.add_argument("name", help=f"one of {', '.join(PROBLEM_SETS)}, or a path to a .jsonl file")
    config, args = parse(parser, argv)
    try:
        problems = load(args.name, limit=config.limit, seed=config.seed)
    except ProblemSetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if config.json:
        for problem in problems:
            print(problem.model_dump_json())
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.text import Text

    console = Console()
    for problem in problems:
        # Problem text is LaTeX full of brackets: print it as plain Text, never as rich markup.
        # Escape sequences in the data are shown, never obeyed (protocols.terminal).
        subtitle = escape(neutralise(f"answer: {problem.answer}"))
        console.print(Panel(Text(neutralise(problem.question)), title=escape(neutralise(problem.id)), subtitle=subtitle,
                            subtitle_align="left"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
