"""Critic and judge reasons in the solver's own voice, so that they can stand inside a first-person long thought.

The prompts ask every critic and judge for a first-person reason ("I divided by 2 instead of multiplying"), but
models often answer as a grader ("The student divided by 2 ..."). Pasted after "Wait," that would teach a
model to talk about a third party. `first_person` rewrites the common grader phrasings; a reason that still names
a third party is replaced by a neutral sentence rather than leak into the data.
"""

from __future__ import annotations

import re

# Who a grader talks about instead of "I"; "the model" and "the author" are common too.
_WHO = r"(?:the\s+(?:student|policy|solver|assistant|model|author|answerer|respondent|proposer)|you)"
_ABOUT_THIRD_PARTY = re.compile(
    r"\b(?:the\s+(?:student|policy|critic|assistant|solver|reviewer|judge|model|author|proposer)|"
    r"you|your|yours|yourself|they|their|he|she|his|her)\b",
    re.IGNORECASE,
)
NEUTRAL_REASON = "Let me check this step again."

# (pattern, replacement) applied in order; verb agreement first, then possessives, then the bare subject.
_REWRITES: list[tuple[re.Pattern, str]] = [
    (re.compile(rf"\b{_WHO}\s+(?:has|have)\b", re.IGNORECASE), "I have"),
    (re.compile(rf"\b{_WHO}\s+(?:is|are)\b", re.IGNORECASE), "I am"),
    (re.compile(rf"\b{_WHO}\s+(?:was|were)\b", re.IGNORECASE), "I was"),
    (re.compile(rf"\b{_WHO}\s+(?:does|do)\b", re.IGNORECASE), "I do"),
    (re.compile(rf"\b{_WHO}\s+(?:needs|need)\b", re.IGNORECASE), "I need"),
    (re.compile(rf"\b{_WHO}\s+(?:should|must|can|could|would|will|might)\b", re.IGNORECASE), None),  # modal kept
    (re.compile(r"\b(?:the\s+(?:student|policy|solver|assistant|model|author)'s|your)\b", re.IGNORECASE), "my"),
    (re.compile(r"\byourself\b", re.IGNORECASE), "myself"),
    (re.compile(r"\byours\b", re.IGNORECASE), "mine"),
]
_SUBJECT = re.compile(rf"\b{_WHO}\b", re.IGNORECASE)
# Third-person singular verbs right after the subject we replaced: "I divides" -> "I divide".
_I_VERB_S = re.compile(r"\bI\s+([a-z]+?)(ies|es|s)\b")
_KEEP_S = {"is", "was", "has", "does", "this", "thus", "plus", "minus", "gives", "always"}


def _modal(match: re.Match) -> str:
    return "I " + match.group(0).split()[-1]


def _fix_verb(match: re.Match) -> str:
    stem, ending = match.group(1), match.group(2)
    word = stem + ending
    if word.lower() in _KEEP_S or len(stem) < 2:
        return match.group(0)
    if ending == "ies":
        return f"I {stem}y"
    if ending == "es" and stem.endswith(("ch", "sh", "ss", "x", "z", "o")):
        return f"I {stem}"
    return f"I {stem}{ending[:-1]}" if ending == "es" else f"I {stem}"


def first_person(reason: str) -> str:
    """`reason` as the solver's own thought; a neutral sentence when it cannot be made one."""
    text = " ".join((reason or "").split())
    if not text:
        return text
    for pattern, replacement in _REWRITES:
        text = pattern.sub(_modal if replacement is None else (lambda _, r=replacement: r), text)
    replaced = _SUBJECT.subn("I", text)
    text = replaced[0]
    if replaced[1]:
        text = _I_VERB_S.sub(_fix_verb, text)
    text = re.sub(r"(^|[.!?]\s+)i\b", lambda m: m.group(1) + "I", text)
    if _ABOUT_THIRD_PARTY.search(text):
        return NEUTRAL_REASON
    return text[0].upper() + text[1:]
