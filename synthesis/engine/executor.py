"""Solving a run's problems: the local asyncio executor, budgets, progress, and the loop that records each problem.

The Ray executor (synthesis.engine.ray) has the same interface as `LocalExecutor`; `--ray` chooses it. Either
way the records, failures, manifest, budget and progress bar are kept here, in the process that runs the command.
"""

from __future__ import annotations

from protocols.error_chain import find_cause

import asyncio
import dataclasses
import os
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agents.calls.client import BudgetExhausted, LLMAuthError, LLMClient
from agents.calls.redact import safe
from agents.calls.reply_guard import unusable_message
from protocols.types import Problem, Usage
from synthesis.engine.config import RunConfig, RunError, with_call_limits
from protocols.rehearsal import META_KEY as ORACLE_KEY
from synthesis.engine.rehearsal import client_oracle_roles
from synthesis.engine.store import Row, RunStore, RunSummary, role_model_usage

Solver = Callable[[Problem], Awaitable[Row]]


@dataclass(frozen=True)
class Work:
    """How to build a run's model clients and its per-problem solver: once here, or again in each Ray worker
    (so all of it must be picklable by cloudpickle: the task's functions and the configs, never live clients)."""

    task: Any  # synthesis.engine.task.Task
    config: Any
    settings: dict[str, Any]
    seed: int
    call_limits: tuple[str, ...] = ()

    def make_clients(self) -> dict[str, LLMClient]:
        """The task's clients, each with its role's --max-concurrency."""
        return with_call_limits(self.task.make_clients(self.config, self.settings), self.call_limits)

    def make_solver(self, clients: dict[str, LLMClient]) -> Solver:
        return self.task.make_solver(self.config, clients, self.seed)


class Executor(Protocol):
    """Where problems are solved: this process (`LocalExecutor`) or Ray workers (`engine.ray.RayExecutor`)."""

    capacity: int | None  # problems in flight at once (None: --concurrency)
    places: list[str]  # host:pid of each remote worker, for run.log and the manifest

    async def __aenter__(self) -> Executor: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def preflight(self) -> None: ...

    async def solve(self, problem: Problem) -> Row: ...


class LocalExecutor:
    """Problems solved in this process, `--concurrency` at once, over the run's own clients."""

    def __init__(self, work: Work, clients: dict[str, LLMClient]):
        self.clients = clients
        self.capacity: int | None = None
        self.places: list[str] = []
        self._solve = work.make_solver(clients)

    async def __aenter__(self) -> LocalExecutor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def preflight(self) -> None:
        await preflight(self.clients)

    async def solve(self, problem: Problem) -> Row:
        return await self._solve(problem)


async def preflight(clients: dict[str, LLMClient]) -> None:
    """One cheap call per distinct model: a wrong model string or a dead server fails here, once."""
    seen: set[str] = set()
    for role, client in clients.items():
        if client.model in seen:
            continue
        seen.add(client.model)
        try:
            await LLMClient(dataclasses.replace(client.config, cache_dir=None, max_retries=1)).complete(
                [{"role": "user", "content": "Reply with OK."}], max_tokens=1, temperature=0.0, role=role
            )
        except LLMAuthError as error:  # reachable, but without a usable key: say which variable to set
            raise RunError(f"{role} model {error}") from None
        except Exception as error:  # noqa: BLE001 - any failure here is reported as one line
            raise RunError(f"{role} model {client.model!r} is not reachable: {error}") from None


class _Budget:
    """--budget-tokens / --budget-cost over the run directory: what earlier processes spent (spend.jsonl) and what
    this one has spent so far. Asked before each problem starts and before each model call (not on Ray workers,
    where it is asked before each problem), so a run stops within one call's worth of its budget, across resumes."""

    def __init__(self, config: RunConfig, clients: Sequence[LLMClient], before: Usage):
        self.config = config
        self.clients = clients
        self.before = before

    def usage(self) -> Usage:
        """This process's spend."""
        return sum((client.total_usage() for client in self.clients), Usage())

    def exhausted(self) -> str | None:
        usage = self.before + self.usage()
        if self.config.budget_tokens is not None and usage.total_tokens >= self.config.budget_tokens:
            return f"budget_tokens reached ({usage.total_tokens} >= {self.config.budget_tokens})"
        if self.config.budget_cost is not None and usage.cost is not None and usage.cost >= self.config.budget_cost:
            return f"budget_cost reached (${usage.cost:.4f} >= ${self.config.budget_cost})"
        return None


