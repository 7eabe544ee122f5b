"""config.yaml and manifest.json hold no secrets, and the manifest's usage is the whole run's, across interruptions and
resumes."""

import asyncio
import json

import pytest

from protocols.types import Problem
from tests.fakes import ScriptedLLM
from tests.synthesis.engine.scripted_run import (
    make_problems, manifest_matching_records, scripted_run, solver, usage_solver,
)


def test_config_and_manifest_hold_no_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-123")
    llm = ScriptedLLM(policy=["x"])
    asyncio.run(scripted_run(tmp_path, {"policy": llm}).execute(make_problems(1), solver(llm)))
    for name in ("config.yaml", "manifest.json", "records.jsonl", "run.log"):
        assert "sk-secret-value-123" not in (tmp_path / "run" / name).read_text()


async def test_manifest_usage_is_the_runs_across_interruptions_and_a_nothing_to_do_rerun(tmp_path):
    problems = make_problems(6)
    # 1: interrupted (as Ctrl-C cancels a run) with q0, q1 recorded and q2 in flight: its call is spent, not kept.
    llm = ScriptedLLM(policy=["x"])
    task = asyncio.ensure_future(scripted_run(tmp_path, {"policy": llm}, concurrency=1).execute(
        problems, usage_solver(llm, hold={"q2"})))
    while len(llm.prompts["policy"]) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    manifest = manifest_matching_records(tmp_path)
    assert manifest["status"] == "interrupted" and manifest["usage"]["calls"] == 2
    assert manifest["usage_this_process"]["calls"] == 3
    # 2: a new process (a new client, its totals start at zero) resumes; q4 fails.
    llm = ScriptedLLM(policy=["x"])
    await scripted_run(tmp_path, {"policy": llm}).execute(problems, usage_solver(llm, fail={"q4"}))
    manifest = manifest_matching_records(tmp_path)
    assert manifest["usage"]["calls"] == 5 and manifest["usage_this_process"]["calls"] == 4
    # 3: the failed problem is retried; 4: nothing is left, and the totals stay the run's.
    for _ in range(2):
        llm = ScriptedLLM(policy=["x"])
        await scripted_run(tmp_path, {"policy": llm}).execute(problems, usage_solver(llm))
        manifest = manifest_matching_records(tmp_path)
        assert manifest["usage"]["calls"] == 6
    assert manifest["stop_note"] == "nothing to do" and manifest["usage_this_process"]["calls"] == 0


async def test_manifest_usage_skips_a_torn_last_line(tmp_path):
    llm = ScriptedLLM(policy=["x"])
    await scripted_run(tmp_path, {"policy": llm}).execute(make_problems(2), usage_solver(llm))
    with (tmp_path / "run" / "records.jsonl").open("a") as handle:
        handle.write('{"problem_id": "q2", "usage": {"policy": {"calls": 99')  # killed mid-write
    llm = ScriptedLLM(policy=["x"])
    await scripted_run(tmp_path, {"policy": llm}).execute(make_problems(3), usage_solver(llm))
    assert manifest_matching_records(tmp_path)["usage"]["calls"] == 3


async def test_rows_without_usage_leave_this_processs_totals_in_the_manifest(tmp_path):
    from pydantic import BaseModel, Field

    class Judged(BaseModel):  # like eval.reward_models' rows: no usage of their own
        problem_id: str
        meta: dict = Field(default_factory=dict)

    llm = ScriptedLLM(policy=["x"])

    async def solve(problem: Problem) -> Judged:
        await llm.complete([{"role": "user", "content": problem.question}], role="policy")
        return Judged(problem_id=problem.id)

    await scripted_run(tmp_path, {"policy": llm}).execute(make_problems(2), solve)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["usage"]["calls"] == 2 and manifest["usage_scope"].startswith("this process")
