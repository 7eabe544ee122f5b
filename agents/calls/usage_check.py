"""A server's token counts, checked before they are believed: they decide budgets, totals and the cache."""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace
from typing import Any

log = logging.getLogger("longthought.llm")
# More tokens than any model's context holds, in one call: a server reporting this is wrong, not expensive.
ABSURD_TOKENS = 10_000_000


def checked_usage(usage: Any, model: str) -> Any:
    """The response's token counts, each a whole number in [0, ABSURD_TOKENS]: a server's figures decide budgets, so
    a negative or absurd one (prompt_tokens -1,000,000 once made a run's total negative and its budget never stop)
    is clamped and logged, never believed."""
    counts = {}
    for name in ("prompt_tokens", "completion_tokens"):
        value = getattr(usage, name, 0) or 0
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        clamped = 0 if not math.isfinite(number) or number < 0 else min(int(number), ABSURD_TOKENS)
        if clamped != value:
            log.warning("%s reported %s=%r; counted as %d", model, name, value, clamped)
        counts[name] = clamped
    return SimpleNamespace(**counts)
