"""An answer stated in prose ("Final Answer: The largest $n$ is 34.") cut down to its math span or number by regex.

Patterns run on whole model outputs in the caller's process, so none may backtrack over a long run.
"""

from __future__ import annotations

import bisect
import re

from protocols.answers.spans import math_spans, scan_math

SENTENCE_END = re.compile(r"(?<=\S)\.\s")
# A command with its argument: \text{ and }, \begin{pmatrix}, \mathbf{v} hold no prose.
_COMMAND = re.compile(r"\\[A-Za-z]+\*?(?:\s*\{[^{}]*\})?")
# A prose word: lower-case or capitalised ("AB" and "xy" are names in math), not a function or connective.
_PROSE_WORD = re.compile(r"\b(?:[A-Z]?[a-z]{3,}|[Ii][tfns]|[Tt]o|[Oo][fn]|[Ss]o|[Ww]e|[Bb][ey]|[Aa][st])\b")
_VERB = re.compile(r"\b(?:is|are|was|were|equals)\b", re.IGNORECASE)
# What follows the last "is" / "=" of "The largest $n$ is 34" states the answer.
_COPULA = re.compile(rf"{_VERB.pattern}|\s=\s", re.IGNORECASE)
_MATH_WORDS = frozenset("and sin cos tan cot sec csc log exp sqrt max min gcd lcm mod det lim inf".split())
_ANSWER_WORD = re.compile(r"\banswer\b", re.IGNORECASE)
_LABEL = re.compile(r"[A-Za-z]\s*:\s")  # "Soucis : 2,74 $" labels a number; "7:32" is a ratio
_DECORATION = " \t\n*`\""  # markdown bold and quotes around an answer; a trailing ' is a prime
_NUMBER_TOKEN = re.compile(
    r"(?<![\w.,\\])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.,]\d+)?(?:/\d+)?"
    r"(?:\s?(?:\\?%|percent\b))?"
)
_SPAN_JOIN = re.compile(r"\s*(?:[,;]\s*(?:(?:and|or)\b\s*)?|(?:and|or)\b\s*)")


def _whole_span(answer: str, spans: list[tuple[int, int, str]]) -> bool:
    return len(spans) == 1 and spans[0][0] == 0 and spans[0][1] == len(answer)


def is_bare(answer: str) -> bool:
    """Whether `answer` is only an answer (`x = 3`, `\\text{Evelyn}`, `5 apples`), not a sentence stating one."""
    if not answer or "\\boxed" in answer or "\\fbox" in answer or "####" in answer or _ANSWER_WORD.search(answer):
        return False
    spans = math_spans(answer)
    if _whole_span(answer, spans):
        return True
    if spans or "\n" in answer or _LABEL.search(answer):
        return False
    plain = _COMMAND.sub(" ", answer)
    if _VERB.search(plain):  # "x is 5" says what the answer is
        return False
    return sum(word.lower() not in _MATH_WORDS for word in _PROSE_WORD.findall(plain)) < 2


def unwrap(answer: str) -> str:
    """`answer` without markdown decoration, a final period, or a math span around all of it."""
    answer = answer.strip(_DECORATION).rstrip(".").strip(_DECORATION)
    spans = math_spans(answer)
    if _whole_span(answer, spans):
        answer = spans[0][2].strip().rstrip(".,").strip()
    return answer


def candidates(text: str) -> list[tuple[int, int, str]]:
    """(start, end, answer) of each run of math spans ("$12$ and $13$") and each number outside math, in order."""
    spans, broken = scan_math(text)
    found: list[tuple[int, int, str]] = []
    for start, end, content in spans:
        content = content.strip().rstrip(".,;").strip()
        if not content:
            continue
        if found and _SPAN_JOIN.fullmatch(text, found[-1][1], start):
            found[-1] = (found[-1][0], end, f"{found[-1][2]}, {content}")
        else:
            found.append((start, end, content))
    math = sorted([(start, end) for start, end, _ in spans] + broken)
    starts = [start for start, _ in math]
    for number in _NUMBER_TOKEN.finditer(text):
        inside = bisect.bisect_right(starts, number.start()) - 1
        if inside >= 0 and math[inside][1] > number.start():
            continue
        found.append((number.start(), number.end(), number.group().replace("−", "-")))
    return sorted(found)


def reduce(statement: str) -> str | None:
    """The answer in one statement after an anchor: "$28 \\%$", "The largest $n$ is 34", "3 hours ago"."""
    statement = statement.replace('\\"', '"').strip(_DECORATION).rstrip(".").strip(_DECORATION)
    if not statement:
        return None
    if is_bare(statement):
        return unwrap(statement) or None
    masked = _masked(statement)
    copulas = list(_COPULA.finditer(masked))
    rest = statement[copulas[-1].end() :] if copulas else statement
    if copulas and is_bare(rest.strip(_DECORATION).rstrip(".")):
        return unwrap(rest) or None
    found = candidates(rest) or candidates(statement)
    return found[0][2] if found else None


def _masked(text: str) -> str:
    # Blank out math spans so a search for prose ("is", "=") cannot land inside one.
    pieces, last = [], 0
    for start, end, _ in math_spans(text):
        pieces += [text[last:start], " " * (end - start)]
        last = end
    return "".join(pieces) + text[last:]


def after(text: str, position: int) -> str:
    """The rest of the line from `position`, up to the end of its sentence."""
    return SENTENCE_END.split(text[position:].split("\n", 1)[0], maxsplit=1)[0]
