"""The viewer's data: records from run directories, indexed once for fast listing and filtering.

A run may still be writing, or may have been killed mid-line: `refresh` reads only what a records file gained
since the last look (its inode, size and mtime say whether it changed), so new complete lines show up on the
next request. A line is complete once its newline is written; an unterminated last line is shown if it already
parses (a file saved without a final newline) and otherwise waits, uncounted, for the rest of it. A complete
line that is not a record (a torn line followed by more lines, a hand edit) is skipped and counted, and one
warning per run names the file:line of the first such line.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocols.types import Action, Record
from synthesis.engine import read_rows
from synthesis.engine import run_dirs as expand_runs

ACTIONS = ("backtrack", "reflect")
OUTCOMES = ("correct", "incorrect", "no_answer")
log = logging.getLogger("longthought.viewer")


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
    """One run's records, as read so far; the dicts are replaced, never mutated, so readers need no lock."""

    path: str
    file: Path
    records: dict[str, Record] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    bad_lines: int = 0
    first_bad_line: str | None = None  # file:line
    offset: int = 0  # bytes read up to and including the last newline
    lines: int = 0  # newlines read, so a bad line can be named by number
    seen: tuple[int, int, int] | None = None  # (inode, size, mtime_ns) at the last read
    anchor: bytes = b""  # the last complete line read (it names its problem), to tell growth from a rewrite


def _outcome(record: Record) -> str:
    if record.final_answer is None:
        return "no_answer"
    return "correct" if record.correct else "incorrect"


def _actions(record: Record) -> frozenset[str]:
    present = {turn.action.value for turn in record.turns if turn.action in (Action.BACKTRACK, Action.REFLECT)}
    present |= {node.action.value for node in record.tree.nodes if node.action in (Action.BACKTRACK, Action.REFLECT)}
    return frozenset(present)


def _entry(run: int, record: Record) -> Entry:
    usage = sum(totals.total_tokens for totals in record.usage.values())
    return Entry(run, record.problem_id, record.attempt, _outcome(record), record.final_answer, record.problem.answer,
                 record.stop_reason, _actions(record), usage,
                 (record.long_thought + "\n" + record.problem.question).lower())


class Store:
    """Every record of the given runs; list/filter work on a compact index, details load the full record."""

    def __init__(self, run_dirs: list[Path]):
        self.runs: list[Run] = []
        self.entries: list[Entry] = []
        self._lock = threading.Lock()  # one reader of the files at a time; queries read the swapped-in copies
        for path in expand_runs(run_dirs):  # a run, a folder of runs (an ablation) or a records.jsonl
            self.runs.append(Run(str(path), path if path.is_file() else path / "records.jsonl"))
        self.refresh()

    def refresh(self) -> None:
        """Take in what the runs' files gained since the last call (cheap when nothing changed: one stat per run)."""
        with self._lock:
            changed = [self._read(index, run) for index, run in enumerate(self.runs)]
            if any(changed):
                self.entries = [entry for run in self.runs for entry in run.entries.values()]

    def _read(self, index: int, run: Run) -> bool:
        try:
            stat = run.file.stat()
        except OSError:
            return False  # moved away or unreadable for now: keep showing what was read
        seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if seen == run.seen:
            return False
        try:
            appended = self._grew(run, seen)
            rows = read_rows(run.file, Record, strict=False, start=run.offset if appended else 0,
                             first_line=(run.lines if appended else 0) + 1)
        except OSError:
            return False
        records = dict(run.records) if appended else {}
        entries = dict(run.entries) if appended else {}
        lines, bad_lines, first_bad_line = (run.lines, run.bad_lines, run.first_bad_line) if appended else (0, 0, None)
        # An unterminated last line that parses is among the rows: read again next time, harmlessly, as `end` stays.
        for record in rows:
            records[record.problem_id] = record
            entries[record.problem_id] = _entry(index, record)
        if rows.bad:
            first = rows.bad[0]
            first_bad_line = first_bad_line or f"{run.file}:{first.number}"
            bad_lines += len(rows.bad)
            log.warning("%s:%d: skipped %d malformed line(s), the first here (%s); %d in this run",
                        run.file, first.number, len(rows.bad), first.reason, bad_lines)
        run.records, run.entries = records, entries
        run.lines = lines + rows.lines
        run.bad_lines, run.first_bad_line = bad_lines, first_bad_line
        if rows.last_line or not appended:
            run.anchor = rows.last_line
        run.offset, run.seen = rows.end, seen
        return True

    @staticmethod
    def _grew(run: Run, seen: tuple[int, int, int]) -> bool:
        """Whether the file only grew since the last read, so that reading on from `run.offset` is enough."""
        # Append-only files grow in place; anything else (a resume cutting a torn line, `cp` over the file) is
        # read afresh. The last bytes read must still be there, so that a rewrite in place is not taken for growth.
        if run.seen is None or seen[0] != run.seen[0] or seen[1] <= run.seen[1]:
            return False
        with run.file.open("rb") as handle:
            handle.seek(run.offset - len(run.anchor))
            return handle.read(len(run.anchor)) == run.anchor

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
        """Header statistics per run: problems, share correct, tokens, cost, stop reasons, malformed lines."""
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
                "bad_lines": run.bad_lines, "first_bad_line": run.first_bad_line,
            })
        return result

    def record(self, run: int, problem_id: str) -> Record | None:
        if not 0 <= run < len(self.runs):
            return None
        return self.runs[run].records.get(problem_id)
