"""In-process litellm providers (`hf/`, `oracle/`): one place for litellm's custom-provider boilerplate."""

from __future__ import annotations

import asyncio

import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import ModelResponse


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


def install(provider: str, handler: CustomLLM) -> None:
    """Make `provider/...` model strings resolve to `handler` (replacing an earlier handler of that name)."""
    litellm.custom_provider_map = [
        *[item for item in litellm.custom_provider_map if item["provider"] != provider],
        {"provider": provider, "custom_handler": handler},
    ]
    litellm.utils.custom_llm_setup()
