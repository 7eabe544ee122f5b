"""Hardening round 2 (issue 28): budgets across resumes, usage a server lies about, keys in every place a run
writes, duplicate annotation ids, and what SIGTERM / SIGINT / a full disk leave behind."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.calls.client import LLMClient, LLMConfig, LLMError
from tests.conftest import StubServer, chat_completion_body

REPO = Path(__file__).resolve().parents[2]
# A key that neither its variable's name (MYCRED) nor its shape (no sk- prefix) gives away.
KEY_ENV = "MYCRED"
KEY = "hunter2QZ7xv9PLmK42wRt8hunter2"
URL_KEY = "urlpassW0rd7Kq93Zx"
CUT = 300  # agents.calls.client._short's limit


def _fragments(key: str, size: int = 6) -> list[str]:
    """Every piece of `key` long enough to matter: no part of a key may leave the process."""
    return [key[start:start + size] for start in range(len(key) - size + 1)]


def _leaks(text: str, keys=(KEY, URL_KEY)) -> list[str]:
    return [piece for key in keys for piece in _fragments(key) if piece in text]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), KEY_ENV: KEY, **extra}


def _problems(tmp_path: Path, count: int = 1) -> Path:
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"{i} + 1?", "answer": str(i + 1)}) + "\n"
                            for i in range(count)))
    return path


def _error_at(offset: int) -> tuple[int, dict]:
    """A 400 whose message puts the key so that it starts `offset` characters into the error line."""
    return 400, {"error": {"message": "x" * offset + f" key={KEY} " + "y" * 80, "type": "invalid_request_error"}}


# -- secrets: a key echoed in an error body is masked before the cut, at every offset around it -------------------
async def test_an_echoed_key_never_leaves_half_of_itself_at_any_offset_around_the_cut(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    probe = (400, {"error": {"message": "PROBE", "type": "invalid_request_error"}})
    with StubServer([probe]) as server:
        client = LLMClient(LLMConfig(model="openai/stub", api_base=server.api_base, api_key_env=KEY_ENV,
                                     max_retries=0))
        with pytest.raises(LLMError) as failed:
            await client.complete([{"role": "user", "content": "hi"}])
    # What litellm writes before the server's message, so that the key lands on each side of the cut in turn.
    line = str(failed.value)
    prefix = line.index("PROBE") - line.index("attempt(s): ") - len("attempt(s): ")
    offsets = range(CUT - prefix - len(" key=") - len(KEY) - 2, CUT - prefix + 2)
    with StubServer([_error_at(offset) for offset in offsets]) as server:
        client = LLMClient(LLMConfig(model="openai/stub", api_base=server.api_base, api_key_env=KEY_ENV,
                                     max_retries=0))
        messages = []
        for _ in offsets:
            with pytest.raises(LLMError) as failed:
                await client.complete([{"role": "user", "content": "hi"}])
            messages.append(str(failed.value))
    assert any(message.endswith("...") for message in messages)  # some were cut
    assert any("[REDACTED]" in message for message in messages)
    assert [message for message in messages if _leaks(message)] == []


def test_the_auth_hint_names_the_variable_the_user_gave():
    from agents.calls.client import auth_hint

    assert "MYCRED" in auth_hint("openai/gpt-4o-mini", "policy", "MYCRED")
    assert "OPENAI_API_KEY" not in auth_hint("openai/gpt-4o-mini", "policy", "MYCRED")


async def test_a_refused_key_from_mycred_says_mycred(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    refused = (401, {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}})
    with StubServer([refused]) as server:
        client = LLMClient(LLMConfig(model="openai/stub", api_base=server.api_base, api_key_env=KEY_ENV,
                                     max_retries=0))
        with pytest.raises(LLMError) as failed:
            await client.complete([{"role": "user", "content": "hi"}], role="policy")
    assert "MYCRED" in str(failed.value) and "OPENAI_API_KEY" not in str(failed.value)
    assert not _leaks(str(failed.value))


def _scan(run_dir: Path, result: subprocess.CompletedProcess) -> set[str]:
    """Every file the run wrote (cache included) and its output hold no piece of either key; the files' names."""
    files = [file for file in run_dir.rglob("*") if file.is_file()]
    for file in files:
        assert _leaks(file.read_bytes().decode("utf-8", "replace")) == [], file
    assert _leaks(result.stdout + result.stderr) == []
    return {file.name for file in files}


