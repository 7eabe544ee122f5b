"""From a scored reasoning tree to the matched pair: the shortcut and a trial-and-error long thought.

The long thought follows the report's constrained DFS. Walking the correct path from the root, each node on
it may first explore up to `trials_per_node` off-path children, and only children *known* to be wrong: a step a
judge called incorrect, or a subtree whose every leaf is a wrong final answer. A step the beam merely pruned, or
one a scalar scorer never expanded, was never shown wrong, so narrating it as a mistake would teach a false
lesson; a path node without a known-wrong child gets no trial (counted in `Draft.no_trial`). An exploration
descends by one random child per level to a wrong end, says why it is wrong in the solver's words (a judge's
negative reason, else a neutral sentence about the wrong answer; never scorer bookkeeping), and backtracks.
A wrong child that the search grew down to its own wrong final answer (synthesis.tree_search grows them) is
explored over several steps, as the report's DFS does. The sentences our code writes (going back, starting over)
are drawn from small seeded banks (`DRAFT_SENTENCES`; eval/template_split.py keeps a copy to count them as
template), and the draft ends on the one final answer, never on a restated shortcut.
Seeded: the same tree and seed always give the same draft.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from protocols.types import ThoughtNode, ThoughtTree
from protocols.voice import first_person

EventKind = Literal["step", "wrong", "backtrack", "summary"]

# What the DFS itself writes ({n}: a step number; {}: a final answer). eval/template_split.py's DRAFT_PHRASES must
# hold every one of these (a test checks), so the report counts them as ours, not the model's.
START_OVER = ("Let me start over.", "I'll start again from the beginning.", "Back to the beginning, then.")
GO_BACK = ("Let me go back to step {n} and redo it.", "So step {n} has to be redone.",
           "I'll return to step {n} and take another route.", "Back to step {n}, then.",
           "That means step {n} needs a different approach.")
WRONG_END = ("But {} does not check out, so this line of reasoning is wrong.", "This line of reasoning cannot be right.")
CLOSING = ("So the final answer is $\\boxed{{}}$.", "I have not found an answer that checks out.")
DRAFT_SENTENCES = (*START_OVER, *GO_BACK, *WRONG_END, *CLOSING)


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
    no_trial: int = 0  # path nodes with no known-wrong child to explore
    branches: list[list[int]] = field(default_factory=list)  # the node ids of each trial narrated as wrong

    def anchored_texts(self, tree: ThoughtTree) -> list[str]:
        """What a rewrite must keep, in order: every step's text, every reason a branch is wrong, and the closing
        sentence when there is one."""
        return [tree.nodes[event.node].step.text if event.kind == "step" else event.text
                for event in self.events if event.kind in ("step", "wrong", "summary")]

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


def judged_wrong(node: ThoughtNode) -> bool:
    """A step some judge (or the answer check) called incorrect."""
    return node.correct is False


def _step_children(tree: ThoughtTree, node: ThoughtNode) -> list[ThoughtNode]:
    return [tree.nodes[child] for child in node.children if _is_step(tree.nodes[child])]


def all_leaves_wrong(tree: ThoughtTree, node: ThoughtNode) -> bool:
    """Every leaf under `node` (itself, if it is one) is a final answer known to be wrong."""
    below = _step_children(tree, node)
    if not below:
        return node.kind == "answer" and node.correct is False
    return all(all_leaves_wrong(tree, child) for child in below)


def known_wrong(tree: ThoughtTree, node: ThoughtNode) -> bool:
    """Whether narrating `node` as a mistake is true: judged incorrect, or every way on from it ends wrong."""
    return judged_wrong(node) or all_leaves_wrong(tree, node)


def _negative_reason(node: ThoughtNode) -> str | None:
    # Only a judge's *negative* verdict explains a mistake; an approving reason or a score never does.
    if node.correct is False and node.verdict is not None and node.verdict.reason.strip():
        reason = first_person(node.verdict.reason.strip())
        return reason if reason[-1:] in ".!?" else reason + "."
    return None


def _why_wrong(branch: list[ThoughtNode]) -> str:
    for node in branch:
        reason = _negative_reason(node)
        if reason is not None:
            return reason
    leaf = branch[-1]
    if leaf.kind == "answer" and leaf.answer is not None:
        return WRONG_END[0].replace("{}", leaf.answer)
    return WRONG_END[1]


def _branch(tree: ThoughtTree, start: ThoughtNode, rng: random.Random) -> list[ThoughtNode]:
    """From a known-wrong child down to a wrong end. Inside an all-wrong subtree any child leads to a wrong final
    answer; a judged-wrong step outside one ends the branch at once (what grew under it was never shown wrong)."""
    branch = [start]
    while True:
        below = [child for child in _step_children(tree, branch[-1]) if all_leaves_wrong(tree, child)]
        if not below or not all_leaves_wrong(tree, branch[0]):
            return branch
        branch.append(rng.choice(below))


def dfs_draft(tree: ThoughtTree, leaf: ThoughtNode, trials_per_node: int = 1, seed: int = 0) -> Draft:
    """The constrained-DFS long thought that ends on `leaf` (a correct answer, or the best attempt of a failed search)."""
    rng = random.Random(seed)
    path = tree.path(leaf.id)
    draft = Draft()
    for position, node in enumerate(path[:-1]):
        on_path = path[position + 1]
        off_path = [child.id for child in _step_children(tree, node) if child.id != on_path.id and known_wrong(tree, child)]
        chosen = rng.sample(off_path, min(trials_per_node, len(off_path)))
        draft.trials[node.id] = len(chosen)
        draft.no_trial += not off_path
        for child in chosen:
            branch = _branch(tree, tree.nodes[child], rng)
            draft.branches.append([step.id for step in branch])
            for step in branch:
                draft.events.append(Event("step", step.id, f"{step.step.index}. {step.step.text.strip()}"))
            draft.events.append(Event("wrong", branch[-1].id, _why_wrong(branch)))
            # "Go back to step N and redo it": N is the first wrong step, as in the debate's backtrack.
            back = rng.choice(START_OVER) if node.id == 0 else rng.choice(GO_BACK).format(n=on_path.step.index)
            draft.events.append(Event("backtrack", node.id, back))
        draft.events.append(Event("step", on_path.id, f"{on_path.step.index}. {on_path.step.text.strip()}"))
    # One final answer, said once: the last step usually states it already; the shortcut is not restated.
    if leaf.correct is not True:
        draft.events.append(Event("summary", leaf.id, CLOSING[1]))
    elif leaf.answer is not None and "\\boxed" not in leaf.step.text:
        draft.events.append(Event("summary", leaf.id, CLOSING[0].replace("{}", leaf.answer)))
    return draft
