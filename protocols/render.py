"""Turn a finished episode into text: the shortcut (the clean path) and the long thought (the journey).

Deterministic and model-free: transitions come from templates in `prompts/render/`, and the phrasing
variant is picked by turn position, so the same tree and turns always give the same text.
"""

from __future__ import annotations

from prompts import render
from protocols.types import Action, ThoughtNode, ThoughtTree, Turn
from protocols.voice import first_person


def _sentence(text: str) -> str:
    """A reason as a full sentence: parsed verdicts lose their final period, templates add more text after it."""
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _mid_sentence(reason: str) -> str:
    """'The sum is wrong' -> 'the sum is wrong', for templates that open with "Wait, "; 'I' and 'AB' stay."""
    if len(reason) > 1 and reason[0].isupper() and reason[1].islower():
        return reason[0].lower() + reason[1:]
    return reason


def _step_line(node: ThoughtNode, index: int | None = None) -> str:
    number = node.step.index if index is None else index
    return f"{number}. {node.step.text.strip()}"


def path_text(tree: ThoughtTree, node: ThoughtNode) -> str:
    """The steps from the root to `node`, renumbered 1..n (reflections and notes left out)."""
    steps = [step for step in tree.path(node.id) if step.kind in ("step", "answer")]
    return "\n".join(_step_line(step, position) for position, step in enumerate(steps, start=1))


def shortcut(tree: ThoughtTree, final: ThoughtNode | None) -> str | None:
    """The root-to-answer path as numbered steps, when the episode ended on a correct answer."""
    if final is None or final.correct is not True:
        return None
    return path_text(tree, final)


def _backtrack_target(tree: ThoughtTree, judged: ThoughtNode, turns: list[Turn], position: int) -> int:
    """The step the next proposal redoes: backtrack to N means step N was the first wrong one (1 = start over)."""
    for later in turns[position + 1 :]:
        if later.node_id is not None and later.role != "critic" and later.action is None:
            node = tree.nodes[later.node_id]
            return node.step.index if node.step else 1
    verdict = judged.verdict
    target = verdict.backtrack_to if verdict else None
    return target if target is not None and 1 <= target <= judged.step.index else judged.step.index


def long_thought(tree: ThoughtTree, turns: list[Turn], final_answer: str | None = None) -> str:
    """The whole journey, first person: every step, the doubts, the backtracks and the corrections."""
    paragraphs: list[str] = []
    after_backtrack = False
    for position, turn in enumerate(turns):
        node = tree.nodes[turn.node_id] if turn.node_id is not None else None
        if turn.action is None:  # a proposed step
            if node is None or node.step is None:
                continue
            line = _step_line(node)
            if after_backtrack:
                line = f"{node.step.index}. " + render("render/after_backtrack", variant=position,
                                                         text=_mid_sentence(node.step.text.strip()))
            paragraphs.append(line)
            after_backtrack = False
            continue
        # Critics often answer as a grader ("The student ..."); a long thought is the solver's own voice.
        reason = _sentence(first_person(node.verdict.reason) if node is not None and node.verdict else "")
        if node is not None and node.kind == "answer" and node.correct is False and turn.action is Action.REFLECT:
            paragraphs.append(render("render/negative_signal", answer=node.answer))
            if reason:
                paragraphs.append(render("render/reflect", variant=position, reason=reason, reason_lower=_mid_sentence(reason)))
        elif turn.action is Action.REFLECT:
            reason = reason or "Let me reconsider this step."
            paragraphs.append(render("render/reflect", variant=position, reason=reason, reason_lower=_mid_sentence(reason)))
        elif turn.action is Action.BACKTRACK:
            target = _backtrack_target(tree, node, turns, position)
            reason = reason or "This is wrong."
            paragraphs.append(render("render/backtrack", variant=position, reason=reason, reason_lower=_mid_sentence(reason),
                                     target=target))
            after_backtrack = True
    if final_answer is not None:
        paragraphs.append(f"So the final answer is \\boxed{{{final_answer}}}.")
    return "\n\n".join(paragraphs)
