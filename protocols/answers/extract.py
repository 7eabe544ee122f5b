"""The final answer a text states: strictly for a reasoning step, leniently for a whole model output."""

from __future__ import annotations

import re

from protocols.answers.limits import MAX_ANSWER_CHARS
from protocols.answers.prose import SENTENCE_END, after, candidates, is_bare, reduce, unwrap
from protocols.answers.spans import boxed_all

# Patterns run on whole model outputs in the caller's process, so none may backtrack over a long run.
_GSM8K = re.compile(r"^[ \t]*####[ \t]*(\S.*)$", re.MULTILINE)
_FINAL = re.compile(r"final\s+answer\s*(?:is|:)\s*:?", re.IGNORECASE)
# "The answer is 5", "The correct answer is 5", "so my answer is: 5"
_ANSWER_IS = re.compile(r"\banswer\s+(?:is|=)\s*:?", re.IGNORECASE)
_HAS_MATH = re.compile(r"[\d\\]")

_GAP_WORD = re.compile(r"\\?[A-Za-z]+")


def _one_statement(gap: str) -> bool:
    """Whether boxes this `gap` apart state one answer ("\\boxed{2}, \\boxed{3}", "\\boxed{1} papers and
    \\boxed{2} bins"); "or" offers alternatives, and other words ("\\boxed{1} no, wait \\boxed{2}") replace one."""
    if len(gap) > 50 or SENTENCE_END.search(gap):
        return False
    words = [word.lower() for word in _GAP_WORD.findall(gap) if not word.startswith("\\")]
    return "or" not in words and (not words or "and" in words)


def _boxed_run(boxes: list[tuple[int, int, str]], text: str) -> str:
    run = [boxes[-1][2]]
    for (_, end, content), (start, _, _) in zip(reversed(boxes[:-1]), reversed(boxes[1:])):
        if end > start or not _one_statement(text[end:start]):  # a box inside a box is one answer
            break
        run.insert(0, content)
    return ", ".join(run)


def _stated(text: str, lenient: bool) -> str | None:
    if not text:
        return None
    if lenient and len(text) <= MAX_ANSWER_CHARS and is_bare(text.strip()):
        return unwrap(text) or None
    boxes = boxed_all(text)
    finals = list(_FINAL.finditer(text))
    # "\boxed{255} ... Final Answer: The final answer is $10,455$": the later statement is the answer,
    # unless it holds no math ("... the final answer is correct").
    if finals and boxes and finals[-1].start() > boxes[-1][0]:
        stated = reduce(after(text, finals[-1].end()))
        if stated and _HAS_MATH.search(stated):
            return stated
    if boxes:
        return _boxed_run(boxes, text) if lenient else boxes[-1][2]
    gsm8k = _GSM8K.findall(text)
    if gsm8k:
        return gsm8k[-1].rstrip().replace(",", "")
    for anchor in (_FINAL, _ANSWER_IS):
        matches = list(anchor.finditer(text))
        if matches:
            stated = reduce(after(text, matches[-1].end()))
            if stated:
                return stated
    if lenient:
        found = candidates(text)
        if found:
            return max(found, key=lambda candidate: candidate[1])[2]
    return None


def extract_answer(text: str) -> str | None:
    """The final answer `text` states: last `\\boxed{}`, else `#### N`, else "Final answer: ...", else "... answer is ..."."""
    return _stated(text, lenient=False)


def stated_answer(text: str) -> str | None:
    """The answer `text` states, leniently: itself if bare, else `extract_answer` (boxes of one statement
    joined), else its last math span or number.

    For whole model outputs (`check_answer`, `equivalent`); `extract_answer` stays strict because a reasoning
    step that mentions numbers states no answer.
    """
    return _stated(text, lenient=True)
