"""Run the construction attempts on the same problems, into one parent directory, for the ablation report.

    python -m synthesis.ablate --problems math500 --limit 1 --out runs/ablation
    python -m eval.report runs/ablation --out runs/ablation/report

Each attempt writes its own resumable run in OUT/<attempt>/ (rerunning resumes every one of them);
OUT/ablation.json lists the attempts, their configs, what each finished and its exit code. `--model` sets every
model (policy, critic, scorer, rewriter, expander). Human annotation expands the annotations in `--annotations`
whose problem ids are among the selected problems.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from agents.llm import DEFAULT_MODEL
from protocols.cli import command_parser, parse
from protocols.problems import load
from protocols.types import Problem
from synthesis.engine import (ATTEMPTS, RunConfig, RunError, RunSummary, console_for_errors, get_task, guarded,
                              report_summary, run)

ANNOTATIONS = Path(__file__).resolve().parents[1] / "examples" / "annotations"


@dataclass(frozen=True)
class AblateConfig:
    """Which problems, which attempts, and the few settings every attempt shares."""

    problems: str = field(metadata={"help": "problem set name (math500, ...) or a .jsonl path"})
    out: Path = field(metadata={"help": "parent run directory: one run per attempt in OUT/<attempt>"})
    limit: int | None = field(default=None, metadata={"help": "use only the first N problems (after --ids)"})
    ids: list[str] | None = field(default=None, metadata={"help": "only these problem ids (before --limit)"})
    attempts: str = field(default=",".join(ATTEMPTS), metadata={"help": "comma-separated subset of attempts"})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "litellm model string for every role"})
    api_base: str | None = field(default=None, metadata={"help": "OpenAI-compatible server of --model"})
    annotations: Path = field(default=ANNOTATIONS, metadata={"help": "annotation folder of human annotation"})
    concurrency: int = field(default=4, metadata={"help": "problems in flight at once, in each attempt"})
    seed: int = field(default=0, metadata={"help": "seed for sampling"})
    max_turns: int = field(default=8, metadata={"help": "debate and critique loop"})
    width: int = field(default=2, metadata={"help": "tree search"})
    depth: int = field(default=3, metadata={"help": "tree search"})
    beam: int = field(default=2, metadata={"help": "tree search"})
    rollouts: int = field(default=2, metadata={"help": "tree search, rollout scorer"})
    step_max_tokens: int = field(default=128, metadata={"help": "max tokens of one step, in every attempt"})
    router_config: Path | None = field(
        default=None, metadata={"help": "litellm Router YAML (--model may name its models)"})
    ray: str | None = field(default=None, metadata={"help": "run every attempt on Ray: auto or a cluster ADDRESS"})
    dry_run: bool = field(default=False, metadata={
        "help": "print each attempt's problems, calls, tokens and cost estimate; write and spend nothing"})
    budget_cost: float | None = field(default=None, metadata={"help": "each attempt's run budget in USD"})
    budget_tokens: int | None = field(default=None, metadata={"help": "each attempt's run budget in tokens"})

    def __post_init__(self) -> None:
        unknown = [attempt for attempt in self.selected() if attempt not in ATTEMPTS]
        if unknown:
            raise ValueError(f"attempts: unknown attempt(s) {', '.join(unknown)}: use {', '.join(ATTEMPTS)}")

    def selected(self) -> list[str]:
        return [attempt for attempt in self.attempts.split(",") if attempt]


def attempt_configs(config: AblateConfig) -> dict[str, tuple[RunConfig, Any]]:
    """Each selected attempt's RunConfig and its own config: the same problems, models and scaling settings."""
    # Every attempt reads the same frozen selection, written once into the ablation directory.
    shared = RunConfig(problems=str(config.out / "problems.jsonl"), concurrency=config.concurrency, seed=config.seed,
                       router_config=None if config.router_config is None else str(config.router_config),
                       ray=config.ray, dry_run=config.dry_run, budget_cost=config.budget_cost,
                       budget_tokens=config.budget_tokens)
    model, base, steps = config.model, config.api_base, config.step_max_tokens
    fields = {
        "tree_search": {"policy_model": model, "policy_api_base": base, "scorer_model": model, "scorer_api_base": base,
                        "rewrite_model": model, "rewrite_api_base": base,
                        "width": config.width, "depth": config.depth, "beam": config.beam,
                        "rollouts": config.rollouts, "step_max_tokens": steps},
        "critique_loop": {"model": model, "api_base": base, "max_turns": config.max_turns, "max_step_tokens": steps},
        "debate": {"policy_model": model, "policy_api_base": base, "critic_model": model, "critic_api_base": base,
                   "max_turns": config.max_turns, "policy_max_tokens": steps},
        "human_annotation": {"model": model, "api_base": base},
    }
    runs = {attempt: dataclasses.replace(shared, out=str(config.out / attempt)) for attempt in ATTEMPTS}
    runs["human_annotation"] = dataclasses.replace(runs["human_annotation"], problems=str(config.annotations))
    return {attempt: (runs[attempt], get_task(attempt).config_type(**fields[attempt])) for attempt in config.selected()}


