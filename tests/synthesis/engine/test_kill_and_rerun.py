"""A run killed (SIGKILL) or stopped (Ctrl-C, SIGTERM) mid-way: the same command, run again, gives every problem
exactly once."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest


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
