import asyncio
import json
import re
import os
import signal
import subprocess
import sys
import time

import pytest

from protocols.types import Problem, Record
from synthesis.engine import RecordLog, Run, RunConfig, RunError, preflight
from tests.fakes import ScriptedLLM


def _problems(count: int) -> list[Problem]:
    return [Problem(id=f"q{i}", question=f"{i}?", answer=str(i)) for i in range(count)]


def _run(tmp_path, clients=None, **config) -> Run:
    return Run("debate", RunConfig(out=str(tmp_path / "run"), preflight=False, **config), RunConfig(),
               clients or {"policy": ScriptedLLM(policy=["x"])}, {})


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
    good = Record(problem_id="a", attempt="debate", problem=Problem(id="a", question="?"), stop_reason="terminated").to_json()
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
    summary = await _run(tmp_path, {"policy": llm}, budget_tokens=50, concurrency=1).execute(_problems(10), _solver(llm))
    assert summary.status == "budget_exhausted" and summary.done == 3
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "budget_exhausted" and "budget_tokens reached" in manifest["stop_note"]


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


async def test_preflight_names_the_unreachable_model(tmp_path, monkeypatch):
    from agents.calls.client import LLMClient

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")  # a key, so the dead server is what fails
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


@pytest.mark.parametrize("signum,code,said", [
    (signal.SIGINT, 130, ["rerun the same command to resume"]),
    # what `timeout`, Slurm and Kubernetes send: stopped like Ctrl-C, and the exit status says which
    (signal.SIGTERM, 143, ["interrupted by SIGTERM", "rerun the same command to resume"]),
])
def test_ctrl_c_or_sigterm_stops_cleanly_and_leaves_a_resumable_run(tmp_path, stub_server, signum, code, said):
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
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == code, stderr[-2000:]
        assert all(words in stderr for words in said), stderr[-2000:]
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["status"] == "interrupted"
        assert 2 <= records.read_text().count("\n") < 8
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
    ids = [json.loads(line)["problem_id"] for line in records.read_text().splitlines()]
    assert sorted(ids) == [f"q{i}" for i in range(8)]
    assert all(json.loads(line)["correct"] for line in records.read_text().splitlines())


async def test_a_failed_episode_keeps_its_partial_transcript(tmp_path):
    from agents.calls.client import LLMError
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


def _usage_solver(llm: ScriptedLLM, fail: set[str] = frozenset(), hold: set[str] = frozenset()):
    """Like _solver, but each record carries the usage of its own call, as real attempts' records do."""
    from protocols.types import Usage

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


def _manifest_matches_records(tmp_path) -> dict:
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    for key in ("calls", "prompt_tokens", "completion_tokens"):
        assert manifest["usage"][key] == sum(row["usage"]["policy"][key] for row in rows), key
        assert manifest["usage_by_role"]["policy"][key] == manifest["usage"][key]
    assert manifest["usage"]["cost"] == pytest.approx(0.001 * len(rows))
    return manifest


async def test_manifest_usage_is_the_runs_across_interruptions_and_a_nothing_to_do_rerun(tmp_path):
    problems = _problems(6)
    # 1: interrupted (as Ctrl-C cancels a run) with q0, q1 recorded and q2 in flight: its call is spent, not kept.
    llm = ScriptedLLM(policy=["x"])
    task = asyncio.ensure_future(_run(tmp_path, {"policy": llm}, concurrency=1).execute(
        problems, _usage_solver(llm, hold={"q2"})))
    while len(llm.prompts["policy"]) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    manifest = _manifest_matches_records(tmp_path)
    assert manifest["status"] == "interrupted" and manifest["usage"]["calls"] == 2
    assert manifest["usage_this_process"]["calls"] == 3
    # 2: a new process (a new client, its totals start at zero) resumes; q4 fails.
    llm = ScriptedLLM(policy=["x"])
    await _run(tmp_path, {"policy": llm}).execute(problems, _usage_solver(llm, fail={"q4"}))
    manifest = _manifest_matches_records(tmp_path)
    assert manifest["usage"]["calls"] == 5 and manifest["usage_this_process"]["calls"] == 4
    # 3: the failed problem is retried; 4: nothing is left, and the totals stay the run's.
    for _ in range(2):
        llm = ScriptedLLM(policy=["x"])
        await _run(tmp_path, {"policy": llm}).execute(problems, _usage_solver(llm))
        manifest = _manifest_matches_records(tmp_path)
        assert manifest["usage"]["calls"] == 6
    assert manifest["stop_note"] == "nothing to do" and manifest["usage_this_process"]["calls"] == 0


