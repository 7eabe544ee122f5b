"""The embedded llama.cpp server wants this process's key and refuses a foreign Host (issue 28), so a page that rebinds
its DNS name to 127.0.0.1 reads nothing; clients that share the server by its address pass the key."""

import asyncio
import json
import os
import subprocess
import sys

from agents.calls.client import LLMClient, LLMConfig
from tests.planted_key import REPO


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