def _critique_loop(tmp_path: Path, api_base: str, problems: int, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "synthesis.critique_loop", "--problems", str(_problems(tmp_path, problems)),
               "--out", str(tmp_path / "run"), "--model", "openai/stub", "--api_base", api_base,
               "--concurrency", "1", "--max_turns", "2", "--reply_guard", "off", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=_env(), cwd=REPO)


def test_a_key_in_a_reply_and_in_error_bodies_reaches_no_file_and_no_output(tmp_path):
    reply = f"1. x = \\boxed{{1}} (my key is {KEY})\nACTION: terminate"
    script = [(200, chat_completion_body("OK")), (200, chat_completion_body(reply))] + [
        _error_at(offset) for offset in range(CUT - 140, CUT + 10, 12)]
    with StubServer(script) as server:
        result = _critique_loop(tmp_path, server.api_base, 6, "--api_key_env", KEY_ENV)
    assert result.returncode == 1, result.stderr  # the first problem has its record, the others failed
    names = _scan(tmp_path / "run", result)
    assert {"records.jsonl", "failures.jsonl", "run.log", "config.yaml", "manifest.json"} <= names
    assert "my key is [REDACTED]" in (tmp_path / "run" / "records.jsonl").read_text()
    assert "key=[REDACTED]" in (tmp_path / "run" / "failures.jsonl").read_text()


def test_a_key_inside_the_api_base_reaches_no_file_and_no_output(tmp_path):
    # No key variable: the openai client refuses credentials in the URL beside a key, and a missing key is not
    # retried; the URL's password is what must not leak.
    with StubServer([(200, chat_completion_body("OK"))]) as server:
        api_base = server.api_base.replace("http://", f"http://user:{URL_KEY}@")
        result = _critique_loop(tmp_path, api_base, 1, "--no_preflight")
    # With the reply-cap client (agents/calls/reply_cap.py, merged after this test was written) the URL's credentials
    # are accepted and the call succeeds (0); before, the openai client refused them (1). Either way nothing may leak.
    assert result.returncode in (0, 1), result.stderr
    names = _scan(tmp_path / "run", result)
    assert {"config.yaml", "manifest.json", "run.log"} <= names
    assert "http://[REDACTED]@127.0.0.1" in (tmp_path / "run" / "config.yaml").read_text()
    assert "http://[REDACTED]@127.0.0.1" in (tmp_path / "run" / "manifest.json").read_text()  # its command line


# -- money: a budget is about the run directory, across resumes -----------------------------------------------------
def _spend(run_dir: Path) -> int:
    """What every process spent in the run directory, from its ledger (each process's last line)."""
    last = {}
    for line in (run_dir / "spend.jsonl").read_text().splitlines():
        row = json.loads(line)
        last[row["process"]] = row["usage"]
    return sum(usage["prompt_tokens"] + usage["completion_tokens"] for usage in last.values())


def test_three_runs_into_one_out_spend_at_most_the_budget_and_one_call(tmp_path, with_data_dir, capsys):
    from synthesis import critique_loop

    run_dir = tmp_path / "run"
    command = ["--problems", "math500", "--limit", "8", "--model", "oracle/reference", "--out", str(run_dir),
               "--budget-tokens", "1500", "--concurrency", "1"]
    statuses = []
    for _ in range(3):
        critique_loop.main(command)
        statuses.append(json.loads((run_dir / "manifest.json").read_text())["status"])
    assert statuses == ["budget_exhausted"] * 3
    manifest = json.loads((run_dir / "manifest.json").read_text())
    spent = _spend(run_dir)
    first = json.loads((run_dir / "spend.jsonl").read_text().splitlines()[-1])["usage"]
    average_call = spent / first["calls"]  # oracle calls here are ~250-310 tokens, growing with the path
    # Before: each run spent ~1,700 of its own, 5,000+ in all. Now the later runs spend nothing, and the first
    # stopped at its first call past the budget (test_..._negative_usage_... checks the bound exactly).
    assert 1500 <= spent <= 1500 + 1.5 * average_call
    assert len(set(json.loads(line)["process"] for line in (run_dir / "spend.jsonl").read_text().splitlines())) == 1
    assert manifest["spent_run"]["total_tokens"] == spent
    assert "budget_tokens reached" in manifest["stop_note"]


def _negative_usage(headers) -> tuple[int, dict]:
    body = chat_completion_body("1. x = \\boxed{1}\nACTION: terminate", prompt_tokens=-1_000_000,
                                completion_tokens=100)
    return 200, body


