"""What the page shows beside a record, worked out here so the browser only lays it out: which roles the oracle
played, which tree nodes the long thought narrates (and which wrong ones), the long thought's paragraphs each tied
to the node it tells, and the draft / rewrite / faithfulness of attempts that rewrite.

Narration is read from what the writers recorded: a loop attempt's proposed steps are its policy turns (every one
is told in the long thought, protocols.render), a tree search's narrated wrong branches are `meta.trial_branches`
(synthesis.traverse); any other node counts as narrated when its step text is found in the long thought or the
draft (normalised: case, spacing and a leading "N. " step number do not matter).
"""

from __future__ import annotations

import re
from typing import Any

from protocols.rehearsal import is_oracle_model, row_oracle_roles
from protocols.types import Record, SampleSet, ThoughtNode

_SPACE = re.compile(r"\s+")
_STEP_NUMBER = re.compile(r"^\d+\.\s*")
_PARAGRAPHS = re.compile(r"\n\s*\n")
MIN_MATCH_CHARS = 4  # a step text shorter than this ("So", "x") is found everywhere: never used to link


def _norm(text: str) -> str:
    return _SPACE.sub(" ", _STEP_NUMBER.sub("", text.strip())).lower()


def _steps(record: Record) -> list[ThoughtNode]:
    return [node for node in record.tree.nodes if node.step is not None and len(_norm(node.step.text)) >= MIN_MATCH_CHARS]


def narration(record: Record) -> tuple[list[int], list[int]]:
    """(every node the long thought narrates, the nodes a tree search narrates as a wrong trial), sorted."""
    told = {turn.node_id for turn in record.turns if turn.node_id is not None and turn.action is None
            and turn.role not in ("critic", "judge")}
    as_wrong = {node for branch in record.meta.get("trial_branches") or [] if isinstance(branch, list)
                for node in branch if isinstance(node, int)}
    texts = _norm(record.long_thought) + "\n" + _norm(str(record.meta.get("draft") or ""))
    found = {node.id for node in _steps(record) if _norm(node.step.text) in texts}
    narrated = {node for node in told | as_wrong | found if 0 < node < len(record.tree.nodes)}
    return sorted(narrated), sorted(node for node in as_wrong if 0 < node < len(record.tree.nodes))


def paragraphs(record: Record) -> list[dict[str, Any]]:
    """The long thought's paragraphs, each with the node whose step it tells (None when it tells none)."""
    steps = _steps(record)
    # Narration order first (a loop's turns), so of two nodes with the same text the one told earlier is used first.
    order = {turn.node_id: position for position, turn in enumerate(record.turns) if turn.node_id is not None}
    steps.sort(key=lambda node: (order.get(node.id, len(order)), node.id))
    used: set[int] = set()
    result = []
    for text in _PARAGRAPHS.split(record.long_thought):
        if not text.strip():
            continue
        flat = _norm(text)
        matches = [node for node in steps if _norm(node.step.text) in flat]
        node = None
        if matches:
            longest = max(len(_norm(match.step.text)) for match in matches)
            best = [match for match in matches if len(_norm(match.step.text)) == longest]
            node = next((match for match in best if match.id not in used), best[0])
            used.add(node.id)
        result.append({"text": text, "node": None if node is None else node.id,
                       "correct": None if node is None else node.correct})
    return result


def faithfulness(record: Record) -> dict[str, Any] | None:
    """The draft, its rewrite (tree search) or expansion (annotation), and the check between them; None without."""
    meta = record.meta
    rewrite = meta.get("rewrite")
    if rewrite is None and record.attempt == "human_annotation":
        rewrite = next((turn.content for turn in record.turns if turn.role == "expander"), None)
    draft = meta.get("draft")
    if draft is None and rewrite is None:
        return None
    used = "rewrite" if rewrite and record.long_thought == rewrite else "draft"
    return {"draft": draft, "rewrite": rewrite, "faithful": meta.get("rewrite_faithful"),
            "missing": [str(item) for item in meta.get("rewrite_missing") or []],
            "reason": meta.get("rewrite_reason"), "used": used}


def row_roles(row: Record | SampleSet, run_roles: list[str]) -> list[str]:
    """A row's oracle roles: its own mark, else its run's; a sample set whose model is the oracle says "model"."""
    own = row_oracle_roles(row.meta)
    roles = set(own if own is not None else run_roles)
    if isinstance(row, SampleSet) and is_oracle_model(row.model):
        roles.add("model")
    return sorted(roles)


def view(row: Record | SampleSet, run_roles: list[str]) -> dict[str, Any]:
    """Everything the page shows beside the row itself."""
    result: dict[str, Any] = {"oracle_roles": row_roles(row, run_roles)}
    if isinstance(row, Record):
        narrated, as_wrong = narration(row)
        wrong = {node.id for node in row.tree.nodes if node.correct is False}
        result |= {"narrated": narrated, "narrated_as_wrong": as_wrong,
                   "narrated_wrong": [node for node in narrated if node in wrong],
                   "paragraphs": paragraphs(row), "faithfulness": faithfulness(row)}
    return result