def select(config: AblateConfig) -> list[Problem]:
    """The problems of the ablation: --ids in that order, else the set's order, then --limit."""
    selected = load(config.problems)
    if config.ids:
        by_id = {problem.id: problem for problem in selected}
        missing = [problem_id for problem_id in config.ids if problem_id not in by_id]
        if missing:
            raise ValueError(f"{config.problems}: no problem with id {', '.join(missing)}")
        selected = [by_id[problem_id] for problem_id in config.ids]
    return selected[: config.limit] if config.limit is not None else selected


def _annotated_ids(directory: Path) -> set[str]:
    from protocols.annotation import parse_file

    ids = set()
    for path in sorted(directory.glob("*.md")) if directory.is_dir() else []:
        annotation, _ = parse_file(path)
        if annotation is not None:
            ids.add(annotation.problem_id)
    return ids


def run_attempt(attempt: str, run_config: RunConfig, config: Any, ids: list[str], annotations: Path,
                console: Console) -> tuple[int, RunSummary | None]:
    """Run one attempt as its own command would: its summary lines, its exit code, and what it finished."""
    finished: list[RunSummary] = []

    def body() -> int:
        problems = None
        if attempt == "human_annotation":
            from synthesis.annotate import expansion_items

            problems = expansion_items(annotations, ids)
        finished.append(run(get_task(attempt), run_config, config, console, problems))
        return report_summary(finished[0], console)

    return guarded(body, console), next(iter(finished), None)


def outcome(summary: RunSummary | None, code: int) -> str:
    """What an attempt finished, in a few words (`completed 3 records`)."""
    if summary is None:
        return f"error (exit {code})"
    status = "completed" if summary.status == "nothing_to_do" else summary.status
    failed = f", {summary.failed} failed" if summary.failed else ""
    return f"{status} {summary.done + summary.skipped} records{failed}"


def main(argv: list[str] | None = None) -> int:
    console = console_for_errors()
    return guarded(lambda: _ablate(argv, console), console)


def _ablate(argv: list[str] | None, console: Console) -> int:
    (config,) = parse(command_parser("synthesis.ablate", (AblateConfig,), __doc__), argv)
    plan = attempt_configs(config)  # before any spending: a config that cannot be built fails here
    selected = select(config)
    ids = [problem.id for problem in selected]
    if config.dry_run:  # each attempt's estimate, from the selection in memory: no problems.jsonl, no run directory
        for attempt, (run_config, attempt_config) in plan.items():
            console.print(f"{attempt}:", markup=False, highlight=False)
            items: list[Any] = selected
            if attempt == "human_annotation":  # the annotations of the selected problems, as the real run reads them
                from synthesis.annotate import expansion_items

                try:
                    items = expansion_items(config.annotations, ids)
                except RunError as error:
                    console.print(f"  {error}", markup=False, highlight=False)
                    continue
            run(get_task(attempt), run_config, attempt_config, console, items)
        return 0
    config.out.mkdir(parents=True, exist_ok=True)
    with (config.out / "problems.jsonl").open("w", encoding="utf-8") as handle:
        for problem in selected:
            handle.write(json.dumps({"id": problem.id, "problem": problem.question, "answer": problem.answer,
                                     "source": config.problems, **problem.meta}) + "\n")
    summary: dict[str, Any] = {"problems": config.problems, "limit": config.limit, "model": config.model,
                               "problem_ids": ids, "attempts": {}}
    annotated = _annotated_ids(config.annotations)
    for attempt, (run_config, attempt_config) in plan.items():
        if attempt == "human_annotation" and not annotated & set(ids):
            summary["attempts"][attempt] = {"skipped": f"no annotation in {config.annotations} is for these problems"}
            continue
        started = time.monotonic()
        code, finished = run_attempt(attempt, run_config, attempt_config, ids, config.annotations, console)
        summary["attempts"][attempt] = {
            "run_dir": run_config.out, "exit_code": code, "finished": outcome(finished, code),
            "seconds": round(time.monotonic() - started, 1),
            "config": {"run": dataclasses.asdict(run_config), attempt: dataclasses.asdict(attempt_config)}}
        (config.out / "ablation.json").write_text(json.dumps(summary, indent=2, default=str))
        if code in (130, 143):  # interrupted: the next attempt would only be interrupted too
            break
    (config.out / "ablation.json").write_text(json.dumps(summary, indent=2, default=str))
    console.print(f"ablation in {config.out}: " + ", ".join(
        f"{name}: {entry.get('finished', 'skipped')}" for name, entry in summary["attempts"].items()))
    return 0 if all(entry.get("exit_code", 0) == 0 for entry in summary["attempts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
