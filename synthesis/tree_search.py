"""Attempt 1, the baseline: an on-policy reasoning tree pruned by a process reward model.

    python -m synthesis.tree_search --problems math500 --limit 1 --width 2 --depth 2 --beam 2 --scorer rollout --out runs/tree

From the problem (the root) the policy proposes `width` next steps for each frontier node (one request with
n=width), up to `depth` levels or until every leaf has a final answer. Each level keeps a beam of `beam` nodes:
the top scores, or at most `beam` steps a binary judge calls correct. Leaves with a final answer are checked
against the gold answer. The shortcut is the best root-to-correct-leaf path; the long thought is a constrained
DFS over the same tree (synthesis.traverse), optionally rewritten by an LLM (synthesis.rewrite).
Without pruning the last level alone costs width^depth generations; `--dry-run` prints the pruned bound.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from agents.calls.client import LLMClient, derive_seed
from agents.calls.model_role import client_for, model_role
from agents.calls.reasoning import completion_budget
from agents.calls.reply_guard import ReplySettings
from agents.roles.policy import split_step
from agents.roles.reward import SCORERS, StepScorer, make_scorer
from prompts import render
from protocols.answers import aequivalent
from protocols.render import path_text
from protocols.types import Action, Problem, Record, Step, StopReason, ThoughtNode, ThoughtTree, Verdict
from synthesis import engine
from synthesis.episode import check_sampling, looping_replies, truncated_replies, usage_by_role
from synthesis.rewrite import rewrite_draft
from synthesis.traverse import best_leaf, dfs_draft

ATTEMPT = "tree_search"


@dataclass(frozen=True)
class TreeSearchConfig(model_role("policy_", "policy"),
                       model_role("scorer_", "llm-judge scorer", model_help="litellm model of the llm-judge scorer"),
                       model_role("rewrite_", "rewriter", model_help="litellm model that rewrites the DFS draft; 'none' "
                                                                     "keeps the draft"),
                       ReplySettings):
    """Tree shape, models and the long-thought construction."""

    width: int = field(default=3, metadata={"help": "w: candidate next steps per frontier node"})
    depth: int = field(default=10, metadata={"help": "D: maximum number of steps"})
    beam: int = field(default=3, metadata={"help": "K: nodes kept per level by the scorer"})
    scorer: str = field(default="rollout", metadata={"help": f"step scorer: {', '.join(SCORERS)}"})
    prm_model: str | None = field(default=None, metadata={"help": "Hugging Face id or folder of the hf-prm scorer"})
    rollouts: int = field(default=4, metadata={"help": "completions per step for the rollout scorer"})
    policy_temperature: float = field(default=0.8, metadata={"help": "policy sampling temperature"})
    policy_max_tokens: int = field(default=192, metadata={"help": "max tokens of one proposed step"})
    trials_per_node: int = field(default=1, metadata={"help": "off-path explorations per correct-path node in the DFS"})
    resamples: int = field(default=2, metadata={
        "help": "per problem: how many times a level may be sampled again because every candidate was judged wrong"})
    grow_wrong: bool = field(default=True, metadata={
        "help": "grow each judged-wrong child of the chosen path down to its own final answer, so the DFS explores "
                "a wrong branch over several steps before it backtracks (the report's constrained DFS)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sampling(self, ("policy_temperature",), ("policy_max_tokens",))
        for name in ("width", "depth", "beam", "rollouts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        for name in ("trials_per_node", "resamples"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected >= 0, got {getattr(self, name)}")
        if self.scorer not in SCORERS:
            raise ValueError(f"scorer: expected one of {', '.join(SCORERS)}, got {self.scorer!r}")


def estimate_generations(config: TreeSearchConfig) -> tuple[int, int]:
    """(pruned upper bound, unpruned count) of proposed steps for one problem."""
    pruned = config.width + (config.depth - 1) * config.beam * config.width
    unpruned = sum(config.width**level for level in range(1, config.depth + 1))
    return pruned, unpruned


def estimate_calls(problems: int, config: TreeSearchConfig) -> int:
    """Upper bound on model requests: proposals (one per frontier node), one score per step, the resampled rounds
    (at most `resamples` per problem, each at most a full level), one rewrite."""
    pruned, _ = estimate_generations(config)
    frontier_requests = 1 + (config.depth - 1) * config.beam
    scorer_requests = 0 if config.scorer == "hf-prm" else pruned
    per_round = config.beam + (0 if config.scorer == "hf-prm" else config.beam * config.width)
    rewrite = 0 if _no_rewrite(config) else 1
    # each grown wrong branch: at most depth steps, each a proposal and a score
    grown = config.depth * (config.width - 1) * config.depth * 2 if config.grow_wrong else 0
    return problems * (frontier_requests + scorer_requests + config.resamples * per_round + rewrite + grown)


def _no_rewrite(config: TreeSearchConfig) -> bool:
    return config.rewrite_model is None or config.rewrite_model.lower() == "none"


def _texts(tree: ThoughtTree, node: ThoughtNode) -> list[str]:
    return [n.step.text for n in tree.path(node.id) if n.kind in ("step", "answer")]


async def _propose(problem: Problem, tree: ThoughtTree, node: ThoughtNode, config: TreeSearchConfig,
                   policy: LLMClient, seed: int) -> list[str]:
    steps = _texts(tree, node)
    next_index = len(steps) + 1
    messages = [
        {"role": "system", "content": render("tree_search/policy_system", next_index=next_index)},
        {"role": "user", "content": render("tree_search/policy_user", question=problem.question, steps=steps,
                                           next_index=next_index)},
    ]
    # A reasoning policy thinks inside its completion cap: a 192-token step alone would come back empty.
    max_tokens = completion_budget(policy.model, config.policy_max_tokens, config.reasoning_tokens)
    completion = await policy.complete(messages, n=config.width, temperature=config.policy_temperature,
                                       max_tokens=max_tokens, seed=seed * 100_003 + node.id, role="policy")
    return completion.texts


def same_step(a: str, b: str) -> bool:
    """Whether two steps say the same thing in the same words: spacing, case, `$` and LaTeX spacing aside."""
    return _normalised(a) == _normalised(b)


def _normalised(text: str) -> str:
    text = re.sub(r"\\(?:left|right|[,;!: ])|\$|\s+", "", text)
    return text.lower().rstrip(".")


def _add_unique(tree: ThoughtTree, parent: ThoughtNode, text: str, level: int) -> ThoughtNode | None:
    """Add a proposed step under `parent`, or None when a sibling already says the same (merged: a confident
    policy often samples one step twice, and two identical branches would be narrated as two trials)."""
    step_text, answer = split_step(text)
    if any(same_step(tree.nodes[child].step.text, step_text) for child in parent.children
           if tree.nodes[child].step is not None):
        return None
    return tree.add(parent.id, kind="answer" if answer is not None else "step", step=Step(index=level, text=step_text),
                    answer=answer)


def _keep(children: list[ThoughtNode], beam: int, binary: bool) -> list[ThoughtNode]:
    # Identical siblings (a confident policy often samples the same step twice) would grow identical subtrees.
    seen: set[tuple[int | None, str]] = set()
    unique = []
    for child in children:
        key = (child.parent, " ".join(child.step.text.split()))
        if key not in seen:
            seen.add(key)
            unique.append(child)
    if binary:
        return [child for child in unique if child.correct is True][:beam]
    # Stable sort: ties keep generation order, so the beam is deterministic.
    return sorted(unique, key=lambda child: -(child.score or 0.0))[:beam]


async def grow_tree(problem: Problem, config: TreeSearchConfig, policy: LLMClient, scorer: StepScorer,
                    seed: int = 0) -> ThoughtTree:
    """Grow and prune the tree of one problem."""
    tree = ThoughtTree()
    frontier = [tree.root]
    level = 1
    resamples = 0
    while level <= config.depth:
        round_seed = seed if not resamples else derive_seed(seed, problem.id, level, resamples)
        proposals = await asyncio.gather(*(_propose(problem, tree, node, config, policy, round_seed) for node in frontier))
        children: list[ThoughtNode] = []
        for parent, texts in zip(frontier, proposals, strict=True):
            for text in texts:
                child = _add_unique(tree, parent, text, level)
                if child is not None:
                    children.append(child)
        scores = await asyncio.gather(*(scorer.score(problem, _texts(tree, child)) for child in children))
        for child, score in zip(children, scores, strict=True):
            child.score = score.value
            child.correct = score.correct
        answers = [child for child in children if child.kind == "answer"]
        if problem.answer is not None:
            checks = await asyncio.gather(*(aequivalent(problem.answer, child.answer) for child in answers))
            for child, correct in zip(answers, checks, strict=True):
                child.correct = correct
        # The last level is never expanded, so nothing there is "kept": its nodes are dead ends or answers.
        steps = [child for child in children if child.kind == "step"]
        kept = _keep(steps, config.beam, scorer.binary) if level < config.depth else []
        kept_ids = {child.id for child in kept}
        for child, score in zip(children, scores, strict=True):
            # The shared action vocabulary: the search continued from a kept node and abandoned the rest.
            action = Action.CONTINUE if child.id in kept_ids else (Action.TERMINATE if child.kind == "answer" else Action.BACKTRACK)
            child.action = action
            # `reason` may enter a long thought, so it holds only an explanation of a mistake the node really made;
            # an approving reason, or one the answer check contradicts, and all bookkeeping stay in `raw`.
            negative = score.reason if score.correct is False and child.correct is False else ""
            child.verdict = Verdict(action=action, reason=negative, raw=" ".join(filter(None, (score.reason, score.note))))
        if all(child.correct is False for child in children) and resamples < config.resamples:
            # Every candidate was judged wrong (w wrong samples at level 1 are common): sample the level again
            # rather than end the search; the rejected candidates stay in the tree as known-wrong trials.
            resamples += 1
            continue
        frontier, level = kept, level + 1
        if not frontier:
            break
    return tree


async def _label(problem: Problem, tree: ThoughtTree, child: ThoughtNode, scorer: StepScorer) -> None:
    score = await scorer.score(problem, _texts(tree, child))
    child.score, child.correct = score.value, score.correct
    if child.kind == "answer" and problem.answer is not None:
        child.correct = await aequivalent(problem.answer, child.answer)
    negative = score.reason if score.correct is False and child.correct is False else ""
    action = Action.TERMINATE if child.kind == "answer" else Action.CONTINUE
    child.action = action
    child.verdict = Verdict(action=action, reason=negative, raw=" ".join(filter(None, (score.reason, score.note))))


async def grow_wrong_branches(problem: Problem, tree: ThoughtTree, leaf: ThoughtNode, config: TreeSearchConfig,
                              policy: LLMClient, scorer: StepScorer, seed: int = 0) -> int:
    """Continue every judged-wrong, unexpanded child of the path to `leaf` one sample at a time down to a final
    answer (or the depth limit): the policy's own continuation of its mistake, labelled like any node. Returns
    the number of steps grown."""
    path = tree.path(leaf.id)
    on_path = {node.id for node in path}
    starts = [tree.nodes[child] for node in path[:-1] for child in node.children
              if child not in on_path and tree.nodes[child].kind == "step" and tree.nodes[child].correct is False
              and not tree.nodes[child].children]

    async def grow(node: ThoughtNode) -> int:
        grown = 0
        while node.kind == "step" and node.step.index < config.depth:
            texts = await _propose(problem, tree, node, replace(config, width=1), policy,
                                   derive_seed(seed, problem.id, "grow", node.id))
            child = _add_unique(tree, node, texts[0], node.step.index + 1) if texts else None
            if child is None:
                break
            await _label(problem, tree, child, scorer)
            node, grown = child, grown + 1
        return grown

    return sum(await asyncio.gather(*(grow(start) for start in starts)))


ScorerFactory = Callable[[dict[str, LLMClient]], StepScorer]


async def run_tree_search(problem: Problem, config: TreeSearchConfig, clients: dict[str, LLMClient],
                          scorer_for: ScorerFactory, seed: int = 0) -> Record:
    """Grow the tree of one problem and derive its shortcut and long thought."""
    scoped = {role: client.scoped() for role, client in clients.items()}
    try:
        return await _search(problem, config, scoped, scorer_for, seed)
    except Exception:
        for client in scoped.values():  # a retry must ask the models again, not replay what broke this one
            client.discard_cached()
        raise


async def _search(problem: Problem, config: TreeSearchConfig, scoped: dict[str, LLMClient],
                  scorer_for: ScorerFactory, seed: int) -> Record:
    scorer = scorer_for(scoped)  # LLM-backed scorers count their usage in this problem's record
    tree = await grow_tree(problem, config, scoped["policy"], scorer, seed)
    meta: dict = {"width": config.width, "depth": config.depth, "beam": config.beam, "scorer": config.scorer,
                  "nodes": tree.count_nodes(), "trials_per_node": config.trials_per_node, "seed": seed}
    leaf = best_leaf(tree)
    if leaf is None:
        return _record(problem, tree, scoped, None, "", None, StopReason.NO_STEPS, meta)
    if config.grow_wrong and leaf.correct is True:
        meta["wrong_steps_grown"] = await grow_wrong_branches(problem, tree, leaf, config, scoped["policy"], scorer,
                                                              seed)
        meta["nodes"] = tree.count_nodes()
    draft = dfs_draft(tree, leaf, trials_per_node=config.trials_per_node, seed=seed)
    meta |= {"draft": draft.text, "trials": sum(draft.trials.values()), "nodes_without_trial": draft.no_trial,
             "trial_branches": draft.branches}
    long_thought = draft.text
    if leaf.correct is not True:
        # A failed search still yields its journey (for analysis), but no shortcut and no paid rewrite.
        return _record(problem, tree, scoped, None, long_thought, None, StopReason.NO_CORRECT_LEAF, meta)
    if "rewriter" in scoped:
        rewriter = scoped["rewriter"]
        rewrite = await rewrite_draft(rewriter, problem.question, draft.text, draft.anchored_texts(tree),
                                      final_answer=leaf.answer,
                                      max_tokens=completion_budget(rewriter.model, 2048, config.reasoning_tokens))
        meta |= {"rewrite": rewrite.text, "rewrite_faithful": rewrite.faithful, "rewrite_missing": rewrite.missing}
        if rewrite.faithful:
            long_thought = rewrite.text
    return _record(problem, tree, scoped, path_text(tree, leaf), long_thought, leaf, StopReason.CORRECT_LEAF_FOUND,
                   meta)


def _record(problem, tree, clients, shortcut, long_thought, leaf, stop_reason: StopReason, meta) -> Record:
    return Record(
        problem_id=problem.id, attempt=ATTEMPT, problem=problem, tree=tree, shortcut=shortcut,
        long_thought=long_thought, final_answer=leaf.answer if leaf else None,
        correct=(leaf is not None) if problem.answer is not None else None, stop_reason=stop_reason,
        usage=usage_by_role(clients),
        meta=meta | {"truncated_replies": truncated_replies(clients), "looping_replies": looping_replies(clients)},
    )


def scorer_factory(config: TreeSearchConfig) -> ScorerFactory:
    """Per-problem scorers over the problem's scoped clients; one shared HF model, loaded once."""
    if config.scorer == "hf-prm":
        shared = make_scorer("hf-prm", hf_model=config.prm_model)
        return lambda clients: shared
    return lambda clients: make_scorer(config.scorer, judge=clients.get("scorer"), policy=clients.get("scorer"),
                                       rollouts=config.rollouts, reasoning_tokens=config.reasoning_tokens,
                                       reply_guard=config.reply_guard)


def make_clients(config: TreeSearchConfig, llm_kwargs: dict) -> dict[str, LLMClient]:
    clients = {"policy": client_for(config, "policy_", llm_kwargs)}
    if config.scorer == "llm-judge":
        clients["scorer"] = client_for(config, "scorer_", llm_kwargs)
    elif config.scorer == "rollout":  # rollouts are the policy's own completions: its server and key
        clients["scorer"] = client_for(config, "policy_", llm_kwargs)
    if not _no_rewrite(config):
        clients["rewriter"] = client_for(config, "rewrite_", llm_kwargs)
    return clients


def make_solver(config: TreeSearchConfig, clients: dict[str, LLMClient], seed: int):
    return lambda problem: run_tree_search(problem, config, clients, scorer_factory(config), seed=seed)


TASK = engine.Task(ATTEMPT, TreeSearchConfig, make_clients, make_solver, estimate_calls,
                   prompt_folders=("tree_search",))


def main(argv: list[str] | None = None) -> int:
    return engine.main(TASK, argv, doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())
