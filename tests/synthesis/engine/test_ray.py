"""Runs on Ray: a local cluster on this machine (2 workers), the same records as without Ray, a killed worker."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, chat_completion_body

DEBATE = ["--max-turns", "2", "--policy-max-tokens", "24", "--critic-max-tokens", "16"]


def _problems(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n"
                            for i in range(count)))
    return path


def _ids(out: Path) -> list[str]:
    return [json.loads(line)["problem_id"] for line in (out / "records.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray head on this machine with 2 CPUs (so 2 workers), started the way a user starts one: `ray start`."""
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    if ray is None:
        pytest.skip("ray is not installed (pip install -e .[dev])")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Token auth stated explicitly on both sides, with a token made here: `ray start` never creates one (only a
    # cluster that ray.init starts does), and the real ~/.ray/auth_token may not exist and is not ours to write.
    temp = tmp_path_factory.mktemp("ray")
    token = temp / "auth_token"
    token.write_text(secrets.token_hex(32))  # what `ray get-auth-token --generate` writes
    token.chmod(0o600)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    env.pop("RAY_AUTH_TOKEN", None)  # it would win over the file
    start = subprocess.run([ray, "start", "--head", "--port", str(port), "--num-cpus", "2", "--include-dashboard",
                            "false", "--disable-usage-stats", "--temp-dir", str(temp)],
                           env=env, capture_output=True, text=True, timeout=180)
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)


@pytest.mark.slow
def test_a_debate_on_ray_gives_the_same_records_and_survives_a_killed_worker(tmp_path, ray_cluster, embedded_api_base):
    address, ray_env = ray_cluster
    # The workers share the test's embedded server: they get it through the forwarded LONGTHOUGHT_* variables
    # (the cluster was started before this variable existed, so nothing else could hand it over).
    from agents.backends import embedded  # the server wants this process's key, exported after the cluster's env was taken

    env = {**ray_env, "LONGTHOUGHT_EMBEDDED_API_BASE": embedded_api_base, embedded.API_KEY_ENV: embedded.api_key()}
    problems = _problems(tmp_path / "problems.jsonl", 4)

    def debate(out: Path, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(out),
                               *DEBATE, *extra], env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)

    local = debate(tmp_path / "local")
    assert local.returncode == 0, local.stderr[-2000:]
    on_ray = debate(tmp_path / "ray", "--ray", address)
    assert on_ray.returncode == 0, on_ray.stderr[-2000:]
    assert sorted(_ids(tmp_path / "ray")) == sorted(_ids(tmp_path / "local")) == [f"q{i}" for i in range(4)]
    log = (tmp_path / "ray" / "run.log").read_text()
    workers = re.search(r"ray: (\d+) workers at (.+)", log)
    assert workers and workers.group(1) == "2", log
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["ray"]["address"] == address and manifest["usage"]["calls"] > 0
    # Usage comes back from the workers: the manifest's totals are the sum of the records'.
    records = [json.loads(line) for line in (tmp_path / "ray" / "records.jsonl").read_text().splitlines()]
    assert manifest["usage"]["completion_tokens"] == sum(
        usage["completion_tokens"] for record in records for usage in record["usage"].values())

    # Kill one worker process mid-run: Ray restarts it and resends its problem; a rerun finds nothing missing.
    more = _problems(tmp_path / "more.jsonl", 6)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "synthesis.debate", "--problems", str(more), "--out", str(out), *DEBATE,
               "--ray", address, "--concurrency", "1"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    records_file, log_file = out / "records.jsonl", out / "run.log"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (records_file.exists() and records_file.read_text().count("\n") >= 1):
        time.sleep(0.05)
    started = re.search(r"ray: \d+ workers at (.+)", log_file.read_text())
    victim = int(started.group(1).split(", ")[0].rsplit(":", 1)[1])
    os.kill(victim, signal.SIGKILL)
    at_kill = records_file.read_text().count("\n")
    first_exit = process.wait(timeout=600)
    assert at_kill < 6, "the kill should land mid-run"
    solved_on = {json.loads(line)["meta"]["ray_worker"] for line in records_file.read_text().splitlines()}
    restarted = solved_on - set(started.group(1).split(", "))
    # Either Ray restarted the worker and resent its problem (exit 0), or the problem failed for good (exit 1).
    assert (first_exit == 0 and restarted) or (first_exit == 1 and (out / "failures.jsonl").exists()), (first_exit, solved_on)
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    ids = _ids(out)
    assert sorted(ids) == [f"q{i}" for i in range(6)], "every problem exactly once"


