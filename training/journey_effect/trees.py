"""On-policy trees: the model proposes each step, the exact verifier labels it, wrong children grow to a leaf.

As in the report's tree search with a process reward model, the search extends only the correct path; here the
reward model is the exact verifier of `protocols.arithmetic`, and every distinct wrong child the policy proposed
is continued by the policy itself (greedy) down to its last step, so a journey can explore a wrong branch over
several steps before it comes back. Fallbacks, each counted in the tree: a depth where no sampled child was correct
takes the reference step; a tree where the model made no mistake at all gets one injected arithmetic slip whose
consequences are propagated through the later steps (the kind of error [t3 1/5] gives the oracle).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from protocols import arithmetic
from protocols.arithmetic import STEP_RE, Chain
from training.journey_effect import model as lmod


@dataclass
class WrongBranch:
    at: int  # the step index of the first (verifier-labelled) wrong step
    lines: list[str]  # the wrong step, then the policy's own continuation, step lines only
    reason: str  # the verifier's reason for the first wrong step
    leaf: int | None  # the value the branch ends on
    injected: bool = False


@dataclass
class Tree:
    id: str
    question: str
    answer: int
    path: list[str]  # the correct steps, root to leaf
    wrong: list[WrongBranch] = field(default_factory=list)
    sampled: int = 0  # children proposed by the policy
    fallback_steps: int = 0  # depths with no correct sampled child (reference step used)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict) -> "Tree":
        return cls(**{**row, "wrong": [WrongBranch(**branch) for branch in row["wrong"]]})


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip()


def _step_lines(text: str, first_index: int) -> list[str]:
    """The leading run of well-formed, consecutively numbered step lines of a continuation."""
    lines = []
    for raw in text.split("\n"):
        match = STEP_RE.match(raw)
        if not match or int(match[1]) != first_index + len(lines):
            break
        lines.append(raw.strip())
    return lines


def grow(lm: lmod.LM, problems: list[tuple[str, Chain]], samples: int, temperature: float, seed: int,
         max_wrong_per_step: int = 2, log=print) -> list[Tree]:
    """One tree per problem, all problems advanced together one depth at a time (one batched call per depth)."""
    trees = [Tree(pid, chain.question(), chain.answer(), []) for pid, chain in problems]
    chains = [chain for _, chain in problems]
    heads = [lmod.prompt(lm, chain.question()) for chain in chains]
    depth_max = max(len(chain.ops) for chain in chains)
    pending: list[tuple[int, WrongBranch, str]] = []  # (tree, branch, prefix to continue from)
    for depth in range(1, depth_max + 1):
        active = [i for i, chain in enumerate(chains) if len(chain.ops) >= depth]
        prefixes = [heads[i] + "".join(line + "\n" for line in trees[i].path) for i in active]
        replies = lmod.generate(lm, [p for p in prefixes for _ in range(samples)], max_new_tokens=32,
                                temperature=temperature, seed=seed * 1000 + depth)
        for slot, i in enumerate(active):
            chain, tree = chains[i], trees[i]
            previous = chain.values()[depth - 1]
            seen: set[str] = set()
            correct_line = None
            wrong_here = 0
            for reply, _ in replies[slot * samples:(slot + 1) * samples]:
                line = _first_line(reply)
                tree.sampled += 1
                normal = " ".join(line.split())
                if normal in seen:  # duplicate siblings are one child
                    continue
                seen.add(normal)
                verdict = arithmetic.check_step(chain, depth, line, previous)
                if verdict.correct:
                    correct_line = correct_line or line
                elif verdict.value is not None and STEP_RE.match(line) and wrong_here < max_wrong_per_step:
                    # Only well-formed wrong steps are trials worth learning from; junk lines are dropped.
                    branch = WrongBranch(at=depth, lines=[line], reason=verdict.reason, leaf=verdict.value)
                    tree.wrong.append(branch)
                    wrong_here += 1
                    if depth < len(chain.ops):
                        pending.append((i, branch, prefixes[slot] + line + "\n"))
            if correct_line is None:
                correct_line = chain.steps()[depth - 1]
                tree.fallback_steps += 1
            tree.path.append(correct_line)
        log(f"  depth {depth}: {len(active)} problems, {sum(len(t.wrong) for t in trees)} wrong branches so far")
    if pending:
        continuations = lmod.generate(lm, [prefix for _, _, prefix in pending], max_new_tokens=40 * 4, seed=seed)
        for (i, branch, _), (text, _) in zip(pending, continuations):
            more = _step_lines(text, branch.at + 1)[: len(chains[i].ops) - branch.at]
            branch.lines.extend(more)
            if more:
                branch.leaf = int(STEP_RE.match(more[-1])[5])
    rng = random.Random(seed)
    for tree, chain in zip(trees, chains):
        if not tree.wrong:
            tree.wrong.append(inject_slip(chain, rng))
    return trees


def inject_slip(chain: Chain, rng: random.Random) -> WrongBranch:
    """An arithmetic slip at one step, carried consistently through every later step (checked wrong by value)."""
    values = chain.values()
    for _ in range(100):
        at = rng.randrange(1, len(chain.ops) + 1)
        slip = values[at] + rng.choice([-10, -2, -1, 1, 2, 10])
        if slip <= 0 or slip == values[at]:
            continue
        op, b = chain.ops[at - 1]
        lines = [arithmetic.step_line(at, values[at - 1], op, b, slip)]
        value = slip
        try:
            for index in range(at + 1, len(chain.ops) + 1):
                op, b = chain.ops[index - 1]
                new = arithmetic.apply(value, op, b)
                lines.append(arithmetic.step_line(index, value, op, b, new))
                value = new
        except ValueError:  # the slip made a later division inexact: try another
            continue
        first_op, first_b = chain.ops[at - 1]
        reason = f"{values[at - 1]} {first_op} {first_b} is {values[at]}, not {slip}"
        return WrongBranch(at=at, lines=lines, reason=reason, leaf=value, injected=True)
    raise ValueError(f"no slip could be injected into {chain.key}")
