"""Shared fixtures: the data directory, a scriptable OpenAI-compatible stub server, the embedded model."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data directory ($LONGTHOUGHT_DATA_DIR, else ../shared/data beside the repo)."""
    configured = os.environ.get("LONGTHOUGHT_DATA_DIR")
    path = Path(configured) if configured else SHARED_DATA
    if not (path / "math500" / "test.jsonl").is_file():
        pytest.skip(f"no benchmark data at {path}: set LONGTHOUGHT_DATA_DIR")
    return path


@pytest.fixture
def with_data_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LONGTHOUGHT_DATA_DIR", str(data_dir))
    return data_dir


def chat_completion_body(text: str, prompt_tokens: int = 7, completion_tokens: int = 3, n: int = 1) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "stub",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"} for i in range(n)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class StubServer:
    """An OpenAI-compatible chat server on 127.0.0.1 that answers from a script of (status, body) pairs.

    Once the script runs out it repeats its last entry. An entry may also be a function of the request's headers
    that returns the pair (a server that echoes the key it was sent). `hang=True` accepts requests and never answers.
    """

    def __init__(self, script: list, hang: bool = False, delay: float = 0.0):
        self.script = list(script)
        self.delay = delay
        self.requests: list[dict] = []
        self.hang = hang
        self._release = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length", 0))
                stub.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                if stub.hang:
                    stub._release.wait(timeout=30)
                    return
                time.sleep(stub.delay)
                entry = stub.script.pop(0) if len(stub.script) > 1 else stub.script[0]
                status, body = entry(self.headers) if callable(entry) else entry
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_server() -> Iterator[type[StubServer]]:
    yield StubServer


@pytest.fixture(scope="session")
def embedded_api_base() -> Iterator[str]:
    """One real embedded llama.cpp server for the whole test session."""
    from agents.backends import embedded

    yield embedded.ensure_server(embedded.DEFAULT_MODEL)
    embedded.stop_all()


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0
