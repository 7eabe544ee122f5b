"""Greedy answers on held-out problems, and what each answer did: correct, backtracked, recovered, looped, cut."""

from __future__ import annotations

from collections import Counter

from protocols import arithmetic
from protocols.arithmetic import Chain
from training.journey_effect import model as lmod

LOOP_REPEATS = 3  # a line written 3+ times: no training text here (shortcut or journey) repeats a line 3 times


def behaviour(text: str, gold: int, tokens: int, max_new_tokens: int) -> dict:
    """Per-output facts the report aggregates (pure function: tested on planted outputs)."""
    described = arithmetic.describe_answer(text, gold)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    repeats = max(Counter(lines).values(), default=0)
    return {**described, "looped": repeats >= LOOP_REPEATS,
            "cut": described["answer"] is None and tokens >= max_new_tokens, "tokens": tokens}


def evaluate(lm: lmod.LM, problems: list[tuple[str, Chain]], max_new_tokens: int) -> list[dict]:
    prompts = [lmod.prompt(lm, chain.question()) for _, chain in problems]
    replies = lmod.generate(lm, prompts, max_new_tokens=max_new_tokens, temperature=0.0)
    rows = []
    for (pid, chain), (text, tokens) in zip(problems, replies):
        rows.append({"id": pid, "gold": chain.answer(), **behaviour(text, chain.answer(), tokens, max_new_tokens),
                     "output": text[:800]})
    return rows


def accuracy_by_level(lm: lmod.LM, problems: list[tuple[str, Chain]], max_new_tokens: int) -> dict[int, float]:
    rows = evaluate(lm, problems, max_new_tokens)
    levels: dict[int, list[bool]] = {}
    for (_, chain), row in zip(problems, rows):
        levels.setdefault(chain.level, []).append(row["correct"])
    return {level: sum(values) / len(values) for level, values in sorted(levels.items())}
