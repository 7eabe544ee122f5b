"""How much untrusted text an answer check reads before it gives up: answers past these limits are not equal."""

from __future__ import annotations

# Real final answers are short; anything longer or deeper is not worth a parser's time. A whole model
# output may be longer: its stated answer is cut out first, and that must fit MAX_ANSWER_CHARS.
MAX_ANSWER_CHARS = 2_000
MAX_TEXT_CHARS = 200_000
MAX_BRACE_DEPTH = 64


def too_hostile(answer: str) -> bool:
    """Whether `answer` is too long or nests brackets too deep to be worth a parser's time."""
    return len(answer) > MAX_ANSWER_CHARS or too_deep(answer)


def too_deep(text: str) -> bool:
    """Whether `text` is longer than a whole output may be, or nests brackets deeper than a parser should follow."""
    if len(text) > MAX_TEXT_CHARS:
        return True
    depth = deepest = 0
    for char in text:
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})]":
            depth -= 1
    return deepest > MAX_BRACE_DEPTH
