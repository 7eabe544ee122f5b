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
        self._gates: dict[str, weakref.WeakKeyDictionary] = defaultdict(weakref.WeakKeyDictionary)
        self._limits: dict[tuple[str, int], int] = {}

    def get(self, model: str, limit: int) -> asyncio.Semaphore:
        per_loop = self._gates[model]
        loop = asyncio.get_running_loop()
        if loop not in per_loop:
            per_loop[loop] = asyncio.Semaphore(limit)
            self._limits[(model, id(loop))] = limit
        gate = per_loop[loop]
        current = self._limits[(model, id(loop))]
        if limit > current:  # a semaphore cannot be resized, but extra releases raise its count for good
            for _ in range(limit - current):
                gate.release()
            self._limits[(model, id(loop))] = limit
        return gate


# Shared by all clients, so a policy and a critic on the same server respect one limit.
GATES = ConcurrencyGate()
