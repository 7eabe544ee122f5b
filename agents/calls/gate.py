"""How many calls each model has in flight: one gate per model, shared by every client of it."""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict


class ConcurrencyGate:
    """One semaphore per (model, event loop): asyncio primitives cannot cross loops.

    Clients of one model share its gate, sized to the largest limit any of them asked for: a critic given
    --max-concurrency critic=16 on the policy's server raises the shared limit rather than splitting it.
    """

    def __init__(self) -> None:
        # model -> loop -> [semaphore, its size]; the loop key is weak, so a finished loop's gates go with it.
        self._gates: dict[str, weakref.WeakKeyDictionary] = defaultdict(weakref.WeakKeyDictionary)

    def get(self, model: str, limit: int) -> asyncio.Semaphore:
        per_loop = self._gates[model]
        loop = asyncio.get_running_loop()
        if loop not in per_loop:
            per_loop[loop] = [asyncio.Semaphore(limit), limit]
        gate, size = per_loop[loop]
        if limit > size:  # a semaphore cannot be resized, but extra releases raise its count for good
            for _ in range(limit - size):
                gate.release()
            per_loop[loop][1] = limit
        return gate


# Shared by all clients, so a policy and a critic on the same server respect one limit.
GATES = ConcurrencyGate()
