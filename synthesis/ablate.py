"""Run the construction attempts on the same problems, into one parent directory, for the ablation report.

    python -m synthesis.ablate --problems math500 --limit 1 --out runs/ablation
    python -m eval.report runs/ablation --out runs/ablation/report

Each attempt writes its own resumable run in OUT/<attempt>/ (rerunning resumes every one of them);
OUT/ablation.json lists the attempts, their configs, what each finished and its exit code (a rerun of a subset
of `--attempts` keeps the others' entries). `--model` / `--api-base` set every role; a role's own flags override
them, with the names the attempts use: `--policy-model` (tree search, debate, and the critique loop's one model that
proposes and judges), `--critic-model` (debate), `--scorer-model` (the tree search's llm-judge, with `--scorer`),
`--rewrite-model` (the tree search's rewriter; `none` keeps the DFS draft) and `--expander-model` (human
annotation). A role's server defaults to `--api-base` only while its model is `--model`'s. The recipe's tree-search
file runs all four attempts as well: `--config recipes/journey-learning/2-tree-search.yaml`.

    python -m synthesis.ablate --problems math500 --limit 3 --policy-model oracle/reference-e30 \
        --critic-model oracle/reference --scorer llm-judge --scorer-model oracle/reference \
        --rewrite-model oracle/reference --out runs/ablation-oracle

Human annotation expands the annotations in `--annotations` whose problem ids are among the selected problems.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from agents.llm import DEFAULT_MODEL
from agents.reward import SCORERS
from agents.roles import DEFAULT_TIMEOUT
from protocols.cli import command_parser, parse
from protocols.contamination import DEFAULT_EVAL_SETS, DEFAULT_NGRAM, check_settings
from protocols.problems import load
from protocols.rehearsal import line_mark
from protocols.types import Problem
from synthesis.engine import (ATTEMPTS, RunConfig, RunError, RunSummary, console_for_errors, get_task, guarded,
                              report_summary, run)
from synthesis.engine.rehearsal import run_roles, union

ANNOTATIONS = Path(__file__).resolve().parents[1] / "examples" / "annotations"
# Each role's flag prefix, as the attempts spell it (agents.roles.model_role), and which attempts use it. The
# report's final tree search used an o1-mini judge and a GPT-4o rewriter: roles need models of their own.
ROLES = {
    "policy_": "the policy (tree search, debate; the critique loop's one model that proposes and judges)",
    "critic_": "the debate's critic",
    "scorer_": "the tree search's llm-judge scorer",
    "rewrite_": "the tree search's rewriter ('none' keeps the DFS draft)",
    "expander_": "human annotation's expander",
}
RoleModels = make_dataclass("RoleModels", [
    field_spec for prefix, what in ROLES.items() for field_spec in (
        (f"{prefix}model", str | None, field(default=None, metadata={"help": f"litellm model of {what} "
                                                                              "(default: --model)"})),
        (f"{prefix}api_base", str | None, field(default=None, metadata={
            "help": f"OpenAI-compatible server of {what} (default: --api-base while its model is --model's)"})),
        (f"{prefix}api_key_env", str | None, field(default=None, metadata={
            "help": f"environment variable with the API key of {what} (default: --api-key-env while its model is "
                    "--model's; the name is recorded, never the key)"})),
        (f"{prefix}timeout", float | None, field(default=None, metadata={
            "help": f"seconds before one call of {what} is abandoned (default: --timeout)"})))
], frozen=True, kw_only=True)


@dataclass(frozen=True, kw_only=True)
class AblateConfig(RoleModels):
    """Which problems, which attempts, and the few settings every attempt shares."""

    problems: str = field(metadata={"help": "problem set name (math500, ...) or a .jsonl path"})
    out: Path = field(metadata={"help": "parent run directory: one run per attempt in OUT/<attempt>"})
    limit: int | None = field(default=None, metadata={"help": "use only the first N problems (after --ids)"})
    ids: list[str] | None = field(default=None, metadata={"help": "only these problem ids (before --limit)"})
    shuffle: bool = field(default=False, metadata={"help": "shuffle the problems with --seed before --limit"})
    attempts: str = field(default=",".join(ATTEMPTS), metadata={"help": "comma-separated subset of attempts"})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "litellm model string for every role"})
    api_base: str | None = field(default=None, metadata={"help": "OpenAI-compatible server of --model"})
    api_key_env: str | None = field(default=None, metadata={
        "help": "environment variable with --model's API key (the name is recorded, never the key)"})
    timeout: float = field(default=DEFAULT_TIMEOUT, metadata={"help": "seconds before one model call is abandoned"})
    annotations: Path = field(default=ANNOTATIONS, metadata={"help": "annotation folder of human annotation"})
    concurrency: int = field(default=4, metadata={"help": "problems in flight at once, in each attempt"})
    seed: int = field(default=0, metadata={"help": "seed for sampling"})
    max_turns: int = field(default=8, metadata={"help": "debate and critique loop"})
    width: int = field(default=2, metadata={"help": "tree search"})
    depth: int = field(default=3, metadata={"help": "tree search"})
    beam: int = field(default=2, metadata={"help": "tree search"})
    scorer: str = field(default="rollout", metadata={"help": f"tree search's step scorer: {', '.join(SCORERS)}"})
    prm_model: str | None = field(default=None, metadata={"help": "tree search: Hugging Face id or folder of hf-prm"})
    rollouts: int = field(default=2, metadata={"help": "tree search, rollout scorer"})
    trials_per_node: int = field(default=1, metadata={"help": "tree search: off-path explorations per DFS node"})
    policy_max_tokens: int = field(default=128, metadata={"help": "max tokens of one step, in every attempt"})
    router_config: Path | None = field(
        default=None, metadata={"help": "litellm Router YAML (--model may name its models)"})
    ray: str | None = field(default=None, metadata={"help": "run every attempt on Ray: auto or a cluster ADDRESS"})
    dry_run: bool = field(default=False, metadata={
        "help": "print each attempt's problems, calls, tokens and cost estimate; write and spend nothing"})
    budget_cost: float | None = field(default=None, metadata={"help": "each attempt's run budget in USD"})
    budget_tokens: int | None = field(default=None, metadata={"help": "each attempt's run budget in tokens"})
    decontaminate: str = field(default="report", metadata={
        "help": "drop | report | off: problems overlapping an eval set are dropped by every attempt, or counted"})
    eval_sets: str = field(default=DEFAULT_EVAL_SETS, metadata={"help": "comma-separated eval sets to check against"})
    ngram: int = field(default=DEFAULT_NGRAM, metadata={"help": "word n-gram length of the eval-set check"})

    def __post_init__(self) -> None:
        check_settings(self.decontaminate, self.eval_sets, self.ngram)
        unknown = [attempt for attempt in self.selected() if attempt not in ATTEMPTS]
        if unknown:
            raise ValueError(f"attempts: unknown attempt(s) {', '.join(unknown)}: use {', '.join(ATTEMPTS)}")
        if self.scorer not in SCORERS:
            raise ValueError(f"scorer: expected one of {', '.join(SCORERS)}, got {self.scorer!r}")

    def selected(self) -> list[str]:
        return [attempt for attempt in self.attempts.split(",") if attempt]

    def role(self, prefix: str) -> tuple[str, str | None, str | None, float]:
        """(model, api base, key variable, timeout) of one role: its own flags, else --model and (for --model only)
        --api-base and --api-key-env; the timeout falls back to --timeout."""
        model = getattr(self, f"{prefix}model")
        base = getattr(self, f"{prefix}api_base") or None  # an empty flag unsets a --config file's server
        key = getattr(self, f"{prefix}api_key_env") or None
        timeout = getattr(self, f"{prefix}timeout") or self.timeout
        if model is None:
            return self.model, self.api_base if base is None else base, self.api_key_env if key is None else key, timeout
        return model, base, key, timeout

    def models(self) -> dict[str, str]:
        """Each role's model, for ablation.json."""
        return {prefix.rstrip("_"): self.role(prefix)[0] for prefix in ROLES}


