"""Secrets and terminal escapes never leave the process: not in run files, logs, stdout or stderr."""

import json
import subprocess
import sys

import pytest

from agents.calls.redact import MASK, neutralise, redact, remember, safe
from tests.conftest import StubServer

# Neither the variable's name nor the value's shape gives it away: only "it was read by --*-api-key-env" does.
KEY_ENV = "LONGTHOUGHT_STUB_CRED"
KEY = "stubkey-7f3a9c01d2e4b5a6"
# Clear screen, set the window title, write the clipboard (OSC 52), ring the bell.
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZWNobyBwd25lZA==\x07"


def _echo_key(headers) -> tuple[int, dict]:
    """A 401 whose body echoes the Authorization header, as real providers do."""
    key = headers.get("authorization", "").removeprefix("Bearer ")
    message = f"Incorrect API key provided: {key}. Header was: Bearer {key} {ESCAPES}"
    return 401, {"error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}}


def test_redact_hides_env_keys_remembered_values_and_key_shapes(monkeypatch):
    monkeypatch.setenv("SOMEPROVIDER_API_KEY", "plain-value-123456")
    remember("remembered-secret-value")
    text = redact("a plain-value-123456 b remembered-secret-value c sk-proj-abcdefgh1234 d Bearer eyJhbGciOi.x.y e")
    assert text == f"a {MASK} b {MASK} c {MASK} d Bearer {MASK} e"
    assert redact("step 3: x = 4, sk- is not a key") == "step 3: x = 4, sk- is not a key"


def test_neutralise_keeps_newlines_and_tabs_and_shows_escapes():
    assert neutralise("a\tb\nc" + ESCAPES + "\r\x9b") == (
        "a\tb\nc\\x1b[2J\\x1b]0;pwned\\x07\\x1b]52;c;ZWNobyBwd25lZA==\\x07\\x0d\\x9b")
    assert "\x1b" not in safe(ESCAPES)


def _problems(tmp_path):
    path = tmp_path / "problems.jsonl"
    path.write_text(json.dumps({"id": "q1", "problem": "1 + 1?", "answer": "2"}) + "\n")
    return path


def _assert_clean(result, run_dir=None, expect_files=True):
    for stream in (result.stdout, result.stderr):
        assert KEY not in stream and "\x1b" not in stream and "\x07" not in stream
    if run_dir is None:
        return
    files = [file for file in run_dir.rglob("*") if file.is_file()]
    assert bool(files) == expect_files  # a run refused at preflight writes nothing, not even its cache
    for file in files:
        assert KEY.encode() not in file.read_bytes(), file


@pytest.mark.parametrize("preflight", [True, False])
def test_an_echoed_key_reaches_no_run_file_and_no_terminal(tmp_path, monkeypatch, preflight):
    monkeypatch.setenv(KEY_ENV, KEY)
    run_dir = tmp_path / "run"
    with StubServer([_echo_key]) as server:
        command = [sys.executable, "-m", "synthesis.debate", "--problems", str(_problems(tmp_path)), "--out",
                   str(run_dir), "--policy_model", "openai/stub", "--policy_api_base", server.api_base,
                   "--policy_api_key_env", KEY_ENV, "--critic_model", "openai/stub", "--critic_api_base",
                   server.api_base, "--critic_api_key_env", KEY_ENV, "--max_turns", "2"]
        result = subprocess.run(command + ([] if preflight else ["--no_preflight"]), capture_output=True, text=True,
                                timeout=120)
    assert result.returncode in (1, 2), result.stderr
    assert "Incorrect API key provided: [REDACTED]" in " ".join(result.stderr.split()) or not preflight
    _assert_clean(result, run_dir, expect_files=not preflight)
    if not preflight:  # the problem ran and failed: its failure line and the log say why, with the key masked
        failure = json.loads((run_dir / "failures.jsonl").read_text().splitlines()[0])
        assert "Incorrect API key provided: [REDACTED]" in failure["error"]
        assert "\x1b" not in failure["error"] and "\x1b" not in failure["traceback"]
        assert "[REDACTED]" in (run_dir / "run.log").read_text()
    config = (run_dir / "config.yaml").read_text() if (run_dir / "config.yaml").exists() else ""
    assert KEY_ENV in config or preflight  # the variable's name is recorded, never its value


def test_agents_llm_prints_no_key_and_no_escapes(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with StubServer([_echo_key]) as server:
        result = subprocess.run([sys.executable, "-m", "agents.llm", "--model", "openai/stub", "--api-base",
                                 server.api_base, "--api-key-env", KEY_ENV, "--prompt", "hi"],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Incorrect API key provided: [REDACTED]" in " ".join((result.stdout + result.stderr).split())
    _assert_clean(result)


def test_agents_llm_neutralises_escapes_in_model_text(stub_server, monkeypatch):
    from tests.conftest import chat_completion_body

    monkeypatch.setenv(KEY_ENV, KEY)
    with stub_server([(200, chat_completion_body("x = 4" + ESCAPES))]) as server:
        result = subprocess.run([sys.executable, "-m", "agents.llm", "--model", "openai/stub", "--api-base",
                                 server.api_base, "--api-key-env", KEY_ENV, "--prompt", "hi"],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "x = 4\\x1b[2J" in result.stdout
    _assert_clean(result)


def test_router_secret_references_are_redacted(tmp_path, monkeypatch):
    from agents.backends.litellm_router import load_router_config, router_for
    import asyncio

    monkeypatch.setenv("ROUTER_STUB_CRED", "router-cred-0123456789")
    config = tmp_path / "router.yaml"
    config.write_text("model_list:\n  - model_name: policy\n    litellm_params:\n      model: openai/stub\n"
                      "      api_key: os.environ/ROUTER_STUB_CRED\n")

    async def build():
        router_for(load_router_config(config))

    asyncio.run(build())
    assert redact("echo: router-cred-0123456789") == f"echo: {MASK}"


def test_a_router_secret_echoed_by_its_server_is_not_printed(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with StubServer([_echo_key]) as server:
        config = tmp_path / "router.yaml"
        config.write_text(f"model_list:\n  - model_name: policy\n    litellm_params:\n      model: openai/stub\n"
                          f"      api_base: {server.api_base}\n      api_key: os.environ/{KEY_ENV}\n")
        result = subprocess.run([sys.executable, "-m", "agents.llm", "--model", "policy", "--router-config",
                                 str(config), "--prompt", "hi"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "[REDACTED]" in result.stdout + result.stderr
    _assert_clean(result)
