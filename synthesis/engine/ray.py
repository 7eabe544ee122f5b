"""The Ray executor: problems are solved by Ray actors, records are written here by one writer.

    python -m synthesis.debate --problems math_train --ray auto              # a local cluster, one worker per CPU
    python -m synthesis.debate --problems math_train --ray 10.0.0.5:6379     # a running cluster

The driver (the process that runs the command) keeps everything that makes a run safe: the lock, config.yaml,
records.jsonl, failures.jsonl, the manifest, the budget and the progress bar. It sends one problem at a time to
the least busy worker, and a worker returns the finished row and what it spent; so resume, the no-duplicate
guarantee and budgets are exactly those of a single-machine run. A worker process that dies is restarted by Ray
and its problems resent; a problem that still fails is written to failures.jsonl and runs again on the next run.

Each worker builds its own model clients from the run's `Work` (so an embedded model gets one server per worker,
or the one named by LONGTHOUGHT_EMBEDDED_API_BASE). Workers get this process's LONGTHOUGHT_* variables; API keys
are not forwarded (they would sit in the cluster's metadata store): give the cluster's nodes their keys.
This module is imported only when a run has --ray.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorDiedError, AuthenticationError, GetTimeoutError, RayError

from agents.backends import backend_for, embedded
from agents.calls.client import LLMClient
from protocols.types import Problem, Usage
from synthesis.engine.config import RunConfig, RunError
from synthesis.engine.executor import Work, preflight
from synthesis.engine.store import Row

FORWARDED_ENV_PREFIX = "LONGTHOUGHT_"
WORKER_START_TIMEOUT_S = 180.0
# Ray restarts a killed worker as often as needed, and resends its unfinished problems once: a problem that kills
# its worker twice (out of memory, a crash in native code) is failed, not resent forever.
TASK_RESENDS = 1


class RemoteProblemError(RuntimeError):
    """A problem failed on a Ray worker; carries what a local failure would (raw text, turns, traceback)."""

    def __init__(self, failure: dict[str, Any]):
        super().__init__(failure["error"])
        self.raw = failure.get("raw")
        self.turns = failure.get("turns")
        self.remote_traceback = failure.get("traceback")


@dataclass
class Outcome:
    """What a worker returns for one problem: the row or the failure, and the usage per client and role."""

    row: Any = None
    failure: dict[str, Any] | None = None
    usage: dict[str, dict[str, Usage]] = field(default_factory=dict)


class ProblemWorker:
    """A Ray actor: the run's clients, built once in the worker, and one async solve per problem."""

    def __init__(self, work: Work):
        self.work = work
        self.clients = work.make_clients()

    def where(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    async def preflight(self) -> str | None:
        try:
            await preflight(self.clients)
        except RunError as error:
            return str(error)
        return None

    async def solve(self, problem: Problem) -> Outcome:
        # Per-problem child clients: their usage is exactly this problem's, whatever else runs beside it.
        scoped = {role: client.scoped() for role, client in self.clients.items()}
        outcome = Outcome()
        try:
            outcome.row = await self.work.make_solver(scoped)(problem)
            outcome.row.meta["ray_worker"] = self.where()  # provenance: which node and process solved it
        except Exception as error:  # noqa: BLE001 - reported to the driver, which writes failures.jsonl
            outcome.failure = {
                "error": f"{type(error).__name__}: {error} (on Ray worker {self.where()})",
                "raw": getattr(error, "raw", None),
                "turns": getattr(error, "turns", None),  # already plain JSON data (EpisodeError)
                "traceback": traceback.format_exc(limit=5),
            }
        outcome.usage = {role: dict(client.usage) for role, client in scoped.items()}
        return outcome

    def shutdown(self) -> None:
        embedded.stop_all()


def forwarded_env() -> dict[str, str]:
    """This process's LONGTHOUGHT_* settings for the workers; relative paths made absolute (workers run elsewhere)."""
    forwarded = {}
    for name, value in os.environ.items():
        if name.startswith(FORWARDED_ENV_PREFIX):
            path = Path(value)
            forwarded[name] = str(path.resolve()) if value and not path.is_absolute() and path.exists() else value
    return forwarded


def _probe(address: str) -> None:
    # ray.init keeps retrying an address where nothing listens for minutes; a plain TCP connect says so at once.
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as error:
        raise RunError(f"--ray {address}: cannot join the Ray cluster: nothing answers there ({error})") from None


def connect(address: str) -> None:
    """Join the cluster: 'auto' finds the one this machine knows (RAY_ADDRESS, `ray start`) or starts one here.

    Ray 2.60 turns token authentication on for the clusters that ray.init starts, and then writes a token to
    ~/.ray/auth_token itself when there is none, so `--ray auto` works on a machine that never ran Ray. Joining a
    cluster that `ray start` began with RAY_AUTH_MODE=token needs that cluster's token here (RAY_AUTH_TOKEN_PATH,
    RAY_AUTH_TOKEN or ~/.ray/auth_token): without it this is one line, not Ray's traceback.
    """
    if address != "auto":
        _probe(address)
    # ray.init replaces the SIGTERM handler with one that exits at once (sys.exit, or kill and exit 1 for a cluster
    # it starts): the run's own handler (synthesis.engine.cli.guarded: stop like Ctrl-C, manifest "interrupted") is put
    # back, and its cancellation ends in ray.shutdown, which stops what ray.init started.
    handler = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    try:
        ray.init(
            address=None if address == "auto" else address,
            runtime_env={"env_vars": forwarded_env()},
            include_dashboard=False,
            log_to_driver=False,  # worker output goes to Ray's logs; the console keeps the progress bar
            configure_logging=False,
            ignore_reinit_error=True,
        )
    except AuthenticationError:
        raise RunError(
            f"--ray {address}: cannot join the Ray cluster: it wants a token and this machine has none that it "
            "accepts; put the cluster's (`ray get-auth-token` on its head node) in ~/.ray/auth_token, or name its "
            "file in RAY_AUTH_TOKEN_PATH, or set RAY_AUTH_TOKEN") from None
    except (ConnectionError, RuntimeError, ValueError, RayError) as error:
        raise RunError(f"--ray {address}: cannot join the Ray cluster: {' '.join(str(error).split())[:300]}") from None
    finally:
        if callable(handler):
            signal.signal(signal.SIGTERM, handler)


class RayExecutor:
    """Ray workers for one run, an Executor: `solve` sends a problem to the least busy one and returns its row."""

    def __init__(self, work: Work, clients: dict[str, LLMClient], config: RunConfig):
        self.work = work
        self.clients = clients
        self.config = config
        self.places: list[str] = []  # host:pid of each worker, for run.log and the manifest
        self.actors: list[Any] = []
        self.load: list[int] = []
        self.lost: set[int] = set()

    @property
    def capacity(self) -> int:
        return len(self.actors) * self.config.concurrency

    async def __aenter__(self) -> RayExecutor:
        connect(self.config.ray)
        resources = ray.cluster_resources()
        if self.config.ray_gpus_per_worker > resources.get("GPU", 0):
            ray.shutdown()
            raise RunError(f"--ray-gpus-per-worker {self.config.ray_gpus_per_worker:g}: the cluster has "
                           f"{resources.get('GPU', 0):g} GPUs")
        workers = self.config.ray_workers or self._default_workers(resources)
        actor_class = ray.remote(ProblemWorker).options(
            num_cpus=1,
            num_gpus=self.config.ray_gpus_per_worker,
            max_concurrency=self.config.concurrency + 2,  # + preflight and shutdown
            max_restarts=-1,
            max_task_retries=TASK_RESENDS,
        )
        self.actors = [actor_class.remote(self.work) for _ in range(workers)]
        self.load = [0] * workers
        try:
            places = ray.get([actor.where.remote() for actor in self.actors], timeout=WORKER_START_TIMEOUT_S)
        except GetTimeoutError:
            await self.__aexit__()
            raise RunError(
                f"--ray: {workers} workers did not start within {WORKER_START_TIMEOUT_S:.0f}s "
                f"(the cluster has {resources.get('CPU', 0):g} CPUs and {resources.get('GPU', 0):g} GPUs; "
                "lower --ray-workers)"
            ) from None
        except RayError as error:
            await self.__aexit__()
            raise RunError(f"--ray: a worker failed to start: {_last_line(error)}") from None
        self.places = places
        return self

    def _default_workers(self, resources: dict[str, float]) -> int:
        # One per CPU; per GPU share when workers reserve GPUs; for in-process hf/ models one per GPU (or a single
        # one without GPUs), since every worker loads its own copy of the weights.
        if self.config.ray_gpus_per_worker:
            return max(1, int(resources.get("GPU", 0) / self.config.ray_gpus_per_worker))
        if any(backend_for(client.model).in_process(client.model) for client in self.clients.values()):
            return max(1, int(resources.get("GPU", 0)))
        return max(1, int(resources.get("CPU", 1)))

    async def __aexit__(self, *exc: object) -> None:
        try:
            await asyncio.wait_for(asyncio.gather(*(actor.shutdown.remote() for actor in self.actors),
                                                  return_exceptions=True), timeout=30)
        except TimeoutError:
            pass
        for actor in self.actors:
            ray.kill(actor)
        ray.shutdown()

    async def preflight(self) -> None:
        try:
            note = await self.actors[0].preflight.remote()
        except RayError as error:
            raise RunError(f"--ray: the preflight worker was lost: {_last_line(error)}") from None
        if note:
            raise RunError(f"{note} (checked from a Ray worker)")

    async def solve(self, problem: Problem) -> Row:
        live = [index for index in range(len(self.actors)) if index not in self.lost]
        if not live:
            raise RuntimeError("every Ray worker is lost; rerun to retry this problem")
        index = min(live, key=self.load.__getitem__)
        self.load[index] += 1
        try:
            outcome: Outcome = await self.actors[index].solve.remote(problem)
        except ActorDiedError as error:
            self.lost.add(index)  # Ray gave up restarting it: send no more problems there
            raise RuntimeError(f"Ray worker {index} was lost: {_last_line(error)}") from None
        except RayError as error:
            raise RuntimeError(f"Ray worker {index} failed on this problem: {_last_line(error)}") from None
        finally:
            self.load[index] -= 1
        for role, usage_by_subrole in outcome.usage.items():
            client = self.clients[role]
            for subrole, usage in usage_by_subrole.items():
                client.usage[subrole] = client.usage[subrole] + usage
        if outcome.failure is not None:
            raise RemoteProblemError(outcome.failure)
        return outcome.row


def _last_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(error).__name__
