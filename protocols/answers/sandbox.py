"""The checker processes: a small pool of spawned workers (pebble) that run `compare.same_answer` under a timer.

math-verify's timeouts need `signal.alarm` on a main thread, and a check stuck inside C code (a huge integer
power) can only be stopped by killing its process: a hang or crash costs one worker, never the run.
"""

from __future__ import annotations

import atexit
import multiprocessing
import signal
import threading
from concurrent.futures import Future, TimeoutError as FutureTimeout

from pebble import ProcessPool

from protocols.answers.compare import latex_same, math_verify_same, same_answer

POOL_WORKERS = 2


class _CheckTimeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _CheckTimeout


def check_in_worker(gold: str, predicted: str, seconds: float, latex_only: bool = False,
                    second: bool = False) -> bool:
    """Runs in a pool process (its main thread), so one interval timer can bound the whole check. `second`: the
    second verifier (math-verify's own extraction and verify, `compare.math_verify_same`) instead of ours."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        if second:
            return math_verify_same(gold, predicted)
        return latex_same([gold], [predicted]) if latex_only else same_answer(gold, predicted)
    except _CheckTimeout:
        return False
    except Exception:  # noqa: BLE001 - any parser failure on model text means "not equivalent"
        return False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _init_worker() -> None:
    import logging

    # We disable math-verify's own alarms (ours covers the whole check); silence its warning about that.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    import math_verify  # noqa: F401 - pay the import once per worker, not per check


_pool: ProcessPool | None = None
_pool_lock = threading.Lock()


def _get_pool() -> ProcessPool:
    global _pool
    with _pool_lock:
        if _pool is None or not _pool.active:
            # spawn: forking a process that runs asyncio and HTTP client threads can deadlock the child.
            _pool = ProcessPool(
                max_workers=POOL_WORKERS,
                initializer=_init_worker,
                context=multiprocessing.get_context("spawn"),
            )
        return _pool


@atexit.register
def shutdown_pool() -> None:
    """Stop the checker processes (also runs at interpreter exit)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.stop()
            _pool.join(timeout=5)
            _pool = None


def submit(gold: str, predicted: str, timeout: float, latex_only: bool = False, second: bool = False) -> Future:
    """Schedule one check (`compare.same_answer`, math-verify's LaTeX path alone, or the `second` verifier) on the
    pool; read it with `result`."""
    # The in-worker timer fires first and returns False cleanly; pebble's timeout kills a worker stuck in C.
    inner = max(0.05, timeout * 0.8)
    return _get_pool().schedule(check_in_worker, args=(gold, predicted, inner, latex_only, second), timeout=timeout)


def result(future: Future) -> bool:
    """A scheduled check's verdict: False when it timed out or its worker died."""
    try:
        return bool(future.result())
    except (FutureTimeout, TimeoutError):
        return False
    except Exception:  # noqa: BLE001 - a crashed worker means "not equivalent", never a crashed run
        return False
