"""The viewer's data: records from run directories, indexed once for fast listing and filtering."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocols.types import Action, Record

ACTIONS = ("backtrack", "reflect")


@dataclass
class Entry:
    """What the problem list needs of a record, plus the lowercased text for keyword search."""

    run: int
    problem_id: str
    attempt: str
    outcome: str  # correct | incorrect | no_answer
    final_answer: str | None
    gold: str | None
    stop_reason: str
    actions: frozenset[str]
    tokens: int
    search_text: str

    def summary(self) -> dict[str, Any]:
        return {"run": self.run, "id": self.problem_id, "attempt": self.attempt, "outcome": self.outcome,
                "final_answer": self.final_answer, "gold": self.gold, "stop_reason": self.stop_reason,
                "actions": sorted(self.actions), "tokens": self.tokens}


@dataclass
class Run:
    path: str
    records: dict[str, Record] = field(default_factory=dict)


def _outcome(record: Record) -> str:
    if record.final_answer is None:
        return "no_answer"
    return "correct" if record.correct else "incorrect"


def _actions(record: Record) -> frozenset[str]:
    present = {turn.action.value for turn in record.turns if turn.action in (Action.BACKTRACK, Action.REFLECT)}
    present |= {node.action.value for node in record.tree.nodes if node.action in (Action.BACKTRACK, Action.REFLECT)}
    return frozenset(present)


class Store:
    """Every record of the given runs; list/filter work on a compact index, details load the full record."""

    def __init__(self, run_dirs: list[Path]):
        self.runs: list[Run] = []
        self.entries: list[Entry] = []
        for index, directory in enumerate(run_dirs):
            path = Path(directory)
            file = path if path.is_file() else path / "records.jsonl"
            if not file.is_file():
                raise FileNotFoundError(f"{path}: no records.jsonl")
            run = Run(str(path))
            for line in file.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self.add(index, run, Record.from_json(line))
            self.runs.append(run)

    def add(self, index: int, run: Run, record: Record) -> None:
        run.records[record.problem_id] = record
        usage = sum(totals.total_tokens for totals in record.usage.values())
        self.entries.append(Entry(index, record.problem_id, record.attempt, _outcome(record), record.final_answer,
                                  record.problem.answer, record.stop_reason, _actions(record), usage,
                                  (record.long_thought + "\n" + record.problem.question).lower()))

    def filter(self, outcome: str | None = None, attempt: str | None = None, run: int | None = None,
               query: str | None = None, action: str | None = None) -> list[Entry]:
        query = (query or "").lower().strip()
        return [entry for entry in self.entries
                if (not outcome or entry.outcome == outcome) and (not attempt or entry.attempt == attempt)
                and (run is None or entry.run == run) and (not query or query in entry.search_text)
                and (not action or action in entry.actions)]

    def counts(self, entries: list[Entry]) -> dict[str, dict[str, int]]:
        """How many of `entries` fall under each filter value, so the list can show counts beside each filter."""
        return {
            "outcome": dict(Counter(entry.outcome for entry in entries)),
            "attempt": dict(Counter(entry.attempt for entry in entries)),
            "run": dict(Counter(str(entry.run) for entry in entries)),
            "action": {action: sum(action in entry.actions for entry in entries) for action in ACTIONS},
        }

    def stats(self) -> list[dict[str, Any]]:
        """Header statistics per run: problems, share correct, tokens, cost, stop reasons."""
        result = []
        for index, run in enumerate(self.runs):
            records = list(run.records.values())
            costs = [totals.cost for record in records for totals in record.usage.values()]
            result.append({
                "run": index, "path": run.path, "problems": len(records),
                "attempts": sorted({record.attempt for record in records}),
                "share_correct": round(sum(bool(r.correct) for r in records) / len(records), 3) if records else 0,
                "tokens": sum(totals.total_tokens for r in records for totals in r.usage.values()),
                "cost": None if any(cost is None for cost in costs) else round(sum(costs), 6),
                "stop_reasons": dict(Counter(record.stop_reason for record in records)),
            })
        return result

    def record(self, run: int, problem_id: str) -> Record | None:
        if not 0 <= run < len(self.runs):
            return None
        return self.runs[run].records.get(problem_id)
