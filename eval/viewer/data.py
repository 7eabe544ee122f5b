"""The viewer's data: synthesis records and sample runs (accuracy, DPO sampling), indexed for listing and filtering.

A run holds one row type: a synthesis run's `Record`s, or the `SampleSet`s that `eval.accuracy` and DPO sampling
(`OUT/samples`) write, every sample with its extracted answer, judgment and finish reason. Which one is decided
once per run, from its manifest's command or else its first line.

A run may still be writing, or may have been killed mid-line: `refresh` reads only what a records file gained
since the last look (its inode, size and mtime say whether it changed), so new complete lines show up on the
next request. A line is complete once its newline is written; an unterminated last line is shown if it already
parses (a file saved without a final newline) and otherwise waits, uncounted, for the rest of it. A complete
line that is not a record (a torn line followed by more lines, a hand edit) is skipped and counted, and one
warning per run names the file:line of the first such line.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eval.verify import AUDIT_FILE, read_audit
from eval.viewer.record_view import row_roles
from protocols.types import Action, Record, SampleSet
from synthesis.engine import read_rows
from synthesis.engine import run_dirs as expand_runs
from synthesis.engine.run_card import RunCard

ACTIONS = ("backtrack", "reflect")
OUTCOMES = ("correct", "incorrect", "no_answer")
CHECKERS = ("disagree", "agree")  # whether our checker and math-verify disagree on an answer (eval.verify's audit)
CUT = ("yes", "no")  # whether a problem has text cut at the token cap (finish_reason "length")
SAMPLE_TASKS = ("accuracy", "dpo_samples")  # the engine tasks whose rows are SampleSets (manifest "attempt")
ROW_TYPES = {"records": Record, "samples": SampleSet}
log = logging.getLogger("longthought.viewer")


@dataclass
class Entry:
    """What the problem list needs of a record, plus the lowercased text for keyword search."""

    run: int
    problem_id: str
    attempt: str  # a record's attempt; for a sample run, its task (accuracy, dpo_samples)
    outcome: str  # correct | incorrect | no_answer
    final_answer: str | None
    gold: str | None
    stop_reason: str | None  # a record's; sample runs have finish reasons per sample instead
    actions: frozenset[str]
    tokens: int
    search_text: str
    cut: bool = False  # some model text stopped at its token cap
    kind: str = "records"
    model: str | None = None
    samples: int = 0
    correct_samples: int = 0
    finish_reasons: dict[str, int] = field(default_factory=dict)
    oracle_roles: list[str] = field(default_factory=list)  # roles the oracle played (protocols.rehearsal)
    checkers_disagree: bool = False  # eval.verify found our checker and math-verify at odds on one of its answers

    def summary(self) -> dict[str, Any]:
        return {"run": self.run, "id": self.problem_id, "attempt": self.attempt, "outcome": self.outcome,
                "final_answer": self.final_answer, "gold": self.gold, "stop_reason": self.stop_reason,
                "actions": sorted(self.actions), "tokens": self.tokens, "cut": self.cut, "kind": self.kind,
                "model": self.model, "samples": self.samples, "correct_samples": self.correct_samples,
                "finish_reasons": self.finish_reasons, "oracle_roles": self.oracle_roles,
                "checkers_disagree": self.checkers_disagree}


@dataclass
class Run:
    """One run's records, as read so far; the dicts are replaced, never mutated, so readers need no lock."""

    path: str
    file: Path
    kind: str | None = None  # records | samples; None until the run's first row says
    task: str | None = None  # the manifest's command name (debate, accuracy, ...), when there is a manifest
    oracle_roles: list[str] = field(default_factory=list)  # the manifest's; rows without their own mark use these
    records: dict[str, Record | SampleSet] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    bad_lines: int = 0
    first_bad_line: str | None = None  # file:line
    offset: int = 0  # bytes read up to and including the last newline
    lines: int = 0  # newlines read, so a bad line can be named by number
    seen: tuple[int, int, int] | None = None  # (inode, size, mtime_ns) at the last read
    anchor: bytes = b""  # the last complete line read (it names its problem), to tell growth from a rewrite
    audit_seen: tuple[int, int, int] | None = None  # checker_audit.json's stamp at the last read (None: no file)


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
                 (record.long_thought + "\n" + record.problem.question).lower(),
                 cut=any(turn.finish_reason == "length" for turn in record.turns))