class Run:
    """One task over one problem set, in one directory: skips what is done, records each problem as it ends."""

    def __init__(self, name: str, run_config: RunConfig, task_config: Any, clients: dict[str, LLMClient],
                 prompt_hashes: dict[str, str]):
        self.config = run_config
        self.clients = with_call_limits(clients, run_config.max_concurrency)
        self.store = RunStore(name, run_config, task_config, self.clients, prompt_hashes)

    @property
    def out(self) -> Path:
        return self.store.out

    def has_work(self, problems: list[Any]) -> bool:
        """Whether some problem lacks a record (a read-only look; `execute` decides under the lock)."""
        return self.store.has_work(problems)

    async def execute(self, problems: list[Problem], solve: Solver, console: Any = None,
                      in_flight: int | None = None) -> RunSummary:
        """Solve the problems without records, `in_flight` at once (default: --concurrency), one line each."""
        with self.store.opened():
            return await self._execute_locked(problems, solve, console, in_flight or self.config.concurrency)

    async def _execute_locked(self, problems: list[Problem], solve: Solver, console: Any, in_flight: int) -> RunSummary:
        store, log = self.store, self.store.log
        store.check_or_write_config()
        records = store.records()
        if records.repaired_bytes:
            log.warning("repaired a torn last line in records.jsonl (%d bytes cut)", records.repaired_bytes)
        todo = [problem for problem in problems if problem.id not in records.done_ids]
        summary = RunSummary(out=store.out, total=len(problems), skipped=len(problems) - len(todo),
                             oracle_roles=client_oracle_roles(self.clients))
        store.load_usage()
        if not todo:
            store.write_manifest(summary, "completed", "nothing to do")
            return dataclasses.replace(summary, status="nothing_to_do")
        store.open_spend()
        budget = _Budget(self.config, list(self.clients.values()), store.spent_before())
        store.write_manifest(summary, "running")
        log.info("start: %d to do, %d already done", len(todo), summary.skipped)
        if store.ray_workers:
            log.info("ray: %d workers at %s", len(store.ray_workers), ", ".join(store.ray_workers))
        gate = asyncio.Semaphore(in_flight)
        stop_note: list[str] = []
        stopped: list[str] = []  # the reply guard's message: replies are unusable, spending more is waste
        closed: list[bool] = []  # set once the run is ending: a record after the final manifest would disagree

        async def one(problem: Problem, progress: _Progress) -> None:
            async with gate:
                if stop_note or stopped or closed:
                    return
                note = budget.exhausted()
                if note:
                    stop_note.append(note)
                    log.warning("budget: %s; no new problems start", note)
                    return
                started = time.monotonic()
                try:
                    record = await solve(problem)
                except Exception as error:  # noqa: BLE001 - one problem's failure stops the run only via the guard
                    if closed:
                        return
                    store.spend.write(budget.usage())
                    spent = _budget_stop(error)
                    if spent is not None:  # not a failure: the problem runs again when a resumed run may spend
                        if not stop_note:
                            stop_note.append(str(spent))
                            log.warning("budget: %s; no new model calls start", spent)
                        log.info("stopped %s by the budget; it runs again on a resumed run", problem.id)
                        return
                    summary.failed += 1
                    store.append_failure({
                        "problem_id": problem.id,
                        # Error text may echo a key or carry escape sequences (agents.calls.redact); model text stays
                        # as is.
                        "error": safe(f"{type(error).__name__}: {error}"),
                        "raw": getattr(error, "raw", None),
                        "turns": getattr(error, "turns", None),
                        "traceback": safe(getattr(error, "remote_traceback", None) or traceback.format_exc(limit=5)),
                        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    })
                    log.error("failed %s: %s", problem.id, safe(error))
                    unusable = unusable_message(error)
                    if unusable is not None and not stopped:
                        stopped.append(unusable)
                        log.error("stopped: %s; no new problems start", safe(unusable))
                else:
                    if closed:
                        return  # it runs again on the next run
                    record.meta.setdefault("wall_time_s", round(time.monotonic() - started, 3))
                    # Every row says which roles the oracle played, so rehearsal data is known wherever it travels.
                    record.meta.setdefault(ORACLE_KEY, list(summary.oracle_roles))
                    records.append(record)
                    store.spend.write(budget.usage())
                    store.add_usage(record)
                    summary.done += 1
                    _tally(summary, record)
                    log.info("done %s correct=%s stop=%s", problem.id, getattr(record, "correct", None),
                             getattr(record, "stop_reason", None))
                progress.update(summary)

        status = "completed"
        for client in self.clients.values():
            client.spend_check = budget.exhausted
        with _Progress(len(todo), console, budget, store.out.name) as progress:
            tasks = [asyncio.ensure_future(one(problem, progress)) for problem in todo]
            try:
                await asyncio.gather(*tasks)
            except (asyncio.CancelledError, KeyboardInterrupt):
                status = "interrupted"
                raise
            except BaseException as error:  # a full disk, a bug: the manifest says the run failed, and why
                status, stop_note[:] = "failed", [safe(f"{type(error).__name__}: {error}")]
                raise
            finally:
                # gather returns at the first cancelled child while the others may still finish: stop them all and
                # wait, so that no record is written after the final manifest.
                await _settle(tasks)
                closed.append(True)
                for client in self.clients.values():
                    client.spend_check = None
                summary.usage = budget.usage()
                summary.role_models = role_model_usage(self.clients)
                summary.elapsed_s = time.monotonic() - progress.started
                if status == "completed":
                    status = "stopped" if stopped else "budget_exhausted" if stop_note else "completed"
                summary.status = status
                summary.stop_note = (stopped or stop_note or [None])[0]
                try:
                    store.spend.write(summary.usage)
                except OSError as error:  # a full disk: the manifest below still says what happened
                    log.error("spend.jsonl: %s", safe(error))
                store.write_manifest(summary, status, summary.stop_note)
                log.info("end: %s; %d done, %d failed", status, summary.done, summary.failed)
        return summary


