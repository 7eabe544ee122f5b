"""What the rest of the code asks of a kind of model string. A backend answers for the strings its prefix starts;
every answer here is a plain litellm model's, so a backend overrides only where its strings differ."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from agents.calls.errors import LLMError
from agents.calls.redact import remember

# Calls in flight per hosted model unless told otherwise: well under common rate limits; local servers use their slots.
DEFAULT_CONCURRENCY = 8


class Backend:
    """A kind of model string (`prefix`, "" for any litellm string) and what the client, engine, training and
    eval need to know of it."""

    prefix: str = ""
    name: str = "litellm"
    # Its strings name weights on this machine that training can start from (embedded/, gguf/, hf/).
    local_weights: bool = False

    def matches(self, model: str, router: Any = None) -> bool:
        """Whether this backend answers for `model` (`router`: the run's RouterSpec, or None)."""
        return model.startswith(self.prefix)

    def rank(self) -> int:
        """How specific a match is: of the backends that match a string, the highest rank answers for it."""
        return len(self.prefix)

    def route(self, config: Any) -> dict[str, Any]:
        """litellm keyword arguments that reach `config.model` (an `LLMConfig`); the key is read at call time only."""
        route: dict[str, Any] = {"model": config.model}
        if config.api_base:
            route["api_base"] = config.api_base
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise LLMError(f"{config.model}: environment variable {config.api_key_env} is not set")
            remember(key)  # a server that echoes the key must not get it into an error line
            route["api_key"] = key
        return route

    def free(self, model: str) -> bool:
        """Whether its calls cost nothing (litellm is not asked for a price)."""
        return False

    def replayable(self, model: str) -> bool:
        """Whether its replies are worth keeping in the replay cache."""
        return True

    def reasoning(self, model: str) -> bool | None:
        """Whether it reasons before it answers; None: ask litellm's model map."""
        return None

    def in_process(self, model: str) -> bool:
        """Whether every process that calls it loads the weights itself (Ray: one worker per GPU, not per CPU)."""
        return False

    def concurrency(self, model: str, configured: int | None) -> int:
        """Calls it may have in flight: `configured` (--max-concurrency) when set, else a polite default."""
        return configured if configured is not None else DEFAULT_CONCURRENCY

    def check_available(self, model: str) -> None:
        """Refuse, in one line, a string that cannot name a usable model here (before any call is made)."""

    def checkpoint(self, model: str) -> str | None:
        """The transformers folder or Hub id the string names as written, or None (no conversion, no check)."""
        return None

    def local_folder(self, model: str) -> str:
        """A folder or Hub id `from_pretrained` accepts, for training from this model."""
        return model

    def prepare_run(self, problems: Sequence[Any], source: str) -> None:
        """Called once per run with the run's problems and their set's name (or a .jsonl's absolute path)."""
