"""A model name that the run's `--router-config` lists: calls go through a litellm Router
(agents.backends.litellm_router)."""

from __future__ import annotations

import sys
from typing import Any

from agents.backends.base import Backend


class RouterBackend(Backend):
    """Several servers behind one name: matched by the router config, not by a prefix, and before any prefix."""

    name = "router"

    def matches(self, model: str, router: Any = None) -> bool:
        return router is not None and model in router.model_names()

    def rank(self) -> int:
        return sys.maxsize  # a name the config lists is routed even where it looks like another backend's string

    def route(self, config: Any) -> dict[str, Any]:
        return {"model": config.model, "router": config.router}


ROUTER = RouterBackend()
