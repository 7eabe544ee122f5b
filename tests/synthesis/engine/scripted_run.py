"""The engine on scripted models, for its tests: problems, a debate run in tmp_path/run, solvers, the manifest's
usage checked against the records."""

from __future__ import annotations

import asyncio
import json

import pytest

from protocols.types import Problem, Record, Usage
from synthesis.engine import Run, RunConfig
from tests.fakes import ScriptedLLM


def make_problems(count: int) -> list[Problem]:
    return [Problem(id=f"q{i}", question=f"{i}?", answer=str(i)) for i in range(count)]


def scripted_run(tmp_path, clients=None, **config) -> Run:
    return Run("debate", RunConfig(out=str(tmp_path / "run"), preflight=False, **config), RunConfig(),
               clients or {"policy": ScriptedLLM(policy=["x"])}, {})


def solver(llm: ScriptedLLM, fail: set[str] = frozenset()):
    async def solve(problem: Problem) -> Record:
        await llm.complete([{"role": "user", "content": problem.question}], role="policy")
        if problem.id in fail:
            raise ValueError(f"cannot solve {problem.id}")
        return Record(problem_id=problem.id, attempt="debate", problem=problem, stop_reason="terminated")
    return solve


def recorded_ids(tmp_path) -> list[str]:
    return [json.loads(line)["problem_id"] for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]


def usage_solver(llm: ScriptedLLM, fail: set[str] = frozenset(), hold: set[str] = frozenset()):
    """Like solver, but each record carries the usage of its own call, as real attempts' records do."""

    async def solve(problem: Problem) -> Record:
        before = llm.total_usage()
        await llm.complete([{"role": "user", "content": problem.question}], role="policy")
        if problem.id in hold:
            await asyncio.sleep(3600)  # in flight when the run is interrupted: spent, never recorded
        if problem.id in fail:
            raise ValueError(f"cannot solve {problem.id}")
        spent = llm.total_usage()
        own = Usage(calls=spent.calls - before.calls, prompt_tokens=spent.prompt_tokens - before.prompt_tokens,
                    completion_tokens=spent.completion_tokens - before.completion_tokens, cost=0.001)
        return Record(problem_id=problem.id, attempt="debate", problem=problem, stop_reason="terminated",
                      usage={"policy": own})
    return solve


def manifest_matching_records(tmp_path) -> dict:
    """The run's manifest, once its usage is checked to be the sum of the records' (0.001 USD a record)."""
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    for key in ("calls", "prompt_tokens", "completion_tokens"):
        assert manifest["usage"][key] == sum(row["usage"]["policy"][key] for row in rows), key
        assert manifest["usage_by_role"]["policy"][key] == manifest["usage"][key]
    assert manifest["usage"]["cost"] == pytest.approx(0.001 * len(rows))
    return manifest
