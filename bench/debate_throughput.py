"""Debate throughput: runner overhead against raw litellm calls, and orchestration speed with a free backend.

    LONGTHOUGHT_DATA_DIR=../shared/data .venv/bin/python bench/debate_throughput.py [--problems 16] [--concurrency 1 4 16]

1. Embedded server (llama.cpp's native server, greedy decoding): for each concurrency C, (b) the debate runner on N
   MATH500 problems, C at a time, recording every request and its completion; then (a) the same requests replayed
   as raw `litellm.acompletion` calls, each problem's requests in their order, C problems at a time. Both passes
   decode greedily, so they should produce the same completions: the bench checks and prints how many match
   (continuous batching may still change a token where batches differ). Each pass starts on a freshly started
   server: llama.cpp keeps recent prompts' KV in RAM (`cache_ram_mib`), so a replay on the same server would find
   every prompt already processed and look faster than it is. Prints the wall-time ratio a/b
   (runner speed relative to raw calls on the same request mix; goal >= 0.97).
2. Zero-latency fake backend: agent turns per second through autogen agents and the state machine
   (goal >= 200 turns/s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.backends import embedded  # noqa: E402  (first: it sets LITELLM_LOCAL_MODEL_COST_MAP before litellm loads)
import litellm  # noqa: E402, I001
from agents.calls.client import Completion, LLMClient  # noqa: E402
from protocols.answers import equivalent  # noqa: E402
from protocols.problems import load  # noqa: E402
from protocols.types import Problem  # noqa: E402
from synthesis.debate import DebateConfig, run_debate  # noqa: E402

_problem_id: contextvars.ContextVar[str] = contextvars.ContextVar("problem_id", default="?")
SAMPLING = ("max_tokens", "temperature", "top_p", "stop", "seed")


class RecordingClient(LLMClient):
    """Remembers every request and its completion, by problem, so the same chains can be replayed raw."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.requests: dict[str, list[tuple[list[dict], dict, str]]] = defaultdict(list)

    def scoped(self) -> RecordingClient:
        return self

    async def complete(self, messages, **kwargs) -> Completion:
        completion = await super().complete(messages, **kwargs)
        sampling = {k: kwargs[k] for k in SAMPLING if kwargs.get(k) is not None}
        self.requests[_problem_id.get()].append((list(messages), sampling, completion.texts[0]))
        return completion


class FreeClient(LLMClient):
    """Answers instantly: a step, then a continue, until the last turn ends with a correct answer."""

    def scoped(self) -> FreeClient:
        return self

    async def complete(self, messages, *, role="default", **kwargs) -> Completion:
        text = "ACTION: continue\nREASON: fine" if role == "critic" else "1. Add the numbers."
        return Completion(texts=[text], model="free", prompt_tokens=1, completion_tokens=1, cost=0.0, latency_s=0.0)


def _fresh_server() -> tuple[str, str, str]:
    """The embedded model on a newly started server (empty slots and prompt cache); its litellm route."""
    embedded.stop_all()
    return embedded.litellm_route(embedded.DEFAULT_MODEL)


async def embedded_ratio(problems: list[Problem], concurrency: int, config: DebateConfig) -> float:
    """One concurrency: the runner pass, then the raw replay; returns the wall-time ratio raw / runner."""
    model, api_base, api_key = _fresh_server()  # started outside the timings
    # Answer checks run in a spawned worker pool that imports sympy on first use (~3 s here): a one-off start-up cost,
    # like the server's, kept out of the runner's time.
    equivalent("1", "1")
    client = RecordingClient(max_concurrency=concurrency)
    gate = asyncio.Semaphore(concurrency)

    async def one(problem: Problem) -> None:
        async with gate:
            _problem_id.set(problem.id)
            await run_debate(problem, config, client, client)

    started = time.perf_counter()
    await asyncio.gather(*(one(problem) for problem in problems))
    runner_seconds = time.perf_counter() - started

    model, api_base, api_key = _fresh_server()  # the same empty prompt cache the runner started with
    raw_gate = asyncio.Semaphore(concurrency)
    same = total = 0

    async def chain(requests: list[tuple[list[dict], dict, str]]) -> None:
        nonlocal same, total
        async with raw_gate:
            for messages, sampling, expected in requests:
                response = await litellm.acompletion(model=model, api_base=api_base, api_key=api_key,
                                                     messages=messages, **sampling)
                total += 1
                same += (response.choices[0].message.content or "") == expected

    started = time.perf_counter()
    await asyncio.gather(*(chain(requests) for requests in client.requests.values()))
    raw_seconds = time.perf_counter() - started
    ratio = raw_seconds / runner_seconds
    print(f"concurrency {concurrency:>2}: {len(problems)} problems, {total} requests, "
          f"{client.total_usage().completion_tokens} completion tokens; identical completions {same}/{total}")
    print(f"  (a) raw litellm.acompletion chains: {raw_seconds:.1f}s")
    print(f"  (b) debate runner:                  {runner_seconds:.1f}s")
    print(f"  wall-time ratio a/b = {ratio:.3f} (goal >= 0.97)")
    return ratio


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
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--max-turns", type=int, default=4)
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args()
    asyncio.run(orchestration(turns=20, problems=20))
    if not args.skip_embedded:
        # Greedy on both roles: the two passes must decode the same texts for their wall times to compare.
        config = DebateConfig(max_turns=args.max_turns, policy_max_tokens=96, critic_max_tokens=48,
                              policy_temperature=0.0, critic_temperature=0.0)
        problems = load("math500", limit=args.problems)
        try:
            for concurrency in args.concurrency:
                asyncio.run(embedded_ratio(problems, concurrency, config))
        finally:
            embedded.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
