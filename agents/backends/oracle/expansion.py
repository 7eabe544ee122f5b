"""The oracle's expansion of a person's annotation (attempt 4): prose around each attempt and each correction.

It reads the draft our code renders from an annotation (protocols.annotation.render_draft: one paragraph per
section, each opened by a DRAFT_OPENERS line) and writes what an expanding model is asked for, from seeded
sentence banks that speak about the content: how the attempt starts and what it has so far (the value a line ends
on), what went wrong (the value the correction changes) and why the correction is right (the new value in place of
the old), then the final answer, stated once. Every line of the notes stays, in order, restyled with its math
inside delimiters, so the faithfulness check accepts the expansion; the lossy oracle's dropped line is the
check's to catch, not ours to hide. A draft in any other shape is rewritten line by line
(agents.backends.oracle.rewriter).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from agents.backends.oracle.prose import CONTINUING, OPENING, REDOING, connect, not_final, pick, restyle, sentence
from agents.backends.oracle.rewriter import rewrite
from protocols.annotation import DRAFT_OPENERS
from protocols.answers import last_boxed
from protocols.prose_checks import math_spans

# {}: a value from the notes. Whole sentences, so eval/template_split.py can find them anywhere.
FIRST_ATTEMPT = ("Let me think about how to start.", "I'll work through this one piece at a time.",
                 "Let me see what the problem gives me and go from there.")
NEW_ATTEMPT = ("Let me start again from the top, another way.", "I'll set that aside and begin afresh.")
SO_FAR = ("So at this point I have {}.", "That gives me {} so far.", "Keeping track: I now have {}.")
DOUBT = ("Wait, something is off in the step where I got {}.", "Hold on, let me look again at the step with {}.",
         "Hmm, the {} in that last step does not sit right.")
DOUBT_PLAIN = ("Wait, let me check that last step.", "Hold on, something is off here.")
REDO = ("So I'll redo that part.", "Let me fix that and carry on.", "I need to go back and redo it from there.")
WHY_RIGHT = ("This time I get {new} instead of {old}, which is what the steps before give.",
             "With {new} in place of {old}, the step now follows from what I had.",
             "Now it reads {new} rather than {old}, consistent with the earlier work.")
WHY_RIGHT_PLAIN = ("This version follows from the steps before it.", "That step now agrees with what I had before it.")
NOTE = ("One thing worth keeping in mind here.", "A point I should not skip over.")
CLOSING = ("So the final answer is $\\boxed{{{}}}$.", "That settles it: the final answer is $\\boxed{{{}}}$.")
SENTENCES = (*FIRST_ATTEMPT, *NEW_ATTEMPT, *SO_FAR, *DOUBT, *DOUBT_PLAIN, *REDO, *WHY_RIGHT, *WHY_RIGHT_PLAIN,
             *NOTE, *CLOSING)
_PAUSE_EVERY = 2  # a pause to take stock after this many lines of one section
_NUMBER = re.compile(r"(?<![\w.\\^_{])\d+(?:\.\d+)?(?![\w.]\d|\d)")
_MARKERS = {opener: marker for marker, opener in DRAFT_OPENERS.items()}


@dataclass(frozen=True)
class Section:
    marker: str
    lines: list[str]


def sections(draft: str) -> list[Section] | None:
    """The draft's sections, or None when a paragraph does not open with one of our openers."""
    found = []
    for paragraph in (part.strip() for part in draft.split("\n\n")):
        if not paragraph:
            continue
        opener, _, rest = paragraph.partition("\n")
        if opener.strip() not in _MARKERS:
            return None
        found.append(Section(_MARKERS[opener.strip()], [line.strip() for line in rest.splitlines() if line.strip()]))
    return found or None


def expand(draft: str, rng: random.Random) -> str:
    """The long thought of one annotation draft (see the module docstring)."""
    parts = sections(draft)
    if parts is None:
        return rewrite([line for line in draft.splitlines() if line.strip()], rng)
    final = next((last_boxed("\n".join(part.lines)) for part in reversed(parts) if part.marker == "final"), None)
    worked = [part for part in parts if part.marker in ("attempt", "correction")]
    # Only a line that states the final answer may call itself final; a wrong attempt's "final answer" was not.
    finals = [line for part in worked for line in part.lines
              if final is not None and "final answer" in line and _key(last_boxed(line) or "") == _key(final)]
    keep = finals[-1:] if finals else []
    paragraphs: list[str] = []
    tried: list[str] = []  # the lines of the attempt as it stands, for what a reflection and a correction refer to
    for position, part in enumerate(parts):
        if part.marker == "attempt":
            paragraphs.append(pick(NEW_ATTEMPT if tried else FIRST_ATTEMPT, rng))
            paragraphs += _worked(part.lines, OPENING, rng, keep)
            tried = list(part.lines)
        elif part.marker == "reflection":
            correction = next((later for later in parts[position + 1:] if later.marker == "correction"), None)
            old, _ = _changed(tried, correction.lines if correction else [])
            doubt = pick(DOUBT, rng).format(old) if old else pick(DOUBT_PLAIN, rng)
            paragraphs.append(" ".join([doubt, *(restyle(line) for line in part.lines)]))
        elif part.marker == "correction":
            old, new = _changed(tried, part.lines)
            why = pick(WHY_RIGHT, rng).format(new=new, old=old) if old and new else pick(WHY_RIGHT_PLAIN, rng)
            paragraphs.append(pick(REDO, rng))
            worked_lines = _worked(part.lines, REDOING, rng, keep)
            paragraphs += [f"{sentence(worked_lines[0])} {why}", *worked_lines[1:]] if worked_lines else []
            tried = tried[: max(0, len(tried) - 1)] + list(part.lines)
        elif part.marker == "note":
            paragraphs.append(" ".join([pick(NOTE, rng), *(restyle(line) for line in part.lines)]))
    said = last_boxed("\n\n".join(paragraphs))
    if final is not None and (said is None or _key(said) != _key(final)):
        paragraphs.append(pick(CLOSING, rng).format(final))
    return "\n\n".join(paragraphs)


def _worked(lines: list[str], first_bank: tuple[str, ...], rng: random.Random, keep: list[str]) -> list[str]:
    """The lines of one attempt or correction, linked, with a pause to take stock every few lines."""
    written, used = [], None
    for position, line in enumerate(lines):
        text = restyle(line)
        if line not in keep:
            text = not_final(text, rng)
        text, used = connect(text, first_bank if position == 0 else CONTINUING, rng, avoid=used)
        value = _last_value(text)
        if (position + 1) % _PAUSE_EVERY == 0 and position + 1 < len(lines) and value:
            text = f"{sentence(text)} {pick(SO_FAR, rng).format(value)}"
        written.append(text)
    return written


def _last_value(text: str) -> str | None:
    """What a line ends on: its last piece of math (as written, delimiters included), else its last number."""
    spans = math_spans(text)
    if spans and "\\boxed" not in text[spans[-1][0]:spans[-1][1]] and spans[-1][1] - spans[-1][0] <= 60:
        return text[spans[-1][0]:spans[-1][1]]
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


def _changed(tried: list[str], corrected: list[str]) -> tuple[str | None, str | None]:
    """(a number the wrong line has and its correction lacks, a number the correction has and it lacked)."""
    if not tried or not corrected:
        return None, None
    wrong, right = _NUMBER.findall(tried[-1]), _NUMBER.findall(corrected[0])
    old = next((number for number in wrong if number not in right), None)
    new = next((number for number in right if number not in wrong), None)
    return old, new


def _key(answer: str) -> str:
    return re.sub(r"\s+", "", answer)
