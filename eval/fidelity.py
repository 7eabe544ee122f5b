"""Data fidelity: measure, against the reference solutions, whether records teach the right lessons.

    python -m eval.fidelity runs/rehearsal

For runs made with the oracle model (agents.backends.oracle), every step a policy wrote is either a reference step or an
injected wrong variant, so the invariants journey learning depends on can be counted exactly: wrong steps caught
and corrected before the path moves on, none left on a shortcut, no correct step narrated as a mistake, no
scorer bookkeeping or third-person critic voice inside a long thought, rewrites that keep every step accepted and
lossy ones rejected. `bench/fidelity.py` runs all four attempts through the oracle and prints these tables.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

from agents.backends.oracle.reference import Reference, reference_for, same
from agents.calls.redact import safe
from protocols.cli import command_parser, parse
from protocols.types import Action, Record, ThoughtNode, ThoughtTree
from synthesis.engine import read_rows, run_dirs

# What must never appear inside a long thought: scorer bookkeeping and a grader's third-person voice.
LEAKS = re.compile(
    r"rollouts? reached|P\(good\)|\bscore\b|\bthe (?:student|policy|critic|assistant)\b", re.IGNORECASE)
_SHORTCUT_LINE = re.compile(r"^(\d+)\.\s+(.*)$")


@dataclass
class Fidelity:
    """Counts for one attempt's records; `rows()` gives the table."""

    records: int = 0
    problems: int = 0
    correct: int = 0
    injected: int = 0
    caught_and_corrected: int = 0
    wrong_on_shortcut: int = 0
    misnarrated: int = 0
    leaks: int = 0
    rewrites: int = 0
    rewrites_accepted: int = 0
    lossy: int = 0
    lossy_rejected: int = 0
    journeys: int = 0
    examples: dict[str, str] = field(default_factory=dict)  # the first offending problem of each failed invariant

    def note(self, invariant: str, problem_id: str) -> None:
        self.examples.setdefault(invariant, problem_id)

    def rows(self) -> list[tuple[str, str]]:
        def share(part: int, whole: int) -> str:
            return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "-"

        return [
            ("records", f"{self.records} of {self.problems} problems"),
            ("final answers equal to gold", share(self.correct, self.problems)),
            ("injected wrong steps", str(self.injected)),
            ("caught and corrected before the path moves on", share(self.caught_and_corrected, self.injected)),
            ("wrong steps left on a shortcut", str(self.wrong_on_shortcut)),
            ("branches narrated as wrong that were not", str(self.misnarrated)),
            ("scorer text or third-person reasons in long thoughts", str(self.leaks)),
            ("faithful rewrites accepted", share(self.rewrites_accepted, self.rewrites)),
            ("lossy rewrites rejected", share(self.lossy_rejected, self.lossy)),
            ("journey rows with a trial and error", share(self.journeys, self.records)),
        ]

    def holds(self, min_accepted: float = 0.95) -> bool:
        """The acceptance bar: everything exact, except faithful rewrites (>= `min_accepted` accepted)."""
        return (self.correct == self.problems and self.caught_and_corrected == self.injected
                and self.wrong_on_shortcut == self.misnarrated == self.leaks == 0
                and (not self.rewrites or self.rewrites_accepted >= min_accepted * self.rewrites)
                and self.lossy_rejected == self.lossy)

    def __add__(self, other: Fidelity) -> Fidelity:
        total = Fidelity(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                            for f in fields(self) if f.name != "examples"})
        total.examples = {**other.examples, **self.examples}
        return total


def is_reference(reference: Reference, index: int, text: str) -> bool:
    """Whether `text` is the reference's step `index` (with or without its final-answer sentence)."""
    if not 1 <= index <= len(reference):
        return same(text, f"\\boxed{{{reference.answer}}}")  # an annotation's `## final` line
    return same(text, reference.step(index)) or same(text, reference.bodies[index - 1])


def _written_steps(tree: ThoughtTree) -> list[ThoughtNode]:
    return [node for node in tree.nodes if node.kind in ("step", "answer") and node.step is not None]


def _has_step_children(tree: ThoughtTree, node: ThoughtNode) -> bool:
    return any(tree.nodes[child].kind in ("step", "answer") for child in node.children)


def _correct_answer_below(tree: ThoughtTree, node: ThoughtNode) -> bool:
    below = [tree.nodes[child] for child in node.children]
    return any((child.kind == "answer" and child.correct is True) or _correct_answer_below(tree, child)
               for child in below)


def _shortcut_lines(shortcut: str | None) -> list[tuple[int, str]]:
    lines = []
    for line in (shortcut or "").splitlines():
        match = _SHORTCUT_LINE.match(line)
        if match:
            lines.append((int(match.group(1)), match.group(2)))
        elif lines:
            lines[-1] = (lines[-1][0], lines[-1][1] + "\n" + line)
    return lines


