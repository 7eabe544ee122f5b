"""Stop a run whose model replies are unusable, before it spends its budget on them.

A critic, judge or self-critiquing policy whose replies come back empty, cut off (finish_reason "length") or
without a readable verdict does not crash anything: every such reply falls back to an unparsed `reflect` (or an
undecided judgement), and the run quietly fills with garbage. The usual cause is a reasoning model spending its
whole completion cap on hidden reasoning. The guard watches each role's first replies and stops the run with one
line that says which role and model, and shows a reply.

Rule: among the first `window` replies of a role, once at least `min_replies` are seen, more than half bad stops.
After `window` replies the role has proven usable and is no longer judged. A tripped role stays tripped, so the
problems already in flight stop at their next reply instead of running to their turn limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.calls.errors import LLMError
from agents.calls.reasoning import DEFAULT_REASONING_TOKENS, is_known_model, is_reasoning_model

MODES = ("auto", "on", "off")
MIN_REPLIES = 6
WINDOW = 20
_SAMPLE_CHARS = 60
_LABELS = {"empty": "empty", "truncated": "truncated (finish_reason=length)", "unparseable": "unparseable"}


@dataclass(frozen=True)
class ReplySettings:
    """Reply-budget settings every attempt with a critic or judge shares (a base of its config)."""

    reasoning_tokens: int = field(default=DEFAULT_REASONING_TOKENS, metadata={
        "help": "extra completion tokens for hidden reasoning, added to each role's cap when litellm says the model "
                "is a reasoning model"})
    reply_guard: str = field(default="auto", metadata={
        "help": "stop the run when most early critic / judge / self-critique replies are empty, truncated or "
                "unparseable: on, off, or auto (on for hosted models litellm knows and for reasoning models; off for "
                "embedded, self-hosted and routed ones)"})

    def __post_init__(self) -> None:
        if self.reasoning_tokens < 0:
            raise ValueError(f"reasoning_tokens: expected >= 0, got {self.reasoning_tokens}")
        check_mode(self.reply_guard)
        parent = getattr(super(), "__post_init__", None)  # the other base's checks (LoopLimits), when there is one
        if parent is not None:
            parent()


class UnusableReplies(LLMError):
    """Most early replies of one role were empty, truncated or unparseable; the message is one line."""


def check_mode(mode: str) -> None:
    """Refuse a --reply-guard value other than auto, on or off."""
    if mode not in MODES:
        raise ValueError(f"reply_guard: expected one of {', '.join(MODES)}, got {mode!r}")


def guarded(model: str, mode: str) -> bool:
    """Whether the replies of `model` are judged under --reply-guard `mode`.

    auto judges the models litellm's model map knows (hosted APIs, where a bad reply means a misconfigured budget
    and every call is paid) and reasoning models. It leaves alone the embedded demo model (its 135M critic writes
    unparseable verdicts most of the time, and the unparsed-reflect fallback is the expected behaviour there),
    self-hosted servers and router names, whose small or unfamiliar models may answer off-format by nature.
    """
    if mode != "auto":
        return mode == "on"
    return is_known_model(model) or is_reasoning_model(model)


@dataclass
class _RoleTally:
    seen: int = 0
    bad: dict[str, int] = field(default_factory=lambda: {"truncated": 0, "empty": 0, "unparseable": 0})
    sample: str = ""
    tripped: str | None = None


class ReplyGuard:
    """Per-role tallies of bad early replies, shared by every problem of a run (it lives on the run's LLMClient)."""

    def __init__(self, *, min_replies: int = MIN_REPLIES, window: int = WINDOW):
        self.min_replies = min_replies
        self.window = window
        self.tallies: dict[str, _RoleTally] = {}

    def observe(self, role: str, model: str, text: str, finish_reason: str | None, parsed: bool, *,
                mode: str = "auto", budget_flag: str | None = None) -> None:
        """Count one reply of `role`; raises UnusableReplies once most early replies of the role are bad.

        `mode` is the run's --reply-guard; `budget_flag` names the flag that raises this role's cap, for the message.
        """
        if not guarded(model, mode):
            return
        tally = self.tallies.setdefault(role, _RoleTally())
        if tally.tripped is not None:
            raise UnusableReplies(tally.tripped)
        if tally.seen >= self.window:
            return
        tally.seen += 1
        kind = _badness(text, finish_reason, parsed)
        if kind is None:
            return
        tally.bad[kind] += 1
        tally.sample = text
        bad = sum(tally.bad.values())
        if tally.seen >= self.min_replies and 2 * bad > tally.seen:
            tally.tripped = _message(role, model, tally, bad, budget_flag)
            raise UnusableReplies(tally.tripped)


def _badness(text: str, finish_reason: str | None, parsed: bool) -> str | None:
    if finish_reason == "length":
        return "truncated"
    if not (text or "").strip():
        return "empty"
    return None if parsed else "unparseable"


def _message(role: str, model: str, tally: _RoleTally, bad: int, budget_flag: str | None) -> str:
    described = " or ".join(label for kind, label in _LABELS.items() if tally.bad[kind])
    sample = tally.sample if len(tally.sample) <= _SAMPLE_CHARS else tally.sample[:_SAMPLE_CHARS] + "..."
    if tally.bad["unparseable"] * 2 > bad:
        remedy = f"use a {role} model that follows the reply format, or pass --reply-guard off to keep the fallbacks"
    else:
        flags = [flag for flag in (budget_flag, "--reasoning-tokens" if is_reasoning_model(model) else None) if flag]
        remedy = f"raise {' or '.join(flags)}" if flags else f"give the {role} a larger completion budget"
    return f"{role} model {model!r} returned {bad} of {tally.seen} early replies {described}, e.g. {sample!r}; {remedy}"


def unusable_message(error: BaseException) -> str | None:
    """The guard's one-line message when `error` is UnusableReplies or carries one; None otherwise."""
    cause: BaseException | None = error
    while cause is not None:  # an episode wraps its error (EpisodeError ... from error)
        if isinstance(cause, UnusableReplies):
            return str(cause)
        cause = cause.__cause__
    # A Ray worker's failure arrives as text only: "EpisodeError: UnusableReplies: <message> (on Ray worker h:pid)".
    marker = f"{UnusableReplies.__name__}: "
    text = str(error)
    return text[text.index(marker) + len(marker):] if marker in text else None
