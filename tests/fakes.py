"""A scripted fake LLM for unit tests: each role answers from its own list of texts, in order."""

from __future__ import annotations

from collections import defaultdict

from agents.calls.client import Completion, LLMClient, LLMConfig
from protocols.types import Usage


class ScriptedLLM(LLMClient):
    """Replies per role from a script; when a role's script runs out, its last text repeats.

    `finish_reason` (e.g. "length") is reported for every reply; by default none is, like a server that omits it.
    """

    def __init__(self, model: str = "fake/scripted", finish_reason: str | None = None, **script: list[str]):
        super().__init__(LLMConfig(model=model))
        self.finish_reason = finish_reason
        self.script = {role: list(texts) for role, texts in script.items()}
        self.prompts: dict[str, list[list[dict]]] = defaultdict(list)
        self.sampling: dict[str, list[dict]] = defaultdict(list)  # each call's sampling arguments (seed, max_tokens, ...)
        self.tokens_per_call = 10

    def scoped(self) -> ScriptedLLM:
        return self

    async def complete(self, messages, *, n=1, role="default", **sampling) -> Completion:
        self.prompts[role].append(list(messages))
        self.sampling[role].append(dict(sampling))
        texts = self.script.get(role) or [""]
        text = texts.pop(0) if len(texts) > 1 else texts[0]
        completion = Completion(texts=[text] * n, model=self.model, prompt_tokens=self.tokens_per_call,
                                completion_tokens=self.tokens_per_call, cost=0.001, latency_s=0.0,
                                finish_reasons=[self.finish_reason] * n if self.finish_reason else [])
        self.usage[role] = self.usage[role] + completion.usage()
        return completion

    def total_usage(self) -> Usage:
        return sum(self.usage.values(), Usage())
