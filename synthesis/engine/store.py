"""A run directory: `config.yaml` (no secrets), `manifest.json`, `records.jsonl` (one fsynced line per finished
problem), `failures.jsonl` (error and raw model text; failed problems are retried on the next run) and `run.log`.

Rerunning the same command resumes: finished ids are skipped, a torn last line is repaired, nothing is duplicated.
A file lock keeps two processes out of the same directory.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from filelock import FileLock, Timeout

from agents.backends.litellm_router import RouterSpec
from agents.calls.client import LLMClient
from agents.calls.redact import safe, scrub
from protocols.rehearsal import META_KEY as ORACLE_KEY
from protocols.types import Usage, add_usage
from synthesis.engine.config import REPO_ROOT, RunConfig, RunError, config_differences, out_dir
from synthesis.engine.rehearsal import client_oracle_roles
from synthesis.engine.rows import RowError, RowId, read_fallback_stats, read_rows
from synthesis.engine.run_card import CONFIG, MANIFEST, RunCard
from synthesis.engine.spend import SpendLedger


class SafeFormatter(logging.Formatter):
    """run.log lines through agents.calls.redact.safe: problem ids, questions and error text are data from elsewhere,
    and `tail run.log` must show an escape sequence in them, never obey it (model text is treated the same way)."""

    def format(self, record: logging.LogRecord) -> str:
        return safe(super().format(record))


VERSIONED_PACKAGES = ("longthought", "litellm", "autogen-agentchat", "math-verify", "pydantic", "xllamacpp", "ray")


class Row(Protocol):
    """What a run writes per problem: a `Record`, or another pydantic model with `problem_id` and `meta`."""

    problem_id: str
    meta: dict[str, Any]

    def model_dump_json(self) -> str: ...


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
    correct: int = 0  # new records judged correct (rows with a `correct` field)
    judged: int = 0  # new records with a `correct` field at all
    stop_reasons: dict[str, int] = field(default_factory=dict)  # new records by why their episode stopped
    # This run's calls per (role, model): the table printed above the last line, as Curator shows per model.
    role_models: list[RoleUsage] = field(default_factory=list)
    elapsed_s: float = 0.0
    oracle_roles: list[str] = field(default_factory=list)  # roles the oracle played: the data is a rehearsal


@dataclass(frozen=True)
class RoleUsage:
    """One agent role's calls to one model during a run."""

    role: str
    model: str
    usage: Usage


def role_model_usage(clients: dict[str, LLMClient]) -> list[RoleUsage]:
    """Every role's usage on its model; a client shared by several roles is counted once."""
    rows, seen = [], set()
    for client in clients.values():
        if id(client) in seen:
            continue
        seen.add(id(client))
        rows += [RoleUsage(role, client.model, usage) for role, usage in sorted(client.usage.items()) if usage.calls]
    return rows


class RecordLog:
    """Append-only `records.jsonl`: one line per problem, flushed and fsynced before it counts as done."""

    def __init__(self, path: Path):
        self.path = path
        self.repaired_bytes = 0
        self.done_ids = self._load()

    def _load(self) -> set[str]:
        if not self.path.exists():
            return set()
        try:
            rows = read_rows(self.path, RowId, complete_only=True)
        except RowError as error:
            bad = error.bad
            raise RunError(f"{bad.path}:{bad.number}: not a record line; fix or remove it to resume") from None
        if rows.torn:
            # A kill mid-write leaves a torn last line: cut it, that problem simply runs again.
            self.repaired_bytes = self.path.stat().st_size - rows.end
            with self.path.open("r+b") as handle:
                handle.truncate(rows.end)
                handle.flush()
                os.fsync(handle.fileno())
        return {row.problem_id for row in rows}

    def append(self, record: Row) -> None:
        line = record.model_dump_json() + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.done_ids.add(record.problem_id)


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def rows_usage(run_dir: Path) -> dict[str, Usage] | None:
    """Usage by role summed over rows that carry `usage: {role: Usage}` (records, sample sets; failure rows when
    they do); None when a record row has no usage field. Lines that are not rows (a torn last line, a hand edit)
    add nothing: totals must never stop a run."""
    totals: dict[str, Usage] = {}
    for name in ("records.jsonl", "failures.jsonl"):
        for row in read_rows(run_dir / name, dict, strict=False, missing_ok=True):
            if name == "records.jsonl" and "usage" not in row:
                return None
            try:
                parsed = {str(role): Usage.model_validate(value) for role, value in (row["usage"] or {}).items()}
            except (KeyError, AttributeError, TypeError, ValueError):  # ValidationError is a ValueError
                continue
            add_usage(totals, parsed)
    return totals


