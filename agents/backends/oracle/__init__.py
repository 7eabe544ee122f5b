"""`oracle/...`: the rehearsal backend, a litellm provider in this process (provider.py) that answers every role
from the problem set's reference solutions (reference.py, roles.py, errors.py, ...). Free, instant and deterministic,
so nothing is cached; the run hands it its problems before the first call. This module is what the backend registry
knows of it; the provider is imported only when a call is routed to it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from agents.backends.base import Backend
from protocols.rehearsal import ORACLE_PREFIX


class OracleBackend(Backend):
    prefix = ORACLE_PREFIX  # defined once, where every reader of rehearsal marks finds it without importing agents
    name = "oracle"

    def route(self, config: Any) -> dict[str, Any]:
        from agents.backends.oracle import provider  # the rehearsal provider: answers from reference solutions

        provider.register()
        return super().route(config)

    def free(self, model: str) -> bool:
        return True  # litellm has no price for it

    def replayable(self, model: str) -> bool:
        return False  # replaying it from disk would only cost time

    def reasoning(self, model: str) -> bool:
        # It names its reasoning variants by suffix: oracle/reference-reasoning, oracle/reference-e30-reasoning.
        return "reasoning" in model.removeprefix(self.prefix).split("-")[1:]

    def prepare_run(self, problems: Sequence[Any], source: str) -> None:
        from agents.backends.oracle import provider

        # It answers from these problems' reference solutions; Ray workers find the set by name.
        provider.remember(list(problems))
        os.environ[provider.PROBLEMS_ENV] = source


ORACLE = OracleBackend()
