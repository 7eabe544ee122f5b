"""The in-process hf/ backend: callers' parallel requests queue at the gate, outside each call's timeout."""

import asyncio
import json
import threading
import time

from agents.backends import hf_provider


class _SlowModel:
    """Generates one request at a time, as the real one does, in `seconds` each."""

    seconds = 0.8
    in_generation = 0
    most_at_once = 0

    def __init__(self, path: str):
        self.lock = threading.Lock()

    def generate(self, messages, params):
        with self.lock:
            type(self).in_generation += 1
            type(self).most_at_once = max(type(self).most_at_once, type(self).in_generation)
            time.sleep(self.seconds)
            type(self).in_generation -= 1
        return [(f"answer to {messages[-1]['content']}", "stop")], 5, 3


def test_parallel_callers_of_an_in_process_model_never_time_out_waiting_for_each_other(tmp_path, monkeypatch):
    from agents.backends.local_models import HF_SERVE_ENV
    from agents.calls.client import LLMClient

    monkeypatch.delenv(HF_SERVE_ENV, raising=False)
    monkeypatch.setattr(hf_provider, "_LoadedModel", _SlowModel)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    # Nine calls of 0.8 s each take 7.2 s in all: queued inside their timeouts, the later ones would pass the 1 s
    # timeout's outer guard (6 s) and fail; queued at the gate, each call's timeout covers only its own generation.
    client = LLMClient(model=f"hf/{tmp_path}", timeout=1.0, max_retries=0)

    async def ask_all():
        return await asyncio.gather(*(client.complete([{"role": "user", "content": f"q{i}"}], max_tokens=4)
                                      for i in range(9)))

    started = time.perf_counter()
    replies = asyncio.run(ask_all())
    assert [reply.text for reply in replies] == [f"answer to q{i}" for i in range(9)]
    assert _SlowModel.most_at_once == 1 and time.perf_counter() - started >= 9 * _SlowModel.seconds
