"""Where math spans (`$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]`) and boxed answers stand in a text, in one pass each."""

from __future__ import annotations

import re

_MATH_DELIM = re.compile(r"\$\$|\\\[|\\\]|\\\(|\\\)|(?<!\\)\$")
_CLOSER = {"$$": "$$", "\\[": "\\]", "\\(": "\\)", "$": "$"}


def scan_math(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """(spans as (start, end, content), broken spans as (start, end)) of `text`, in order, in one linear pass.

    Inline spans (`$..$`, `\\(..\\)`) stay on one line as in LaTeX. A `\\(` or a `$ ` whose partner is on a
    later line opened a malformed span ("Answer $ \\n 9 \\n $" states nothing); a `$5` whose partner is on
    a later line was a currency sign.
    """
    spans: list[tuple[int, int, str]] = []
    broken: list[tuple[int, int]] = []
    opener: re.Match | None = None
    line_end = -1
    for token in _MATH_DELIM.finditer(text):
        mark = token.group()
        if opener is not None:
            closes = mark == _CLOSER[opener.group()]
            if opener.group() in ("$", "\\(") and line_end != -1 and token.start() > line_end:
                if closes and (opener.group() == "\\(" or text[opener.end() : opener.end() + 1].isspace()):
                    broken.append((opener.start(), token.end()))
                    opener = None
                    continue
                opener = None
            elif closes:
                spans.append((opener.start(), token.end(), text[opener.end() : token.start()]))
                opener = None
                continue
            else:
                continue
        if mark in _CLOSER:
            opener = token
            line_end = text.find("\n", token.end())
    return spans, broken


def math_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of each well-formed math span of `text`."""
    return scan_math(text)[0]


_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_BARE_BOXED = re.compile(r"[^\s$.,;]+")
_BRACE = re.compile(r"[{}]")


def boxed_all(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every `\\boxed{...}` / `\\boxed 5` in `text`; braces matched in one pass."""
    matches = list(_BOXED.finditer(text))
    if not matches:
        return []
    closing: dict[int, int] = {}
    stack: list[int] = []
    for brace in _BRACE.finditer(text, matches[0].end()):
        if brace.group() == "{":
            stack.append(brace.start())
        elif stack:
            closing[stack.pop()] = brace.start()
    found = []
    for match in matches:
        start = match.end()
        if start < len(text) and text[start] == "{":
            if start in closing:
                found.append((match.start(), closing[start] + 1, text[start + 1 : closing[start]].strip()))
        else:
            bare = _BARE_BOXED.match(text, start)
            if bare:
                found.append((match.start(), bare.end(), bare.group()))
    return found


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (or `\\fbox{...}`, or `\\boxed 5`) in `text`."""
    found = boxed_all(text)
    return found[-1][2] if found else None
