"""`hf/<path or id>`: a local transformers model served in-process through litellm's custom-provider hook.

A checkpoint trained by `training.sft` or `training.dpo` can then be the policy of a debate, the DPO sampler or
the model under evaluation, through the same `LLMClient` path (agents.calls.client) as any API model:

    python -m agents.llm --model hf/runs/sft-journey/final --prompt "What is 2+2?"

`hf/embedded/smollm2-135m` serves the embedded model's converted weights (see agents.backends.local_models).
Generation runs in a worker thread, one request at a time per model (a CPU model gains nothing from overlap);
parallel callers queue at the client's gate (`LLMConfig.concurrency()` is 1 for in-process hf/), so a call's
timeout counts its own generation, never the queue. For parallel slots, LONGTHOUGHT_HF_SERVE=native serves the
checkpoint through llama.cpp's native server instead (converted to GGUF once; eval.accuracy's default).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from litellm.llms.custom_llm import CustomLLMError
from litellm.types.utils import ModelResponse

from agents.backends.custom_provider import LocalProvider, fill, install

PROVIDER = "hf"


class _LoadedModel:
    def __init__(self, path: str):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from agents.backends.local_models import resolve

        resolved = resolve(path)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(resolved)
        self.model = AutoModelForCausalLM.from_pretrained(resolved).eval()
        self.lock = threading.Lock()

    def generate(self, messages: list[dict], params: dict[str, Any]) -> tuple[list[tuple[str, str]], int, int]:
        n = int(params.get("n") or 1)
        temperature = float(params.get("temperature") if params.get("temperature") is not None else 1.0)
        stop = params.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        sampling = temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": int(params.get("max_tokens") or 256),
            "do_sample": sampling,
            "num_return_sequences": n,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if sampling:
            kwargs |= {"temperature": temperature, "top_p": float(params.get("top_p") or 1.0)}
        with self.lock:
            if params.get("seed") is not None:
                self.torch.manual_seed(int(params["seed"]))
            with self.torch.no_grad():
                output = self.model.generate(**inputs, **kwargs)
        prompt_length = inputs["input_ids"].shape[1]
        results, completion_tokens = [], 0
        for sequence in output:
            new_tokens = sequence[prompt_length:]
            text = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
            finish = "length" if len(new_tokens) >= kwargs["max_new_tokens"] else "stop"
            for marker in stop:
                if marker and marker in text:
                    text, finish = text[: text.index(marker)], "stop"
            completion_tokens += int((new_tokens != kwargs["pad_token_id"]).sum())
            results.append((text, finish))
        return results, prompt_length * n, completion_tokens


class TransformersLLM(LocalProvider):
    """litellm custom provider `hf`: `hf/<folder or hub id>`."""

    threaded = True  # generation blocks for seconds

    def __init__(self) -> None:
        super().__init__()
        self._models: dict[str, _LoadedModel] = {}
        self._guard = threading.Lock()

    def _model(self, path: str) -> _LoadedModel:
        with self._guard:
            if path not in self._models:
                try:
                    self._models[path] = _LoadedModel(path)
                except (OSError, ValueError) as error:
                    raise CustomLLMError(status_code=404, message=f"hf/{path}: cannot load ({error})") from error
            return self._models[path]

    def respond(self, model: str, messages: list, model_response: ModelResponse, optional_params: dict) -> ModelResponse:
        path = model.removeprefix(f"{PROVIDER}/")
        loaded = self._model(path)
        started = time.perf_counter()
        results, prompt_tokens, completion_tokens = loaded.generate(messages, optional_params)
        fill(model_response, f"{PROVIDER}/{path}", results, prompt_tokens, completion_tokens)
        model_response._response_ms = (time.perf_counter() - started) * 1000
        return model_response


def register() -> None:
    """Make `hf/...` model strings resolvable by litellm (idempotent)."""
    install(PROVIDER, TransformersLLM)
