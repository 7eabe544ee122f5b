"""What a run is told: which problems, where it lives, how many at once, what it may spend, and its model clients'
shared settings (replay cache, router, per-role call limits)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.backends.litellm_router import load_router_config
from agents.calls.client import LLMClient
from protocols.cli import current_name
from protocols.contamination import DecontaminationConfig

REPO_ROOT = Path(__file__).resolve().parents[2]


class RunError(RuntimeError):
    """A run cannot start; the message says why in one line."""


@dataclass(frozen=True)
class RunConfig(DecontaminationConfig):
    """Which problems, where the run lives, how many at once, and what it may spend."""

    # Synthesis only counts eval-set overlap by default (the manifest says how much): every training export drops it
    # (their default is drop), so nothing contaminated reaches training, while a demo or a fidelity check on MATH500
    # still runs. Evaluation tasks (accuracy, reward models) are never decontaminated: they run on the eval sets.
    decontaminate: str = field(default="report", metadata={
        "help": "drop | report | off: problems that overlap an eval set (word n-grams, or a near-duplicate "
                "question) are dropped before solving, or only counted in the manifest (default)"})

    problems: str = field(default="math_train", metadata={"help": "problem set name (math_train, math500, ...) or a .jsonl path"})
    limit: int | None = field(default=None, metadata={"help": "use only the first N problems (after --seed shuffling)"})
    seed: int = field(default=0, metadata={"help": "seed for problem order and sampling"})
    shuffle: bool = field(default=False, metadata={"help": "shuffle the problems with --seed before --limit"})
    out: str | None = field(default=None, metadata={"help": "run directory (default: runs/<attempt>-<problems>)"})
    concurrency: int = field(default=4, metadata={"help": "problems in flight at once"})
    max_concurrency: list[str] = field(default_factory=list, metadata={
        "help": "model calls in flight: N for every role's model, or ROLE=N (policy=4 critic=16); default: a local "
                "server's slots for embedded/ and gguf/ models, else 8. Roles on one model share its limit"})
    # "budget_" and never "max_": --max-tokens was a run budget here and one reply's cap elsewhere (issue [6]).
    budget_cost: float | None = field(
        default=None, metadata={"help": "run budget: stop starting problems once the run has cost this many USD"})
    budget_tokens: int | None = field(
        default=None, metadata={"help": "run budget: stop starting problems once the run has used this many tokens"})
    dry_run: bool = field(default=False, metadata={"help": "print the problems and the estimated calls, spend nothing"})
    preflight: bool = field(default=True, metadata={"help": "check each model with one cheap call before starting"})
    cache_dir: str | None = field(default=None, metadata={"help": "LLM replay cache (default: <out>/cache)"})
    router_config: str | None = field(
        default=None, metadata={"help": "litellm Router YAML: model flags may name its model_name entries"}
    )
    ray: str | None = field(default=None, metadata={
        "help": "solve problems on Ray workers: 'auto' (the cluster this machine knows, else a new local one) or a "
                "cluster ADDRESS; records are still written here, once each"})
    ray_workers: int | None = field(
        default=None, metadata={"help": "Ray workers, each with --concurrency problems in flight (default: one per CPU)"}
    )
    ray_gpus_per_worker: float = field(default=0.0, metadata={"help": "GPUs each Ray worker reserves (for hf/ models)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.concurrency < 1:
            raise ValueError(f"concurrency: expected >= 1, got {self.concurrency}")
        parse_call_limits(self.max_concurrency)
        if self.ray_workers is not None and self.ray_workers < 1:
            raise ValueError(f"ray_workers: expected >= 1, got {self.ray_workers}")
        if (self.ray_workers is not None or self.ray_gpus_per_worker) and not self.ray:
            raise ValueError("ray_workers / ray_gpus_per_worker: only with --ray auto|ADDRESS")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit: expected >= 0, got {self.limit}")
        # `not >=` also refuses NaN, which would compare false forever and never stop the run.
        if self.budget_cost is not None and not self.budget_cost >= 0:
            raise ValueError(f"budget_cost: expected a run budget in USD >= 0, got {self.budget_cost}")
        if self.budget_tokens is not None and self.budget_tokens < 0:
            raise ValueError(f"budget_tokens: expected a run budget in tokens >= 0, got {self.budget_tokens}")


def parse_call_limits(values: Sequence[str]) -> dict[str, int]:
    """`--max-concurrency` values by role ("*" for a bare N, which applies to every role without its own)."""
    limits: dict[str, int] = {}
    for value in values:
        role, _, number = value.rpartition("=")
        if not number.isdigit() or int(number) < 1 or (_ and not role):
            raise ValueError(f"max_concurrency: expected N or ROLE=N with N >= 1 (16, critic=16), got {value!r}")
        limits[role or "*"] = int(number)
    return limits


def with_call_limits(clients: dict[str, LLMClient], values: Sequence[str]) -> dict[str, LLMClient]:
    """The clients, each rebuilt with its role's --max-concurrency; a role this run does not have is an error."""
    limits = parse_call_limits(values)
    unknown = sorted(set(limits) - set(clients) - {"*"})
    if unknown:
        raise RunError(f"--max-concurrency: no role {unknown[0]!r} in this run (roles: {', '.join(clients)})")
    rebuilt = {}
    for role, client in clients.items():
        limit = limits.get(role, limits.get("*"))
        rebuilt[role] = client if limit is None else LLMClient(dataclasses.replace(client.config, max_concurrency=limit))
    return rebuilt


def out_dir(name: str, config: RunConfig) -> Path:
    """The run directory: --out, else runs/<task>-<problem set>."""
    path = Path(config.out) if config.out else REPO_ROOT / "runs" / f"{name}-{Path(config.problems).stem}"
    try:
        path.resolve()  # a symlink loop raises RuntimeError here (OSError in newer Pythons), not at mkdir
    except (RuntimeError, OSError) as error:
        raise RunError(f"--out {path}: not a usable directory ({' '.join(str(error).split())})") from None
    return path


def client_settings(run_config: RunConfig, default_out: Path) -> dict[str, Any]:
    """What every model client of a run gets: its replay cache (an absolute path, for Ray workers) and the router."""
    cache_dir = Path(run_config.cache_dir) if run_config.cache_dir else default_out / "cache"
    router = load_router_config(run_config.router_config) if run_config.router_config else None
    return {"cache_dir": cache_dir.resolve(), "router": router}


# Settings that may change between a run and its resumption; everything else must match.
RESUMABLE_FIELDS = {"limit", "out", "concurrency", "max_concurrency", "budget_cost", "budget_tokens",
                    "max_cost", "max_tokens", "dry_run", "preflight", "cache_dir",
                    "ray", "ray_workers", "ray_gpus_per_worker", "router_config", "reply_guard",
                    # decontamination: older runs lack them, and a changed check only changes what is left to solve
                    "decontaminate", "eval_sets", "ngram"}


def config_differences(previous: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    """The settings that differ between a run's recorded config and this one's, by dotted name (resumable ones
    aside): a resume with any of them is refused."""
    # A run recorded before a setting was renamed (protocols.cli.RENAMED_SETTINGS) resumes under the new name.
    previous = {current_name(key, current): value for key, value in previous.items()}
    names = []
    for key in sorted(set(previous) | set(current)):
        if key in RESUMABLE_FIELDS:
            continue
        old, new = previous.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            names += config_differences(old, new, f"{prefix}{key}.")
        elif old != new:
            names.append(f"{prefix}{key}: {old!r} -> {new!r}")
    return names
