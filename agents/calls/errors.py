"""The errors a model call can end with; callers import them from agents.calls.client, which re-exports them.

They live apart from the client so that modules the client uses (agents.calls.reply_guard) can raise them without
importing the client back.
"""

from __future__ import annotations


class LLMError(RuntimeError):
    """A model call failed for good (after retries, or with a non-transient error)."""


class LLMAuthError(LLMError):
    """The provider has no usable key for this model: retrying cannot help; the message says what to set."""


class BudgetExhausted(RuntimeError):
    """The run's budget is spent: no further model call starts (the problem runs again on a resumed run)."""


class LLMTimeoutError(TimeoutError):
    """A model call got no answer within its timeout."""
