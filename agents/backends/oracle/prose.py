"""How the oracle writes prose around steps it did not invent: LaTeX kept inside its delimiters, and connectives
drawn from seeded banks that never stutter.

The rewriter (agents.backends.oracle.rewriter) and the expander (agents.backends.oracle.expansion) use these. Every
phrase in a bank here is also in eval/template_split.py's ORACLE_PHRASES (a test keeps them in agreement), so the report
counts what the oracle wrote as template, never as a model's words. No bank phrase holds one of the report's keywords
("wait", "therefore", "let me", ...) unless it is a whole sentence the split can find anywhere.
"""

from __future__ import annotations

import random
import re

from protocols.prose_checks import lead_in, math_spans

# A step's opening connective, by where the step stands: the first step, a step after another, a step redone.
OPENING = ("To begin, ", "First, ", "To start, ")
CONTINUING = ("Next, ", "Then ", "After that, ", "From there, ", "Building on that, ", "With that, ", "Moving on, ")
REDOING = ("This time, ", "Redoing it, ", "Doing it again, ")
CONNECTIVES = (*OPENING, *CONTINUING, *REDOING)
# A wrong line's own "So the final answer is": it was not final, and only the last answer may be called so.
NOT_FINAL = ("That would make the answer", "This line gives the answer", "By this reckoning the answer is")
_FINAL_CLAIM = re.compile(r"\bSo the final answer is\b")
_SKIP_CHANCE = 0.3  # not every step needs a connective: a bank used every time is a template again

# Rewrites of plain-text math, applied by where they stand (inside or outside `$…$`).
_FRACTION = re.compile(r"(?<![\w.\\{/])(\d+)/(\d+)(?![\w./])")
# In running text a fraction takes the arithmetic around it into its `$…$` ("2/2=1" -> "$\frac{2}{2}=1$").
_PROSE_FRACTION = re.compile(r"(?<![\w.\\{/])(\d+)/(\d+)((?:\s*[=+*-]\s*\d+(?:\.\d+)?)*)(?![\w./])")
# GSM8K's solution lines are joined without a full stop ("9 times So he runs"): a rewriter ends the sentence.
_RUN_ON = re.compile(r"(?<=[a-z0-9%)])\s+(?=(?:So|Then|Thus|Therefore|Hence)\s)")
_TIMES = re.compile(r"(?<=[\w)]) \* (?=[\w(])")
_UNARY_MINUS = re.compile(r"(?<![\w)\]}])-(?=\d)")
_THOUSANDS = re.compile(r"(?<![\w.,{])([1-9]\d{4,})(?![\w.])")  # five digits or more: 2020 may be a year
_STRAY = re.compile(r"[^\s$]*\\[A-Za-z]+[^\s$]*")  # a word of running text holding a math command
_TRAILING = re.compile(r"[.,;:!?]+$")
_TEXT_COMMANDS = re.compile(r"^\\(?:text\w*|emph|ldots|dots|quad|qquad|underline|mbox)\b")


def pick(bank: tuple[str, ...], rng: random.Random, avoid: str | None = None) -> str:
    """One phrase of `bank`, not `avoid` (the one used just before) when the bank has another."""
    choices = [phrase for phrase in bank if phrase != avoid] or list(bank)
    return rng.choice(choices)


def restyle(text: str) -> str:
    """`text` in LaTeX style with every piece of math inside delimiters: `1/2` becomes `\\frac{1}{2}` inside math and
    `$\\frac{1}{2}$` outside it, a stray command (`4\\sqrt{13}` in running text) is wrapped in `$…$`, a dollar
    sign is escaped (`\\$30`), ` * ` is `\\cdot` in math and `×` in prose."""
    # Two passes: first every piece of math gets delimiters, then each piece is styled by where it now stands.
    delimited = _by_place(text, prose=_delimit, math=lambda span: span)
    return _by_place(delimited, prose=_style_prose, math=_style_math)


def _by_place(text: str, prose, math) -> str:
    pieces, last = [], 0
    for start, end in math_spans(text):
        pieces += [prose(text[last:start]), math(text[start:end])]
        last = end
    return "".join(pieces + [prose(text[last:])])


def _delimit(text: str) -> str:
    text = re.sub(r"(?<!\\)\$", r"\\$", text)  # outside every span a `$` is money
    return _STRAY.sub(_wrap_stray, text)


def _style_math(span: str) -> str:
    span = _FRACTION.sub(r"\\frac{\1}{\2}", span)
    span = _TIMES.sub(r" \\cdot ", span)
    return _THOUSANDS.sub(lambda match: f"{int(match.group(1)):,}".replace(",", "{,}"), span)


def _style_prose(text: str) -> str:
    text = _RUN_ON.sub(". ", text)
    text = _PROSE_FRACTION.sub(r"$\\frac{\1}{\2}\3$", text)
    text = _TIMES.sub(" \u00d7 ", text)
    text = _UNARY_MINUS.sub("\u2212", text)
    return _THOUSANDS.sub(lambda match: f"{int(match.group(1)):,}", text)


def _wrap_stray(match: re.Match) -> str:
    word = match.group(0)
    if _TEXT_COMMANDS.match(word):
        return word
    trailing = _TRAILING.search(word)
    core, tail = (word[:trailing.start()], trailing.group()) if trailing else (word, "")
    return f"${core}${tail}"


def connect(body: str, bank: tuple[str, ...], rng: random.Random, avoid: str | None = None) -> tuple[str, str | None]:
    """`body` with a connective of `bank` (or none, now and then); returns the text and the connective used."""
    if rng.random() < _SKIP_CHANCE:
        return body, None
    connective = pick(bank, rng, avoid)
    joined = lead_in(body, connective)
    return joined, connective if joined != body else None


def not_final(text: str, rng: random.Random) -> str:
    """`text` with its "So the final answer is" said as a line's answer, not the final one."""
    return _FINAL_CLAIM.sub(lambda _: pick(NOT_FINAL, rng), text)


def sentence(text: str) -> str:
    """`text` ending as a sentence does, so that a sentence added after it does not run on."""
    return text if re.search(r"[.!?:]\$?\s*$|\\end\{\w+\*?\}\s*$|\\\]\s*$", text) else text.rstrip() + "."
