"""In-process litellm providers (`hf/`, `oracle/`): one place for litellm's custom-provider boilerplate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import Choices, Message, ModelResponse, Usage


class LocalProvider(CustomLLM):
    """A litellm custom provider that answers in this process; subclasses implement `respond`.

    `threaded`: run `respond` in a worker thread (slow work such as generation); otherwise it runs on the event loop.
    """

    threaded = False

    def respond(self, model: str, messages: list, model_response: ModelResponse, optional_params: dict) -> ModelResponse:
        raise NotImplementedError

    def completion(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose, encoding,
                   api_key, logging_obj, optional_params, *args, **kwargs) -> ModelResponse:
        return self.respond(model, messages, model_response, optional_params)

    async def acompletion(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose,
                          encoding, api_key, logging_obj, optional_params, *args, **kwargs) -> ModelResponse:
        if self.threaded:
            return await asyncio.to_thread(self.respond, model, messages, model_response, optional_params)
        return self.respond(model, messages, model_response, optional_params)


def fill(model_response: ModelResponse, model: str, replies: list[tuple[str, str]], prompt_tokens: int,
         completion_tokens: int) -> ModelResponse:
    """`model_response` with one choice per (text, finish reason) and the call's usage."""
    model_response.choices = [
        Choices(index=index, message=Message(role="assistant", content=text), finish_reason=finish)
        for index, (text, finish) in enumerate(replies)
    ]
    model_response.model = model
    model_response.usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                                 total_tokens=prompt_tokens + completion_tokens)
    return model_response


_installed: dict[str, CustomLLM] = {}


def install(provider: str, make_handler: Callable[[], CustomLLM]) -> None:
    """Make `provider/...` model strings resolve to a handler made once per process (idempotent)."""
    if provider in _installed:
        return
    _installed[provider] = handler = make_handler()
    litellm.custom_provider_map = [
        *[item for item in litellm.custom_provider_map if item["provider"] != provider],
        {"provider": provider, "custom_handler": handler},
    ]
    litellm.utils.custom_llm_setup()
