"""Turn a finished episode into text: the shortcut (the clean path) and the long thought (the journey).

Deterministic and model-free: transitions come from templates in `prompts/render/`, and the phrasing
variant is picked by turn position, so the same tree and turns always give the same text. A long thought reads as
one solver's text: a redone step is opened by a phrase only where that does not stack openers ("Instead,
therefore"; `protocols.prose_checks.lead_in` decides), only the last step may call its answer final, and the closing
line (`$\\boxed{…}$`, inside its delimiters) is written only when the last step has not already boxed that answer.
"""

from __future__ import annotations

import re

from prompts import render
from protocols.answers import last_boxed
from protocols.prose_checks import lead_in, opens_with_connective
from protocols.types import Action, ThoughtNode, ThoughtTree, Turn
from protocols.voice import NEUTRAL_REASON, first_person

CLOSING = "So the final answer is $\\boxed{{{answer}}}$."
_FINAL = re.compile(r"\b([Ff])inal\s+(answer|result)\b")


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


def _redo_opener(text: str, variant: int) -> str:
    """What opens a step redone after a backtrack: the bank's phrase, or nothing where it would stack or stutter."""
    opener = render("render/after_backtrack", variant=variant)
    if opener.endswith("."):  # a sentence of its own: the step after it keeps its capital
        return "" if opens_with_connective(text) else opener + " "
    return opener + " " if lead_in(text, opener + " ") != text else ""


def _not_final(text: str) -> str:
    """`text` with "the final answer" said as "the answer": a step the journey goes past was not final."""
    def plain(match: re.Match) -> str:
        word = match.group(2)
        return word.capitalize() if match.group(1) == "F" else word
    return _FINAL.sub(plain, text)


def _boxes(text: str, answer: str) -> bool:
    boxed = last_boxed(text)
    return boxed is not None and boxed.strip() == answer.strip()


def long_thought(tree: ThoughtTree, turns: list[Turn], final_answer: str | None = None,
                 placeholder: str | None = None) -> str:
    """The whole journey, first person: every step, the doubts, the backtracks and the corrections.

    With `placeholder`, every model-written piece (a step, an answer, a reason) is written as `placeholder` and only
    our text is left (eval.template_split counts it); every choice is still made on the real text."""
    proposed = [position for position, turn in enumerate(turns)
                if turn.action is None and turn.node_id is not None and tree.nodes[turn.node_id].step is not None]
    last = proposed[-1] if proposed else None
    closing = final_answer is not None and not (
        last is not None and _boxes(tree.nodes[turns[last].node_id].step.text, final_answer))

    def model(text: str) -> str:
        return text if placeholder is None else placeholder

    paragraphs: list[str] = []
    after_backtrack = False
    for position, turn in enumerate(turns):
        node = tree.nodes[turn.node_id] if turn.node_id is not None else None
        if turn.action is None:  # a proposed step
            if node is None or node.step is None:
                continue
            # Only the last step may call its answer final, and not even it when the closing line does.
            text = node.step.text.strip() if position == last and not closing else _not_final(node.step.text.strip())
            opener = _redo_opener(text, position) if after_backtrack else ""
            if opener.endswith(", "):
                text = lead_in(text, opener)[len(opener):]  # lower-cased where the word is a common one
            paragraphs.append(f"{node.step.index}. {opener}{model(text)}")
            after_backtrack = False
            continue
        # Critics often answer as a grader ("The student ..."); a long thought is the solver's own voice.
        voiced = _not_final(first_person(node.verdict.reason)) if node is not None and node.verdict else ""
        if placeholder is not None and voiced.strip() and voiced != NEUTRAL_REASON:
            voiced = placeholder  # a reason our voice filter replaced stays: we wrote it
        reason = _sentence(voiced)
        if node is not None and node.kind == "answer" and node.correct is False and turn.action is Action.REFLECT:
            answer = node.answer if node.answer is None else model(node.answer)
            paragraphs.append(render("render/negative_signal", answer=answer))
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
    if closing:
        paragraphs.append(CLOSING.format(answer=model(final_answer)))
    return "\n\n".join(paragraphs)
