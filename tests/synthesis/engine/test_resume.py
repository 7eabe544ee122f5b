"""A rerun of the same command resumes: finished problems are skipped, failed ones retried, a finished run calls no
model, and a different command cannot take over the directory."""

import json
import subprocess
import sys

import pytest

from synthesis.engine import RunError
from tests.fakes import ScriptedLLM
from tests.synthesis.engine.scripted_run import make_problems, recorded_ids, scripted_run, solver


async def test_resume_skips_done_and_retries_failures(tmp_path):
    llm = ScriptedLLM(policy=["x"])
    summary = await scripted_run(tmp_path, {"policy": llm}).execute(make_problems(4), solver(llm, fail={"q2"}))
    assert (summary.done, summary.failed) == (3, 1)
    failure = json.loads((tmp_path / "run" / "failures.jsonl").read_text())
    assert failure["problem_id"] == "q2" and "cannot solve q2" in failure["error"]
    summary = await scripted_run(tmp_path, {"policy": llm}).execute(make_problems(4), solver(llm))
    assert (summary.done, summary.skipped) == (1, 3)
    assert sorted(recorded_ids(tmp_path)) == ["q0", "q1", "q2", "q3"]
    again = await scripted_run(tmp_path, {"policy": llm}).execute(make_problems(4), solver(llm))
    assert again.status == "nothing_to_do"


async def test_a_different_command_cannot_resume_the_same_directory(tmp_path):
    llm = ScriptedLLM(policy=["x"])
    await scripted_run(tmp_path, {"policy": llm}).execute(make_problems(1), solver(llm))
    with pytest.raises(RunError, match="different command.*seed"):
        await scripted_run(tmp_path, {"policy": llm}, seed=5).execute(make_problems(1), solver(llm))
    # limit and concurrency may change between a run and its resumption
    await scripted_run(tmp_path, {"policy": llm}, limit=1, concurrency=2).execute(make_problems(1), solver(llm))


def test_a_finished_run_resumes_without_calling_any_model(tmp_path, stub_server):
    from tests.conftest import chat_completion_body

    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps({"id": "q", "problem": "1 + 1?", "answer": "2"}) + "\n")
    with stub_server([(200, chat_completion_body("1. \\boxed{2}"))]) as server:
        command = [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(tmp_path / "run"),
                   "--max-turns", "1", "--policy-model", "hosted_vllm/stub", "--critic-model", "hosted_vllm/stub",
                   "--policy-api-base", server.api_base, "--critic-api-base", server.api_base]
        first = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stderr[-2000:]
    # The server is gone: a preflight call would fail, but nothing is left to do, so none is made.
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "nothing to do" in again.stderr, again.stderr[-2000:]
