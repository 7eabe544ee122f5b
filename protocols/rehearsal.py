"""Which roles the oracle played: the mark that rehearsal data carries into records, manifests, cards, reports and the
viewer, so "correct share 1.0, cost 0" is never read as a model's result.

`oracle/...` (agents.backends.oracle) answers every role from the problem set's reference solutions. A row says which of
its roles were the oracle in `meta["oracle_roles"]` (a sorted list; [] = none); a row written before that field
existed has no key, and its run's manifest (`models`: role -> model string) answers instead. Pure string logic, no
agents import, so every reader (training, eval, the viewer) can ask without loading litellm.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The oracle's model-string prefix, defined here once: the oracle's provider and its backend entry
# (agents.backends.oracle) import it, and every reader of rehearsal marks (training, eval, the viewer) can ask without
# importing agents.
ORACLE_PREFIX = "oracle/"
META_KEY = "oracle_roles"
# The tag of a dataset card built from oracle runs (training.formats); eval reads it to mark models trained on it.
CARD_TAG = "oracle-rehearsal"
# The words every surface uses, so a report, a card and the viewer say the same thing.
NOTICE = ("a rehearsal, not a model's results: the oracle (`oracle/...`) answers from the reference solutions with "
          "injected, checked errors, so its correct shares, costs and judge scores prove the pipeline and the data's "
          "structure, never a model's quality")


def is_oracle_model(model: Any) -> bool:
    """Whether a model string (or any one of a list of them, e.g. a router name's deployments) is the oracle."""
    if isinstance(model, str):
        return model.startswith(ORACLE_PREFIX)
    if isinstance(model, Iterable) and not isinstance(model, bytes | Mapping):
        return any(is_oracle_model(one) for one in model)
    return False


def oracle_roles(models: Mapping[str, Any] | None) -> list[str]:
    """The roles of `models` (role -> model string, or list of them) that the oracle plays, sorted."""
    return sorted(str(role) for role, model in (models or {}).items() if is_oracle_model(model))


def row_oracle_roles(meta: Mapping[str, Any] | None) -> list[str] | None:
    """A row's own mark: its oracle roles, or None when the row predates the mark (ask its run's manifest)."""
    roles = (meta or {}).get(META_KEY)
    if roles is None:
        return None
    return sorted(str(role) for role in roles) if isinstance(roles, list) else []


def manifest_oracle_roles(manifest: Mapping[str, Any] | None) -> list[str]:
    """A run's oracle roles from its manifest: the explicit mark, else the role -> model map every manifest has."""
    manifest = manifest or {}
    explicit = manifest.get(META_KEY)
    if isinstance(explicit, list):
        return sorted(str(role) for role in explicit)
    return oracle_roles(manifest.get("models") if isinstance(manifest.get("models"), Mapping) else None)


def describe(roles: Iterable[str]) -> str:
    """"policy, critic" -> the one line every surface shows ("" when no role was the oracle)."""
    roles = sorted(set(roles))
    return f"ORACLE DATA ({', '.join(roles)} played by oracle/…)" if roles else ""


def line_mark(roles: Iterable[str]) -> str:
    """The end of a command's last line: " [ORACLE DATA (...): a rehearsal, not a model's results]", or ""."""
    words = describe(roles)
    return f" [{words}: a rehearsal, not a model's results]" if words else ""
