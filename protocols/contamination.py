"""Is a training text an evaluation problem, or a light rephrasing of one? Word n-gram overlap with the eval sets.

Three checks per training item, each counted per eval set:
- `question`: its question covers at least half of an eval question's words with word n-grams the two share
  (`protocols.ngrams.NgramIndex`; default n = 8, the low end of the 8-13 range that open-r1, s1 and Tulu 3 use:
  short maths problems hold few 13-grams, and a rephrasing keeps 8-word spans more often than 13-word ones);
- `answer`: its question with its answer (solution, long thought, completion, samples) covers half of an eval
  question with its reference solution (ProcessBench: its steps): a training text that quotes an eval solution;
- `near_duplicate`: its question is a MinHash near duplicate of an eval question (`protocols.dedup`), so a
  duplicate never sits on both sides of the train/eval boundary.
Normalisation is `protocols.ngrams.words`. Eval sets that cannot be loaded are reported as unavailable, never
silently passed.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocols.dedup import NEAR_THRESHOLD, NearIndex, minhashes
from protocols.ngrams import NgramIndex, ngrams, words
from protocols.problems import DATA_DIR_ENV, PROBLEM_SETS, ProblemSetError, load, read_jsonl

log = logging.getLogger("longthought.contamination")
MODES = ("drop", "report", "off")
DEFAULT_NGRAM = 8
# The sets this project evaluates on: MATH500 (accuracy), GSM8K test, ProcessBench (reward models). MATH test is
# checked on request (--eval-sets ...,math_test): math_train_12k, PRM800K's split that the report trains on, holds
# 4.5k MATH test problems by design (all but MATH500), so dropping them by default would cut the recipe's set by 38%.
DEFAULT_EVAL_SETS = "math500,gsm8k_test,processbench"
EVAL_SET_NAMES = ("math500", "math_test", "gsm8k_test", "processbench", "processbench_math", "processbench_gsm8k")
_PROCESSBENCH = {"processbench_math": "math", "processbench_gsm8k": "gsm8k"}
CHECKS = ("question", "answer", "near_duplicate")


@dataclass(frozen=True, kw_only=True)
class DecontaminationConfig:
    """Training data against the eval sets: drop what overlaps, only count it, or skip the check."""

    decontaminate: str = field(default="drop", metadata={
        "help": "drop | report | off: drop training items whose question (or question with answer) covers half of "
                "an eval item with shared word n-grams, or is a near duplicate of an eval question; report only "
                "counts them"})
    eval_sets: str = field(default=DEFAULT_EVAL_SETS, metadata={
        "help": f"comma-separated eval sets to check against: {', '.join(EVAL_SET_NAMES)}, or .jsonl paths"})
    ngram: int = field(default=DEFAULT_NGRAM, metadata={"help": "word n-gram length of the overlap check (8-13 usual)"})

    def __post_init__(self) -> None:
        check_settings(self.decontaminate, self.eval_sets, self.ngram)


def check_settings(mode: str, eval_sets: str, n: int) -> None:
    """One line naming the setting that is wrong."""
    if mode not in MODES:
        raise ValueError(f"decontaminate: expected one of {', '.join(MODES)}, got {mode!r}")
    if n < 1:
        raise ValueError(f"ngram: expected >= 1, got {n}")
    if mode != "off" and not set_names(eval_sets):
        raise ValueError("eval_sets: expected at least one eval set (or --decontaminate off)")
    for name in set_names(eval_sets):
        if name not in EVAL_SET_NAMES and name not in PROBLEM_SETS and not name.endswith(".jsonl"):
            raise ValueError(f"eval_sets: unknown eval set {name!r}: use {', '.join(EVAL_SET_NAMES)}, or .jsonl paths")


def set_names(eval_sets: str | Sequence[str]) -> list[str]:
    parts = eval_sets.split(",") if isinstance(eval_sets, str) else list(eval_sets)
    return list(dict.fromkeys(part.strip() for part in parts if part.strip()))


@dataclass(frozen=True)
class Item:
    """A text to check: an id, its question and (optionally) its answer text."""

    id: str
    question: str
    answer: str | None = None


def _processbench(split: str) -> list[Item]:
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        path = Path(data_dir).expanduser() / "processbench" / f"{split}.jsonl"
        rows = [row for _, row in read_jsonl(path)]
    else:
        import datasets  # the Hub, only without a local data directory

        rows = list(datasets.load_dataset("Qwen/ProcessBench", split=split))
    return [Item(str(row.get("id", f"processbench_{split}/{number}")), row["problem"], "\n".join(row["steps"]))
            for number, row in enumerate(rows)]


def load_eval_set(name: str) -> list[Item]:
    """An eval set's problems with their reference solutions (ProcessBench: its solution steps)."""
    if name == "processbench":
        return _processbench("math") + _processbench("gsm8k")
    if name in _PROCESSBENCH:
        return _processbench(_PROCESSBENCH[name])
    if name not in PROBLEM_SETS and not name.endswith(".jsonl"):
        raise ProblemSetError(f"unknown eval set {name!r}: use {', '.join(EVAL_SET_NAMES)}, or a .jsonl path")
    return [Item(problem.id, problem.question, problem.meta.get("solution") or problem.answer)
            for problem in load(name)]


