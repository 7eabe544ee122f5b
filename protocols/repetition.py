"""Is a generated text stuck in a loop? Degenerate repetition in its tail, by a published measure.

The rule: **seq-rep-12 of the last 256 tokens >= 0.5**. seq-rep-n is the repetition measure of Welleck et al. 2020
("Neural Text Generation with Unlikelihood Training", ICLR 2020, section 5): the share of a text's n-grams that
repeat an earlier one, `1 - |unique n-grams| / |n-grams|`. Holtzman et al. 2020 ("The Curious Case of Neural Text
Degeneration") show that such loops sit at the *end* of a generation and never leave once entered, so only the tail
is measured: the last `TAIL` tokens, about the last tenth of a 4096-token answer. A loop of period p tokens over a
tail of W tokens scores about 1 - p/W, so the 0.5 threshold says "repeated n-grams cover at least half of the tail"
and catches every loop of up to 128 tokens a period (a repeated line, or a paragraph of a few sentences).

Why n = 12, not Welleck's 4: our tokens are finer than a model's (every LaTeX brace and backslash is one), and
LaTeX notation repeats itself in short spans: at n = 4, 146 of the 8,000 MATH train + MATH500 reference solutions
would be "loops"; at n = 12 none is (the highest tail scores 0.44), while a real loop, repeated verbatim, scores
the same at any n.

Tokens are words (runs of letters and digits, cut into pieces of at most 10 characters, so "0000...0" is many
tokens, not one) and single punctuation marks, so the rule reads LaTeX loops (`\\frac{1}{2}\\frac{1}{2}...`) as well
as prose. Texts shorter than `MIN_TOKENS` are never loops: a short answer has no tail to measure.
"""

from __future__ import annotations

import re

N = 12
TAIL = 256
THRESHOLD = 0.5
MIN_TOKENS = 64
RULE = f"seq-rep-{N} of the last {TAIL} tokens >= {THRESHOLD} (Welleck et al. 2020)"
_TOKEN = re.compile(r"\w{1,10}|[^\w\s]")


def tokens(text: str) -> list[str]:
    """Words (in pieces of at most 10 characters) and single punctuation marks, lowercased."""
    return _TOKEN.findall(text.lower())


def seq_rep(items: list[str], n: int = N) -> float:
    """Welleck et al.'s seq-rep-n: the share of the n-grams of `items` that repeat an earlier one (0 when none)."""
    grams = [tuple(items[i:i + n]) for i in range(len(items) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def tail_repetition(text: str | None, tail: int = TAIL, n: int = N) -> float:
    """seq-rep-n of the last `tail` tokens of `text` (0 for texts shorter than MIN_TOKENS)."""
    words = tokens(text or "")
    if len(words) < MIN_TOKENS:
        return 0.0
    return seq_rep(words[-tail:], n)


def is_looping(text: str | None, threshold: float = THRESHOLD) -> bool:
    """Whether `text` ends in degenerate repetition (RULE)."""
    return tail_repetition(text) >= threshold