def attempt_configs(config: AblateConfig) -> dict[str, tuple[RunConfig, Any]]:
    """Each selected attempt's RunConfig and its own config: the same problems, models and scaling settings."""
    # Every attempt reads the same frozen selection, written once into the ablation directory.
    shared = RunConfig(problems=str(config.out / "problems.jsonl"), concurrency=config.concurrency, seed=config.seed,
                       router_config=None if config.router_config is None else str(config.router_config),
                       ray=config.ray, dry_run=config.dry_run, budget_cost=config.budget_cost,
                       budget_tokens=config.budget_tokens, decontaminate=config.decontaminate,
                       eval_sets=config.eval_sets, ngram=config.ngram)
    steps = config.policy_max_tokens

    def roles(*pairs: tuple[str, str]) -> dict[str, Any]:  # (the attempt's prefix, ours) -> its four role fields
        return {f"{theirs}{name}": value for theirs, ours in pairs
                for name, value in zip(("model", "api_base", "api_key_env", "timeout"), config.role(ours))}

    fields = {
        "tree_search": {**roles(("policy_", "policy_"), ("scorer_", "scorer_"), ("rewrite_", "rewrite_")),
                        "scorer": config.scorer, "prm_model": config.prm_model, "rollouts": config.rollouts,
                        "trials_per_node": config.trials_per_node, "width": config.width, "depth": config.depth,
                        "beam": config.beam, "policy_max_tokens": steps},
        "critique_loop": {**roles(("", "policy_")), "max_turns": config.max_turns, "policy_max_tokens": steps},
        "debate": {**roles(("policy_", "policy_"), ("critic_", "critic_")), "max_turns": config.max_turns,
                   "policy_max_tokens": steps},
        "human_annotation": roles(("", "expander_")),
    }
    runs = {attempt: dataclasses.replace(shared, out=str(config.out / attempt)) for attempt in ATTEMPTS}
    runs["human_annotation"] = dataclasses.replace(runs["human_annotation"], problems=str(config.annotations))
    return {attempt: (runs[attempt], get_task(attempt).config_type(**fields[attempt])) for attempt in config.selected()}


