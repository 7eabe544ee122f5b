"""SIGINT and SIGTERM during a run: cancel it once, let it write its final manifest, then say which signal it was.

Left to asyncio, Ctrl-C cancels the run only when SIGINT still has Python's default handler (a job started in the
background with `&` ignores SIGINT, so SIGTERM then raised KeyboardInterrupt at any point of the event loop, and the
manifest ended `running`, or `completed` with a traceback), and a second signal interrupts the clean-up itself.
Here the loop itself takes both signals: the first cancels the run, later ones wait for it to finish saving.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(KeyboardInterrupt):
    """A run was stopped by a signal after its manifest said so; `signum` is which (the exit status is 128 + it)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def run_with_signals(body: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(body)`, where SIGINT / SIGTERM cancel `body` once; RunInterrupted after it has finished."""
    received: list[int] = []
    result = asyncio.run(_guarded(body, received))
    if received:
        raise RunInterrupted(received[0])
    return result  # type: ignore[return-value]


async def _guarded(body: Coroutine[Any, Any, T], received: list[int]) -> T | None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal(signum: int) -> None:
        if not received and task is not None:
            received.append(signum)
            task.cancel()

    previous: dict[int, Any] = {}
    for signum in SIGNALS:
        handler = signal.getsignal(signum)
        if handler == signal.SIG_IGN:
            continue  # a background job's ignored SIGINT stays ignored
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no such support
            continue
        previous[signum] = handler
    try:
        return await body
    except asyncio.CancelledError:
        if not received:
            raise
        if task is not None:
            task.uncancel()
        return None
    finally:
        for signum, handler in previous.items():
            loop.remove_signal_handler(signum)
            # remove_signal_handler restores SIG_DFL, not what was there (the command's own SIGTERM handler).
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
