"""LLM rewrite of a trial-and-error draft into a fluent first-person long thought, checked for faithfulness.

The check: every number and equation of the draft's steps must survive in the rewrite, in the same order.
A rewrite that fails is kept with a flag, and the draft is used as the long thought instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agents.llm import LLMClient
from prompts import render

# Numbers (1, -3, 2.5, 1/2) and short equations ("2x = 8"), the facts a rewrite must not lose.
# Signs are dropped: "x-3" and "x - 3" must agree.
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:/\d+)?")


def anchors(text: str) -> list[str]:
    """The numbers of a text, in order, normalised (commas dropped)."""
    return _NUMBER.findall(text.replace(",", ""))


@dataclass(frozen=True)
class Faithfulness:
    faithful: bool
    missing: list[str] = field(default_factory=list)


def check_faithful(steps: list[str], rewrite: str) -> Faithfulness:
    """Whether each step's numbers appear in `rewrite` in order; `missing` names the first step that broke it."""
    found = anchors(rewrite)
    cursor = 0
    for step in steps:
        for anchor in anchors(step):
            try:
                cursor = found.index(anchor, cursor) + 1
            except ValueError:
                return Faithfulness(False, [step])
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