def select(config: AblateConfig) -> list[Problem]:
    """The problems of the ablation: --ids in that order, else the set's order, then --limit."""
    selected = load(config.problems, seed=config.seed if config.shuffle else None)
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


def _earlier(out: Path, ids: list[str]) -> dict[str, Any]:
    """The attempts an earlier ablation of the same problems recorded, so a rerun of some attempts keeps the rest."""
    try:
        earlier = json.loads((out / "ablation.json").read_text())
    except (OSError, ValueError):
        return {}
    return dict(earlier.get("attempts", {})) if earlier.get("problem_ids") == ids else {}


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
                               "models": config.models(), "problem_ids": ids, "attempts": _earlier(config.out, ids)}
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
    # Rehearsal data says so on the last line: the roles the oracle played in any attempt's run (their manifests).
    oracle = line_mark(union(run_roles(Path(entry["run_dir"])) for entry in summary["attempts"].values()
                             if entry.get("run_dir")))
    console.print(f"ablation in {config.out}: " + ", ".join(
        f"{name}: {entry.get('finished', 'skipped')}" for name, entry in summary["attempts"].items()) + oracle,
        markup=False, highlight=False)
    ran = [summary["attempts"][attempt] for attempt in plan if attempt in summary["attempts"]]
    return 0 if all(entry.get("exit_code", 0) == 0 for entry in ran) else 1


if __name__ == "__main__":
    sys.exit(main())
