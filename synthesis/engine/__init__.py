"""The run engine every command shares: one task contract, one `run`, the run directory, one row reader, the local
and Ray executors and the shared command line. It imports no attempt (training/ and eval/ import it, not them).

    config    RunConfig, RunError, call limits, client settings, the default run directory
    rows      read_rows: the one reader of a run's rows; rewrite-fallback totals over them
    run_card  RunCard: the one reader of a run's card (config.yaml, manifest.json, training_summary.json)
    store     the run directory: config.yaml, manifest.json, records.jsonl (torn-line repair), failures, lock
    executor  solving problems: the local executor, budgets, progress, the loop that records each problem
    ray       the Ray executor (imported only with --ray)
    task      Task, the registry of tasks by name, plan and run
    cli       main(task, argv), parse and run_parser (the shared parser of protocols/cli.py), guarded, report_summary

Names are imported from their module on first use, so a reader of rows (the viewer) does not load litellm.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "cli": ("console_for_errors", "guarded", "main", "parse", "report_summary", "run_parser"),
    "config": ("RunConfig", "RunError", "client_settings", "out_dir"),
    "executor": ("Run", "preflight"),
    "rows": ("BadLine", "RowError", "Rows", "fallback_stats", "format_fallbacks", "read_rows", "run_dirs"),
    "run_card": ("RunCard", "read_json_object", "read_settings"),
    "store": ("RecordLog", "RunSummary"),
    "task": ("ATTEMPTS", "TASKS", "Plan", "Task", "get_task", "module_of", "plan", "run"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'synthesis.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"synthesis.engine.{_MODULE_OF[name]}"), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