def test_without_the_flag_nothing_imports_ray(tmp_path, stub_server):
    problems = _problems(tmp_path / "problems.jsonl", 2)
    script = (
        "import sys\n"
        "from synthesis import debate\n"
        f"code = debate.main(['--problems', {str(problems)!r}, '--out', {str(tmp_path / 'run')!r}, '--max-turns', '1',"
        " '--policy-model', 'hosted_vllm/stub', '--critic-model', 'hosted_vllm/stub',"
        " '--policy-api-base', sys.argv[1], '--critic-api-base', sys.argv[1]])\n"
        "assert code == 0, code\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
        "print('no ray')\n"
    )
    with stub_server([(200, chat_completion_body("1. \\boxed{0}"))]) as server:
        result = subprocess.run([sys.executable, "-c", script, server.api_base], capture_output=True, text=True,
                                timeout=300, cwd=REPO)
    assert result.returncode == 0 and "no ray" in result.stdout, result.stderr[-2000:]
    assert len((tmp_path / "run" / "records.jsonl").read_text().splitlines()) == 2


def test_ray_only_flags_need_ray(tmp_path):
    result = subprocess.run([sys.executable, "-m", "synthesis.debate", "--problems", "x.jsonl", "--ray-workers", "2"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode != 0 and "only with --ray" in result.stderr


def test_an_unreachable_cluster_is_one_line(tmp_path, stub_server):
    problems = _problems(tmp_path / "problems.jsonl", 1)
    with stub_server([(200, chat_completion_body("1. \\boxed{0}"))]) as server:
        result = subprocess.run(
            [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(tmp_path / "run"),
             "--policy-model", "hosted_vllm/stub", "--critic-model", "hosted_vllm/stub", "--policy-api-base",
             server.api_base, "--critic-api-base", server.api_base, "--ray", "127.0.0.1:1"],
            capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--ray 127.0.0.1:1: cannot join the Ray cluster" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_driver_without_the_clusters_token_is_one_line(tmp_path, ray_cluster, stub_server):
    address, env = ray_cluster
    problems = _problems(tmp_path / "problems.jsonl", 1)
    home = tmp_path / "home"  # a machine that has never run Ray: no ~/.ray/auth_token to fall back on
    home.mkdir()
    stranger = {key: value for key, value in env.items() if key != "RAY_AUTH_TOKEN_PATH"} | {"HOME": str(home)}
    with stub_server([(200, chat_completion_body("1. \\boxed{0}"))]) as server:
        result = subprocess.run(
            [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(tmp_path / "run"),
             "--policy-model", "hosted_vllm/stub", "--critic-model", "hosted_vllm/stub", "--policy-api-base",
             server.api_base, "--critic-api-base", server.api_base, "--ray", address],
            capture_output=True, text=True, timeout=300, cwd=REPO, env=stranger)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"--ray {address}: cannot join the Ray cluster" in result.stderr and "RAY_AUTH_TOKEN" in result.stderr
    assert not (home / ".ray").exists()


@pytest.mark.slow
def test_evaluation_and_dpo_sampling_run_on_ray(tmp_path, ray_cluster, stub_server):
    address, env = ray_cluster
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"a{i}", "problem": f"What is {i} + 1?", "answer": str(i + 1)}) + "\n"
                                for i in range(3)))
    labelled = tmp_path / "pb.jsonl"
    labelled.write_text("".join(json.dumps({"id": f"s{i}", "problem": "?", "steps": ["a", "b"], "label": -1}) + "\n"
                                for i in range(3)))
    ray_flags = ["--ray", address, "--ray-workers", "2"]

    def run(module: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", module, *args, *ray_flags], env=env, capture_output=True,
                              text=True, timeout=600, cwd=REPO)

    with stub_server([(200, chat_completion_body('{"correct": true, "reason": "fine"} \\boxed{1}'))]) as server:
        model = ["--model", "hosted_vllm/stub", "--api-base", server.api_base]
        accuracy = run("eval.accuracy", "--problems", str(problems), "--samples", "2", "--out", str(tmp_path / "acc"),
                       *model)
        meta = run("eval.reward_models", "--scorer", "llm-judge", "--data", str(labelled), "--scorer-model",
                   "hosted_vllm/stub", "--scorer-api-base", server.api_base, "--out", str(tmp_path / "rm"))
        dpo = run("training.dpo", "--problems", str(problems), "--samples", "2", "--sampler-model", "hosted_vllm/stub",
                  "--sampler-api-base", server.api_base, "--out", str(tmp_path / "dpo"))
    assert accuracy.returncode == 0, accuracy.stderr[-2000:]
    result = json.loads((tmp_path / "acc" / "accuracy.json").read_text())
    assert result["problems"] == 3 and result["accuracy"] == 0.3333  # only "What is 0 + 1?" is 1
    assert meta.returncode == 0, meta.stderr[-2000:]
    metrics = json.loads((tmp_path / "rm" / "metrics.json").read_text())
    assert metrics[str(labelled)]["acc_correct"] == 1.0 and metrics[str(labelled)]["samples"] == 3
    # Every sample equals "1": no problem has both a right and a wrong sample, so no pairs; the samples are kept.
    assert dpo.returncode == 2 and "no preference pairs" in dpo.stderr, dpo.stderr[-2000:]
    samples = [json.loads(line) for line in (tmp_path / "dpo" / "samples" / "records.jsonl").read_text().splitlines()]
    assert sorted(row["problem_id"] for row in samples) == ["a0", "a1", "a2"]
    assert all(row["meta"]["ray_worker"] for row in samples) and all(len(row["samples"]) == 2 for row in samples)