def _narrated_wrong(record: Record, tree: ThoughtTree) -> list[list[ThoughtNode]]:
    """The steps a long thought calls mistakes, as branches. Tree search: its DFS trials (`meta.trial_branches`);
    the loops and annotations: each step marked wrong (backtracked past) or reflected on."""
    if record.attempt == "tree_search":
        return [[tree.nodes[node] for node in branch] for branch in record.meta.get("trial_branches", [])]
    return [[node] for node in _written_steps(tree)
            if node.correct is False or node.action in (Action.BACKTRACK, Action.REFLECT)]


def measure(record: Record, into: Fidelity, steps: bool = True) -> None:
    """Add one record's counts to `into`. `steps=False` for records whose steps no oracle wrote (a person's
    annotations): their steps cannot be compared with the reference, the rest is counted."""
    reference = reference_for(record.problem)
    into.records += 1
    into.correct += record.correct is True
    problem_id = record.problem_id
    if LEAKS.search(record.long_thought):
        into.leaks += 1
        into.note("leaks", problem_id)
    if "rewrite_faithful" in record.meta:
        into.rewrites += 1
        into.rewrites_accepted += record.meta["rewrite_faithful"] is True
        if record.meta["rewrite_faithful"] is not True:
            into.note("rewrite rejected", problem_id)
    if reference is None or not steps:
        into.journeys += record.attempt == "human_annotation" or record.meta.get("backtracks", 0) > 0
        return
    tree = record.tree
    shortcut = _shortcut_lines(record.shortcut)
    on_shortcut_ok = {index for index, text in shortcut if is_reference(reference, index, text)}
    for node in _written_steps(tree):
        if is_reference(reference, node.step.index, node.step.text):
            continue
        into.injected += 1
        flagged = node.correct is False or node.action in (Action.BACKTRACK, Action.REFLECT)
        # A critic may notice an error a few steps later, and a tree search grows a wrong child to its leaf: the
        # error is caught when nothing below it was accepted as a correct final answer.
        caught = flagged and not _correct_answer_below(tree, node)
        if caught and node.step.index in on_shortcut_ok:
            into.caught_and_corrected += 1
        else:
            into.note("caught and corrected", problem_id)
    wrong_lines = sum(not is_reference(reference, index, text) for index, text in shortcut)
    into.wrong_on_shortcut += wrong_lines
    if wrong_lines:
        into.note("wrong steps on a shortcut", problem_id)
    narrated = _narrated_wrong(record, tree)
    misnarrated = _not_really_wrong(record, reference, narrated)
    into.misnarrated += misnarrated
    if misnarrated:
        into.note("misnarrated", problem_id)
    into.journeys += bool(narrated)  # a journey row shows at least one trial and error


def _not_really_wrong(record: Record, reference: Reference, narrated: list[list[ThoughtNode]]) -> int:
    """How many narrated mistakes were not mistakes. A tree-search trial is wrong when it holds a wrong step or
    ends in a wrong answer; a loop or annotation step called wrong must itself not be the reference step."""
    def wrong(branch: list[ThoughtNode]) -> bool:
        if any(not is_reference(reference, node.step.index, node.step.text) for node in branch):
            return True
        # a step after a wrong one, abandoned with it when the critic noticed late, is on a wrong line
        ancestors = [node for node in record.tree.path(branch[0].id)[:-1] if node.step is not None]
        if any(not is_reference(reference, node.step.index, node.step.text) for node in ancestors):
            return True
        return record.attempt == "tree_search" and branch[-1].kind == "answer" and branch[-1].correct is False

    return sum(not wrong(branch) for branch in narrated)


def measure_run(run: Path, problems: int | None = None, steps: bool = True) -> Fidelity:
    """Counts over a run directory's records.jsonl; `problems` is how many were asked for (default: the records)."""
    result = Fidelity()
    for record in read_rows(run, Record):
        measure(record, result, steps)
    result.problems = problems if problems is not None else result.records
    return result


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("eval.fidelity", (), __doc__)  # no flags: only the runs
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (made with the oracle model)")
    (args,) = parse(parser, argv)
    from rich.console import Console
    from rich.table import Table

    console = Console()
    try:
        runs = run_dirs(args.runs)
        # Read every run before printing any: a line that is not a record (another schema_version, garbage) is one
        # line naming file:line, not a traceback after half the tables.
        measured = [(run, measure_run(run)) for run in runs]
    except (OSError, ValueError) as error:  # FileNotFoundError, RowError
        Console(stderr=True, soft_wrap=True).print(f"error: {safe(error)}", style="red", markup=False, highlight=False)
        return 2
    for run, fidelity in measured:
        table = Table("invariant", "value", title=str(run))
        for name, value in fidelity.rows():
            table.add_row(name, value)
        console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
