"""Arms rendered from the same trees: shortcut, journey with trial budget K, and shortcut/journey mixes.

Shortcut: the correct path. Journey (the report's constrained DFS, trial budget K): the path, with up to K of the
tree's wrong branches explored before the correct step they replace — each followed to its last step, then a check
that recomputes the first wrong step in the solver's voice and goes back to it. One final answer. The branches a
journey takes are the first K of one seeded order per tree, so K=1 ⊂ K=2 ⊂ K=4. A mix gives each problem one
seeded draw u and uses the K=2 journey where u < share, so the 25/50/75% mixes are nested too.
"""

from __future__ import annotations

import random

from training.journey_effect.trees import Tree, WrongBranch

MIX_K = 2  # the journey a mix uses: the main journey arm's budget


def shortcut(tree: Tree) -> str:
    return "\n".join(tree.path + [f"Answer: {tree.answer}"])


def chosen_branches(tree: Tree, k: int) -> list[WrongBranch]:
    order = list(range(len(tree.wrong)))
    random.Random(f"branches/{tree.id}").shuffle(order)
    return [tree.wrong[i] for i in sorted(order[:k], key=lambda i: (tree.wrong[i].at, i))]


def check_line(branch: WrongBranch) -> str:
    return f"Check step {branch.at}: {branch.reason}. Back to step {branch.at}."


def journey(tree: Tree, k: int) -> str:
    branches = chosen_branches(tree, k)
    lines: list[str] = []
    for index, step in enumerate(tree.path, start=1):
        for branch in (b for b in branches if b.at == index):
            lines.extend(branch.lines)
            lines.append(check_line(branch))
        lines.append(step)
    return "\n".join(lines + [f"Answer: {tree.answer}"])


def mix_draw(tree: Tree) -> float:
    return random.Random(f"mix/{tree.id}").random()


def arm_texts(trees: list[Tree], arm: str) -> list[tuple[str, str, int]]:
    """(question, solution, wrong branches used) per tree for an arm name: shortcut, journey-k<K>, mixed-<pct>."""
    out = []
    for tree in trees:
        if arm == "shortcut":
            text, used = shortcut(tree), 0
        elif arm.startswith("journey-k"):
            k = int(arm.removeprefix("journey-k"))
            text, used = journey(tree, k), len(chosen_branches(tree, k))
        elif arm.startswith("mixed-"):
            share = int(arm.removeprefix("mixed-")) / 100
            use = mix_draw(tree) < share
            text = journey(tree, MIX_K) if use else shortcut(tree)
            used = len(chosen_branches(tree, MIX_K)) if use else 0
        else:
            raise ValueError(f"unknown arm {arm!r}: use shortcut, journey-k<K> or mixed-<percent>")
        out.append((tree.question, text, used))
    return out
