"""Run the construction attempts on the same problems, into one parent directory, for the ablation report.

    python -m synthesis.ablate --problems math500 --limit 1 --out runs/ablation
    python -m eval.report runs/ablation --out runs/ablation/report

Each attempt writes its own resumable run in OUT/<attempt>/ (rerunning resumes every one of them);
OUT/ablation.json lists the attempts, their commands and exit codes. `--model` sets every model flag (policy,
critic, scorer, rewriter, expander). Human annotation expands the annotations in `--annotations` whose problem
ids are among the selected problems.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from agents.llm import DEFAULT_MODEL
from protocols.problems import ProblemSetError, load
from synthesis.engine import ATTEMPTS, task_command


def commands(args: argparse.Namespace, out: Path, ids: list[str]) -> dict[str, list[str]]:
    """The CLI arguments of each attempt, all on the same problems and models."""
    # Every attempt reads the same frozen selection, written once into the ablation directory.
    shared = ["--problems", str(out / "problems.jsonl"), "--concurrency", str(args.concurrency), "--seed", str(args.seed)]
    base = [] if args.api_base is None else ["--api-base", args.api_base]
    # Scaling flags mean the same to every attempt's command.
    scale = ([] if args.router_config is None else ["--router-config", str(args.router_config)]) + (
        [] if args.ray is None else ["--ray", args.ray])
    plan = {
        "tree_search": [*shared, "--out", str(out / "tree_search"), "--policy-model", args.model, "--scorer-model",
                        args.model, "--rewrite-model", args.model, "--width", str(args.width), "--depth",
                        str(args.depth), "--beam", str(args.beam), "--rollouts", str(args.rollouts),
                        "--step-max-tokens", str(args.step_max_tokens),
                        *([] if args.api_base is None else ["--policy-api-base", args.api_base])],
        "critique_loop": [*shared, "--out", str(out / "critique_loop"), "--model", args.model, *base,
                          "--max-turns", str(args.max_turns), "--max-step-tokens", str(args.step_max_tokens)],
        "debate": [*shared, "--out", str(out / "debate"), "--policy-model", args.model, "--critic-model", args.model,
                   "--max-turns", str(args.max_turns), "--policy-max-tokens", str(args.step_max_tokens),
                   *([] if args.api_base is None else ["--policy-api-base", args.api_base, "--critic-api-base", args.api_base])],
        "human_annotation": ["expand", str(args.annotations), "--out", str(out / "human_annotation"), "--model",
                             args.model, *base, "--ids", *ids],
    }
    return {attempt: [*argv, *scale] for attempt, argv in plan.items()}


def _annotated_ids(directory: Path) -> set[str]:
    from protocols.annotation import parse_file

    ids = set()
    for path in sorted(directory.glob("*.md")) if directory.is_dir() else []:
        annotation, _ = parse_file(path)
        if annotation is not None:
            ids.add(annotation.problem_id)
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthesis.ablate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--ids", nargs="*", default=None, help="only these problem ids (before --limit)")
    parser.add_argument("--attempts", default=",".join(ATTEMPTS), help="comma-separated subset of " + ", ".join(ATTEMPTS))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="litellm model string for every role")
    parser.add_argument("--api-base", default=None)
    parser.add_argument("--annotations", type=Path, default=Path(__file__).resolve().parents[1] / "examples" / "annotations")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-turns", type=int, default=8, help="debate and critique loop")
    parser.add_argument("--width", type=int, default=2, help="tree search")
    parser.add_argument("--depth", type=int, default=3, help="tree search")
    parser.add_argument("--beam", type=int, default=2, help="tree search")
    parser.add_argument("--rollouts", type=int, default=2, help="tree search, rollout scorer")
    parser.add_argument("--step-max-tokens", type=int, default=128)
    parser.add_argument("--router-config", type=Path, default=None, help="litellm Router YAML (--model may name its models)")
    parser.add_argument("--ray", default=None, help="run every attempt on Ray: auto or a cluster ADDRESS")
    args = parser.parse_args(argv)
    attempts = [attempt for attempt in args.attempts.split(",") if attempt]
    unknown = [attempt for attempt in attempts if attempt not in ATTEMPTS]
    if unknown:
        print(f"error: unknown attempt(s) {', '.join(unknown)}: use {', '.join(ATTEMPTS)}", file=sys.stderr)
        return 2
    try:
        selected = load(args.problems)
    except ProblemSetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.ids:
        by_id = {problem.id: problem for problem in selected}
        missing = [problem_id for problem_id in args.ids if problem_id not in by_id]
        if missing:
            print(f"error: {args.problems}: no problem with id {', '.join(missing)}", file=sys.stderr)
            return 2
        selected = [by_id[problem_id] for problem_id in args.ids]
    selected = selected[: args.limit] if args.limit is not None else selected
    ids = [problem.id for problem in selected]
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "problems.jsonl").open("w", encoding="utf-8") as handle:
        for problem in selected:
            handle.write(json.dumps({"id": problem.id, "problem": problem.question, "answer": problem.answer,
                                     "source": args.problems, **problem.meta}) + "\n")
    plan = commands(args, args.out, ids)
    summary = {"problems": args.problems, "limit": args.limit, "model": args.model, "problem_ids": ids, "attempts": {}}
    annotated = _annotated_ids(args.annotations)
    for attempt in attempts:
        if attempt == "human_annotation" and not annotated & set(ids):
            summary["attempts"][attempt] = {"skipped": f"no annotation in {args.annotations} is for these problems"}
            continue
        started = time.monotonic()
        code = task_command(attempt)(plan[attempt])
        summary["attempts"][attempt] = {"run_dir": str(args.out / attempt), "exit_code": code,
                                        "seconds": round(time.monotonic() - started, 1), "argv": plan[attempt]}
        (args.out / "ablation.json").write_text(json.dumps(summary, indent=2))
    (args.out / "ablation.json").write_text(json.dumps(summary, indent=2))
    failed = [name for name, entry in summary["attempts"].items() if entry.get("exit_code", 0) != 0]
    print(f"ablation in {args.out}: " + ", ".join(f"{name}={entry.get('exit_code', 'skipped')}"
                                                  for name, entry in summary["attempts"].items()), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
