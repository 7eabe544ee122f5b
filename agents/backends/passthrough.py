"""Any litellm model string (`openai/gpt-4o-mini`, `hosted_vllm/NAME` with an api base, ...): litellm reaches it,
prices it and knows whether it reasons; every answer is the base class's."""

from __future__ import annotations

from agents.backends.base import Backend


class LiteLLMBackend(Backend):
    """The default backend: a string no other backend's prefix starts."""


LITELLM = LiteLLMBackend()
