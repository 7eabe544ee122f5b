"""Evaluation throughput of a trained checkpoint: `hf/` in-process against the same weights as GGUF, natively served.

    .venv/bin/python bench/eval_serving.py [--model hf/runs/sft/final] [--requests 4 --max-tokens 48]

Each arm answers the same `--requests` short arithmetic questions, all sent at once as eval.accuracy sends them,
greedily, through `LLMClient`: `hf/` in-process (transformers, one request at a time: the client queues them),
then LONGTHOUGHT_HF_SERVE=native with f16 and q8_0 GGUF (converted once into the cache dir; the conversion is timed
apart and not counted). tok/s = completion tokens / wall seconds. Goal: native f16 >= 10x hf/ in-process
(issue 25 measured 2.6 tok/s against 29 f16 and 41 q8_0). Prints one JSON object with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.backends import embedded  # noqa: E402
from agents.backends.local_models import HF_GGUF_TYPE_ENV, HF_SERVE_ENV, gguf_for  # noqa: E402
from agents.calls.client import LLMClient  # noqa: E402


async def answer_all(model: str, requests: int, max_tokens: int) -> tuple[float, int, list[str]]:
    client = LLMClient(model=model, timeout=3600)
    questions = [f"What is {11 + 7 * i} + {23 + 5 * i}? Think step by step." for i in range(requests)]
    started = time.perf_counter()
    replies = await asyncio.gather(*(client.complete([{"role": "user", "content": question}], max_tokens=max_tokens,
                                                     temperature=0.0) for question in questions))
    return time.perf_counter() - started, sum(reply.completion_tokens for reply in replies), [r.text for r in replies]


def arm(model: str, serve: str, gguf_type: str, args: argparse.Namespace) -> dict:
    os.environ[HF_SERVE_ENV], os.environ[HF_GGUF_TYPE_ENV] = serve, gguf_type
    convert = 0.0
    if serve == "native":
        started = time.perf_counter()
        gguf_for(model, gguf_type)
        convert = time.perf_counter() - started
        asyncio.run(answer_all(model, 1, 4))  # starts the server: not part of the timing
    seconds, tokens, texts = asyncio.run(answer_all(model, args.requests, args.max_tokens))
    embedded.stop_all()
    return {"seconds": round(seconds, 1), "completion_tokens": tokens, "tok_per_s": round(tokens / seconds, 1),
            "convert_s": round(convert, 1), "texts": texts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="hf/embedded/smollm2-135m", help="an hf/ checkpoint")
    parser.add_argument("--requests", type=int, default=4, help="questions sent at once")
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args(argv)
    result = {"model": args.model, "requests": args.requests, "max_tokens": args.max_tokens,
              "gguf_threads": embedded.ServeSettings().resolved().threads}
    for name, serve, gguf_type in (("hf_inprocess", "inprocess", "f16"), ("gguf_f16", "native", "f16"),
                                   ("gguf_q8_0", "native", "q8_0")):
        result[name] = arm(args.model, serve, gguf_type, args)
    base = result["hf_inprocess"]["tok_per_s"]
    result["speedup_f16"] = round(result["gguf_f16"]["tok_per_s"] / base, 1)
    result["speedup_q8_0"] = round(result["gguf_q8_0"]["tok_per_s"] / base, 1)
    result["f16_same_text_as_hf"] = result["gguf_f16"]["texts"] == result["hf_inprocess"]["texts"]
    for name in ("hf_inprocess", "gguf_f16", "gguf_q8_0"):
        result[name].pop("texts")
    result["load_average"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