def test_the_ablation_passes_the_scaling_flags_to_every_attempt(tmp_path):
    from synthesis.ablate import ATTEMPTS, AblateConfig, attempt_configs

    config = AblateConfig(problems="math500", out=tmp_path, concurrency=2, model="smol",
                          tree_search={"depth": 2, "policy_max_tokens": 32}, debate={"max_turns": 2}, annotations=tmp_path / "notes", router_config="fleet.yaml", ray="auto")
    plan = attempt_configs(config)
    assert list(plan) == list(ATTEMPTS)
    for attempt, (run_config, attempt_config) in plan.items():
        assert (run_config.router_config, run_config.ray, run_config.concurrency) == ("fleet.yaml", "auto", 2)
        assert run_config.out == str(tmp_path / attempt)
        assert "smol" in dataclasses.astuple(attempt_config)  # --model reaches every attempt
    assert plan["human_annotation"][0].problems == str(tmp_path / "notes")
    assert plan["debate"][0].problems == str(tmp_path / "problems.jsonl")
    assert plan["debate"][1].max_turns == 2 and plan["tree_search"][1].depth == 2


@pytest.mark.slow
@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_on_ray_keeps_finished_problems_and_the_rerun_completes(tmp_path, ray_cluster, stub_server, signum,
                                                                        code):
    address, env = ray_cluster
    problems = _problems(tmp_path / "problems.jsonl", 10)
    with stub_server([(200, chat_completion_body("1. \\boxed{0}"))], delay=0.5) as server:
        command = [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(tmp_path / "run"),
                   "--max-turns", "1", "--policy-model", "hosted_vllm/stub", "--critic-model", "hosted_vllm/stub",
                   "--policy-api-base", server.api_base, "--critic-api-base", server.api_base, "--ray", address,
                   "--concurrency", "1"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        records = tmp_path / "run" / "records.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (records.exists() and records.read_text().count("\n") >= 2):
            time.sleep(0.05)
        process.send_signal(signum)  # SIGTERM: what `timeout` and schedulers send; ray.init must not take it over
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == code and "rerun the same command to resume" in stderr, stderr[-2000:]
        assert json.loads((tmp_path / "run" / "manifest.json").read_text())["status"] == "interrupted"
        assert records.read_text().count("\n") < 10
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert sorted(_ids(tmp_path / "run")) == sorted(f"q{i}" for i in range(10))
