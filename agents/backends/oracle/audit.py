"""What an oracle record's journey holds, measured against the error model (for bench/fidelity.py).

For every record: its injected errors (a step node that is the first wrong step of its path), whether each is
wrong BY VALUE (checked again here, independently of how it was made: a computation in the step whose value
differs from the reference step's, and a propagated final answer that is not the gold one), how many later steps
carry it, which backtracks name a step earlier than the newest, the depth of each tree-search wrong branch, any
sentence that leaks the gold answer ("the answer 8 is not correct"), and what the prose checks find in the text a
rewriter or expander wrote (LaTeX outside its delimiters, doubled words, stutters, more than one final answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agents.backends.oracle.arith import close, sides
from agents.backends.oracle.reference import first_wrong, reference_for
from agents.backends.oracle.roles import Behaviour, Oracle
from protocols.answers import last_boxed
from protocols.prose_checks import check_prose, final_statements
from protocols.types import Action, Record

LEAK = re.compile(r"\banswer\s+\S+\s+is\s+not\s+correct|\bcorrect\s+(?:final\s+)?answer\b|\bgold\s+answer\b|"
                  r"\breference\s+(?:solution|answer)", re.IGNORECASE)


@dataclass
class JourneyAudit:
    errors: int = 0
    verified: int = 0  # wrong by value
    propagated: int = 0  # carried on over >= 2 later steps in the tree
    backtracks: int = 0
    earlier_backtracks: int = 0
    branch_depths: list[int] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    latex_outside: list[str] = field(default_factory=list)
    stutters: list[str] = field(default_factory=list)
    repeated_finals: int = 0  # texts that call more than one answer final


def prose_text(record: Record) -> str:
    """The text a rewriter or expander wrote for a record (its rewrite, kept even when rejected), else the long
    thought."""
    return record.meta.get("rewrite") or (record.turns[-1].content if record.attempt == "human_annotation"
                                          and record.turns and record.turns[-1].role == "expander"
                                          else record.long_thought or "")


def audit_prose(record: Record, into: JourneyAudit | None = None) -> JourneyAudit:
    """The prose checks (protocols.prose_checks) of a record's rewrite, expansion or long thought."""
    found = into or JourneyAudit()
    text = prose_text(record)
    issues = check_prose(text, record.problem.question)
    found.doubled, found.latex_outside, found.stutters = issues.doubled, issues.latex_outside, issues.stutters
    found.repeated_finals = int(final_statements(text) > 1)
    return found


def _values(text: str) -> list:
    return [side.value for chain in sides(text) for side in chain if side.value is not None]


def _wrong_by_value(text: str, expected: str) -> bool:
    """Some computation in `text` states a value the reference step does not, or a chain whose sides disagree."""
    ours, theirs = _values(text), _values(expected)
    for chain in sides(text):
        trusted = [side.value for side in chain if side.value is not None]
        if any(not close(trusted[0], value) for value in trusted[1:]):
            return True
    # the values the step states, in order (`48/8 = 6` for `48/6 = 8` states the same numbers, in another order)
    return len(ours) != len(theirs) or any(not close(a, b) for a, b in zip(ours, theirs))


def _chain_below(record: Record, node_id: int) -> int:
    children = [child for child in record.tree.nodes[node_id].children
                if record.tree.nodes[child].kind in ("step", "answer")]
    return max((1 + _chain_below(record, child) for child in children), default=0)


def audit(record: Record) -> JourneyAudit:
    """The journey figures of one record (an oracle policy's; a record without a reference gives zeros)."""
    found = JourneyAudit()
    reference = reference_for(record.problem)
    texts = [record.long_thought or ""]
    found.leaks = [match.group(0) for text in texts for match in LEAK.finditer(text)]
    audit_prose(record, found)
    if reference is None:
        return found
    oracle = Oracle(reference, Behaviour(), 0)
    tree = record.tree
    for node in tree.nodes:
        if node.kind not in ("step", "answer") or node.step is None:
            continue
        path = [n.step.text for n in tree.path(node.id) if n.kind in ("step", "answer")]
        if first_wrong(reference, path) != len(path) or len(path) > len(reference):
            continue
        found.errors += 1
        injection = oracle.line(path)
        expected = reference.step(len(path))
        from agents.backends.oracle.errors import _answers_differ

        # the step states a different value, or its own final answer differs (the answer checker decides) ...
        stated = node.answer or last_boxed(node.step.text)
        by_value = _wrong_by_value(node.step.text, expected) or (
            stated is not None and _answers_differ(reference.answer, stated))
        if injection is not None:  # ... and the line it starts ends on a wrong final answer
            by_value = by_value and _answers_differ(reference.answer, injection.answer)
        found.verified += by_value
        found.propagated += _chain_below(record, node.id) >= 2
    for turn in record.turns:
        if turn.action is Action.BACKTRACK and turn.node_id is not None:
            judged = tree.nodes[turn.node_id]
            target = judged.verdict.backtrack_to if judged.verdict else None
            found.backtracks += 1
            found.earlier_backtracks += target is not None and target < judged.step.index
    found.branch_depths = [len(branch) for branch in record.meta.get("trial_branches", [])]
    return found
