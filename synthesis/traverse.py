"""From a scored reasoning tree to the matched pair: the shortcut and a trial-and-error long thought.

The long thought follows the report's constrained DFS. Walking the correct path from the root, each node on
it may first explore up to `trials_per_node` off-path children; an off-path exploration descends by one random
child per level until a leaf (a wrong end), says why it is wrong, and backtracks to the correct path. Off-path
children whose subtree holds a correct leaf are never explored (they would not be wrong). Seeded: the same tree
and seed always give the same draft. The draft ends by restating the full shortcut.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from protocols.render import path_text
from protocols.types import ThoughtNode, ThoughtTree

EventKind = Literal["step", "wrong", "backtrack", "summary"]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    node: int
    text: str


@dataclass
class Draft:
    """The DFS long thought as events and as text."""

    events: list[Event] = field(default_factory=list)
    trials: dict[int, int] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(event.text for event in self.events)

    def steps_in_order(self) -> list[int]:
        return [event.node for event in self.events if event.kind == "step"]


def _is_step(node: ThoughtNode) -> bool:
    return node.kind in ("step", "answer")


def correct_leaves(tree: ThoughtTree) -> list[ThoughtNode]:
    return [node for node in tree.nodes if node.kind == "answer" and node.correct is True]


def shortcut_steps(tree: ThoughtTree, leaf: ThoughtNode) -> list[ThoughtNode]:
    return [node for node in tree.path(leaf.id) if _is_step(node)]


def shortcut_text(tree: ThoughtTree, leaf: ThoughtNode) -> str:
    return path_text(tree, leaf)


def _mean_score(tree: ThoughtTree, leaf: ThoughtNode) -> float:
    scores = [node.score for node in shortcut_steps(tree, leaf) if node.score is not None]
    return sum(scores) / len(scores) if scores else 0.0


def best_correct_leaf(tree: ThoughtTree) -> ThoughtNode | None:
    """The correct leaf whose path scored best on average (first found on ties)."""
    leaves = correct_leaves(tree)
    return max(leaves, key=lambda leaf: _mean_score(tree, leaf)) if leaves else None


def best_leaf(tree: ThoughtTree) -> ThoughtNode | None:
    """The best correct leaf, else the deepest-reaching leaf with the best path score (for a failed search)."""
    leaf = best_correct_leaf(tree)
    if leaf is not None or len(tree.nodes) == 1:
        return leaf
    return max(tree.leaves(), key=lambda node: (_mean_score(tree, node), tree.depth(node.id)))


def _holds_correct_leaf(tree: ThoughtTree, node_id: int) -> bool:
    node = tree.nodes[node_id]
    if node.kind == "answer" and node.correct is True:
        return True
    return any(_holds_correct_leaf(tree, child) for child in node.children)


def _why_wrong(tree: ThoughtTree, branch: list[ThoughtNode]) -> str:
    # The most specific reason: a judge's negative verdict on the branch, else the wrong final answer.
    for node in branch:
        if node.correct is False and node.verdict is not None and node.verdict.reason:
            return f"Step {node.step.index} is wrong: {node.verdict.reason.strip()}"
    leaf = branch[-1]
    if leaf.kind == "answer" and leaf.answer is not None:
        return f"But {leaf.answer} is not the right answer, so this line of reasoning is wrong."
    return "This line of reasoning leads nowhere."


def dfs_draft(tree: ThoughtTree, leaf: ThoughtNode, trials_per_node: int = 1, seed: int = 0) -> Draft:
    """The constrained-DFS long thought that ends on `leaf` (a correct answer, or the best attempt of a failed search)."""
    rng = random.Random(seed)
    path = tree.path(leaf.id)
    draft = Draft()
    for position, node in enumerate(path[:-1]):
        on_path = path[position + 1]
        off_path = [child for child in node.children
                    if child != on_path.id and _is_step(tree.nodes[child]) and not _holds_correct_leaf(tree, child)]
        chosen = rng.sample(off_path, min(trials_per_node, len(off_path)))
        draft.trials[node.id] = len(chosen)
        for child in chosen:
            branch = [tree.nodes[child]]
            while True:
                below = [c for c in branch[-1].children if _is_step(tree.nodes[c])]
                if not below:
                    break
                branch.append(tree.nodes[rng.choice(below)])
            for step in branch:
                draft.events.append(Event("step", step.id, f"{step.step.index}. {step.step.text.strip()}"))
            draft.events.append(Event("wrong", branch[-1].id, _why_wrong(tree, branch)))
            back = "Let me start over." if node.id == 0 else f"Let me go back to step {node.step.index}."
            draft.events.append(Event("backtrack", node.id, back))
        draft.events.append(Event("step", on_path.id, f"{on_path.step.index}. {on_path.step.text.strip()}"))
    closing = "So the solution is:\n" if leaf.correct is True else "I have not found a correct solution; my best attempt is:\n"
    draft.events.append(Event("summary", leaf.id, closing + shortcut_text(tree, leaf)))
    return draft
