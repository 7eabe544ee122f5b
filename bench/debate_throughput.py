"""Debate throughput: runner overhead against raw litellm calls, and orchestration speed with a free backend.

    LONGTHOUGHT_DATA_DIR=../shared/data .venv/bin/python bench/debate_throughput.py [--problems 4] [--concurrency 4]

1. Embedded server: (b) the debate runner on N MATH500 problems, recording every request it makes; then
   (a) the same requests replayed as raw concurrent `litellm.acompletion` calls at the same concurrency.
   Prints completion tokens/s of each and the ratio b/a (goal >= 0.9).
2. Zero-latency fake backend: agent turns per second through autogen agents and the state machine
   (goal >= 200 turns/s).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents import embedded  # noqa: E402  (first: it sets LITELLM_LOCAL_MODEL_COST_MAP before litellm loads)
import litellm  # noqa: E402, I001
from agents.llm import Completion, LLMClient  # noqa: E402
from protocols.problems import load  # noqa: E402
from protocols.types import Problem  # noqa: E402
from synthesis.debate import DebateConfig, run_debate  # noqa: E402


class RecordingClient(LLMClient):
    """Remembers every request so the same mix can be replayed raw."""

    requests: list[tuple[list[dict], dict]] = []

    def scoped(self) -> RecordingClient:
        return self

    async def complete(self, messages, **kwargs) -> Completion:
        RecordingClient.requests.append((list(messages), {k: kwargs[k] for k in ("max_tokens", "temperature") if k in kwargs}))
        return await super().complete(messages, **kwargs)


class FreeClient(LLMClient):
    """Answers instantly: a step, then a continue, until the last turn ends with a correct answer."""

    def scoped(self) -> FreeClient:
        return self

    async def complete(self, messages, *, role="default", **kwargs) -> Completion:
        text = "ACTION: continue\nREASON: fine" if role == "critic" else "1. Add the numbers."
        return Completion(texts=[text], model="free", prompt_tokens=1, completion_tokens=1, cost=0.0, latency_s=0.0)


async def embedded_ratio(problems: list[Problem], concurrency: int, config: DebateConfig) -> None:
    client = RecordingClient(max_concurrency=concurrency)
    gate = asyncio.Semaphore(concurrency)

    async def one(problem: Problem) -> None:
        async with gate:
            await run_debate(problem, config, client, client)

    started = time.perf_counter()
    await asyncio.gather(*(one(problem) for problem in problems))
    runner_seconds = time.perf_counter() - started
    runner_tokens = client.total_usage().completion_tokens

    model, api_base, api_key = embedded.litellm_route(embedded.DEFAULT_MODEL)
    raw_gate = asyncio.Semaphore(concurrency)
    raw_tokens = 0

    async def raw(messages: list[dict], sampling: dict) -> None:
        nonlocal raw_tokens
        async with raw_gate:
            response = await litellm.acompletion(model=model, api_base=api_base, api_key=api_key, messages=messages, **sampling)
            raw_tokens += response.usage.completion_tokens

    started = time.perf_counter()
    await asyncio.gather(*(raw(messages, sampling) for messages, sampling in RecordingClient.requests))
    raw_seconds = time.perf_counter() - started
    a = raw_tokens / raw_seconds
    b = runner_tokens / runner_seconds
    print(f"embedded, {len(problems)} problems, concurrency {concurrency}, {len(RecordingClient.requests)} requests")
    print(f"  (a) raw litellm.acompletion: {raw_tokens} tokens in {raw_seconds:.1f}s = {a:.1f} tok/s")
    print(f"  (b) debate runner:           {runner_tokens} tokens in {runner_seconds:.1f}s = {b:.1f} tok/s")
    print(f"  ratio b/a = {b / a:.2f} (goal >= 0.9; sampled lengths differ between the two passes)")


async def orchestration(turns: int, problems: int) -> None:
    client = FreeClient()
    config = DebateConfig(max_turns=turns, max_backtracks=turns, max_problem_tokens=10**9)
    started = time.perf_counter()
    records = await asyncio.gather(*(run_debate(Problem(id=f"f{i}", question="1+1?", answer=None), config, client, client)
                                     for i in range(problems)))
    elapsed = time.perf_counter() - started
    agent_turns = sum(len(record.turns) for record in records)
    print(f"fake backend: {agent_turns} agent turns in {elapsed:.2f}s = {agent_turns / elapsed:.0f} turns/s (goal >= 200)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-turns", type=int, default=4)
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args()
    asyncio.run(orchestration(turns=20, problems=20))
    if not args.skip_embedded:
        config = DebateConfig(max_turns=args.max_turns, policy_max_tokens=96, critic_max_tokens=48)
        try:
            asyncio.run(embedded_ratio(load("math500", limit=args.problems), args.concurrency, config))
        finally:
            embedded.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
