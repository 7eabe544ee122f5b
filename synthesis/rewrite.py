"""LLM rewrite of a trial-and-error draft into a fluent first-person long thought, checked for faithfulness.

The check: every number of the draft's steps (or, for a step without numbers, its longest word) must survive
in the rewrite, in the same order.
A rewrite that fails is kept with a flag, and the draft is used as the long thought instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agents.llm import LLMClient
from prompts import render

# Numbers (1, 3, 2.5, 1/2), the facts a rewrite must not lose.
# Signs are dropped: "x-3" and "x - 3" must agree.
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:/\d+)?")
_WORD = re.compile(r"[a-z]{5,}")


def anchors(text: str) -> list[str]:
    """What a rewrite must keep of a step, in order: its numbers, or for a step without any, its longest word."""
    text = text.replace(",", "").lower()
    numbers = _NUMBER.findall(text)
    if numbers:
        return numbers
    words = _WORD.findall(text)
    return [max(words, key=len)] if words else []


def _pattern(anchor: str) -> re.Pattern:
    # Whole numbers only ("1" must not match inside "10" or "1.5"), but "2" does match in "2x"; whole words.
    if anchor[0].isdigit():
        return re.compile(rf"(?<![\d.]){re.escape(anchor)}(?!\d|\.\d)")
    return re.compile(rf"\b{re.escape(anchor)}\b")


@dataclass(frozen=True)
class Faithfulness:
    faithful: bool
    missing: list[str] = field(default_factory=list)


def check_faithful(steps: list[str], rewrite: str) -> Faithfulness:
    """Whether each step's anchors appear in `rewrite` in order; `missing` names the first step that broke it."""
    text = rewrite.replace(",", "").lower()
    cursor = 0
    for step in steps:
        for anchor in anchors(step):
            found = _pattern(anchor).search(text, cursor)
            if found is None:
                return Faithfulness(False, [step])
            cursor = found.end()
    return Faithfulness(True)


@dataclass(frozen=True)
class Rewrite:
    text: str
    faithful: bool
    missing: list[str]


async def rewrite_draft(llm: LLMClient, question: str, draft: str, steps: list[str], max_tokens: int = 2048) -> Rewrite:
    """Ask `llm` for a fluent long thought and check it against the draft's steps."""
    prompt = render("tree_search/rewrite", question=question, draft=draft)
    completion = await llm.complete([{"role": "user", "content": prompt}], temperature=0.3, max_tokens=max_tokens,
                                    role="rewriter")
    check = check_faithful(steps, completion.text)
    return Rewrite(completion.text, check.faithful, check.missing)