async def test_manifest_usage_skips_a_torn_last_line(tmp_path):
    llm = ScriptedLLM(policy=["x"])
    await _run(tmp_path, {"policy": llm}).execute(_problems(2), _usage_solver(llm))
    with (tmp_path / "run" / "records.jsonl").open("a") as handle:
        handle.write('{"problem_id": "q2", "usage": {"policy": {"calls": 99')  # killed mid-write
    llm = ScriptedLLM(policy=["x"])
    await _run(tmp_path, {"policy": llm}).execute(_problems(3), _usage_solver(llm))
    assert _manifest_matches_records(tmp_path)["usage"]["calls"] == 3


@pytest.mark.parametrize("content,message", [
    (b"attempt: debate\nrun: {problems: [unclosed\n", r"config\.yaml: not valid YAML \(line 3\)"),
    (b"- attempt\n- debate\n", r"config\.yaml: expected a mapping of the run's settings, got list"),
    (b"", r"config\.yaml: expected a mapping of the run's settings, got NoneType"),
    (b"\xff\xfe\x00garbage", r"config\.yaml: not valid YAML"),
])
async def test_a_broken_config_yaml_is_one_line_that_names_it(tmp_path, content, message):
    llm = ScriptedLLM(policy=["x"])
    await _run(tmp_path, {"policy": llm}).execute(_problems(1), _solver(llm))
    (tmp_path / "run" / "config.yaml").write_bytes(content)
    with pytest.raises(RunError, match=message) as caught:
        await _run(tmp_path, {"policy": llm}).execute(_problems(2), _solver(llm))
    assert "\n" not in str(caught.value) and str(tmp_path / "run" / "config.yaml") in str(caught.value)


