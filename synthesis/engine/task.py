"""The task contract and the one way to run a task: every attempt, DPO sampling, accuracy and reward-model
evaluation is a `Task`, and `run` takes it over a problem set in a resumable run directory.

A task names its config dataclass (its flags and its part of config.yaml), how to build its model clients by role,
its per-problem solver, an upper bound on its model calls and its prompt folders. The registry finds a task by
name without importing it until asked, so the engine imports no attempt.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.backends import backend_for
from agents.calls.client import LLMClient
from prompts import prompt_hashes
from protocols.contamination import Item, decontaminate, summary_line
from protocols.problems import ProblemSetError, load
from protocols.terminal import neutralise
from protocols.types import Problem
from synthesis.engine.config import RunConfig, RunError, client_settings, out_dir
from synthesis.engine.executor import Executor, LocalExecutor, Run, Solver, Work
from synthesis.engine.signals import run_with_signals
from synthesis.engine.store import RunSummary

log = logging.getLogger("longthought.engine")

# Every task by name, as "module:ATTRIBUTE": imported only when asked for, so the engine imports no attempt.
TASKS = {
    "tree_search": "synthesis.tree_search:TASK",
    "critique_loop": "synthesis.critique_loop:TASK",
    "debate": "synthesis.debate:TASK",
    "human_annotation": "synthesis.annotate:TASK",
    "dpo_samples": "training.dpo:TASK",
    "accuracy": "eval.accuracy:TASK",
    "reward_models": "eval.reward_models:TASK",
}
# Tasks that run on the eval sets themselves: never decontaminated.
EVAL_TASKS = frozenset({"accuracy", "reward_models"})
ATTEMPTS = ("tree_search", "critique_loop", "debate", "human_annotation")  # the construction attempts, ablation order


def one_call_each(problems: int, config: Any) -> int:
    return problems


@dataclass(frozen=True)
class Task:
    """What the engine needs to know of a command that solves problems one at a time.

    `make_clients(config, settings)` gives the model clients by role (`settings`: the run's replay cache and
    router, for every client); `make_solver(config, clients, seed)` gives the coroutine function that solves one
    problem and returns its row. A Ray worker calls both again, so they must be plain functions (no live clients).
    """

    name: str  # records' `attempt`, config.yaml's key and the default run directory runs/<name>-<problems>
    config_type: type
    make_clients: Callable[[Any, dict[str, Any]], dict[str, LLMClient]]
    make_solver: Callable[[Any, dict[str, LLMClient], int], Solver]
    estimate_calls: Callable[[int, Any], int] = one_call_each  # (problems, config) -> most model calls
    prompt_folders: tuple[str, ...] = ()

    def prompt_hashes(self) -> dict[str, str]:
        hashes: dict[str, str] = {}
        for folder in self.prompt_folders:
            hashes |= prompt_hashes(folder)
        return hashes


def get_task(name: str) -> Task:
    """The registered task called `name`."""
    return getattr(importlib.import_module(module_of(name)), TASKS[name].partition(":")[2])


def module_of(name: str) -> str:
    """The module that holds the task called `name` (its command is `python -m` that module)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}: use {', '.join(TASKS)}")
    return TASKS[name].partition(":")[0]


def load_problems(run_config: RunConfig, clients: dict[str, LLMClient]) -> list[Problem]:
    """The run's problems (--problems, --shuffle, --limit); one line naming the file and line when they are bad."""
    try:
        problems = load(run_config.problems, limit=run_config.limit,
                        seed=run_config.seed if run_config.shuffle else None)
    except ProblemSetError as error:
        raise RunError(str(error)) from None
    # A backend may need the problems before its first call (the oracle answers from their reference solutions).
    source = str(Path(run_config.problems).resolve()) if run_config.problems.endswith(".jsonl") \
        else run_config.problems
    for backend in dict.fromkeys(backend_for(client.model) for client in clients.values()):
        backend.prepare_run(problems, source)
    return problems


