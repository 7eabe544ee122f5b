"""The checker audit: every final answer re-checked by math-verify beside our checker, and where they disagree.

    LONGTHOUGHT_DATA_DIR=../shared/data python -m eval.verify runs/debate runs/acc --out runs/verify

RUN is a run directory (a synthesis run's records, or an accuracy / DPO sampling run's samples), a folder of runs,
or a records.jsonl. Ours is protocols.answers (the stated answer cut out, plain numbers as fractions, then
math-verify's LaTeX path); the second is math-verify's own extraction and verify on the gold and on the answer text
(a record's final answer, a sample's whole text), run in the same worker pool with a timeout, never evaluating
model text. One line per run and attempt; `--out DIR` writes verify.json and verify.md, the disagreement table
(problem, gold, answer, ours, math-verify). Each run directory also gets checker_audit.json, which the report
(disagreements per attempt) and the viewer (a "checkers disagree" filter) read. Training exports take
`--require-agreement` to keep only what both checkers accept.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.outputs import check_out, write_json_and_markdown
from protocols.agreement import verdicts
from protocols.answers import extract_answer
from protocols.cli import command_parser, parse
from protocols.types import Record, SampleSet
from synthesis.engine import console_for_errors, guarded, read_rows, run_dirs

AUDIT_FILE = "checker_audit.json"


@dataclass(frozen=True)
class VerifyConfig:
    """Where the disagreement table goes (the runs are the positional arguments)."""

    out: str | None = field(default=None, metadata={"help": "folder for verify.json and verify.md"})
    timeout: float = field(default=5.0, metadata={"help": "seconds per check, each checker"})


@dataclass
class Checked:
    run: str
    attempt: str
    problem_id: str
    gold: str | None
    answer: str | None  # what math-verify read: a record's final answer, a sample's text
    ours: bool
    math_verify: bool
    sample: int | None = None

    @property
    def disagree(self) -> bool:
        return self.ours != self.math_verify


def _is_samples(run: Path) -> bool:
    first = next(iter(read_rows(run, dict)), None)
    return isinstance(first, dict) and "samples" in first and "attempt" not in first


def check_run(run: Path) -> list[Checked]:
    """Both checkers on every final answer of one run (answers without a gold answer are left out)."""
    items: list[tuple[str, str, str | None, str | None, str | None, int | None]] = []
    if _is_samples(run):
        for row in read_rows(run, SampleSet):
            for index, sample in enumerate(row.samples):
                items.append(("samples", row.problem_id, row.problem.answer, extract_answer(sample.text), sample.text,
                              index))
    else:
        for record in read_rows(run, Record):
            items.append((record.attempt, record.problem_id, record.problem.answer, record.final_answer,
                          record.final_answer, None))
    items = [item for item in items if item[2] is not None]
    ours, second = verdicts([i[2] for i in items], [i[3] for i in items], [i[4] for i in items])
    return [Checked(str(run), attempt, pid, gold, text, a, b, sample)
            for (attempt, pid, gold, _, text, sample), a, b in zip(items, ours, second, strict=True)]


def summary(checked: list[Checked]) -> dict[str, dict[str, dict[str, int]]]:
    """Counts per run and attempt: answers checked, accepted by each, disagreements."""
    result: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for item in checked:
        counts = result[item.run].setdefault(item.attempt, {"checked": 0, "ours": 0, "math_verify": 0,
                                                            "disagreements": 0, "only_ours": 0,
                                                            "only_math_verify": 0})
        counts["checked"] += 1
        counts["ours"] += item.ours
        counts["math_verify"] += item.math_verify
        counts["disagreements"] += item.disagree
        counts["only_ours"] += item.ours and not item.math_verify
        counts["only_math_verify"] += item.math_verify and not item.ours
    return dict(result)


def lines(counts: dict[str, dict[str, dict[str, int]]]) -> list[str]:
    return [f"{run} {attempt}: {c['checked']} answers, {c['disagreements']} disagreements (ours only {c['only_ours']}, "
            f"math-verify only {c['only_math_verify']}); accepted by ours {c['ours']}, by math-verify "
            f"{c['math_verify']}" for run, attempts in counts.items() for attempt, c in attempts.items()]


def _cell(text: str | None, limit: int = 120) -> str:
    text = " ".join((text or "").split()).replace("|", "\\|")
    return text if len(text) <= limit else "…" + text[-limit:]


def markdown(checked: list[Checked]) -> str:
    rows = ["# Checker disagreements (ours vs math-verify)\n", "| run | attempt | problem | gold | answer | ours | "
            "math-verify |", "| --- | --- | --- | --- | --- | --- | --- |"]
    rows += [f"| `{c.run}` | {c.attempt} | `{c.problem_id}`{'' if c.sample is None else f' #{c.sample}'} | "
             f"{_cell(c.gold)} | {_cell(c.answer)} | {'yes' if c.ours else 'no'} | "
             f"{'yes' if c.math_verify else 'no'} |" for c in checked if c.disagree]
    return "\n".join(rows) + "\n"


def write_audit(run: Path, checked: list[Checked]) -> None:
    """RUN/checker_audit.json: the counts and the disagreeing problems, for the report and the viewer."""
    folder = run if run.is_dir() else run.parent
    mine = [item for item in checked if item.run == str(run)]
    (folder / AUDIT_FILE).write_text(json.dumps({
        "attempts": summary(mine).get(str(run), {}),
        "disagreements": [asdict(item) for item in mine if item.disagree]}, indent=2), encoding="utf-8")


def read_audit(run: Path) -> dict[str, Any] | None:
    """A run's checker_audit.json, or None when the run was never audited (or the file is unreadable)."""
    folder = run if run.is_dir() else run.parent
    try:
        data = json.loads((folder / AUDIT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def main(argv: list[str] | None = None) -> int:
    console = console_for_errors()

    def body() -> int:
        parser = command_parser("eval.verify", (VerifyConfig,), __doc__)
        parser.add_argument("runs", nargs="+", help="run directories, folders of runs, or records.jsonl files")
        config, args = parse(parser, argv)
        if not 0 < config.timeout < float("inf"):
            raise ValueError(f"--timeout: expected a positive number of seconds, got {config.timeout}")
        check_out(config.out)
        runs = run_dirs(args.runs)
        checked = [item for run in runs for item in check_run(run)]
        for run in runs:
            write_audit(run, checked)
        counts = summary(checked)
        for line in lines(counts):
            print(line)
        if config.out:
            write_json_and_markdown(config.out, "verify", {"runs": counts, "disagreements": [
                asdict(item) for item in checked if item.disagree]}, markdown(checked))
        return 0

    return guarded(body, console, saved="nothing was written")


if __name__ == "__main__":
    sys.exit(main())
