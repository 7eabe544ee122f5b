"""Which roles the oracle played in a run (protocols.rehearsal): from its live clients while it runs, and from its rows
and manifest afterwards, for every reader of runs on disk (training's cards, eval's report)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from agents.calls.client import LLMClient
from protocols.rehearsal import oracle_roles, row_oracle_roles
from synthesis.engine.run_card import MANIFEST, RunCard


def client_oracle_roles(clients: dict[str, LLMClient]) -> list[str]:
    """The roles whose model is the oracle (`oracle/...`), directly or as every deployment behind a router name."""
    models: dict[str, Any] = {}
    for role, client in clients.items():
        routed = client.config.router.served_models().get(client.model) if client.routed() else None
        models[role] = routed or client.model
    return oracle_roles(models)


@lru_cache(maxsize=1024)
def _manifest_roles(folder: Path, stamp: int) -> tuple[str, ...]:
    # `stamp` (the manifest's mtime) is in the key, so a manifest a resumed run rewrote is read again. Read leniently:
    # an unreadable manifest has nothing to say.
    return tuple(RunCard(folder, strict=False).oracle_roles)


def run_roles(run: Path) -> list[str]:
    """The oracle roles a run's manifest names (a run directory, or the folder of a records.jsonl); [] without one."""
    folder = (run if Path(run).is_dir() else Path(run).parent).resolve()
    try:
        stamp = (folder / MANIFEST).stat().st_mtime_ns
    except OSError:
        return []
    return list(_manifest_roles(folder, stamp))


def record_roles(meta: dict | None, run: Path) -> list[str]:
    """A row's oracle roles: its own mark, else (a row written before the mark) its run's manifest."""
    own = row_oracle_roles(meta)
    return own if own is not None else run_roles(run)


def union(groups: Iterable[Iterable[str]]) -> list[str]:
    """Every role named in any group, sorted."""
    return sorted({role for group in groups for role in group})