def _sample_entry(run: int, row: SampleSet, task: str | None) -> Entry:
    """A sample set as a list entry: correct when any sample is (pass@k), no answer when none extracted one."""
    correct = sum(sample.correct for sample in row.samples)
    if correct:
        outcome = "correct"
    else:
        outcome = "incorrect" if any(sample.answer is not None for sample in row.samples) else "no_answer"
    first = row.samples[0].answer if row.samples else None
    text = "\n".join([row.problem.question, *(sample.text for sample in row.samples)])
    return Entry(run, row.problem_id, task or "samples", outcome, first, row.problem.answer, None, frozenset(),
                 sum(totals.total_tokens for totals in row.usage.values()), text.lower(),
                 cut=any(sample.truncated for sample in row.samples), kind="samples", model=row.model,
                 samples=len(row.samples), correct_samples=correct,
                 finish_reasons=dict(Counter(str(sample.finish_reason) for sample in row.samples)))


def _sniff(file: Path) -> str | None:
    """The row type of a records file without a manifest: the first JSON object line says (SampleSets have samples)."""
    try:
        with file.open("rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    return None  # a first row still being written: decide on the next read
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a bad line is counted by the read itself
                if isinstance(row, dict):
                    return "samples" if "samples" in row and "attempt" not in row else "records"
    except OSError:
        return None
    return None


def _stamp(file: Path) -> tuple[int, int, int] | None:
    try:
        stat = file.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _audit_file(run: Run) -> Path:
    path = Path(run.path)
    return (path if path.is_dir() else path.parent) / AUDIT_FILE


def _disagreeing(run: Run) -> set[str]:
    """The problems eval.verify found our checker and math-verify at odds on, from the run's checker_audit.json."""
    audit = read_audit(Path(run.path))
    return {item.get("problem_id") for item in (audit or {}).get("disagreements", [])}


class Store:
    """Every record of the given runs; list/filter work on a compact index, details load the full record."""

    def __init__(self, run_dirs: list[Path]):
        self.runs: list[Run] = []
        self.entries: list[Entry] = []
        self._lock = threading.Lock()  # one reader of the files at a time; queries read the swapped-in copies
        for path in expand_runs(run_dirs):  # a run, a folder of runs (an ablation) or a records.jsonl
            # Read leniently: a run without a manifest (a bare records.jsonl), or with one we cannot read, is shown
            # all the same, its row type decided by its first row.
            card = RunCard(path.parent if path.is_file() else path, strict=False)
            task = None if path.is_file() else card.task
            self.runs.append(Run(str(path), path if path.is_file() else path / "records.jsonl", task=task,
                                 kind=("samples" if task in SAMPLE_TASKS else "records") if task else None,
                                 oracle_roles=card.oracle_roles))
        self.refresh()

    def refresh(self) -> None:
        """Take in what the runs' files gained since the last call (cheap when nothing changed: one stat per run)."""
        with self._lock:
            changed = [self._read(index, run) for index, run in enumerate(self.runs)]
            if any(changed):
                self.entries = [entry for run in self.runs for entry in run.entries.values()]

    def _read(self, index: int, run: Run) -> bool:
        # eval.verify writes the audit after the records, often while the viewer is open: a new audit re-marks the
        # rows already read, records changed or not.
        audit_seen = _stamp(_audit_file(run))
        changed = self._read_rows(index, run)
        if audit_seen != run.audit_seen:
            disagreeing = _disagreeing(run)
            run.entries = {problem_id: replace(entry, checkers_disagree=problem_id in disagreeing)
                           for problem_id, entry in run.entries.items()}
            run.audit_seen = audit_seen
            return True
        return changed

    def _read_rows(self, index: int, run: Run) -> bool:
        seen = _stamp(run.file)
        if seen is None:
            return False  # moved away or unreadable for now: keep showing what was read
        if seen == run.seen:
            return False
        run.kind = run.kind or _sniff(run.file)
        if run.kind is None:
            return False  # nothing to read yet
        try:
            appended = self._grew(run, seen)
            rows = read_rows(run.file, ROW_TYPES[run.kind], strict=False, start=run.offset if appended else 0,
                             first_line=(run.lines if appended else 0) + 1)
        except OSError:
            return False
        records = dict(run.records) if appended else {}
        entries = dict(run.entries) if appended else {}
        lines, bad_lines, first_bad_line = (run.lines, run.bad_lines, run.first_bad_line) if appended else (0, 0, None)
        disagreeing = _disagreeing(run)
        # An unterminated last line that parses is among the rows: read again next time, harmlessly, as `end` stays.
        for record in rows:
            records[record.problem_id] = record
            entry = _sample_entry(index, record, run.task) if isinstance(record, SampleSet) else _entry(index, record)
            entry.oracle_roles = row_roles(record, run.oracle_roles)
            entry.checkers_disagree = record.problem_id in disagreeing
            entries[record.problem_id] = entry
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
               query: str | None = None, action: str | None = None, cut: str | None = None,
               checkers: str | None = None) -> list[Entry]:
        """The entries matching every filter given (`cut`: "yes" some text stopped at its token cap, "no" none did)."""
        query = (query or "").lower().strip()
        return [entry for entry in self.entries
                if (not outcome or entry.outcome == outcome) and (not attempt or entry.attempt == attempt)
                and (run is None or entry.run == run) and (not query or query in entry.search_text)
                and (not action or action in entry.actions) and (not cut or entry.cut == (cut == "yes"))
                and (not checkers or entry.checkers_disagree == (checkers == "disagree"))]

    def counts(self, entries: list[Entry]) -> dict[str, dict[str, int]]:
        """How many of `entries` fall under each filter value, so the list can show counts beside each filter."""
        return {
            "outcome": dict(Counter(entry.outcome for entry in entries)),
            "attempt": dict(Counter(entry.attempt for entry in entries)),
            "run": dict(Counter(str(entry.run) for entry in entries)),
            "action": {action: sum(action in entry.actions for entry in entries) for action in ACTIONS},
            "cut": {"yes": sum(entry.cut for entry in entries), "no": sum(not entry.cut for entry in entries)},
            "checkers": {"disagree": sum(entry.checkers_disagree for entry in entries),
                         "agree": sum(not entry.checkers_disagree for entry in entries)},
        }

    def stats(self) -> list[dict[str, Any]]:
        """Header statistics per run: problems, share correct, tokens, cost, stop reasons, malformed lines."""
        result = []
        for index, run in enumerate(self.runs):
            records = list(run.records.values())
            costs = [totals.cost for record in records for totals in record.usage.values()]
            common = {"run": index, "path": run.path, "kind": run.kind or "records", "problems": len(records),
                      "tokens": sum(totals.total_tokens for r in records for totals in r.usage.values()),
                      "cost": None if any(cost is None for cost in costs) else round(sum(costs), 6),
                      "bad_lines": run.bad_lines, "first_bad_line": run.first_bad_line}
            entries = list(run.entries.values())
            # Rehearsal data says what it is: the page shows a badge for a run any of whose rows used the oracle.
            common["oracle_roles"] = sorted({role for entry in entries for role in entry.oracle_roles}
                                            | (set(run.oracle_roles) if not entries else set()))
            if run.kind == "samples":
                samples = [sample for row in records for sample in row.samples]
                # Mean accuracy over samples, as accuracy.json reports it; pass@k is the list's share "correct".
                share = sum(row.accuracy for row in records) / len(records) if records else 0
                passed = sum(entry.outcome == "correct" for entry in entries) / len(entries) if entries else 0
                result.append(common | {
                    "attempts": sorted({entry.attempt for entry in entries}),
                    "models": sorted({row.model for row in records}),
                    "samples": len(samples), "share_correct": round(share, 3), "pass_at_k": round(passed, 3),
                    "finish_reasons": dict(Counter(str(sample.finish_reason) for sample in samples)),
                    "stop_reasons": {},
                })
                continue
            result.append(common | {
                "attempts": sorted({record.attempt for record in records}),
                "share_correct": round(sum(bool(r.correct) for r in records) / len(records), 3) if records else 0,
                "stop_reasons": dict(Counter(record.stop_reason for record in records)),
            })
        return result

    def run_oracle_roles(self, run: int) -> list[str]:
        """The oracle roles of a run's manifest (what its rows without their own mark fall back to)."""
        return self.runs[run].oracle_roles if 0 <= run < len(self.runs) else []

    def record(self, run: int, problem_id: str) -> Record | SampleSet | None:
        """One run's full row for a problem (a Record or a SampleSet, as the run holds), or None."""
        if not 0 <= run < len(self.runs):
            return None
        return self.runs[run].records.get(problem_id)