def _read_only(path):
    """Make a directory tree unwritable, even for root (chattr +i); returns how to undo it."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "-R", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("running as root on a filesystem without chattr +i: cannot make a directory read-only")
        return lambda: subprocess.run(["chattr", "-R", "-i", str(path)], check=True)
    modes = {item: item.stat().st_mode for item in [path, *path.rglob("*")]}
    for item in modes:
        item.chmod(modes[item] & ~0o222)
    return lambda: [item.chmod(mode) for item, mode in modes.items()]


def test_a_read_only_run_directory_is_one_line_that_names_it(tmp_path, stub_server):
    from tests.conftest import chat_completion_body

    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"q{i}", "problem": "1 + 1?", "answer": "2"}) + "\n" for i in range(3)))
    out = tmp_path / "run"
    with stub_server([(200, chat_completion_body("1. \\boxed{2}"))]) as server:
        command = [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(out),
                   "--max-turns", "1", "--policy-model", "hosted_vllm/stub", "--critic-model", "hosted_vllm/stub",
                   "--policy-api-base", server.api_base, "--critic-api-base", server.api_base]
        first = subprocess.run([*command, "--limit", "2"], capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stderr[-2000:]
        undo = _read_only(out)  # with its replay cache, config, records and manifest
        try:
            for limit in ("2", "3"):  # nothing to do, and one problem to do
                again = subprocess.run([*command, "--limit", limit], capture_output=True, text=True, timeout=300)
                lines = again.stderr.strip().splitlines()
                assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr[-2000:]
                assert len(lines) == 1 and lines[0].startswith("error: ") and str(out) in lines[0], again.stderr
        finally:
            undo()


@pytest.mark.parametrize("problems_bytes,flags,message", [
    (b"", [], r"empty\.jsonl: no problems in it"),
    (b"\n\n", [], r"empty\.jsonl: no problems in it"),
    (b'{"problem": "1 + 1?"}\n\x89PNG\r\n\x1a\n\x00\xff', [], r"empty\.jsonl:2: not UTF-8 text \(byte 0x89 at column 1\)"),
    (b'{"problem": "1 + 1?"}\n', ["--budget-cost", "-1"], r"budget_cost: expected a run budget in USD >= 0, got -1\.0"),
    (b'{"problem": "1 + 1?"}\n', ["--budget-cost", "nan"], r"budget_cost: expected a run budget in USD >= 0, got nan"),
    (b'{"problem": "1 + 1?"}\n', ["--budget-tokens", "-5"], r"budget_tokens: expected a run budget in tokens >= 0, "
                                                            r"got -5"),
    (b'{"problem": "1 + 1?"}\n', ["--max-tokens", "500"], r"--max-tokens was renamed: use --budget-tokens for the "
                                                           r"run's token budget, or --<role>-max-tokens"),
    (b'{"problem": "1 + 1?"}\n', ["--max_cost=5"], r"--max-cost was renamed: use --budget-cost"),
    (b'{"problem": "1 + 1?"}\n', ["--timeout", "5"], r"--timeout was renamed: use --<role>-timeout"),
    (b'{"problem": "1 + 1?"}\n', ["--max-concurrency", "critic=0"], r"max_concurrency: expected N or ROLE=N .*'critic=0'"),
    (b'{"problem": "1 + 1?"}\n', ["--max-concurrency", "judge=4"], r"--max-concurrency: no role 'judge' in this run \(roles: policy, critic\)"),
])
def test_bad_problems_or_budgets_are_one_line_and_create_no_run_directory(tmp_path, capsys, problems_bytes, flags,
                                                                          message):
    import re

    from synthesis import debate

    problems = tmp_path / "empty.jsonl"
    problems.write_bytes(problems_bytes)
    code = debate.main(["--problems", str(problems), "--out", str(tmp_path / "run"), "--policy-model",
                        "hosted_vllm/stub", "--critic-model", "hosted_vllm/stub", "--policy-api-base",
                        "http://127.0.0.1:9/v1", "--critic-api-base", "http://127.0.0.1:9/v1", *flags])
    stderr = capsys.readouterr().err
    assert code == 2 and stderr.strip().count("\n") == 0 and re.search(message, stderr), stderr
    assert not (tmp_path / "run").exists()


async def test_rows_without_usage_leave_this_processs_totals_in_the_manifest(tmp_path):
    from pydantic import BaseModel, Field

    class Judged(BaseModel):  # like eval.reward_models' rows: no usage of their own
        problem_id: str
        meta: dict = Field(default_factory=dict)

    llm = ScriptedLLM(policy=["x"])

    async def solve(problem: Problem) -> Judged:
        await llm.complete([{"role": "user", "content": problem.question}], role="policy")
        return Judged(problem_id=problem.id)

    await _run(tmp_path, {"policy": llm}).execute(_problems(2), solve)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["usage"]["calls"] == 2 and manifest["usage_scope"].startswith("this process")


def test_max_concurrency_sets_each_roles_call_limit(tmp_path):
    from agents.calls.client import LLMClient

    clients = {"policy": LLMClient(model="openai/a"), "critic": LLMClient(model="openai/b")}
    run = Run("debate", RunConfig(out=str(tmp_path), max_concurrency=["3", "critic=16"]), None, clients, {})
    assert run.clients["policy"].config.concurrency() == 3  # a bare N is every role without its own
    assert run.clients["critic"].config.concurrency() == 16
    untouched = Run("debate", RunConfig(out=str(tmp_path)), None, clients, {})
    assert untouched.clients["critic"] is clients["critic"] and untouched.clients["critic"].config.concurrency() == 8


def test_a_dry_run_writes_nothing(tmp_path):
    from synthesis import debate

    problems = tmp_path / "p.jsonl"
    problems.write_text('{"problem": "1 + 1?", "answer": "2"}\n')
    code = debate.main(["--problems", str(problems), "--out", str(tmp_path / "run"), "--dry-run"])
    assert code == 0
    assert not (tmp_path / "run").exists()  # not even the replay cache


def test_a_missing_key_at_preflight_says_which_variable_to_set(tmp_path, capsys, monkeypatch):
    from synthesis import debate

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"problem": "1 + 1?", "answer": "2"}\n')
    code = debate.main(["--problems", str(problems), "--out", str(tmp_path / "run"), "--critic-model",
                        "openai/gpt-4o-mini"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.count("\n") == 0, error
    assert "critic model openai/gpt-4o-mini: authentication failed: set OPENAI_API_KEY, or pass " \
           "--critic-api-key-env NAME" in error


def test_a_dry_run_on_a_priced_model_estimates_calls_tokens_and_cost(tmp_path, capsys):
    from synthesis import debate

    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(f'{{"id": "q{i}", "problem": "What is {i} + {i}?", "answer": "{2 * i}"}}\n'
                                for i in range(7)))
    code = debate.main(["--problems", str(problems), "--out", str(tmp_path / "run"), "--dry-run", "--max-turns", "4",
                        "--policy-model", "openai/gpt-4o-mini", "--critic-model", "openai/gpt-4o-mini"])
    text = " ".join(capsys.readouterr().err.split())
    assert code == 0 and not (tmp_path / "run").exists()
    assert "dry run: 7 problems" in text and "q0, q1, q2, q3, q4, ... (2 more)" in text
    calls = 7 * 2 * 4  # a policy step and a verdict per turn
    assert f"at most {calls} model calls" in text
    assert re.search(r"about [\d,]+ prompt \+ [\d,]+ completion tokens", text) and re.search(r"at most \$0\.\d{4}", text)


def test_progress_is_plain_lines_off_a_terminal_and_the_last_line_says_how_episodes_ended(tmp_path, capsys,
                                                                                          with_data_dir):
    from synthesis import debate

    code = debate.main(["--problems", "math500", "--limit", "2", "--out", str(tmp_path / "run"),
                        "--policy-model", "oracle/reference", "--critic-model", "oracle/reference"])
    err = capsys.readouterr()
    text = err.out + err.err
    assert code == 0, text
    assert re.search(r"run: 2/2 problems, \d+:\d\d:\d\d \| done 2 failed 0 \| \d+ calls \| \d+ tok", text), text
    assert re.search(r"completed: 2 new records \(correct 2/2; terminated 2\), 0 failed", text), text
