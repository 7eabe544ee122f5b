"""Running an ablation (synthesis.ablate): the frozen selection of problems, each attempt's run as its own command
would run it, and OUT/ablation.json."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from protocols.problems import load
from protocols.rehearsal import line_mark
from protocols.types import Problem
from synthesis.engine import ATTEMPTS, RunConfig, RunError, RunSummary, get_task, guarded, report_summary, run
from synthesis.engine.rehearsal import run_roles, union

# Each role's flag prefix, as the attempts spell it (agents.calls.model_role). The report's final tree search used
# an o1-mini judge and a GPT-4o rewriter: roles need models of their own.
ROLES = {
    "policy_": "the policy (tree search, debate; the critique loop's one model that proposes and judges)",
    "critic_": "the debate's critic",
    "scorer_": "the tree search's llm-judge scorer",
    "rewrite_": "the tree search's rewriter ('none' keeps the DFS draft)",
    "expander_": "human annotation's expander",
}
# The four settings of a role, and their help in the ablation.
ROLE_FIELDS = {"model": "litellm model of {} (default: --model)",
               "api_base": "OpenAI-compatible server of {} (default: --api-base while its model is --model's)",
               "api_key_env": "environment variable with the API key of {} (default: --api-key-env while its model "
                              "is --model's; the name is recorded, never the key)",
               "timeout": "seconds before one call of {} is abandoned (default: --timeout)"}
# Which of the ablation's roles fills each role of an attempt: (the attempt's prefix, the ablation's).
ATTEMPT_ROLES = {
    "tree_search": (("policy_", "policy_"), ("scorer_", "scorer_"), ("rewrite_", "rewrite_")),
    "critique_loop": (("", "policy_"),),
    "debate": (("policy_", "policy_"), ("critic_", "critic_")),
    "human_annotation": (("", "expander_"),),
}
# The ablation's own scale, under each attempt's section: small trees and short episodes, every step 128 tokens.
SCALE = {
    "tree_search": {"width": 2, "depth": 3, "beam": 2, "rollouts": 2, "policy_max_tokens": 128},
    "critique_loop": {"max_turns": 8, "policy_max_tokens": 128},
    "debate": {"max_turns": 8, "policy_max_tokens": 128},
}


def attempt_flags(argv: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """argv without its `--<attempt>.<setting> VALUE` pairs, and those as each attempt's own flags."""
    rest, flags, tokens = [], {attempt: [] for attempt in ATTEMPTS}, iter(argv)
    for token in tokens:
        name, _, value = token.partition("=")
        attempt, dot, setting = name.removeprefix("--").replace("-", "_").partition(".")
        if token.startswith("--") and dot and attempt in ATTEMPTS:
            flags[attempt] += [f"--{setting}", value if "=" in token else next(tokens, "")]
        else:
            rest.append(token)
    return rest, flags


def select(config: Any) -> list[Problem]:
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
    """The attempts an earlier ablation in `out` recorded, so a rerun of some attempts keeps the rest. Its problems
    must all be among these (a larger --limit adds problems, as a run's does): its attempts' records are of them, and
    problems.jsonl, which every attempt reads, is about to be rewritten with these."""
    try:
        earlier = json.loads((out / "ablation.json").read_text())
    except (OSError, ValueError):
        return {}
    dropped = [problem_id for problem_id in earlier.get("problem_ids", []) if problem_id not in set(ids)]
    if dropped:
        raise RunError(f"{out} is an ablation of other problems ({len(dropped)} of its problems, e.g. {dropped[0]}, "
                       "are not in this selection); rerun with its --ids/--limit, or choose another --out")
    return dict(earlier.get("attempts", {}))


def outcome(summary: RunSummary | None, code: int) -> str:
    """What an attempt finished, in a few words (`completed 3 records`)."""
    if summary is None:
        return f"error (exit {code})"
    status = "completed" if summary.status == "nothing_to_do" else summary.status
    failed = f", {summary.failed} failed" if summary.failed else ""
    return f"{status} {summary.done + summary.skipped} records{failed}"


def run_ablation(config: Any, plan: dict[str, tuple[RunConfig, Any]], console: Console) -> int:
    """Run each planned attempt on the ablation's problems (a dry run estimates each); 0 when every one succeeded."""
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
    earlier = _earlier(config.out, ids)  # before problems.jsonl is rewritten
    config.out.mkdir(parents=True, exist_ok=True)
    with (config.out / "problems.jsonl").open("w", encoding="utf-8") as handle:
        for problem in selected:
            handle.write(json.dumps({"id": problem.id, "problem": problem.question, "answer": problem.answer,
                                     "source": config.problems, **problem.meta}) + "\n")
    summary: dict[str, Any] = {"problems": config.problems, "limit": config.limit, "model": config.model,
                               "models": config.models(), "problem_ids": ids, "attempts": earlier}
    annotated = _annotated_ids(config.annotations)
    codes = []
    for attempt, (run_config, attempt_config) in plan.items():
        if attempt == "human_annotation" and not annotated & set(ids):
            summary["attempts"][attempt] = {"skipped": f"no annotation in {config.annotations} is for these problems"}
            continue
        started = time.monotonic()
        code, finished = run_attempt(attempt, run_config, attempt_config, ids, config.annotations, console)
        codes.append(code)
        entry = {"run_dir": run_config.out, "exit_code": code, "finished": outcome(finished, code),
                 "seconds": round(time.monotonic() - started, 1),
                 "config": {"run": dataclasses.asdict(run_config), attempt: dataclasses.asdict(attempt_config)}}
        if finished is None and "config" in summary["attempts"].get(attempt, {}):
            # Refused before it ran (other settings on its run directory, ...): the records on disk are still the
            # earlier run's, and so are the settings that describe them.
            entry = {**summary["attempts"][attempt], "last_try": {"exit_code": code, "finished": entry["finished"]}}
        summary["attempts"][attempt] = entry
        (config.out / "ablation.json").write_text(json.dumps(summary, indent=2, default=str))
        if code in (130, 143):  # interrupted: the next attempt would only be interrupted too
            break
    (config.out / "ablation.json").write_text(json.dumps(summary, indent=2, default=str))
    # Rehearsal data says so on the last line: the roles the oracle played in any attempt's run (their manifests).
    oracle = line_mark(union(run_roles(Path(entry["run_dir"])) for entry in summary["attempts"].values()
                             if entry.get("run_dir")))
    console.print(f"ablation in {config.out}: " + ", ".join(
        f"{name}: {entry.get('finished', 'skipped')}"
        + (f" (this try: {entry['last_try']['finished']})" if "last_try" in entry else "")
        for name, entry in summary["attempts"].items()) + oracle, markup=False, highlight=False)
    return 0 if all(code == 0 for code in codes) else 1

