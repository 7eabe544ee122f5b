"""LLM rewrite of a trial-and-error draft into a fluent first-person long thought, checked for faithfulness.

The check: both sides are normalised (`normalize_math`: `\\frac{1}{2}`, `1,000`, `−3` and `$x$` read as `1/2`,
`1000`, `-3` and `x`), then every number of the draft's texts (or, for a text without numbers, its longest word)
must survive in the rewrite, in the same order, with its sign where the draft's minus is unary; and the rewrite's
last `\\boxed{}` must hold the draft's final answer.
Numbers are compared by value, not spelling: `0.5`, `1/2`, `\\frac12` and `2.50`/`2.5` are one number each, read
exactly into a `Fraction` (a regex-matched numeral; nothing is evaluated). A percentage is read either way, as the
answer checker reads it (`protocols.answers.numbers.numbers_agree`): `50%` stands for 50 or for 0.5, so a rewrite may write
`50% of 40` as `0.5 * 40`. A division written out (`12/4`, `\\frac{12}{4}`, `12 ÷ 4`: not a fraction in lowest
terms) is a computation, not a number: only the same division stands for it, so `36/12` does not. Every stated
`\\boxed{}` answer survives, judged by value too (`protocols.answers.equivalent`, sandboxed, where the text differs).
A rewrite that fails is kept with a flag and a reason, and the draft is used as the long thought instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

from agents.calls.client import LLMClient
from prompts import render
from protocols.answers import equivalent, last_boxed
from protocols.answers.numbers import numbers_agree

# latex2sympy2_extended.math_normalization.normalize_latex is written for one final answer, not prose: it turns
# " and " into ",", deletes quotes and unit words ("east", "degree"), rewrites "inf" inside words, and keeps
# \frac as LaTeX. So this is a small normaliser of our own, applied to both the draft and the rewrite.
_DASHES = dict.fromkeys(map(ord, "\u2212\u2013\u2012\ufe63\uff0d"), "-")  # minus, en dash, figure dash, ...
_SYMBOLS = str.maketrans(_DASHES | {ord("×"): "*", ord("·"): "*", ord("⋅"): "*", ord("÷"): "/",
                                    ord("≤"): "<=", ord("≥"): ">=", ord("≠"): "!="})
# 1,000 / 1{,}000 / 1\,000 / 1 000 (thin spaces): only groups of exactly three digits, so "1, 2" stays two numbers.
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:(?:,|\{,\}|\\,|\u2009|\u202f)\d{3})+(?![\d])")
_SEPARATOR = re.compile(r",|\{,\}|\\,|\u2009|\u202f")
_DELIMITERS = re.compile(r"\\?\$|\\[()\[\]]")
_SIZING = re.compile(r"\\(?:left|right)\s*\.|\\(?:left|right|[bB]igg?[lr]?|displaystyle)(?![a-zA-Z])")
_TEXT = re.compile(r"\\(?:text\w*|math(?:rm|bf|it)|mbox|operatorname)\s*\{([^{}]*)\}")
_COMMANDS = [(re.compile(rf"\\(?:{names})(?![a-zA-Z])"), new) for names, new in (
    ("cdot|times|ast", "*"), ("div", "/"), ("leq?|leqslant", "<="), ("geq?|geqslant", ">="), ("neq?", "!="),
    ("c?dots|ldots", "..."), ("quad|qquad", " "),
)] + [(re.compile(r"\\[,;:! ]|~"), " "), (re.compile(r"\\%"), "%")]
_FRAC = re.compile(r"\\[dtc]?frac\s*")
_BRACED_NUMBER = re.compile(r"\{\s*(-?\d+(?:\.\d+)?)\s*\}")
_SIMPLE = re.compile(r"-?\d+(?:\.\d+)?|-?[A-Za-z]|\\[A-Za-z]+")


def normalize_math(text: str) -> str:
    """`text` with one spelling per piece of math: a/b fractions, * products, ASCII minus, no thousands separators,
    no $ or \\( \\) delimiters, no braces around plain numbers; lower case, whitespace collapsed to one space."""
    text = text.translate(_SYMBOLS)
    text = _THOUSANDS.sub(lambda match: _SEPARATOR.sub("", match.group()), text)
    text = _DELIMITERS.sub(" ", text)
    text = _SIZING.sub("", text)
    text = _TEXT.sub(r"\1", text)
    for pattern, new in _COMMANDS:
        text = pattern.sub(new, text)
    text = _fractions(text)
    for _ in range(8):  # {{3}} -> {3} -> 3; bounded, model text may nest without end
        text, count = _BRACED_NUMBER.subn(r"\1", text)
        if not count:
            break
    return re.sub(r"\s+", " ", text).strip().lower()


def _fractions(text: str) -> str:
    # Rightmost first: the arguments of the rightmost \frac hold no other \frac, so nesting resolves inside out.
    for match in reversed(list(_FRAC.finditer(text))):
        numerator, after = _argument(text, match.end())
        denominator, end = _argument(text, after) if numerator is not None else (None, after)
        if denominator is not None:
            text = f"{text[:match.start()]}{_operand(numerator)}/{_operand(denominator)}{text[end:]}"
    return text


def _argument(text: str, start: int) -> tuple[str | None, int]:
    """The LaTeX argument at `start` (`{...}`, or one character as in `\\frac12`) and where it ends."""
    while start < len(text) and text[start] == " ":
        start += 1
    if start >= len(text) or text[start] in "}\\":
        return None, start
    if text[start] != "{":
        return text[start], start + 1
    depth = 0
    for position in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[position], 0)
        if depth == 0:
            return text[start + 1:position].strip(), position + 1
    return None, start


def _operand(argument: str) -> str:
    return argument if _SIMPLE.fullmatch(argument) else f"({argument})"


# Numbers (3, 2.5, 1/2, 12 / 4, 50%), the facts a rewrite must not lose; not the tail of another number ("13", "3.5").
_STEP_LABEL = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_DECIMAL = r"\d+(?:\.\d+)?"
_NUMBER = re.compile(rf"(?<!\d)(?<!\d\.)({_DECIMAL})(?:\s*/\s*({_DECIMAL}))?(\s*(?:%|percent\b|per\s?cent\b))?")
_WORD = re.compile(r"(?<![\\a-z])[a-z]{5,}")
# A minus after these is unary ("x = -3", "(-3)", "<= -3"); after a number, a variable or ")" it is binary.
_UNARY_AFTER = set("=(<>[{,;:+*/^")
_RELATIONS = {"boxed", "fbox", "approx", "equiv", "sim", "to", "rightarrow", "implies", "iff", "in", "pm", "mp", "quad", "qquad"}
_TRAILING_WORD = re.compile(r"(\\?)([a-z]+)$")


def _unary_minus(before: str) -> bool:
    """Whether a minus written after `before` (normalised text) is a sign rather than a subtraction."""
    before = before.rstrip()
    if not before or before[-1] in _UNARY_AFTER:
        return True
    word = _TRAILING_WORD.search(before)
    if word is None:
        return False
    if word.group(1):  # a LaTeX command: "\\le -3" is a sign, "\\pi - 3" a subtraction
        return word.group(2) in _RELATIONS
    # Prose ("is -3", "equals -3") is a sign; a one-letter variable ("x - 3", "2x - 3") is a subtraction.
    return len(word.group(2)) >= 2


@dataclass(frozen=True)
class _Number:
    """One number of a normalised text: as written (`-1/2`, `12/4`, `50%`), its value, and where it stands."""

    text: str
    value: Fraction
    percent: bool
    written_out: bool  # a division not in lowest terms ("12/4"): only the same division stands for it
    start: int
    end: int


_LONGEST = 100  # digits: past this a numeral is compared as written (int() refuses thousands of digits)


def _read(match: re.Match, negative: bool) -> _Number:
    head, divisor, percent = match.groups()
    sign = "-" if negative else ""
    text = sign + head + (f"/{divisor}" if divisor else "") + ("%" if percent else "")
    if max(len(head), len(divisor or "")) > _LONGEST:
        return _Number(text, Fraction(0), bool(percent), True, match.start(), match.end())
    # The regex matched a numeral (digits, at most one point): Fraction reads it exactly, nothing is evaluated.
    value = Fraction(sign + head)
    if divisor is None:
        return _Number(text, value, bool(percent), False, match.start(), match.end())
    below = Fraction(divisor)
    fraction = (value.denominator == below.denominator == 1 and below > 1
                and math.gcd(value.numerator, below.numerator) == 1)
    return _Number(text, value / below if fraction else value, bool(percent), not fraction, match.start(), match.end())


def _read_all(normalised: str) -> list[_Number]:
    numbers = []
    for match in _NUMBER.finditer(normalised):
        before = normalised[:match.start()].rstrip()
        numbers.append(_read(match, before.endswith("-") and _unary_minus(before[:-1])))
    return numbers


def _numbers(normalised: str) -> list[str]:
    return [number.text for number in _read_all(normalised)]


def _agree(a: _Number, b: _Number) -> bool:
    """Whether `b` states the number `a` does: the same value (a percentage read either way), or the same division."""
    if a.written_out or b.written_out:
        return a.text == b.text
    return numbers_agree((a.value, a.percent, a.text), (b.value, b.percent, b.text))


def _unmatched(needed: list[_Number], kept: list[_Number]) -> list[_Number]:
    """The numbers of `needed` that no number of `kept` stands for, each kept number standing for one: the same
    spelling first, then the same value."""
    pool = list(kept)
    left = []
    for number in needed:
        same = next((index for index, other in enumerate(pool) if other.text == number.text), None)
        if same is not None:
            pool.pop(same)
        else:
            left.append(number)
    missing = []
    for number in left:
        agreeing = next((index for index, other in enumerate(pool) if _agree(number, other)), None)
        if agreeing is None:
            missing.append(number)
        else:
            pool.pop(agreeing)
    return missing


def anchors(text: str) -> list[str]:
    """What a rewrite must keep of a text, in order: its numbers (with a unary minus), or its longest word."""
    text = normalize_math(text)
    numbers = _numbers(text)
    if numbers:
        return numbers
    words = _WORD.findall(text)
    return [max(words, key=len)] if words else []


def _word(anchor: str) -> re.Pattern:
    return re.compile(rf"\b{re.escape(anchor)}\b")


def _all_boxed(text: str) -> list[str]:
    """The contents of every `\\boxed{}` in `text`, in order."""
    found, rest = [], text
    while (answer := last_boxed(rest)) is not None:
        found.append(answer)
        rest = rest[: rest.rindex("\\boxed")] if "\\boxed" in rest else ""
    return found[::-1]


def _answer_key(answer: str) -> str:
    return normalize_math(answer).replace(" ", "").rstrip(".")


def _same_answer(expected: str, boxed: str) -> bool:
    # equivalent() runs math-verify in a sandboxed worker (never eval on model text); only when the text differs.
    return _answer_key(expected) == _answer_key(boxed) or equivalent(expected, boxed)


@dataclass(frozen=True)
class Faithfulness:
    faithful: bool
    missing: list[str] = field(default_factory=list)  # the text (or final answer) that broke the check
    reason: str = ""


def check_faithful(texts: list[str], rewrite: str, final_answer: str | None = None) -> Faithfulness:
    """Whether each text's anchors appear in `rewrite` in order and, when `final_answer` is given, the rewrite's
    last `\\boxed{}` holds it; `reason` says what broke."""
    normalised = normalize_math(rewrite)
    written = _read_all(normalised)
    cursor = 0
    for number, text in enumerate(texts, start=1):
        numbers = _read_all(normalize_math(text))
        if not numbers:
            for anchor in anchors(text):  # its longest word
                found = _word(anchor).search(normalised, cursor)
                if found is None:
                    return Faithfulness(False, [text], f"missing {anchor!r} from text {number}: {text}")
                cursor = found.end()
            continue
        for anchor in numbers:
            found = next((other for other in written if other.start >= cursor and _agree(anchor, other)), None)
            if found is None:
                return Faithfulness(False, [text], f"missing {anchor.text!r} from text {number}: {text}")
            cursor = found.end
    # In order is not enough: a dropped wrong step's numbers often reappear later (in the reason it was wrong, in
    # the corrected step, in the closing summary). A rewrite only adds words, so it holds each number at least as
    # often as the texts do (counted the same way on both sides; "4." step labels are not numbers of a step).
    # Every stated final answer, wrong ones included, survives: a dropped slip is often just a different \\boxed{}.
    stated = [answer for text in texts for answer in _all_boxed(text)]
    for answer in _unboxed(stated, _all_boxed(rewrite)):
        count = sum(_answer_key(other) == _answer_key(answer) for other in stated)
        return Faithfulness(False, [_answer_key(answer)],
                            f"\\boxed{{{_answer_key(answer)}}} is missing from the rewrite, the draft has it {count} time(s)")
    needed = [anchor for text in texts for anchor in _read_all(normalize_math(_STEP_LABEL.sub("", text)))]
    kept = _read_all(normalize_math(_STEP_LABEL.sub("", rewrite)))
    for anchor in _unmatched(needed, kept):
        has = sum(other.text == anchor.text for other in needed)
        stands = sum(_agree(anchor, other) for other in kept)
        return Faithfulness(False, [anchor.text],
                            f"{anchor.text!r} appears {stands} time(s), the draft has it {has}")
    if final_answer is not None:
        boxed = last_boxed(rewrite)
        if boxed is None:
            return Faithfulness(False, [final_answer], "no \\boxed{} final answer")
        if not _same_answer(final_answer, boxed):
            return Faithfulness(False, [final_answer], f"final answer \\boxed{{{boxed}}} differs from {final_answer}")
    return Faithfulness(True)


def _unboxed(stated: list[str], written: list[str]) -> list[str]:
    """The `stated` answers no answer of `written` holds, each written answer holding one: the same text first,
    then the same value (the sandboxed checker, only for what is left)."""
    pool = [_answer_key(answer) for answer in written]
    raw = list(written)
    left = []
    for answer in stated:
        if _answer_key(answer) in pool:
            index = pool.index(_answer_key(answer))
            pool.pop(index)
            raw.pop(index)
        else:
            left.append(answer)
    missing = []
    for answer in left:
        index = next((index for index, other in enumerate(raw) if equivalent(answer, other)), None)
        if index is None:
            missing.append(answer)
        else:
            pool.pop(index)
            raw.pop(index)
    return missing


@dataclass(frozen=True)
class Rewrite:
    text: str
    faithful: bool
    missing: list[str]
    reason: str = ""


async def rewrite_draft(llm: LLMClient, question: str, draft: str, texts: list[str], final_answer: str | None = None,
                        max_tokens: int = 2048) -> Rewrite:
    """Ask `llm` for a fluent long thought and check it against the draft's texts and final answer."""
    prompt = render("tree_search/rewrite", question=question, draft=draft)
    completion = await llm.complete([{"role": "user", "content": prompt}], temperature=0.3, max_tokens=max_tokens,
                                    role="rewriter")
    check = check_faithful(texts, completion.text, final_answer)
    return Rewrite(completion.text, check.faithful, check.missing, check.reason)
