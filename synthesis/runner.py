"""Run directories shared by every attempt: config, manifest, append-only records, resume, budgets, progress.

A run directory holds `config.yaml` (no secrets), `manifest.json`, `records.jsonl` (one fsynced line per
finished problem), `failures.jsonl` (error and raw model text; failed problems are retried on the next run)
and `run.log`. Rerunning the same command resumes: finished ids are skipped, a torn last line is repaired,
nothing is duplicated. A file lock keeps two processes out of the same directory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from filelock import FileLock, Timeout

from agents import oracle
from agents.llm import LLMClient
from agents.redact import safe
from agents.reply_guard import unusable_message
from agents.router import RouterSpec
from protocols.problems import ProblemSetError, load
from protocols.types import Problem, Usage, add_usage

REPO_ROOT = Path(__file__).resolve().parents[1]
# Settings that may change between a run and its resumption; everything else must match.
RESUMABLE_FIELDS = {"limit", "out", "concurrency", "max_concurrency", "max_cost", "max_tokens", "dry_run", "preflight", "cache_dir",
                    "ray", "ray_workers", "ray_gpus_per_worker", "router_config", "reply_guard"}
VERSIONED_PACKAGES = ("longthought", "litellm", "autogen-agentchat", "math-verify", "pydantic", "xllamacpp", "ray")


class RunError(RuntimeError):
    """A run cannot start; the message says why in one line."""


@dataclass(frozen=True)
class RunConfig:
    """Which problems, where the run lives, how many at once, and what it may spend."""

    problems: str = field(default="math_train", metadata={"help": "problem set name (math_train, math500, ...) or a .jsonl path"})
    limit: int | None = field(default=None, metadata={"help": "use only the first N problems (after --seed shuffling)"})
    seed: int = field(default=0, metadata={"help": "seed for problem order and sampling"})
    shuffle: bool = field(default=False, metadata={"help": "shuffle the problems with --seed before --limit"})
    out: str | None = field(default=None, metadata={"help": "run directory (default: runs/<attempt>-<problems>)"})
    concurrency: int = field(default=4, metadata={"help": "problems in flight at once"})
    max_concurrency: list[str] = field(default_factory=list, metadata={
        "help": "model calls in flight: N for every role's model, or ROLE=N (policy=4 critic=16); default: a local "
                "server's slots for embedded/ and gguf/ models, else 8. Roles on one model share its limit"})
    max_cost: float | None = field(default=None, metadata={"help": "run budget: stop starting problems once the run has cost this many USD"})
    max_tokens: int | None = field(
        default=None, metadata={"help": "run budget: stop starting problems once the run has used this many tokens"}
    )
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
        if self.max_cost is not None and not self.max_cost >= 0:
            raise ValueError(f"max_cost: expected a run budget in USD >= 0, got {self.max_cost}")
        if self.max_tokens is not None and self.max_tokens < 0:
            raise ValueError(f"max_tokens: expected a run budget in tokens >= 0, got {self.max_tokens}")


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
    if unknown and clients:  # no clients: a run built only to read its problems
        raise RunError(f"--max-concurrency: no role {unknown[0]!r} in this run (roles: {', '.join(clients)})")
    return {role: client if limits.get(role, limits.get("*")) is None
            else LLMClient(dataclasses.replace(client.config, max_concurrency=limits.get(role, limits.get("*"))))
            for role, client in clients.items()}


def out_dir(attempt: str, config: RunConfig) -> Path:
    if config.out:
        return Path(config.out)
    return REPO_ROOT / "runs" / f"{attempt}-{Path(config.problems).stem}"


class RecordLog:
    """Append-only `records.jsonl`: one line per problem, flushed and fsynced before it counts as done."""

    def __init__(self, path: Path):
        self.path = path
        self.repaired_bytes = 0
        self.done_ids = self._load()

    def _load(self) -> set[str]:
        if not self.path.exists():
            return set()
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            # A kill mid-write leaves a torn last line: cut it, that problem simply runs again.
            keep = data.rfind(b"\n") + 1
            self.repaired_bytes = len(data) - keep
            with self.path.open("r+b") as handle:
                handle.truncate(keep)
                handle.flush()
                os.fsync(handle.fileno())
            data = data[:keep]
        ids: set[str] = set()
        for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                problem_id = json.loads(line)["problem_id"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise RunError(f"{self.path}:{number}: not a record line; fix or remove it to resume") from None
            ids.add(problem_id)
        return ids

    def append(self, record: Row) -> None:
        line = record.model_dump_json() + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.done_ids.add(record.problem_id)


def _append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _git_sha() -> str | None:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if sha.returncode != 0:
        return None
    return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


class _Budget:
    def __init__(self, config: RunConfig, clients: Sequence[LLMClient]):
        self.config = config
        self.clients = clients
        self.started = time.monotonic()

    def usage(self) -> Usage:
        return sum((client.total_usage() for client in self.clients), Usage())

    def exhausted(self) -> str | None:
        usage = self.usage()
        if self.config.max_tokens is not None and usage.total_tokens >= self.config.max_tokens:
            return f"max_tokens reached ({usage.total_tokens} >= {self.config.max_tokens})"
        if self.config.max_cost is not None and usage.cost is not None and usage.cost >= self.config.max_cost:
            return f"max_cost reached (${usage.cost:.4f} >= ${self.config.max_cost})"
        return None


@dataclass
class RunSummary:
    out: Path
    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    status: str = "completed"
    usage: Usage = field(default_factory=Usage)
    rewrites: dict[str, Any] | None = None  # rewrite checks and fallbacks over all records (final manifests only)
    stop_note: str | None = None  # why no new problems started (budget, or the reply guard's one line)


class Row(Protocol):
    """What a run writes per problem: a `Record`, or another pydantic model with `problem_id` and `meta`."""

    problem_id: str
    meta: dict[str, Any]

    def model_dump_json(self) -> str: ...


Solver = Callable[[Problem], Awaitable[Row]]


@dataclass(frozen=True)
class Job:
    """How to build a run's model clients and its per-problem solver: once here, or again in each Ray worker
    (so both must be picklable by cloudpickle: plain functions and lambdas over configs, never live clients)."""

    make_clients: Callable[[], dict[str, LLMClient]]
    make_solver: Callable[[dict[str, LLMClient]], Solver]


async def preflight(clients: dict[str, LLMClient]) -> None:
    """One cheap call per distinct model: a wrong model string or a dead server fails here, once."""
    seen: set[str] = set()
    for role, client in clients.items():
        if client.model in seen:
            continue
        seen.add(client.model)
        try:
            await LLMClient(dataclasses.replace(client.config, cache_dir=None, max_retries=1)).complete(
                [{"role": "user", "content": "Reply with OK."}], max_tokens=1, temperature=0.0
            )
        except Exception as error:  # noqa: BLE001 - any failure here is reported as one line
            raise RunError(f"{role} model {client.model!r} is not reachable: {error}") from None


async def run_job(run: Run, problems: list[Problem], job: Job, console: Any = None) -> RunSummary:
    """Preflight, then solve every problem not yet done: in this process, or on Ray workers with --ray."""
    if not run.has_work(problems):  # all done already: no preflight call, no Ray workers
        return await run.execute(problems, job.make_solver(run.clients), console)
    if not run.config.ray:
        if run.config.preflight:
            await preflight(run.clients)
        return await run.execute(problems, job.make_solver(run.clients), console)
    from synthesis.distributed import RayPool  # Ray is imported only when a run asks for it

    limits, make_clients = run.config.max_concurrency, job.make_clients
    job = dataclasses.replace(job, make_clients=lambda: with_call_limits(make_clients(), limits))
    async with RayPool(job, run.clients, run.config) as pool:
        if run.config.preflight:
            await pool.preflight()
        run.ray_workers = pool.places
        return await run.execute(problems, pool.solve, console, in_flight=pool.capacity)


class Run:
    """One attempt over one problem set, in one directory."""

    def __init__(
        self,
        attempt: str,
        run_config: RunConfig,
        attempt_config: Any,
        clients: dict[str, LLMClient],
        prompt_hashes: dict[str, str],
        estimate_calls: Callable[[int], int],
    ):
        self.attempt = attempt
        self.config = run_config
        self.attempt_config = attempt_config
        self.clients = with_call_limits(clients, run_config.max_concurrency)
        self.prompt_hashes = prompt_hashes
        self.estimate_calls = estimate_calls
        self.out = out_dir(attempt, run_config)
        self.log = logging.getLogger(f"longthought.run.{attempt}")
        self.log.propagate = False  # run.log has every line; the console shows the progress bar instead
        self.ray_workers: list[str] = []  # host:pid of each Ray worker when the run is on Ray
        # By role, summed over the run's rows (every process's), for the manifest; None when the rows carry no usage.
        self.run_usage: dict[str, Usage] | None = {}

    # -- files ---------------------------------------------------------------------------------------------------
    def _config_dict(self) -> dict[str, Any]:
        config = {"attempt": self.attempt, "run": dataclasses.asdict(self.config),
                  self.attempt: dataclasses.asdict(self.attempt_config)}
        router = _router_of(self.clients)
        if router is not None:
            # The router file may change between resumptions (more servers), the models behind each name may not.
            config["router_models"] = router.served_models()
        return config

    def _check_or_write_config(self) -> None:
        path = self.out / "config.yaml"
        current = self._config_dict()
        if path.exists():
            try:
                previous = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError) as error:
                where = getattr(error, "problem_mark", None)
                at = f" (line {where.line + 1})" if where is not None else ""
                raise RunError(f"{path}: not valid YAML{at}; restore it, or delete it to resume with this "
                               "command's settings") from None
            if not isinstance(previous, dict):
                raise RunError(f"{path}: expected a mapping of the run's settings, got "
                               f"{type(previous).__name__}; restore it, or delete it to resume with this command's "
                               "settings") from None
            differences = _differences(previous, current)
            if differences:
                raise RunError(
                    f"{path} was written by a different command ({', '.join(differences)}); "
                    "rerun with the same settings to resume, or choose another --out"
                )
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(yaml.safe_dump(current, sort_keys=False), encoding="utf-8")
        os.replace(temporary, path)  # atomic, like the manifest: a kill never leaves a torn config to resume from

    def _write_manifest(self, summary: RunSummary, status: str, stop_note: str | None = None) -> None:
        # The run's totals are those of the rows it kept, over every process that resumed it (see _execute_locked);
        # what this process spent, failed and interrupted problems included, is beside them. Rows that carry no
        # usage (reward_models' Judged) leave only this process's totals to report.
        spent = summary.usage
        by_role = self.run_usage if self.run_usage is not None else {
            role: client.total_usage() for role, client in self.clients.items()}
        usage = sum(by_role.values(), Usage())
        if status != "running":  # reads every record: once at the end, not at the start
            from synthesis.rewrite import read_fallback_stats

            summary.rewrites = read_fallback_stats(self.out / "records.jsonl")
        manifest = {
            "attempt": self.attempt,
            "status": status,
            "stop_note": stop_note,
            "command": sys.argv,
            "git_sha": _git_sha(),
            "versions": _versions(),
            "models": {role: client.model for role, client in self.clients.items()},
            "router": router.describe() if (router := _router_of(self.clients)) else None,
            "ray": {"address": self.config.ray, "workers": self.ray_workers} if self.config.ray else None,
            "prompt_hashes": self.prompt_hashes,
            "seed": self.config.seed,
            "problems": {"set": self.config.problems, "selected": summary.total, "done_before": summary.skipped,
                         "done_now": summary.done, "failed_now": summary.failed},
            "usage": usage.model_dump() | {"total_tokens": usage.total_tokens},
            "usage_by_role": {role: role_usage.model_dump() for role, role_usage in sorted(by_role.items())},
            "usage_scope": "run" if self.run_usage is not None else "this process (its rows carry no usage)",
            "usage_this_process": spent.model_dump() | {"total_tokens": spent.total_tokens},
            "rewrites": summary.rewrites,  # {checked, fallbacks, fallback_rate}: drafts used for unfaithful rewrites
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        temporary = self.out / "manifest.json.tmp"
        temporary.write_text(json.dumps(manifest, indent=2))
        os.replace(temporary, self.out / "manifest.json")  # atomic: a kill never leaves half a manifest

    def _setup_logging(self) -> logging.Handler:
        handler = logging.FileHandler(self.out / "run.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        self.log.addHandler(handler)
        self.log.setLevel(logging.INFO)
        return handler

    # -- the run -------------------------------------------------------------------------------------------------
    def load_problems(self) -> list[Problem]:
        try:
            problems = load(self.config.problems, limit=self.config.limit,
                            seed=self.config.seed if self.config.shuffle else None)
        except ProblemSetError as error:
            raise RunError(str(error)) from None
        if any(oracle.is_oracle(client.model) for client in self.clients.values()):
            # The rehearsal backend answers from these problems' reference solutions; Ray workers find the set by name.
            oracle.remember(problems)
            os.environ[oracle.PROBLEMS_ENV] = str(Path(self.config.problems).resolve()) \
                if self.config.problems.endswith(".jsonl") else self.config.problems
        return problems

    def has_work(self, problems: list[Problem]) -> bool:
        """Whether some problem lacks a record (a read-only look; `execute` decides under the lock)."""
        path = self.out / "records.jsonl"
        if not path.exists():
            return bool(problems)
        done = set()
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                done.add(json.loads(line)["problem_id"])
            except (json.JSONDecodeError, KeyError, TypeError):
                return True  # a torn or odd line: let execute repair or report it
        return any(problem.id not in done for problem in problems)

    async def execute(self, problems: list[Problem], solve: Solver, console: Any = None,
                      in_flight: int | None = None) -> RunSummary:
        """Solve the problems without records, `in_flight` at once (default: --concurrency), one line each."""
        self.out.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.out / ".lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise RunError(f"{self.out} is in use by another process") from None
        handler = self._setup_logging()
        try:
            return await self._execute_locked(problems, solve, console, in_flight or self.config.concurrency)
        finally:
            self.log.removeHandler(handler)
            handler.close()
            lock.release()

    async def _execute_locked(self, problems: list[Problem], solve: Solver, console: Any, in_flight: int) -> RunSummary:
        self._check_or_write_config()
        records = RecordLog(self.out / "records.jsonl")
        if records.repaired_bytes:
            self.log.warning("repaired a torn last line in records.jsonl (%d bytes cut)", records.repaired_bytes)
        todo = [problem for problem in problems if problem.id not in records.done_ids]
        summary = RunSummary(out=self.out, total=len(problems), skipped=len(problems) - len(todo))
        # Run totals are read back from the rows rather than kept in a running-total file: records.jsonl is already
        # the fsynced truth of what the run kept, so a kill between a record and a total cannot make them disagree.
        # Failure rows are added when they carry usage (today they do not: a failed problem's spend is counted only
        # in `usage_this_process` of the process that paid it, and the retry that succeeds is in its record).
        self.run_usage = _rows_usage(self.out / "records.jsonl", self.out / "failures.jsonl")
        if not todo:
            self._write_manifest(summary, "completed", "nothing to do")
            return dataclasses.replace(summary, status="nothing_to_do")
        budget = _Budget(self.config, list(self.clients.values()))
        self._write_manifest(summary, "running")
        self.log.info("start: %d to do, %d already done", len(todo), summary.skipped)
        if self.ray_workers:
            self.log.info("ray: %d workers at %s", len(self.ray_workers), ", ".join(self.ray_workers))
        gate = asyncio.Semaphore(in_flight)
        stop_note: list[str] = []
        stopped: list[str] = []  # the reply guard's message: replies are unusable, spending more is waste

        async def one(problem: Problem, progress: _Progress) -> None:
            async with gate:
                if stop_note or stopped:
                    return
                note = budget.exhausted()
                if note:
                    stop_note.append(note)
                    self.log.warning("budget: %s; no new problems start", note)
                    return
                started = time.monotonic()
                try:
                    record = await solve(problem)
                except Exception as error:  # noqa: BLE001 - one problem's failure stops the run only via the guard
                    summary.failed += 1
                    _append_jsonl(self.out / "failures.jsonl", {
                        "problem_id": problem.id,
                        # Error text may echo a key or carry escape sequences (agents.redact); model text stays as is.
                        "error": safe(f"{type(error).__name__}: {error}"),
                        "raw": getattr(error, "raw", None),
                        "turns": getattr(error, "turns", None),
                        "traceback": safe(getattr(error, "remote_traceback", None) or traceback.format_exc(limit=5)),
                        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    })
                    self.log.error("failed %s: %s", problem.id, safe(error))
                    unusable = unusable_message(error)
                    if unusable is not None and not stopped:
                        stopped.append(unusable)
                        self.log.error("stopped: %s; no new problems start", safe(unusable))
                else:
                    record.meta.setdefault("wall_time_s", round(time.monotonic() - started, 3))
                    records.append(record)
                    if getattr(record, "usage", None) is None:
                        self.run_usage = None
                    elif self.run_usage is not None:
                        add_usage(self.run_usage, record.usage)
                    summary.done += 1
                    self.log.info("done %s correct=%s stop=%s", problem.id, getattr(record, "correct", None),
                                  getattr(record, "stop_reason", None))
                progress.update(summary, budget)

        interrupted = False
        with _Progress(len(todo), console) as progress:
            try:
                await asyncio.gather(*(one(problem, progress) for problem in todo))
            except asyncio.CancelledError:
                interrupted = True
                raise
            finally:
                summary.usage = budget.usage()
                status = ("interrupted" if interrupted else "stopped" if stopped
                          else "budget_exhausted" if stop_note else "completed")
                summary.status = status
                summary.stop_note = (stopped or stop_note or [None])[0]
                self._write_manifest(summary, status, summary.stop_note)
                self.log.info("end: %s; %d done, %d failed", status, summary.done, summary.failed)
        return summary


def _rows_usage(records: Path, failures: Path) -> dict[str, Usage] | None:
    """Usage by role summed over rows that carry `usage: {role: Usage}` (records, sample sets; failure rows when
    they do); None when a record row has no usage field. Lines that do not parse (a torn last line, a hand edit)
    add nothing: totals must never stop a run."""
    totals: dict[str, Usage] = {}
    for path in (records, failures):
        if not path.exists():
            continue
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                    if path == records and isinstance(row, dict) and "usage" not in row:
                        return None
                    usage = row.get("usage") or {}
                    parsed = {str(role): Usage.model_validate(value) for role, value in usage.items()}
                except (json.JSONDecodeError, AttributeError, TypeError, ValueError):  # ValidationError is a ValueError
                    continue
                add_usage(totals, parsed)
    return totals


def _router_of(clients: dict[str, LLMClient]) -> RouterSpec | None:
    # Router files hold environment references, never keys (agents.router refuses literals): safe to record.
    return next((client.config.router for client in clients.values() if client.routed()), None)


def _differences(previous: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    names = []
    for key in sorted(set(previous) | set(current)):
        if key in RESUMABLE_FIELDS:
            continue
        old, new = previous.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            names += _differences(old, new, f"{prefix}{key}.")
        elif old != new:
            names.append(f"{prefix}{key}: {old!r} -> {new!r}")
    return names


class _Progress:
    """A rich progress bar: problems done / failed, tokens, cost and tokens per second."""

    def __init__(self, total: int, console: Any):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}"), console=console or Console(stderr=True), transient=False,
        )
        self.task = self.progress.add_task("problems", total=total, stats="")
        self.started = time.monotonic()

    def __enter__(self) -> _Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, summary: RunSummary, budget: _Budget) -> None:
        usage = budget.usage()
        elapsed = max(time.monotonic() - self.started, 1e-9)
        cost = "cost ?" if usage.cost is None else f"${usage.cost:.4f}"
        stats = (f"done {summary.done} failed {summary.failed} | {usage.total_tokens} tok | {cost} | "
                 f"{(usage.completion_tokens - usage.cached_completion_tokens) / elapsed:.0f} tok/s")
        self.progress.update(self.task, completed=summary.done + summary.failed, stats=stats)