async def test_negative_usage_from_a_server_is_clamped_and_logged(caplog):
    with StubServer([_negative_usage]) as server:
        client = LLMClient(LLMConfig(model="openai/stub", api_base=server.api_base, api_key_env=None,
                                     max_retries=0))
        os.environ.setdefault("OPENAI_API_KEY", "sk-stub-placeholder-key")
        completion = await client.complete([{"role": "user", "content": "hi"}])
    assert (completion.prompt_tokens, completion.completion_tokens) == (0, 100)
    assert "prompt_tokens=-1000000" in caplog.text


def test_a_server_reporting_negative_usage_cannot_outrun_the_budget(tmp_path, monkeypatch):
    from synthesis import critique_loop

    monkeypatch.setenv(KEY_ENV, KEY)
    run_dir = tmp_path / "run"
    with StubServer([_negative_usage]) as server:
        for _ in range(3):  # three runs into one --out: the budget is the directory's
            code = critique_loop.main(["--problems", str(_problems(tmp_path, 10)), "--out", str(run_dir), "--model",
                                       "openai/stub", "--api_base", server.api_base, "--api_key_env", KEY_ENV,
                                       "--budget-tokens", "450", "--concurrency", "1", "--no_preflight",
                                       "--reply_guard", "off"])
            assert code == 0
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "budget_exhausted" and len(server.requests) == 5
    # 100 counted tokens a call: the fifth call started at 400 < 450; the budget plus one call's worth at most.
    assert _spend(run_dir) == 500 and manifest["spent_run"]["total_tokens"] == 500
    assert "prompt_tokens=-1000000" in (run_dir / "run.log").read_text()


# -- rows: a signal or a full disk leaves the manifest saying so, and matching the records -------------------------
def _records(run_dir: Path) -> int:
    path = run_dir / "records.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _check_manifest_matches(run_dir: Path, status: str) -> dict:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == status
    problems = manifest["problems"]
    assert problems["done_before"] + problems["done_now"] == _records(run_dir)
    return manifest


@pytest.mark.parametrize("signum, background", [
    (15, False),  # SIGTERM from a scheduler or `timeout`
    (15, True),   # ... to a job started with `&`, whose SIGINT is ignored (the case that ended `running`)
    (2, False),   # Ctrl-C
])
def test_a_signal_leaves_an_interrupted_manifest_that_matches_the_records(tmp_path, signum, background):
    import signal
    import time

    run_dir = tmp_path / "run"
    with StubServer([(200, chat_completion_body("1. x = 4\nACTION: continue"))], delay=0.2) as server:
        command = [sys.executable, "-m", "synthesis.critique_loop", "--problems", str(_problems(tmp_path, 40)),
                   "--out", str(run_dir), "--model", "openai/stub", "--api_base", server.api_base, "--api_key_env",
                   KEY_ENV, "--concurrency", "4", "--max_turns", "2", "--reply_guard", "off", "--no_preflight"]
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                                   cwd=REPO, preexec_fn=ignore)
        deadline = time.monotonic() + 90
        while _records(run_dir) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
        time.sleep(1.0)  # a record written after the final manifest would show now
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted"), stderr
    manifest = _check_manifest_matches(run_dir, "interrupted")
    assert 2 <= _records(run_dir) < 40 and manifest["problems"]["failed_now"] == 0


def test_a_full_disk_leaves_a_failed_manifest_that_matches_the_records_and_one_line(tmp_path, with_data_dir,
                                                                                   monkeypatch, capsys):
    import errno

    from synthesis import critique_loop
    from synthesis.engine import store

    run_dir = tmp_path / "run"
    full: list[bool] = []
    append, write_text = store.RecordLog.append, Path.write_text

    def append_until_full(self, record):
        if _records(run_dir) >= 2:
            full.append(True)
        if full:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        append(self, record)

    def write_unless_full(self, *args, **kwargs):
        if full:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(store.RecordLog, "append", append_until_full)
    monkeypatch.setattr(Path, "write_text", write_unless_full)
    command = ["--problems", "math500", "--limit", "6", "--model", "oracle/reference", "--out", str(run_dir),
               "--concurrency", "2"]
    assert critique_loop.main(command) == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith("error: ")
    assert "No space left on device" in stderr.strip().splitlines()[-1]
    manifest = _check_manifest_matches(run_dir, "failed")
    assert "No space left" in manifest["stop_note"] and _records(run_dir) == 2
    monkeypatch.undo()  # room again: the resume finishes the rest
    assert critique_loop.main(command) == 0
    _check_manifest_matches(run_dir, "completed")
    assert _records(run_dir) == 6


