"""Command-line plumbing shared by every attempt: flags from the config dataclasses, run, report, clean up."""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from agents import embedded
from agents.redact import safe
from agents.router import load_router_config
from synthesis.runner import Job, Run, RunConfig, RunError, RunSummary, out_dir, run_job


def _parse(attempt_config_type: type, argv: list[str] | None, doc: str | None) -> tuple[RunConfig, Any]:
    # HfArgumentParser is TRL's way: --help is generated from the dataclass fields and their help text.
    from transformers import HfArgumentParser

    parser = HfArgumentParser((RunConfig, attempt_config_type), description=doc,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run_config, attempt_config = parser.parse_args_into_dataclasses(args=argv)
    return run_config, attempt_config


def guarded(body: Callable[[], int], console: Console, saved: str = "finished problems are saved") -> int:
    """Run a command's body: bad input is one red line (exit 2), Ctrl-C says what was kept (exit 130; SIGTERM
    likewise, exit 143), and the embedded model servers it started are always stopped (not those already running,
    when called in-process)."""
    serving = embedded.running()
    terminated: list[int] = []
    previous = _treat_sigterm_as_ctrl_c(terminated)
    try:
        return body()
    except (RunError, ValueError, OSError) as error:  # bad flags, missing files, unknown names, unreachable models
        console.print(Text(f"error: {safe(error)}", style="red"))
        return 2
    except KeyboardInterrupt:
        how = " by SIGTERM" if terminated else ""
        console.print(Text(f"interrupted{how}: {saved}; rerun the same command to resume", style="yellow"))
        # 128 + the signal, as a shell reports it: a scheduler sees it was stopped (143), not that a user pressed
        # Ctrl-C (130); the run directory is the same either way (manifest "interrupted", resumable).
        return 128 + signal.SIGTERM if terminated else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        embedded.stop_all(keep=serving)


def _treat_sigterm_as_ctrl_c(terminated: list[int]) -> Any:
    """SIGTERM (schedulers, `timeout`, `kill`) runs what SIGINT runs now: inside asyncio.run that cancels the run,
    whose manifest then says "interrupted"; elsewhere it raises KeyboardInterrupt. Returns the handler it replaced."""
    if threading.current_thread() is not threading.main_thread():
        return None  # only the main thread may set signal handlers; the caller owns signals then

    def on_sigterm(signum: int, frame: Any) -> None:
        terminated.append(signum)
        handler = signal.getsignal(signal.SIGINT)  # asyncio.run's own while a run is on, else default_int_handler
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, on_sigterm)


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


def client_settings(run_config: RunConfig, default_out: Path) -> dict[str, Any]:
    """What every model client of a run gets: its replay cache (an absolute path, for Ray workers) and the router."""
    cache_dir = Path(run_config.cache_dir) if run_config.cache_dir else default_out / "cache"
    router = load_router_config(run_config.router_config) if run_config.router_config else None
    return {"cache_dir": cache_dir.resolve(), "router": router}


def _attempt(attempt, attempt_config_type, make_clients, make_solver, estimate_calls, prompt_hashes, argv, doc,
             console: Console) -> int:
    run_config, attempt_config = _parse(attempt_config_type, argv, doc)
    settings = client_settings(run_config, out_dir(attempt, run_config))
    job = Job(make_clients=lambda: make_clients(attempt_config, settings),
              make_solver=lambda clients: make_solver(attempt_config, clients, run_config.seed))
    run = Run(attempt, run_config, attempt_config, job.make_clients(), prompt_hashes,
              lambda n: estimate_calls(n, attempt_config))
    problems = run.load_problems()
    if run_config.dry_run:
        console.print(f"dry run: {len(problems)} problems from {run_config.problems}, at most "
                      f"{estimate_calls(len(problems), attempt_config)} model calls; nothing was spent")
        return 0
    summary = asyncio.run(run_job(run, problems, job, console))
    return report_summary(summary, console)


def report_summary(summary: RunSummary, console: Console) -> int:
    """The last lines of every run command; exit 1 when some problems failed (they run again on a rerun)."""
    from synthesis.rewrite import format_fallbacks

    # Drafts used because their rewrite was unfaithful, over the whole run (resumed parts included).
    fallbacks = format_fallbacks(summary.rewrites)
    fallbacks = f", rewrite fallback {fallbacks}" if fallbacks else ""
    if summary.status == "nothing_to_do":
        console.print(f"nothing to do: all {summary.total} problems already have records in {summary.out}{fallbacks}")
        return 0
    usage = summary.usage
    cost = "unknown" if usage.cost is None else f"${usage.cost:.4f}"
    console.print(
        f"{summary.status}: {summary.done} new records, {summary.failed} failed, {summary.skipped} already done "
        f"-> {summary.out / 'records.jsonl'} ({usage.total_tokens} tokens, cost {cost}){fallbacks}"
    )
    if summary.status == "stopped":  # the reply guard's one line, last, so it is what the user sees
        console.print(Text(summary.stop_note or "stopped", style="red"))
        return 1
    return 0 if summary.failed == 0 else 1
