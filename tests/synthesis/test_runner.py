import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from protocols.types import Problem, Record
from synthesis.runner import RecordLog, Run, RunConfig, RunError, preflight
from tests.fakes import ScriptedLLM


def _problems(count: int) -> list[Problem]:
    return [Problem(id=f"q{i}", question=f"{i}?", answer=str(i)) for i in range(count)]


def _run(tmp_path, clients=None, **config) -> Run:
    return Run("debate", RunConfig(out=str(tmp_path / "run"), preflight=False, **config), RunConfig(),
               clients or {"policy": ScriptedLLM(policy=["x"])}, {}, lambda n: n)


def _solver(llm: ScriptedLLM, fail: set[str] = frozenset()):
    async def solve(problem: Problem) -> Record:
        await llm.complete([{"role": "user", "content": problem.question}], role="policy")
        if problem.id in fail:
            raise ValueError(f"cannot solve {problem.id}")
        return Record(problem_id=problem.id, attempt="debate", problem=problem, stop_reason="terminated")
    return solve


def _ids(tmp_path) -> list[str]:
    return [json.loads(line)["problem_id"] for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]


async def test_resume_skips_done_and_retries_failures(tmp_path):
    llm = ScriptedLLM(policy=["x"])
    summary = await _run(tmp_path, {"policy": llm}).execute(_problems(4), _solver(llm, fail={"q2"}))
    assert (summary.done, summary.failed) == (3, 1)
    failure = json.loads((tmp_path / "run" / "failures.jsonl").read_text())
    assert failure["problem_id"] == "q2" and "cannot solve q2" in failure["error"]
    summary = await _run(tmp_path, {"policy": llm}).execute(_problems(4), _solver(llm))
    assert (summary.done, summary.skipped) == (1, 3)
    assert sorted(_ids(tmp_path)) == ["q0", "q1", "q2", "q3"]
    again = await _run(tmp_path, {"policy": llm}).execute(_problems(4), _solver(llm))
    assert again.status == "nothing_to_do"


def test_a_torn_last_line_is_repaired(tmp_path):
    path = tmp_path / "records.jsonl"
    good = Record(problem_id="a", attempt="debate", problem=Problem(id="a", question="?"), stop_reason="x").to_json()
    path.write_text(good + "\n" + good[:40])
    log = RecordLog(path)
    assert log.done_ids == {"a"} and log.repaired_bytes == 40
    assert path.read_text() == good + "\n"


def test_a_corrupt_middle_line_names_the_line(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"problem_id": "a"}\nnot json\n{"problem_id": "b"}\n')
    with pytest.raises(RunError, match=r"records\.jsonl:2"):
        RecordLog(path)


async def test_budget_stops_cleanly_and_says_so(tmp_path):
    llm = ScriptedLLM(policy=["x"])  # 20 tokens per call
    summary = await _run(tmp_path, {"policy": llm}, max_tokens=50, concurrency=1).execute(_problems(10), _solver(llm))
    assert summary.status == "budget_exhausted" and summary.done == 3
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "budget_exhausted" and "max_tokens reached" in manifest["stop_note"]


async def test_a_different_command_cannot_resume_the_same_directory(tmp_path):
    llm = ScriptedLLM(policy=["x"])
    await _run(tmp_path, {"policy": llm}).execute(_problems(1), _solver(llm))
    with pytest.raises(RunError, match="different command.*seed"):
        await _run(tmp_path, {"policy": llm}, seed=5).execute(_problems(1), _solver(llm))
    # limit and concurrency may change between a run and its resumption
    await _run(tmp_path, {"policy": llm}, limit=1, concurrency=2).execute(_problems(1), _solver(llm))


def test_config_and_manifest_hold_no_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-123")
    llm = ScriptedLLM(policy=["x"])
    asyncio.run(_run(tmp_path, {"policy": llm}).execute(_problems(1), _solver(llm)))
    for name in ("config.yaml", "manifest.json", "records.jsonl", "run.log"):
        assert "sk-secret-value-123" not in (tmp_path / "run" / name).read_text()


async def test_preflight_names_the_unreachable_model(tmp_path):
    from agents.llm import LLMClient

    dead = LLMClient(model="openai/nothing", api_base="http://127.0.0.1:9/v1", timeout=2, max_retries=0)
    with pytest.raises(RunError, match="critic model 'openai/nothing' is not reachable"):
        await preflight({"critic": dead})


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_gives_every_problem_exactly_once(tmp_path, embedded_api_base):
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n"
                                for i in range(6)))
    out = tmp_path / "run"
    command = [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(out),
               "--max-turns", "2", "--policy-max-tokens", "24", "--critic-max-tokens", "16", "--concurrency", "2"]
    env = {**os.environ, "LONGTHOUGHT_EMBEDDED_API_BASE": embedded_api_base}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = out / "records.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not records.exists() or records.read_text().count("\n") < 2):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = records.read_text().count("\n")
    assert 2 <= before < 6, "the kill should land mid-run"
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    text = records.read_text()
    assert text.endswith("\n")
    ids = [json.loads(line)["problem_id"] for line in text.splitlines()]
    assert sorted(ids) == [f"q{i}" for i in range(6)]


def test_ctrl_c_stops_cleanly_and_leaves_a_resumable_run(tmp_path, stub_server):
    from tests.conftest import chat_completion_body

    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"{i}?", "answer": "2"}) + "\n" for i in range(8)))
    out = tmp_path / "run"
    # One reply serves both roles: the policy's step states \boxed{2}; the critic's verdict says terminate.
    reply = chat_completion_body("1. So the answer is \\boxed{2}.\nACTION: terminate")
    with stub_server([(200, reply)], delay=0.15) as server:
        command = [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(out),
                   "--policy-model", "openai/stub", "--policy-api-base", server.api_base,
                   "--critic-model", "openai/stub", "--critic-api-base", server.api_base, "--concurrency", "1"]
        env = {**os.environ, "OPENAI_API_KEY": "sk-stub"}
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        records = out / "records.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not records.exists() or records.read_text().count("\n") < 2):
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, stderr[-2000:]
        assert "rerun the same command to resume" in stderr
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["status"] == "interrupted"
        done = records.read_text().count("\n")
        assert 2 <= done < 8
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
    ids = [json.loads(line)["problem_id"] for line in records.read_text().splitlines()]
    assert sorted(ids) == [f"q{i}" for i in range(8)]
    assert all(json.loads(line)["correct"] for line in records.read_text().splitlines())


async def test_a_failed_episode_keeps_its_partial_transcript(tmp_path):
    from agents.llm import LLMError
    from synthesis.debate import DebateConfig, run_debate

    class FlakyCritic(ScriptedLLM):
        async def complete(self, messages, *, role="default", **kwargs):
            if len(self.prompts[role]) >= 1:
                raise LLMError("fake/critic: RateLimitError after 5 attempt(s)")
            return await super().complete(messages, role=role, **kwargs)

    policy, critic = ScriptedLLM(policy=["1. x = 4"]), FlakyCritic(critic=["ACTION: continue"])
    run = _run(tmp_path, {"policy": policy, "critic": critic})
    summary = await run.execute(_problems(1), lambda p: run_debate(p, DebateConfig(), policy, critic))
    assert summary.failed == 1
    failure = json.loads((tmp_path / "run" / "failures.jsonl").read_text())
    assert "RateLimitError" in failure["error"]
    assert [turn["role"] for turn in failure["turns"]] == ["policy", "critic", "policy"]
    assert failure["raw"] == "x = 4"


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
