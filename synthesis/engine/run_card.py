"""The one reader of a run's card: `config.yaml` (every setting it ran with), `manifest.json` (what ran: the task,
models, versions, usage, status) and a training run's `training_summary.json`. Eval's report, training's dataset
cards, the viewer and the run directory itself (resuming) read them here.

Each file is read when first asked for, so a reader pays for (and fails on) only the files it uses. A file that is
absent is None. A file that is there but is not a mapping of the right format is, read strictly, one line naming
the file and what was expected; readers that must keep going (the viewer, oracle marks) read leniently and get
None, as for an absent file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from protocols.rehearsal import manifest_oracle_roles

CONFIG = "config.yaml"
MANIFEST = "manifest.json"
SUMMARY = "training_summary.json"


def read_json_object(path: str | Path) -> dict[str, Any]:
    """A JSON object file (a manifest, a summary, accuracy.json, metrics.json); a file that is not one is one
    ValueError naming it. A missing file raises FileNotFoundError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON (line {error.lineno})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not valid JSON (not UTF-8 text)") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_settings(path: str | Path) -> dict[str, Any]:
    """A `config.yaml`: a mapping of a run's settings; a file that is not one is one ValueError naming it."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        where = getattr(error, "problem_mark", None)
        raise ValueError(f"{path}: not valid YAML" + (f" (line {where.line + 1})" if where else "")) from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of the run's settings, got {type(data).__name__}")
    return data


class RunCard:
    """A run folder's card files, each parsed on first use (None when absent; see the module's doc for the rest)."""

    def __init__(self, folder: str | Path, *, strict: bool = True):
        self.folder = Path(folder)
        self.strict = strict

    def __repr__(self) -> str:
        return f"RunCard({str(self.folder)!r}, strict={self.strict})"

    @cached_property
    def config(self) -> dict[str, Any] | None:
        """config.yaml: the run's settings (an engine run nests them by section: attempt, run, <task>)."""
        return self._read(CONFIG, read_settings)

    @cached_property
    def manifest(self) -> dict[str, Any] | None:
        """manifest.json: an engine run's task, status, models, versions, prompt hashes, seed and usage."""
        return self._read(MANIFEST, read_json_object)

    @cached_property
    def summary(self) -> dict[str, Any] | None:
        """training_summary.json: what a training run trained (SFT's target, DPO's pairs) and how it went."""
        return self._read(SUMMARY, read_json_object)

    @property
    def task(self) -> str | None:
        """The engine task that wrote the run (debate, accuracy, dpo_samples, ...), as its manifest names it."""
        task = (self.manifest or {}).get("attempt")
        return task if isinstance(task, str) else None

    @property
    def oracle_roles(self) -> list[str]:
        """The roles the oracle played in the run, by its manifest ([] without one: protocols.rehearsal)."""
        return manifest_oracle_roles(self.manifest)

    def _read(self, name: str, parse: Callable[[Path], dict[str, Any]]) -> dict[str, Any] | None:
        path = self.folder / name
        if not path.is_file():
            return None
        try:
            return parse(path)
        except (OSError, ValueError):
            if self.strict:
                raise  # OSError names the file itself; ours say which file and what it should have been
            return None