# -- rows: two annotations of one problem ---------------------------------------------------------------------------
def test_two_annotations_of_one_problem_are_refused_naming_both_files(tmp_path, with_data_dir, capsys):
    from synthesis import annotate

    examples = REPO / "examples" / "annotations"
    folder = tmp_path / "annotations"
    folder.mkdir()
    for name in ("algebra-567.md", "prealgebra-105.md"):
        (folder / name).write_text((examples / name).read_text())
    (folder / "algebra-567-second-annotator.md").write_text((examples / "algebra-567.md").read_text())
    assert annotate.main(["validate", str(folder)]) == 1
    out = capsys.readouterr()
    line = next(line for line in out.err.splitlines() if "already annotated in" in line)
    assert "algebra-567-second-annotator.md" in line and "algebra-567.md" in line
    # expand refuses in one line before anything runs: no run directory, so no record can be lost on a resume
    code = annotate.main(["expand", str(folder), "--out", str(tmp_path / "run"), "--model", "oracle/reference"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "already annotated" in err, err
    assert not (tmp_path / "run").exists()


# -- the embedded llama.cpp server wants this process's key -----------------------------------------------------------
def _post(url: str, headers: dict[str, str]) -> int:
    import urllib.error
    import urllib.request

    body = json.dumps({"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 2}).encode()
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_embedded_server_refuses_calls_without_this_processs_key(embedded_api_base):
    from agents.backends import embedded
    from agents.calls.redact import redact

    key = embedded.api_key()
    assert os.environ[embedded.API_KEY_ENV] == key and len(key) >= 24  # exported: commands we start inherit it
    url = f"{embedded_api_base}/chat/completions"
    assert _post(url, {}) == 401
    assert _post(url, {"authorization": "Bearer sk-embedded-no-key"}) == 401  # the old placeholder
    # A page that rebinds its name to 127.0.0.1 sends its own Host (refused at the front) and cannot know the key.
    assert _post(url, {"host": "attacker.example", "authorization": "Bearer wrong"}) == 403
    assert _post(url, {"authorization": f"Bearer {key}"}) == 200
    assert redact(f"echo {key}") == "echo [REDACTED]"  # its variable's name marks it a secret
    # The project's own client passes it; so does one that shares the server by LONGTHOUGHT_EMBEDDED_API_BASE.
    completion = asyncio.run(LLMClient(LLMConfig(model=embedded.DEFAULT_MODEL)).complete(
        [{"role": "user", "content": "Say hi."}], max_tokens=2))
    assert completion.completion_tokens > 0
    shared = subprocess.run([sys.executable, "-m", "agents.llm", "--model", embedded.DEFAULT_MODEL, "--prompt",
                             "Say hi.", "--max-tokens", "2"], capture_output=True, text=True, timeout=120, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO), embedded.API_BASE_ENV: embedded_api_base})
    assert shared.returncode == 0, shared.stderr
    refused = subprocess.run([sys.executable, "-m", "agents.llm", "--model", embedded.DEFAULT_MODEL, "--prompt",
                              "Say hi.", "--max-tokens", "2"], capture_output=True, text=True, timeout=120, cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO), embedded.API_BASE_ENV: embedded_api_base,
                                  embedded.API_KEY_ENV: "not-the-key-0123456789"})
    assert refused.returncode != 0 and "not-the-key-0123456789" not in refused.stdout + refused.stderr


def test_the_embedded_server_refuses_a_foreign_host_even_with_the_key(embedded_api_base):
    from agents.backends import embedded

    port = embedded_api_base.rsplit(":", 1)[1].split("/")[0]
    url = f"{embedded_api_base}/chat/completions"
    key = {"authorization": f"Bearer {embedded.api_key()}"}
    # DNS rebinding: the page's own name, with or without the port, reaches 127.0.0.1 but is refused.
    assert _post(url, {**key, "host": "attacker.example"}) == 403
    assert _post(url, {**key, "host": f"attacker.example:{port}"}) == 403
    assert _post(url, {**key, "host": "127.0.0.1:1"}) == 403  # a loopback name for another port
    assert _post(url, {**key, "host": f"localhost:{port}"}) == 200
    assert _post(url, {**key, "host": f"127.0.0.1:{port}"}) == 200
    # The native server has no TCP port of its own to go around the check: the server process listens on one.
    server = next(server for server in embedded._servers.values() if server.port == int(port))
    import psutil

    listening = [connection.laddr for connection in psutil.Process(server.process.pid).net_connections("inet")
                 if connection.status == psutil.CONN_LISTEN]
    assert [(address.ip, address.port) for address in listening] == [("127.0.0.1", int(port))]