@dataclass
class Plan:
    """A task's run, ready to go: its clients are built and its problems loaded; nothing is written yet."""

    task: Task
    config: Any
    run: Run
    work: Work
    problems: list[Any]  # Problems, or any items with an `id` (annotations, labelled solutions)

    def has_work(self) -> bool:
        return self.run.has_work(self.problems)

    def execute_sync(self, console: Any = None) -> RunSummary | None:
        """Run it to the end (None for a dry run, which prints the problems and the estimated calls)."""
        if self.run.config.dry_run:
            from rich.console import Console

            from synthesis.engine.estimate import estimate

            calls = self.task.estimate_calls(len(self.problems), self.config)
            questions = [getattr(getattr(item, "problem", item), "question", "") or "" for item in self.problems]
            models = [client.model for client in self.run.clients.values()]
            ids = [neutralise(str(item.id)) for item in self.problems[:5]]  # problem data: no raw escapes
            more = f", ... ({len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
            (console or Console(stderr=True, soft_wrap=True)).print(
                f"dry run: {len(self.problems)} problems from {neutralise(self.run.config.problems)}: "
                f"{', '.join(ids)}{more}\n"
                f"  {estimate(calls, questions, self.config, models).describe()}\n  nothing was spent, nothing written",
                markup=False, highlight=False)
            return None
        return run_with_signals(self.execute(console))

    async def execute(self, console: Any = None) -> RunSummary:
        """Preflight, then solve every problem not yet done: in this process, or on Ray workers with --ray."""
        if not self.has_work():  # all done already: no preflight call, no Ray workers
            return await self.run.execute(self.problems, self.work.make_solver(self.run.clients), console)
        async with _executor(self.work, self.run) as executor:
            if self.run.config.preflight:
                await executor.preflight()
            self.run.store.ray_workers = executor.places
            return await self.run.execute(self.problems, executor.solve, console, in_flight=executor.capacity)


def _executor(work: Work, run: Run) -> Executor:
    if not run.config.ray:
        return LocalExecutor(work, run.clients)
    from synthesis.engine.ray import RayExecutor  # Ray is imported only when a run asks for it

    return RayExecutor(work, run.clients, run.config)


def plan(task: Task, run_config: RunConfig, config: Any, problems: list[Any] | None = None) -> Plan:
    """Build the task's clients (with --max-concurrency) and load its problems, unless they are given."""
    settings = client_settings(run_config, out_dir(task.name, run_config))
    work = Work(task, config, settings, run_config.seed, tuple(run_config.max_concurrency))
    run_ = Run(task.name, run_config, config, task.make_clients(config, settings), task.prompt_hashes())
    if problems is None:
        problems = load_problems(run_config, run_.clients)
    if task.name not in EVAL_TASKS and run_config.decontaminate != "off":
        problems = _decontaminated(problems, run_config, run_)
    return Plan(task, config, run_, work, problems)


def _decontaminated(problems: list[Any], run_config: RunConfig, run_: Run) -> list[Any]:
    """The problems that pass the eval-set check (all of them with `report`); the counts go to the manifest."""
    questions = [getattr(item, "problem", item) for item in problems]  # annotations carry their problem
    if not all(isinstance(problem, Problem) for problem in questions):
        return problems
    # Questions only: a problem's own reference solution says nothing more about whether it is an eval problem.
    kept, report = decontaminate([Item(p.id, p.question) for p in questions],
                                 run_config.decontaminate, run_config.eval_sets, run_config.ngram)
    log.info("%s", summary_line(report))
    run_.store.decontamination = report
    return [problems[index] for index in kept]


def run(task: Task, run_config: RunConfig, config: Any, console: Any = None,
        problems: list[Any] | None = None) -> RunSummary | None:
    """Run `task` over the problems (default: those --problems names) in a resumable run directory; None for a
    dry run."""
    return plan(task, run_config, config, problems).execute_sync(console)
