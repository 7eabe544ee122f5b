"""--router-config: a litellm Router over several servers, env-reference secrets, spread and failover."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agents.backends.embedded import EMBEDDED_MODELS, EmbeddedServer, api_key as embedded_api_key
from agents.backends.litellm_router import RouterConfigError, load_router_config, router_for
from agents.calls.client import LLMClient
from tests.conftest import REPO, chat_completion_body


def _config(path: Path, api_bases: list[str], name: str = "smol", model: str = "hosted_vllm/smollm2-135m",
            **settings) -> Path:
    path.write_text(yaml.safe_dump({
        "model_list": [{"model_name": name, "litellm_params": {"model": model, "api_base": base,
                                                                "api_key": "os.environ/ROUTER_TEST_KEY"}}
                       for base in api_bases],
        "router_settings": {"routing_strategy": "least-busy", **settings},
    }))
    return path


def test_a_literal_key_is_refused_naming_the_entry_not_the_key(tmp_path):
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump({"model_list": [
        {"model_name": "a", "litellm_params": {"model": "openai/x", "api_key": "os.environ/OK_KEY"}},
        {"model_name": "a", "litellm_params": {"model": "bedrock/x", "aws_secret_access_key": "AKIA-very-secret"}},
    ]}))
    with pytest.raises(RouterConfigError) as caught:
        load_router_config(path)
    message = str(caught.value)
    assert f"{path}.model_list[1].litellm_params.aws_secret_access_key" in message and "os.environ/" in message
    assert "AKIA-very-secret" not in message and "\n" not in message


@pytest.mark.parametrize(("text", "expected"), [
    ("model_list: [", "not valid YAML"),
    ("- just a list", "expected a mapping with model_list"),
    ("model_list: []", "model_list: Tuple should have at least 1 item"),
    ("model_list: [{model_name: a, litellm_params: {api_base: 'http://x'}}]",
     "model_list[0]: expected model_name and litellm_params.model"),
    ("model_list: [{model_name: a, litellm_params: {model: openai/x}}]\nrouting: x", "routing: Extra inputs"),
])
def test_a_bad_file_is_one_line_naming_the_file(tmp_path, text, expected):
    path = tmp_path / "router.yaml"
    path.write_text(text)
    with pytest.raises(RouterConfigError) as caught:
        load_router_config(path)
    assert str(path) in str(caught.value) and expected in str(caught.value) and "\n" not in str(caught.value)


async def test_an_unknown_router_setting_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ROUTER_TEST_KEY", "sk-x")
    spec = load_router_config(_config(tmp_path / "r.yaml", ["http://127.0.0.1:9/v1"], no_such_setting=1))
    with pytest.raises(RouterConfigError, match=r"r\.yaml: router_settings: .*no_such_setting"):
        router_for(spec)


async def test_calls_spread_over_both_servers_and_fail_over_when_one_stops(tmp_path, stub_server, monkeypatch):
    monkeypatch.setenv("ROUTER_TEST_KEY", "sk-router-test")
    with stub_server([(200, chat_completion_body("A"))]) as first, stub_server([(200, chat_completion_body("B"))]) as second:
        spec = load_router_config(_config(tmp_path / "r.yaml", [first.api_base, second.api_base]))
        client = LLMClient(model="smol", router=spec, backoff_initial=0.05, backoff_max=0.2)
        assert client.routed() and not LLMClient(model="other", router=spec).routed()
        texts = [c.text for c in await asyncio.gather(*(client.complete([{"role": "user", "content": f"q{i}"}])
                                                        for i in range(20)))]
        assert texts.count("A") >= 5 and texts.count("B") >= 5
        # The key is resolved from the environment by litellm at call time and reaches the server.
        first.__exit__()
        after = await asyncio.gather(*(client.complete([{"role": "user", "content": f"r{i}"}]) for i in range(8)))
    assert [c.text for c in after] == ["B"] * 8


async def test_a_missing_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("ROUTER_TEST_KEY", raising=False)
    spec = load_router_config(_config(tmp_path / "r.yaml", ["http://127.0.0.1:9/v1"]))
    with pytest.raises(RouterConfigError, match=r"os.environ/ROUTER_TEST_KEY: environment variable ROUTER_TEST_KEY is not set"):
        router_for(spec)


def test_an_authorization_header_must_be_a_reference(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"model_list": [{"model_name": "a", "litellm_params": {
        "model": "openai/x", "extra_headers": {"Authorization": "Bearer sk-inline"}}}]}))
    with pytest.raises(RouterConfigError, match=r"extra_headers\.Authorization: write an environment reference"):
        load_router_config(path)


def test_a_run_through_the_router_records_servers_but_never_the_key(tmp_path, stub_server):
    secret = "sk-this-must-never-be-written"
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps({"id": "q", "problem": "1 + 1?", "answer": "2"}) + "\n")
    with stub_server([(200, chat_completion_body("1. \\boxed{2}"))]) as server:
        config = _config(tmp_path / "router.yaml", [server.api_base, server.api_base], name="stub")
        result = subprocess.run(
            [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(tmp_path / "run"),
             "--policy-model", "stub", "--critic-model", "stub", "--router-config", str(config), "--max-turns", "1"],
            capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, "ROUTER_TEST_KEY": secret})
        assert result.returncode == 0, result.stderr[-2000:]
        assert server.requests and all(request["model"] == "smollm2-135m" for request in server.requests)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert [entry["api_base"] for entry in manifest["router"]["models"]["stub"]] == [server.api_base] * 2
    assert manifest["router"]["models"]["stub"][0]["api_key"] == "os.environ/ROUTER_TEST_KEY"
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    # Resuming with another model behind the same name would mix models in one run: refused in one line.
    _config(config, [server.api_base], name="stub", model="hosted_vllm/another-model")
    again = subprocess.run(
        [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(tmp_path / "run"),
         "--policy-model", "stub", "--critic-model", "stub", "--router-config", str(config), "--max-turns", "1"],
        capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, "ROUTER_TEST_KEY": secret})
    assert again.returncode == 2 and "router_models.stub" in again.stderr, again.stderr[-2000:]


@pytest.mark.slow
def test_two_embedded_servers_behind_the_router_lose_no_problem_when_one_stops(tmp_path):
    servers = [EmbeddedServer(EMBEDDED_MODELS["smollm2-135m"]) for _ in range(2)]
    for server in servers:
        server.start()
    try:
        config = _config(tmp_path / "router.yaml", [server.api_base for server in servers])
        problems = tmp_path / "problems.jsonl"
        problems.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)})
                                    + "\n" for i in range(4)))
        out = tmp_path / "run"
        process = subprocess.Popen(
            [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(out),
             "--policy-model", "smol", "--critic-model", "smol", "--router-config", str(config), "--max-turns", "3",
             "--policy-max-tokens", "24", "--critic-max-tokens", "16", "--concurrency", "4"],
            # The local servers require this process's key (agents.backends.embedded.api_key): the router passes it on.
            cwd=REPO, env={**os.environ, "ROUTER_TEST_KEY": embedded_api_key()},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        records = out / "records.jsonl"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not (records.exists() and records.read_text().count("\n") >= 1):
            # A run that already ended (a refused key, a crash) will write nothing more: say why now.
            assert process.poll() is None, process.communicate()[1][-2000:]
            time.sleep(0.05)
        calls = [Path(server._log.name).read_text().count("processing task") for server in servers]
        at_stop = records.read_text().count("\n")
        servers[1].stop()  # mid-run: the other server takes every later call
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-2000:]
        assert all(count > 0 for count in calls), f"calls per server before the stop: {calls}"
        assert at_stop < 4, "the stop should land mid-run"
        ids = sorted(json.loads(line)["problem_id"] for line in records.read_text().splitlines())
        assert ids == ["q0", "q1", "q2", "q3"] and not (out / "failures.jsonl").exists()
        later = Path(servers[0]._log.name).read_text().count("processing task")
        assert later > calls[0], "the surviving server answered the calls after the stop"
    finally:
        for server in servers:
            server.stop()
