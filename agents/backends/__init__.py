"""Which backend a model string means, decided here and only here: one module per kind of string, one registry.

    from agents.backends import backend_for
    backend_for("oracle/reference").free("oracle/reference")      # True
    backend_for("hf/runs/sft/final").in_process("hf/runs/sft/final")  # True

Built in: any litellm string (passthrough.py), `embedded/` and `gguf/` (embedded.py: the native llama.cpp server),
`hf/` (hf.py), `oracle/` (oracle/) and a name the `--router-config` lists (router.py). A new kind of string is a
new module with a `Backend` subclass (agents.backends.base says what it may answer) and one `register` line below,
or a `register` call of the caller's own.

What starts, reaches or is a model lives beside its entry: the GGUF files and their server settings (gguf_models.py),
the server process and its loopback front (llama_server.py, loopback_front.py), `hf/` folders and their conversions
(local_models.py, hf_to_gguf.py), the in-process litellm providers (custom_provider.py: hf_provider.py and
oracle/provider.py) and the litellm Router's file and builder (litellm_router.py).
"""

from __future__ import annotations

from typing import Any

from agents.backends.base import DEFAULT_CONCURRENCY, Backend
from agents.backends.embedded import EMBEDDED_BACKEND, GGUF_BACKEND
from agents.backends.hf import HF
from agents.backends.oracle import ORACLE
from agents.backends.passthrough import LITELLM
from agents.backends.router import ROUTER

__all__ = ["DEFAULT_CONCURRENCY", "Backend", "backend_for", "local_folder", "register", "registered", "serving_string",
           "unregister"]

_BACKENDS: list[Backend] = []


def register(backend: Backend) -> Backend:
    """Make `backend` answer for the strings it matches; a backend with the same prefix and name is replaced."""
    unregister(backend)
    _BACKENDS.append(backend)
    return backend


def unregister(backend: Backend) -> None:
    """Forget `backend` (and any registered one with its prefix and name)."""
    _BACKENDS[:] = [known for known in _BACKENDS
                    if known is not backend and (known.prefix, known.name) != (backend.prefix, backend.name)]


def registered() -> tuple[Backend, ...]:
    return tuple(_BACKENDS)


def backend_for(model: str, router: Any = None) -> Backend:
    """The backend of a model string: of those that match it, the highest rank (the longest prefix; a name the
    run's `router` lists before any prefix); the litellm passthrough when none does."""
    matching = [backend for backend in _BACKENDS if backend.matches(model, router)]
    return max(reversed(matching), key=lambda backend: backend.rank(), default=LITELLM)  # a tie: the later registration


def local_folder(model: str) -> str:
    """A folder or Hub id `from_pretrained` accepts for `model` (an embedded GGUF is converted once and cached)."""
    return backend_for(model).local_folder(model)


def serving_string(model: str) -> str:
    """A model string that serves the weights `model` names (a trained folder, a Hub id or a local model string):
    itself when a backend already serves local weights, else hf/ over it."""
    return model if backend_for(model).local_weights else HF.prefix + model


for _backend in (LITELLM, EMBEDDED_BACKEND, GGUF_BACKEND, HF, ORACLE, ROUTER):
    register(_backend)
