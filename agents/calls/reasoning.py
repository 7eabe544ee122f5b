"""Completion budgets for reasoning models (o1, o3-mini, deepseek-reasoner, ...).

Their hidden reasoning is paid out of the same completion cap as the visible reply (litellm sends `max_tokens` to
them as `max_completion_tokens`), so a cap sized for a short verdict is spent on thinking and the reply comes back
empty with finish_reason "length". Each role's cap is therefore its visible size plus a reasoning allowance.
"""

from __future__ import annotations

import functools

from agents.backends import backend_for
from agents.calls.litellm_setup import litellm

# Room for a few thousand tokens of hidden reasoning before a short verdict; a cap, not a spend.
DEFAULT_REASONING_TOKENS = 4096


@functools.lru_cache(maxsize=256)
def is_reasoning_model(model: str) -> bool:
    """Whether litellm's model map says `model` reasons before it answers; unknown models are not."""
    known = backend_for(model).reasoning(model)  # a backend of our own says (the oracle's -reasoning variants)
    if known is not None:
        return known
    try:
        if litellm.supports_reasoning(model=model):
            return True
        # Bare names the provider lookup no longer resolves (o1-mini) are still in the model map.
        return litellm.get_model_info(model).get("supports_reasoning") is True
    except Exception:  # noqa: BLE001 - litellm raises for models it does not know: not a reasoning model
        return False


@functools.lru_cache(maxsize=256)
def is_known_model(model: str) -> bool:
    """Whether litellm's model map has an entry for `model` (hosted APIs: openai/o3-mini, gpt-4o-mini, ...)."""
    try:
        litellm.get_model_info(model)
    except Exception:  # noqa: BLE001 - embedded, self-hosted and router names are not in the map
        return False
    return True


def completion_budget(model: str, visible_tokens: int, reasoning_tokens: int) -> int:
    """The max_tokens to send: `visible_tokens`, plus `reasoning_tokens` when `model` is a reasoning model."""
    return visible_tokens + reasoning_tokens if is_reasoning_model(model) else visible_tokens
