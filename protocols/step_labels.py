"""Each step's truth, and who said so, read back from a record: the labels a process reward model trains on.

A step is `correct`, `wrong` or `unknown`, and its label names its source:
- `answer_check`: an answer step, checked against the reference answer (protocols.answers);
- `critic` (debate) / `self_critic` (critique loop): a step the judge let stand (continue) is correct, one it
  backtracked past or reflected on is wrong (protocols.loop marks every step from the first wrong one);
- `judge` / `prm` / `rollout`: tree search's scorer (`meta.scorer`): an LLM judge's verdict; a PRM's score >= 0.5;
  a rollout share > 0 (Math-Shepherd's "hard estimation": a step is good when any completion from it reaches the
  gold answer; Wang et al. 2024, "Math-Shepherd", section 3.3);
- `annotator`: a person's annotation;
- `oracle`: any of the judgements above when the oracle played the judging role (rehearsal data says what it is).
`prm_paths` turns a tree into one line of reasoning per leaf, with its labels, in TRL's stepwise-supervision shape;
`shepherd` renders one in the Math-Shepherd tag format that agents.roles.reward's `hf-prm` scorer reads.
"""

from __future__ import annotations

from typing import Any

from protocols.types import Action, Record, ThoughtNode

STEP_TAG, GOOD, BAD = "ки", "+", "-"
_SCORERS = {"llm-judge": "judge", "hf-prm": "prm", "rollout": "rollout"}
# The record role whose judgement labels a step, per attempt: the oracle in that role makes it an oracle label.
_JUDGE_ROLE = {"debate": "critic", "critique_loop": "policy", "tree_search": "scorer"}


def _is_step(node: ThoughtNode) -> bool:
    return node.kind in ("step", "answer") and node.step is not None


def _judged(record: Record, node: ThoughtNode) -> tuple[bool | None, str]:
    tree = record.tree
    if record.attempt == "human_annotation":
        return node.correct, "annotator"
    if record.attempt == "tree_search":
        scorer = str(record.meta.get("scorer", ""))
        if node.correct is not None or node.score is None:
            return node.correct, _SCORERS.get(scorer, "judge")
        if scorer == "rollout":
            return node.score > 0, "rollout"
        return (node.score >= 0.5, "prm") if scorer == "hf-prm" else (None, _SCORERS.get(scorer, "judge"))
    source = "critic" if record.attempt == "debate" else "self_critic"
    reflected = any(tree.nodes[child].kind == "reflection" for child in node.children)
    if node.correct is not None:
        return node.correct, source
    if reflected or node.action in (Action.BACKTRACK, Action.REFLECT):
        return False, source  # a step reflected on and revised is wrong
    return (True, source) if node.action is Action.CONTINUE else (None, source)


def label(record: Record, node: ThoughtNode, oracle_roles: list[str] | None = None) -> tuple[bool | None, str | None]:
    """(truth, who said so) of one step node; (None, None) when nobody said."""
    roles = record.meta.get("oracle_roles") if oracle_roles is None else oracle_roles
    if node.kind == "answer" and node.correct is not None and record.problem.answer is not None \
            and record.attempt != "human_annotation":
        return node.correct, "answer_check"
    truth, source = _judged(record, node)
    if truth is None:
        return None, None
    if _JUDGE_ROLE.get(record.attempt) in (roles or []):
        source = "oracle"
    return truth, source


def step_labels(record: Record, oracle_roles: list[str] | None = None) -> list[dict[str, Any]]:
    """Every step of the tree with its label (correct / wrong / unknown), who said so, and its score."""
    result = []
    for node in record.tree.nodes:
        if _is_step(node):
            truth, source = label(record, node, oracle_roles)
            result.append({"node": node.id, "parent": node.parent, "index": node.step.index, "kind": node.kind,
                           "label": {True: "correct", False: "wrong", None: "unknown"}[truth], "by": source,
                           "score": node.score})
    return result


def prm_paths(record: Record, oracle_roles: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per line of reasoning (root to a leaf step) in TRL's stepwise-supervision shape: `prompt`, the steps
    as `completions`, one boolean per step as `labels`, and `sources`. A line is cut before its first unlabelled
    step (a PRM must not learn a guess); a line with no labelled step gives no row."""
    tree = record.tree
    rows = []
    for node in tree.nodes:
        if not _is_step(node) or any(_is_step(tree.nodes[child]) for child in node.children):
            continue
        steps, labels, sources = [], [], []
        for step in (n for n in tree.path(node.id) if _is_step(n)):
            truth, source = label(record, step, oracle_roles)
            if truth is None:
                break
            steps.append(step.step.text)
            labels.append(truth)
            sources.append(source)
        if steps:
            rows.append({"prompt": record.problem.question, "completions": steps, "labels": labels,
                         "sources": sources, "leaf": node.id})
    return rows


def shepherd_text(question: str, steps: list[str], tags: list[str] | None = None) -> str:
    """The Math-Shepherd text that the hf-prm scorer reads: the question, then `Step i: text TAG` per step."""
    tags = tags or [STEP_TAG] * len(steps)
    return question + " " + " ".join(f"Step {i}: {step} {tag}" for i, (step, tag) in enumerate(zip(steps, tags,
                                                                                               strict=True), 1))


def shepherd(row: dict[str, Any]) -> dict[str, str]:
    """A stepwise row in Math-Shepherd's format: `input` with a step tag after each step, `label` with + or -."""
    return {"input": shepherd_text(row["prompt"], row["completions"]),
            "label": shepherd_text(row["prompt"], row["completions"], [GOOD if ok else BAD for ok in row["labels"]])}
