"""Parse a critic's (or a self-critiquing policy's) verdict leniently.

Accepted shapes, case-insensitive, with any prose around them:
    {"action": "backtrack", "step": 2, "reason": "..."}
    ACTION: backtrack to 2 -- REASON: the sum is wrong
    Backtrack to step 2, because ...
An unparseable verdict is data, not an error: it becomes `reflect` with `parsed=False` and the raw text kept.
A backtrack target that is not a usable step number (1e400, 5,000 digits, -3, "two") is no target: the verdict
keeps its action, with `parsed=False` so the malformed part is counted.
"""

from __future__ import annotations

import json
import re

from protocols.types import Action, Verdict

_ACTION_WORDS = "|".join(action.value for action in Action)
# "ACTION: backtrack to 2", "action = reflect", "**Action**: continue"
_LABELLED = re.compile(rf"action\W{{0,4}}[:=]\s*\W{{0,2}}({_ACTION_WORDS})\b", re.IGNORECASE)
_BARE = re.compile(rf"\b({_ACTION_WORDS})\b", re.IGNORECASE)
_TARGET = re.compile(r"\s*(?:(?:back\s+)?to|from)?\s*(?:step|line|node)?\s*#?\s*(\d+)", re.IGNORECASE)
# No episode has a million steps; longer digit strings are not converted at all (int() refuses over 4,300 digits).
MAX_TARGET_DIGITS = 6
_REASON = re.compile(r"reason\W{0,4}[:=]\s*(.+)", re.IGNORECASE | re.DOTALL)
_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
MAX_REASON_CHARS = 1_000


def _from_json(text: str) -> Verdict | None:
    for candidate in reversed(_JSON_OBJECT.findall(text)):
        try:
            # Integers are kept as text: a 5,000-digit literal would raise here, before _step_number could refuse it.
            data = json.loads(candidate, parse_int=str)
        except ValueError:  # JSONDecodeError is a ValueError
            continue
        if not isinstance(data, dict):
            continue
        action = str(data.get("action", "")).strip().lower()
        if action not in {a.value for a in Action}:
            continue
        given = data.get("step", data.get("backtrack_to", data.get("target")))
        target = _step_number(given)
        reason = str(data.get("reason", "")).strip()[:MAX_REASON_CHARS]
        return Verdict(action=Action(action), reason=reason, backtrack_to=_target_for(action, target), raw=text,
                       parsed=not _unusable(action, given, target))
    return None


def _step_number(value: object) -> int | None:
    """A step number from JSON or text, or None: never an exception, whatever the model wrote."""
    if isinstance(value, float):
        value = int(value) if value.is_integer() else None  # is_integer() is False for inf and nan
    elif isinstance(value, str):
        digits = value.strip()
        value = int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= MAX_TARGET_DIGITS else None
    elif not isinstance(value, int) or isinstance(value, bool):
        value = None
    return value if value is not None and 0 <= value < 10**MAX_TARGET_DIGITS else None


def _unusable(action: str, given: object, target: int | None) -> bool:
    # A backtrack that names a target we could not read is only partly parsed.
    return action == Action.BACKTRACK and given is not None and target is None


def _target_for(action: str, target: int | None) -> int | None:
    return target if action == Action.BACKTRACK and target is not None and target >= 0 else None


def parse_verdict(text: str) -> Verdict:
    """The action in `text`; `reflect` with parsed=False when none can be found."""
    text = text or ""
    verdict = _from_json(text)
    if verdict is not None:
        return verdict
    match = _LABELLED.search(text) or _BARE.search(text)
    if match is None:
        return Verdict(action=Action.REFLECT, reason=text.strip()[:MAX_REASON_CHARS], raw=text, parsed=False)
    action = match.group(1).lower()
    target = None
    parsed = True
    if action == Action.BACKTRACK:
        found = _TARGET.match(text, match.end())
        target = _step_number(found.group(1)) if found else None
        if found and target is None:
            parsed = False
    reason_match = _REASON.search(text)
    if reason_match:
        reason = reason_match.group(1)
    else:
        # Whatever surrounds the action word is the reason: "Continue, the algebra is right."
        reason = (text[: match.start()] + " " + text[match.end() :]).strip()
        reason = re.sub(r"^(?:to\s+)?(?:step\s+)?\d+\b", "", reason).strip()
    reason = reason.strip(" \n\t-:,.;*").strip()[:MAX_REASON_CHARS]
    return Verdict(action=Action(action), reason=reason, backtrack_to=_target_for(action, target), raw=text,
                   parsed=parsed)