class RunStore:
    """The files of one run of one task over one problem set."""

    def __init__(self, name: str, run_config: RunConfig, task_config: Any, clients: dict[str, LLMClient],
                 prompt_hashes: dict[str, str]):
        self.name = name
        self.config = run_config
        self.task_config = task_config
        self.clients = clients
        self.prompt_hashes = prompt_hashes
        self.out = out_dir(name, run_config)
        self.log = logging.getLogger(f"longthought.run.{name}")
        self.log.propagate = False  # run.log has every line; the console shows the progress bar instead
        self.ray_workers: list[str] = []  # host:pid of each Ray worker when the run is on Ray
        self.decontamination: dict[str, Any] | None = None  # eval-set overlap of the problems (engine.task)
        # By role, summed over the run's rows (every process's), for the manifest; None when the rows carry no usage.
        self.run_usage: dict[str, Usage] | None = {}
        self.spend: SpendLedger | None = None  # opened with the run, under the lock
        self._spent_before = Usage()

    def spent_before(self) -> Usage:
        """What earlier processes spent in this directory (read when the run opened its ledger)."""
        return self._spent_before

    @contextmanager
    def opened(self) -> Iterator[None]:
        """The directory, locked against other processes, with run.log open."""
        self.out.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.out / ".lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise RunError(f"{self.out} is in use by another process") from None
        handler = _QuietFileHandler(self.out / "run.log")
        handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(message)s"))
        self.log.addHandler(handler)
        self.log.setLevel(logging.INFO)
        # What the model client refuses to believe (agents.calls.usage_check).
        calls = logging.getLogger("longthought.llm")
        calls.addHandler(handler)
        try:
            yield
        finally:
            calls.removeHandler(handler)
            self.log.removeHandler(handler)
            handler.close()
            lock.release()

    def has_work(self, problems: list[Any]) -> bool:
        """Whether some problem lacks a record (a read-only look; the run decides under the lock)."""
        rows = read_rows(self.out, RowId, strict=False, missing_ok=True)
        if rows.bad or rows.torn:
            return True  # a torn or odd line: let the run repair or report it
        done = {row.problem_id for row in rows}
        return any(problem.id not in done for problem in problems)

    def records(self) -> RecordLog:
        return RecordLog(self.out / "records.jsonl")

    def append_failure(self, row: dict[str, Any]) -> None:
        append_jsonl(self.out / "failures.jsonl", row)

    def open_spend(self) -> None:
        """The spend ledger, after load_usage: a run begun before there was a ledger counts what its records say."""
        self.spend = SpendLedger(self.out / "spend.jsonl")
        earlier = self.spend.earlier
        self._spent_before = earlier if earlier is not None else sum((self.run_usage or {}).values(), Usage())

    def load_usage(self) -> None:
        # Run totals are read back from the rows rather than kept in a running-total file: records.jsonl is already
        # the fsynced truth of what the run kept, so a kill between a record and a total cannot make them disagree.
        # Failure rows are added when they carry usage (today they do not: a failed problem's spend is counted only
        # in `usage_this_process` of the process that paid it, and the retry that succeeds is in its record).
        self.run_usage = rows_usage(self.out)

    def add_usage(self, row: Row) -> None:
        if getattr(row, "usage", None) is None:
            self.run_usage = None
        elif self.run_usage is not None:
            add_usage(self.run_usage, row.usage)

    # -- config.yaml -------------------------------------------------------------------------------------------------
    def _config_dict(self) -> dict[str, Any]:
        config = {"attempt": self.name, "run": dataclasses.asdict(self.config),
                  self.name: dataclasses.asdict(self.task_config)}
        router = _router_of(self.clients)
        if router is not None:
            # The router file may change between resumptions (more servers), the models behind each name may not.
            config["router_models"] = router.served_models()
        # No secrets (ARCHITECTURE): a key inside --api-base (https://user:KEY@host) is masked like any other.
        return scrub(config)

    def check_or_write_config(self) -> None:
        path = self.out / CONFIG
        current = self._config_dict()
        try:
            previous = RunCard(self.out).config
        except ValueError as error:  # one line naming the file and what it should be
            raise RunError(f"{error}; restore it, or delete it to resume with this command's settings") from None
        if previous is not None:
            differences = config_differences(previous, current)
            if differences:
                raise RunError(
                    f"{path} was written by a different command ({', '.join(differences)}); "
                    "rerun with the same settings to resume, or choose another --out"
                )
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(yaml.safe_dump(current, sort_keys=False), encoding="utf-8")
        os.replace(temporary, path)  # atomic, like the manifest: a kill never leaves a torn config to resume from

    # -- manifest.json -----------------------------------------------------------------------------------------------
    def write_manifest(self, summary: RunSummary, status: str, stop_note: str | None = None) -> None:
        # The run's totals are those of the rows it kept, over every process that resumed it (see load_usage);
        # what this process spent, failed and interrupted problems included, is beside them. Rows that carry no
        # usage (reward_models' Judged) leave only this process's totals to report.
        spent = summary.usage
        by_role = self.run_usage if self.run_usage is not None else {
            role: client.total_usage() for role, client in self.clients.items()}
        usage = sum(by_role.values(), Usage())
        if status != "running":  # reads every record: once at the end, not at the start
            summary.rewrites = read_fallback_stats(self.out)
        manifest = {
            "attempt": self.name,
            "status": status,
            "stop_note": stop_note,
            "command": sys.argv,
            "git_sha": _git_sha(),
            "versions": _versions(),
            "models": {role: client.model for role, client in self.clients.items()},
            # Rehearsal data says what it is (protocols.rehearsal): [] when no role was the oracle.
            ORACLE_KEY: client_oracle_roles(self.clients),
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
            # Every call any process paid for in this directory (spend.jsonl): what --budget-* count.
            "spent_run": (spent_run := self.spent_before() + spent).model_dump() | {
                "total_tokens": spent_run.total_tokens},
            "decontamination": _without_examples(self.decontamination),
            "rewrites": summary.rewrites,  # {checked, fallbacks, fallback_rate}: drafts used for unfaithful rewrites
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        text = json.dumps(scrub(manifest), indent=2)  # scrubbed: sys.argv may hold a key in --api-base
        if status == "running":
            # Room for the final manifest to be written over this one in place should the disk be full by then
            # (JSON allows trailing whitespace); without it a full disk left the manifest saying "running".
            text += " " * MANIFEST_RESERVE + "\n"
        path, temporary = self.out / MANIFEST, self.out / f"{MANIFEST}.tmp"
        try:
            temporary.write_text(text)
            os.replace(temporary, path)  # atomic: a kill never leaves half a manifest
        except OSError:
            temporary.unlink(missing_ok=True)
            if status == "running" or not path.exists():
                raise
            _overwrite(path, text.encode())


# Bytes of padding after a running manifest: a final one is at most this much longer (its rewrites and stop note).
MANIFEST_RESERVE = 4096


def _overwrite(path: Path, data: bytes) -> None:
    """Write `data` over the file's own blocks (a full disk has no room for a new file), then cut what is left."""
    with path.open("r+b") as handle:
        handle.write(data)
        handle.truncate(len(data))
        handle.flush()
        os.fsync(handle.fileno())


class _QuietFileHandler(logging.FileHandler):
    """run.log: a line that cannot be written (a full disk) is dropped, not reported with a traceback on stderr
    for every line; the run's own error says what happened."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's naming
        pass


def _without_examples(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The decontamination counts per eval set, without the example ids (the manifest is rewritten often)."""
    if not report or "eval_sets" not in report:
        return report
    return report | {"eval_sets": {name: {key: value for key, value in found.items() if key != "examples"}
                                   for name, found in report["eval_sets"].items()}}


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


def _router_of(clients: dict[str, LLMClient]) -> RouterSpec | None:
    # Router files hold environment references, never keys (agents.backends.litellm_router refuses literals): safe to
    # record.
    return next((client.config.router for client in clients.values() if client.routed()), None)