def with_answer(item: Item) -> str:
    return item.question if not item.answer else f"{item.question}\n{item.answer}"


class _EvalSet:
    """One eval set's indexes; the question+solution one is built on first use (synthesis checks questions only)."""

    def __init__(self, items: list[Item], n: int, near_threshold: float | None) -> None:
        self.items, self.n = items, n
        questions = [item.question for item in items]
        self.questions = NgramIndex(questions, n)
        self.near = NearIndex(questions, near_threshold) if near_threshold else None

    @functools.cached_property
    def answers(self) -> NgramIndex:
        return NgramIndex(map(with_answer, self.items), self.n)


class EvalIndex:
    """The eval sets' n-grams (questions; questions with solutions) and MinHashes, built once per process."""

    def __init__(self, names: Sequence[str], n: int = DEFAULT_NGRAM, near_threshold: float | None = NEAR_THRESHOLD):
        self.n, self.near_threshold = n, near_threshold
        self.sets: dict[str, _EvalSet] = {}
        self.unavailable: dict[str, str] = {}
        for name in names:
            try:
                items = load_eval_set(name)
            except (ProblemSetError, OSError, KeyError, ValueError) as error:
                self.unavailable[name] = str(error)
                log.warning("decontamination: eval set %s not checked (%s)", name, error)
                continue
            self.sets[name] = _EvalSet(items, n, near_threshold)

    def check(self, items: Sequence[Item]) -> list[dict[str, dict[str, str]]]:
        """Per item: {eval set: {check: the matching eval item's id}} for every check that fired."""
        near_hashes = minhashes([item.question for item in items]) if self.near_threshold and self.sets else None
        found = []
        for position, item in enumerate(items):
            question_words = words(item.question)
            question_grams = ngrams(question_words, self.n)
            answer_grams = ngrams(question_words + words(item.answer), self.n) if item.answer else None
            hits: dict[str, dict[str, str]] = {}
            for name, eval_set in self.sets.items():
                matched: dict[str, str] = {}
                if best := eval_set.questions.best_match(question_grams):
                    matched["question"] = eval_set.items[best[0]].id
                if answer_grams and (best := eval_set.answers.best_match(answer_grams)):
                    matched["answer"] = eval_set.items[best[0]].id
                close = eval_set.near.matches(near_hashes[position]) if near_hashes and eval_set.near else None
                if close:
                    matched["near_duplicate"] = eval_set.items[close[0]].id
                if matched:
                    hits[name] = matched
            found.append(hits)
        return found


@functools.lru_cache(maxsize=4)
def eval_index(names: tuple[str, ...], n: int, near_threshold: float | None) -> EvalIndex:
    """The index for these eval sets, built once per process (an export and a training run may both ask)."""
    return EvalIndex(names, n, near_threshold)


def decontaminate(items: Sequence[Item], mode: str = "drop", eval_sets: str | Sequence[str] = DEFAULT_EVAL_SETS,
                  n: int = DEFAULT_NGRAM, near_threshold: float | None = NEAR_THRESHOLD,
                  examples: int = 5) -> tuple[list[int], dict[str, Any]]:
    """(indices of the items to keep, the report for cards and summaries): with `drop` every item that any check
    flags against any eval set is left out; `report` keeps all and counts; `off` checks nothing."""
    if mode == "off":
        return list(range(len(items))), {"mode": "off"}
    check_settings(mode, ",".join(set_names(eval_sets)), n)
    index = eval_index(tuple(set_names(eval_sets)), n, near_threshold)
    hits = index.check(items)
    per_set: dict[str, dict[str, Any]] = {}
    for name in index.sets:
        flagged = [(item, found[name]) for item, found in zip(items, hits, strict=True) if name in found]
        per_set[name] = {"eval_items": len(index.sets[name].items), "contaminated": len(flagged),
                         **{check: sum(check in found for _, found in flagged) for check in CHECKS},
                         "examples": [{"id": item.id, **found} for item, found in flagged[:examples]]}
    contaminated = [position for position, found in enumerate(hits) if found]
    kept = [position for position, found in enumerate(hits) if not found] if mode == "drop" else list(range(len(items)))
    report = {"mode": mode, "n": n, "near_threshold": near_threshold, "checked": len(items),
              "contaminated": len(contaminated), "dropped": len(items) - len(kept), "eval_sets": per_set,
              "unavailable": index.unavailable}
    return kept, report


def summary_line(report: dict[str, Any]) -> str:
    """One line for a log or console: what was checked and found per eval set."""
    if report.get("mode", "off") == "off":
        return "decontamination: off"
    sets = "; ".join(f"{name} {found['contaminated']} (question {found['question']}, answer {found['answer']}, "
                     f"near-dup {found['near_duplicate']})" for name, found in report["eval_sets"].items())
    missing = f"; not checked: {', '.join(report['unavailable'])}" if report.get("unavailable") else ""
    action = "dropped" if report["mode"] == "drop" else "kept (report only)"
    return (f"decontamination ({report['n']}-grams): {report['contaminated']} of {report['checked']} overlap an "
            f"eval set, {report['dropped'] if report['mode'] == 'drop' else report['contaminated']} {action}: "
            f"{sets}{missing}")
