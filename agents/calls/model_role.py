"""One way to say how an agent role reaches its model, and the one factory that turns that into a client.

Every command's config mixes in one `model_role(...)` class per role it has, so every role takes the same flags:

    --policy-model M  --policy-api-base URL  --policy-api-key-env NAME  --policy-timeout S

(a command with a single model uses no prefix: `--model`, `--api-base`, ...). `client_for(config, prefix, ...)` is the
only place a run builds an `LLMClient` from a config. HfArgumentParser reads only flat dataclass fields, so the
per-role block is generated here rather than nested; the field names are the flags users type.
"""

from __future__ import annotations

from dataclasses import field, make_dataclass
from typing import Any

from agents.calls.client import LLMClient
from agents.calls.config import DEFAULT_MODEL

DEFAULT_TIMEOUT = 300.0


def model_role(prefix: str, what: str, *, default: str | None = DEFAULT_MODEL, model_help: str | None = None) -> type:
    """A frozen dataclass mixin with `{prefix}model`, `{prefix}api_base`, `{prefix}api_key_env`, `{prefix}timeout`."""
    fields = [
        (f"{prefix}model", str if default is not None else str | None,
         field(default=default, metadata={"help": model_help or f"litellm model string of the {what}"})),
        (f"{prefix}api_base", str | None,
         field(default=None, metadata={"help": f"OpenAI-compatible server of the {what}"})),
        (f"{prefix}api_key_env", str | None, field(default=None, metadata={
            "help": f"environment variable holding the {what}'s API key (the name is recorded, never the key)"})),
        (f"{prefix}timeout", float,
         field(default=DEFAULT_TIMEOUT, metadata={"help": f"seconds before one call of the {what} is abandoned"})),
    ]
    name = "".join(part.title() for part in (prefix or "model_").split("_")) + "Role"
    role = make_dataclass(name, fields, frozen=True)

    def __post_init__(self: Any) -> None:
        timeout = getattr(self, f"{prefix}timeout")
        if not timeout > 0:
            raise ValueError(f"{prefix}timeout: expected a positive number of seconds, got {timeout}")
        parent = getattr(super(role, self), "__post_init__", None)  # the next base's checks, when there is one
        if parent is not None:
            parent()

    role.__post_init__ = __post_init__
    return role


def client_for(config: Any, prefix: str, settings: dict[str, Any], model: str | None = None) -> LLMClient:
    """The client of one role: its model (or `model`, when the caller resolved another), server, key and timeout,
    with the run's shared settings (replay cache, router)."""
    return LLMClient(model=model or getattr(config, f"{prefix}model"), api_base=getattr(config, f"{prefix}api_base"),
                     api_key_env=getattr(config, f"{prefix}api_key_env"), timeout=getattr(config, f"{prefix}timeout"),
                     **settings)
