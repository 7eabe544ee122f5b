"""Records to TRL datasets: SFT as conversational prompt/completion, DPO as prompt/chosen/rejected.

Prompt/completion rows make TRL compute the loss on the assistant text only. `paired_sft` yields the journey
(long thought) and the shortcut dataset for exactly the same problems, the matched pair behind the report's
"journey beats shortcut" comparison. Datasets are written as JSONL with a dataset card (README.md) naming the
source runs and their configs, so `datasets.load_dataset("json", data_files=...)` or TRL read them as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from prompts import question_messages
from protocols.types import Problem, Record
from synthesis.engine import read_rows

Target = Literal["journey", "shortcut", "solution"]
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _row(problem: Problem, completion: str, **extra: Any) -> dict[str, Any]:
    return {"id": problem.id, "prompt": question_messages(problem.question),
            "completion": [{"role": "assistant", "content": completion}], **extra}


def usable_for_pairing(record: Record) -> bool:
    """Both halves of the matched pair exist: a correct answer with a shortcut and a long thought."""
    return bool(record.correct and record.shortcut and record.long_thought)


def has_real_trial(record: Record) -> bool:
    """The long thought holds a real trial and error, not only the shortcut told at length: a tree search's draft
    narrated at least one wrong branch (meta.trials); another attempt wrote a step or answer judged wrong and went on
    (a backtrack, or a reflection on that wrong step) to its final answer."""
    if record.attempt == "tree_search":
        return int(record.meta.get("trials", 0)) > 0
    return any(node.correct is False and node.kind in ("step", "answer") for node in record.tree.nodes)


@dataclass
class PairSelection:
    """How the matched problems were chosen, for the dataset card (every excluded record is counted, by reason)."""

    records: int = 0
    not_correct_or_incomplete: int = 0  # no correct answer, no shortcut or no long thought
    without_real_trial: int = 0  # a journey identical in substance to its shortcut
    paired: int = 0  # problems with both a shortcut and a real journey
    selected: int = 0  # after --pairs


def select_pairs(records: Iterable[Record], *, require_trial: bool = True, pairs: int | None = None,
                 seed: int = 0) -> tuple[list[Record], PairSelection]:
    """The records whose problem has both halves of the matched pair, and (with `pairs`) a seeded sample of N of them:
    the same problems for the journey and the shortcut target. The report compared 327 such pairs."""
    counts = PairSelection()
    chosen = []
    for record in records:
        counts.records += 1
        if not usable_for_pairing(record):
            counts.not_correct_or_incomplete += 1
        elif require_trial and not has_real_trial(record):
            counts.without_real_trial += 1
        else:
            chosen.append(record)
    counts.paired = len(chosen)
    if pairs is not None and pairs < len(chosen):
        import random

        # Sorted first so the sample depends on the seed and the problems, not on the order the runs were read in.
        chosen = random.Random(seed).sample(sorted(chosen, key=lambda r: (r.problem_id, r.attempt)), pairs)
    counts.selected = len(chosen)
    return chosen, counts


def paired_sft(records: Iterable[Record]) -> tuple[list[dict], list[dict]]:
    """(journey rows, shortcut rows) for exactly the same problems."""
    usable = [record for record in records if usable_for_pairing(record)]
    journey = [_row(r.problem, r.long_thought, attempt=r.attempt) for r in usable]
    shortcut = [_row(r.problem, r.shortcut, attempt=r.attempt) for r in usable]
    return journey, shortcut


def numbered_solution(solution: str) -> str:
    """A reference solution rewritten as numbered steps (one sentence or paragraph each)."""
    pieces = []
    for paragraph in re.split(r"\n\s*\n", solution.strip()):
        pieces += [piece.strip() for piece in _SENTENCE_BREAK.split(paragraph.replace("\n", " ")) if piece.strip()]
    return "\n".join(f"{index}. {piece}" for index, piece in enumerate(pieces, start=1))


def solution_rows(problems: Iterable[Problem]) -> list[dict]:
    """Phase-1 SFT rows: reference solutions as numbered steps (problems without a solution are skipped)."""
    return [_row(problem, numbered_solution(problem.meta["solution"])) for problem in problems
            if problem.meta.get("solution")]


def dpo_row(problem: Problem, chosen: str, rejected: str) -> dict[str, Any]:
    return {"id": problem.id, "prompt": question_messages(problem.question),
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}]}


def load_records(run_dirs: Iterable[Path]) -> list[Record]:
    """Every record of the given run directories (a file may also be passed)."""
    return [record for run_dir in run_dirs for record in read_rows(run_dir, Record)]


@dataclass
class DatasetCard:
    """What a dataset was built from."""

    name: str
    kind: Literal["sft", "dpo"]
    sources: list[str] = field(default_factory=list)
    configs: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    def render(self, rows: int) -> str:
        header = {"pretty_name": self.name, "task_categories": ["text-generation"], "tags": ["longthought", self.kind],
                  "configs": [{"config_name": "default", "data_files": "data.jsonl"}]}
        columns = "`prompt`, `completion`" if self.kind == "sft" else "`prompt`, `chosen`, `rejected`"
        return (f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n\n# {self.name}\n\n"
                f"{rows} rows in TRL's conversational format ({columns}, plus `id`), built by longthought.\n\n"
                f"## Sources\n\n" + "\n".join(f"- `{source}`" for source in self.sources) + "\n\n"
                f"## Statistics\n\n```json\n{json.dumps(self.stats, indent=2)}\n```\n\n"
                f"## Source configs\n\n```yaml\n{yaml.safe_dump(self.configs, sort_keys=False)}```\n")


def write_dataset(rows: list[dict], directory: Path, card: DatasetCard) -> Path:
    """Write `data.jsonl` and a dataset card `README.md` into `directory`; returns the data file."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data.jsonl"
    with data.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    (directory / "README.md").write_text(card.render(len(rows)), encoding="utf-8")
    return data


def run_configs(run_dirs: Iterable[Path]) -> dict[str, Any]:
    """The config.yaml of each source run, for the dataset card."""
    configs = {}
    for run_dir in run_dirs:
        config = Path(run_dir) / "config.yaml"
        if config.is_file():
            configs[str(run_dir)] = yaml.safe_load(config.read_text())
    return configs
