"""The command line every run command shares: flags from the config dataclasses, run, report, clean up."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agents.backends import embedded
from agents.calls.redact import safe
from protocols.cli import command_parser
from protocols.cli import parse as parse_configs
from protocols.rehearsal import line_mark
from synthesis.engine.config import RunConfig, RunError
from synthesis.engine.rows import format_fallbacks
from synthesis.engine.store import RunSummary, RoleUsage
from synthesis.engine.task import Task, module_of, run


def run_parser(module: str, config_type: type, doc: str | None) -> Any:
    """The parser of a run command: RunConfig's flags, then the task's (`python -m <module>` in --help)."""
    return command_parser(module, (RunConfig, config_type), doc)


def parse(config_type: type, argv: list[str] | None, doc: str | None, module: str) -> tuple[RunConfig, Any]:
    """(RunConfig, the task's config) from the command line."""
    run_config, config = parse_configs(run_parser(module, config_type, doc), argv)
    return run_config, config


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
    except KeyboardInterrupt as error:
        # A run's own signal handling says which signal it was (synthesis.engine.signals); elsewhere ours does.
        signum = getattr(error, "signum", None) or (signal.SIGTERM if terminated else signal.SIGINT)
        how = " by SIGTERM" if signum == signal.SIGTERM else ""
        console.print(Text(f"interrupted{how}: {saved}; rerun the same command to resume", style="yellow"))
        # 128 + the signal, as a shell reports it: a scheduler sees it was stopped (143), not that a user pressed
        # Ctrl-C (130); the run directory is the same either way (manifest "interrupted", resumable).
        return 128 + signum
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


def main(task: Task, argv: list[str] | None = None, doc: str | None = None) -> int:
    """A task's command: parse flags, run it over the problems in a resumable run directory, print a summary."""
    console = console_for_errors()

    def body() -> int:
        run_config, config = parse(task.config_type, argv, doc, module_of(task.name))
        summary = run(task, run_config, config, console)
        return 0 if summary is None else report_summary(summary, console)

    return guarded(body, console)


def report_summary(summary: RunSummary, console: Console) -> int:
    """The last lines of every run command; exit 1 when some problems failed (they run again on a rerun)."""
    # Drafts used because their rewrite was unfaithful, over the whole run (resumed parts included).
    fallbacks = format_fallbacks(summary.rewrites)
    fallbacks = f", rewrite fallback {fallbacks}" if fallbacks else ""
    # Rehearsal data says so on the line a user reads last: correct shares and a zero cost are not a model's.
    oracle = line_mark(summary.oracle_roles)
    if summary.status == "nothing_to_do":
        console.print(f"nothing to do: all {summary.total} problems already have records in {summary.out}{fallbacks}"
                      f"{oracle}", markup=False, highlight=False)
        return 0
    usage = summary.usage
    cost = "unknown" if usage.cost is None else f"${usage.cost:.4f}"
    if summary.role_models:
        console.print(usage_table(summary.role_models, summary.elapsed_s))
    # How the new records ended, in the same line: correct/judged and why each episode stopped.
    outcome = "; ".join(part for part in (
        f"correct {summary.correct}/{summary.judged}" if summary.judged else "",
        ", ".join(f"{reason} {count}" for reason, count in sorted(summary.stop_reasons.items()))) if part)
    console.print(
        f"{summary.status}: {summary.done} new records{f' ({outcome})' if outcome else ''}, {summary.failed} failed, "
        f"{summary.skipped} already done -> {summary.out / 'records.jsonl'} ({usage.total_tokens} tokens, cost {cost})"
        f"{fallbacks}{oracle}", markup=False, highlight=False
    )
    if summary.status == "stopped":  # the reply guard's one line, last, so it is what the user sees
        console.print(Text(summary.stop_note or "stopped", style="red"))
        return 1
    return 0 if summary.failed == 0 else 1


def usage_table(rows: list[RoleUsage], elapsed_s: float) -> Table:
    """This run's calls, tokens, throughput and cost per role and model (Curator prints the same per model)."""
    table = Table(title="model calls this run", title_justify="left", box=None, pad_edge=False)
    table.add_column("role")
    table.add_column("model", no_wrap=True)
    for name in ("calls", "in tok", "out tok", "out tok/s", "cost"):
        table.add_column(name, justify="right", no_wrap=True)
    seconds = max(elapsed_s, 1e-9)
    for row in rows:
        usage = row.usage
        generated = usage.completion_tokens - usage.cached_completion_tokens  # replayed tokens cost no time
        calls = f"{usage.calls:,}" + (f" ({usage.cache_hits:,} cached)" if usage.cache_hits else "")
        calls += f" ({usage.retries:,} retried)" if usage.retries else ""
        table.add_row(row.role, row.model, calls, f"{usage.prompt_tokens:,}", f"{usage.completion_tokens:,}",
                      f"{generated / seconds:,.1f}", "unknown" if usage.cost is None else f"${usage.cost:.4f}")
    return table
