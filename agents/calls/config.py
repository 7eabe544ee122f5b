"""How to reach one model and how patiently: the settings every `LLMClient` is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agents.backends import DEFAULT_CONCURRENCY, backend_for  # noqa: F401 - DEFAULT_CONCURRENCY: re-exported
from agents.backends.gguf_models import DEFAULT_MODEL
from agents.backends.litellm_router import RouterSpec


@dataclass(frozen=True)
class LLMConfig:
    """How to reach one model and how patiently."""

    model: str = field(default=DEFAULT_MODEL, metadata={"help": "litellm model string, or embedded/smollm2-135m"})
    api_base: str | None = field(default=None, metadata={"help": "base URL of an OpenAI-compatible server"})
    api_key_env: str | None = field(
        default=None, metadata={"help": "name of the environment variable holding the API key (never the key)"}
    )
    timeout: float = field(default=300.0, metadata={"help": "seconds before one call is abandoned"})
    max_retries: int = field(default=4, metadata={"help": "retries of transient errors per call"})
    backoff_initial: float = field(default=1.0, metadata={"help": "first retry delay in seconds"})
    backoff_max: float = field(default=30.0, metadata={"help": "longest retry delay in seconds"})
    max_concurrency: int | None = field(default=None, metadata={
        "help": "calls in flight per model (default: the server's slots for embedded/ and gguf/ models, else 8)"})
    cache_dir: Path | None = field(default=None, metadata={"help": "directory of the replay cache; None disables it"})
    router: RouterSpec | None = field(default=None, metadata={"help": "model names served by a litellm Router"})
    # A step or verdict is a few hundred tokens; 16,000 characters (~4,000 tokens) leaves room for verbose models
    # while stopping a runaway reply (one 2 MB step became a 24 MB record, resent in every later prompt). Counted in
    # characters, not tokens, because a server's usage figures can be wrong. Callers with long outputs pass max_chars.
    max_reply_chars: int = field(default=16_000, metadata={"help": "characters kept of one reply; the rest is cut"})

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("model: expected a litellm model string, got an empty string")
        for name in ("timeout", "backoff_initial", "backoff_max"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: expected a positive number, got {getattr(self, name)}")
        if self.max_reply_chars < 1:
            raise ValueError(f"max_reply_chars: expected >= 1, got {self.max_reply_chars}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries: expected >= 0, got {self.max_retries}")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError(f"max_concurrency: expected >= 1, got {self.max_concurrency}")
        backend_for(self.model).check_available(self.model)

    def concurrency(self) -> int:
        """Calls this model may have in flight: as set, else the local server's slots, else 8 (a polite default);
        1 for an in-process hf/ model, whatever is set (its backend says why)."""
        return backend_for(self.model).concurrency(self.model, self.max_concurrency)
