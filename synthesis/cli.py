"""Command-line plumbing shared by every attempt: flags from the config dataclasses, run, report, clean up."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from agents import embedded
from synthesis.runner import Run, RunConfig, RunError, out_dir


def _parse(attempt_config_type: type, argv: list[str] | None, doc: str | None) -> tuple[RunConfig, Any]:
    # HfArgumentParser is TRL's way: --help is generated from the dataclass fields and their help text.
    from transformers import HfArgumentParser

    parser = HfArgumentParser((RunConfig, attempt_config_type), description=doc,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run_config, attempt_config = parser.parse_args_into_dataclasses(args=argv)
    return run_config, attempt_config


def guarded(body: Callable[[], int], console: Console, saved: str = "finished problems are saved") -> int:
    """Run a command's body: bad input is one red line (exit 2), Ctrl-C says what was kept (exit 130), and the
    embedded model server is always stopped."""
    try:
        return body()
    except (RunError, ValueError, OSError) as error:  # bad flags, missing files, unknown names, unreachable models
        console.print(Text(f"error: {error}", style="red"))
        return 2
    except KeyboardInterrupt:
        console.print(Text(f"interrupted: {saved}; rerun the same command to resume", style="yellow"))
        return 130
    finally:
        embedded.stop_all()


def console_for_errors() -> Console:
    # soft_wrap: one-line errors stay one line, whatever the terminal width.
    return Console(stderr=True, soft_wrap=True)


def run_attempt_cli(
    attempt: str,
    attempt_config_type: type,
    make_clients: Callable[[Any, dict], dict],
    make_solver: Callable[[Any, dict, int], Callable],
    estimate_calls: Callable[[int, Any], int],
    prompt_hashes: dict[str, str],
    argv: list[str] | None = None,
    doc: str | None = None,
) -> int:
    """Parse flags, run the attempt over the problems in a resumable run directory, print a summary."""
    console = console_for_errors()
    return guarded(lambda: _attempt(attempt, attempt_config_type, make_clients, make_solver, estimate_calls,
                                     prompt_hashes, argv, doc, console), console)


def _attempt(attempt, attempt_config_type, make_clients, make_solver, estimate_calls, prompt_hashes, argv, doc,
             console: Console) -> int:
    run_config, attempt_config = _parse(attempt_config_type, argv, doc)
    cache_dir = Path(run_config.cache_dir) if run_config.cache_dir else out_dir(attempt, run_config) / "cache"
    clients = make_clients(attempt_config, {"cache_dir": cache_dir})
    run = Run(attempt, run_config, attempt_config, clients, prompt_hashes,
              lambda n: estimate_calls(n, attempt_config))
    problems = run.load_problems()
    if run_config.dry_run:
        console.print(f"dry run: {len(problems)} problems from {run_config.problems}, at most "
                      f"{estimate_calls(len(problems), attempt_config)} model calls; nothing was spent")
        return 0
    summary = asyncio.run(_run(run, problems, make_solver(attempt_config, clients, run_config.seed), console))
    if summary.status == "nothing_to_do":
        console.print(f"nothing to do: all {summary.total} problems already have records in {summary.out}")
        return 0
    usage = summary.usage
    cost = "unknown" if usage.cost is None else f"${usage.cost:.4f}"
    console.print(
        f"{summary.status}: {summary.done} new records, {summary.failed} failed, {summary.skipped} already done "
        f"-> {summary.out / 'records.jsonl'} ({usage.total_tokens} tokens, cost {cost})"
    )
    return 0 if summary.failed == 0 else 1


async def _run(run: Run, problems: list, solve: Callable, console: Console):
    if run.config.preflight:
        await run.preflight()
    return await run.execute(problems, solve, console)
