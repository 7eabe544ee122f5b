"""A minimal autogen chat agent: a system prompt, a model client, one reply per incoming prompt.

The debate driver renders each turn's prompt from the loop state (the current path, the last feedback),
so agents receive only the new message, as autogen agents do, and keep no hidden history of their own:
after a backtrack the policy must not see the abandoned branch as its own context.
"""

from __future__ import annotations

from collections.abc import Sequence

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseChatMessage, TextMessage
from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, SystemMessage, UserMessage


class PromptedAgent(BaseChatAgent):
    """Answers the last incoming text message under a fixed system prompt."""

    def __init__(self, name: str, description: str, model_client: ChatCompletionClient, system_prompt: str):
        super().__init__(name=name, description=description)
        self.model_client = model_client
        self.system_prompt = system_prompt

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (TextMessage,)

    async def on_messages(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken) -> Response:
        if not messages:
            raise ValueError(f"{self.name}: on_messages needs at least one message")
        prompt = messages[-1].to_model_text()
        # The driver may set this call's sampling seed in the message metadata (autogen metadata is str -> str).
        seed = messages[-1].metadata.get("seed") if isinstance(messages[-1], TextMessage) else None
        result = await self.model_client.create(
            [SystemMessage(content=self.system_prompt), UserMessage(content=prompt, source=messages[-1].source)],
            extra_create_args={"seed": int(seed)} if seed is not None else {},
            cancellation_token=cancellation_token,
        )
        # The driver records why the model stopped ("length" = cut off), so it travels in the reply's metadata.
        reply = TextMessage(source=self.name, content=str(result.content), models_usage=result.usage,
                            metadata={"finish_reason": result.finish_reason})
        return Response(chat_message=reply)

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        return None
