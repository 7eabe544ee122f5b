"""An autogen `ChatCompletionClient` over `agents.calls.client.LLMClient`.

autogen-ext 0.7 ships no litellm client, and its OpenAI client counts tokens with tiktoken (which fails
offline). This adapter gives autogen agents the same retries, cache, concurrency limit and per-role
usage accounting as every other call in the framework.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelCapabilities,
    ModelFamily,
    ModelInfo,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema

from agents.calls.client import LLMClient

# Rough characters per token, used only for autogen's count/remaining estimates (never for budgets).
_CHARS_PER_TOKEN = 4
# litellm's finish reasons in autogen's vocabulary; anything else (or none) is "unknown".
_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter", "tool_calls": "function_calls",
           "function_call": "function_calls"}


def _to_openai(message: LLMMessage) -> dict[str, str]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.content}
    if isinstance(message, UserMessage | AssistantMessage) and isinstance(message.content, str):
        return {"role": "user" if isinstance(message, UserMessage) else "assistant", "content": message.content}
    raise ValueError(f"unsupported message for a text-only client: {type(message).__name__}")


class LLMChatCompletionClient(ChatCompletionClient):
    """Text-only autogen client; `role` names the agent in usage totals, `sampling` sets call defaults."""

    def __init__(self, llm: LLMClient, *, role: str, context_window: int = 8192, **sampling: Any):
        self.llm = llm
        self.role = role
        self.context_window = context_window
        self.sampling = sampling
        self._total = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._last = RequestUsage(prompt_tokens=0, completion_tokens=0)

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        if tools:
            raise ValueError("LLMChatCompletionClient does not support tools")
        completion = await self.llm.complete(
            [_to_openai(message) for message in messages], role=self.role, **{**self.sampling, **extra_create_args}
        )
        self._last = RequestUsage(prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens)
        self._total = RequestUsage(
            prompt_tokens=self._total.prompt_tokens + self._last.prompt_tokens,
            completion_tokens=self._total.completion_tokens + self._last.completion_tokens,
        )
        finish = completion.finish_reasons[0] if completion.finish_reasons else None
        return CreateResult(
            finish_reason=_FINISH.get(finish, "unknown"),
            content=completion.text,
            usage=self._last,
            cached=completion.cache_hits > 0,
        )

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        # No token streaming: one final result, which autogen accepts as a complete stream.
        yield await self.create(messages, extra_create_args=extra_create_args, cancellation_token=cancellation_token)

    async def close(self) -> None:
        return None

    def actual_usage(self) -> RequestUsage:
        return self._last

    def total_usage(self) -> RequestUsage:
        return self._total

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return sum(len(str(message.content)) for message in messages) // _CHARS_PER_TOKEN + 1

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.context_window - self.count_tokens(messages)

    @property
    def capabilities(self) -> ModelCapabilities:  # type: ignore[override]  # deprecated in autogen, still abstract
        return ModelCapabilities(vision=False, function_calling=False, json_output=False)  # type: ignore[typeddict-item]

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            vision=False, function_calling=False, json_output=False, family=ModelFamily.UNKNOWN, structured_output=False
        )