# How long the run waits for its problems to stop when interrupted, before it writes its final manifest.
SETTLE_S = 10.0


async def _settle(tasks: list[asyncio.Future]) -> None:
    """Cancel the run's problems that still run and wait for them (at most SETTLE_S; a second signal waits no more)."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        try:
            await asyncio.wait(pending, timeout=SETTLE_S)
        except asyncio.CancelledError:
            pass
    for task in tasks:  # retrieved, so asyncio prints no "exception was never retrieved" at exit
        if task.done() and not task.cancelled():
            task.exception()


def _budget_stop(error: BaseException) -> BudgetExhausted | None:
    """The budget stop inside a problem's error (tasks wrap model errors in their own), if that is what it was."""
    return find_cause(error, BudgetExhausted)


def _tally(summary: RunSummary, record: Any) -> None:
    """Count a new record's verdict and stop reason for the final line."""
    correct = getattr(record, "correct", None)
    if correct is not None:
        summary.judged += 1
        summary.correct += bool(correct)
    reason = getattr(record, "stop_reason", None)
    if reason is not None:
        summary.stop_reasons[str(reason)] = summary.stop_reasons.get(str(reason), 0) + 1


# Plain progress lines when the output is not a terminal (a log file, a scheduler): one every this many seconds.
PLAIN_EVERY_S = float(os.environ.get("LONGTHOUGHT_PROGRESS_EVERY", "30"))


class _Progress:
    """Live progress: problems done / failed, calls, tokens, cost, tokens per second and an ETA, refreshed every
    second from the clients' usage (so it moves while a long problem is still running); a rich bar on a terminal,
    a plain line every PLAIN_EVERY_S seconds otherwise."""

    def __init__(self, total: int, console: Any, budget: _Budget, name: str):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console or Console(stderr=True)
        self.total, self.budget, self.name = total, budget, name
        self.summary: RunSummary | None = None
        self.live = self.console.is_terminal
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}"), console=self.console, transient=False, disable=not self.live,
        )
        self.task = self.progress.add_task(name, total=total, stats="")
        self.started = time.monotonic()
        self._ticker: asyncio.Task | None = None

    def __enter__(self) -> _Progress:
        self.progress.start()
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        self.refresh()
        if not self.live:
            self.console.print(self.line(), markup=False, highlight=False)
        self.progress.stop()

    async def _tick(self) -> None:
        last_plain = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            self.refresh()
            if not self.live and time.monotonic() - last_plain >= PLAIN_EVERY_S:
                last_plain = time.monotonic()
                self.console.print(self.line(), markup=False, highlight=False)

    def update(self, summary: RunSummary) -> None:
        self.summary = summary
        self.refresh()

    @property
    def finished(self) -> int:
        return (self.summary.done + self.summary.failed) if self.summary else 0

    def stats(self) -> str:
        usage = self.budget.usage()
        elapsed = max(time.monotonic() - self.started, 1e-9)
        finished = self.finished
        cost = "cost ?" if usage.cost is None else f"${usage.cost:.4f}"
        eta = f"eta {_clock(elapsed / finished * (self.total - finished))}" if finished else "eta ?"
        done = f"done {self.summary.done} failed {self.summary.failed} | " if self.summary else ""
        return (f"{done}{usage.calls} calls | {usage.total_tokens} tok | {cost} | "
                f"{(usage.completion_tokens - usage.cached_completion_tokens) / elapsed:.0f} tok/s | {eta}")

    def line(self) -> str:
        return f"{self.name}: {self.finished}/{self.total} problems, {_clock(time.monotonic() - self.started)} | {self.stats()}"

    def refresh(self) -> None:
        self.progress.update(self.task, completed=self.finished, stats=self.stats())


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
