"""Which reward model to trust (the report's Q4): step scorers against human step labels.

    python -m eval.reward_models --scorer rollout --data processbench_math --limit 3
    python -m eval.reward_models --scorer llm-judge --scorer-model openai/o1-mini --data mr_gsm8k,prm800k

Data: `processbench_math`, `processbench_gsm8k` (ProcessBench: `steps`, `label` = first wrong step, 0-based, or
-1), `prm800k` (phase-1 test, stepwise: each rated candidate step after its preferred prefix), `mr_gsm8k` (the
MR-GSM8K subset: incorrect solutions with a 1-based first wrong step), or a path to a file in any of those
formats. Reports the ProcessBench F1 (harmonic mean of the accuracy on erroneous and on correct samples; undefined
for a dataset with only one kind), step-level precision / recall / F1 of "this step is wrong", and agreement
(predicted first wrong step == labelled). The report's orientation: o1-mini F1 0.855 on its MR-GSM8K subset and
0.880 on its PRM800K subset; Math-Shepherd 0.734 on MR-GSM8K.

Each dataset is a resumable run in OUT/<dataset>/ (records.jsonl: every item's scored steps and predicted first
error), so a crash loses no scored item, and `--ray`, `--router-config`, `--budget-cost` work as for any run;
OUT/metrics.json holds the metrics of all datasets.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.calls.client import LLMClient
from agents.calls.model_role import client_for, model_role
from agents.roles.reward import SCORERS, StepScore, StepScorer, make_scorer
from protocols.cli import parse as parse_configs
from protocols.problems import DATA_DIR_ENV, ProblemSetError, load, read_jsonl
from protocols.rehearsal import is_oracle_model, line_mark
from protocols.types import Problem, Usage
from synthesis.engine import RunConfig, Task, console_for_errors, guarded, plan, read_rows, run_parser

NAMED = {
    "processbench_math": "processbench/math.jsonl",
    "processbench_gsm8k": "processbench/gsm8k.jsonl",
    "prm800k": "prm800k/phase1_test_stepwise_critic.jsonl",
    "mr_gsm8k": "mr_gsm8k/mr_gsm8k_gpt4graded_subset.jsonl",
}
_STEP_PREFIX = re.compile(r"^\s*Step\s*\d+\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class LabelledSolution:
    """Steps of a solution with the index of the first wrong one (-1: all correct).

    Steps before `judge_from` are given as correct context and not scored (PRM800K's preferred prefixes).
    """

    id: str
    question: str
    answer: str | None
    steps: list[str]
    first_error: int
    judge_from: int = 0


def _from_processbench(row: dict, number: int, source: str) -> LabelledSolution:
    return LabelledSolution(str(row.get("id", f"{source}/{number}")), row["problem"], row.get("answer"),
                            list(row["steps"]), int(row["label"]))


def _from_mr_gsm8k(row: dict, number: int, source: str) -> LabelledSolution:
    steps = [_STEP_PREFIX.sub("", step) for step in row["model_output_steps"]]
    wrong = row.get("model_output_solution_correctness") == "wrong"
    first = int(row["model_output_solution_first_error_step"]) - 1 if wrong else -1
    answer = row.get("ground_truth_answer")
    return LabelledSolution(str(row.get("uuid", f"{source}/{number}")), row["question"],
                            None if answer is None else str(answer), steps, first)


def _from_prm800k(row: dict, number: int, source: str) -> LabelledSolution | None:
    if row.get("rating") is None:
        return None  # unrated: human-written steps and steps after the labeler stopped
    candidate = row["next_response"] + (f"\n\n# Answer\n\n{row['answer']}" if row.get("answer") is not None else "")
    prefix = list(row["responses"])
    # PRM800K ratings: -1 bad, 0 neutral, 1 good; only -1 marks the step wrong.
    first = len(prefix) if row["rating"] == -1 else -1
    return LabelledSolution(f"{source}/{number}", row["instruction"], None, prefix + [candidate], first, len(prefix))


def _sniff(row: dict) -> Any:
    if "steps" in row and "label" in row:
        return _from_processbench
    if "model_output_steps" in row:
        return _from_mr_gsm8k
    if "next_response" in row and "responses" in row:
        return _from_prm800k
    raise ValueError("unknown format: expected ProcessBench (steps, label), PRM800K stepwise (responses, "
                     "next_response, rating) or MR-GSM8K (model_output_steps) fields")


def load_labelled(name: str, limit: int | None = None) -> list[LabelledSolution]:
    """A named dataset (under $LONGTHOUGHT_DATA_DIR) or a file in one of the three formats."""
    if name in NAMED:
        data_dir = os.environ.get(DATA_DIR_ENV)
        if not data_dir:
            raise ProblemSetError(f"{name}: set {DATA_DIR_ENV} to the data directory holding {NAMED[name]}")
        path = Path(data_dir) / NAMED[name]
    else:
        path = Path(name)
    items: list[LabelledSolution] = []
    convert = None
    for number, row in read_jsonl(path):
        try:
            convert = convert or _sniff(row)
            item = convert(row, number, name)
        except (KeyError, TypeError, ValueError) as error:
            raise ProblemSetError(f"{path}:{number}: {error}") from None
        if item is not None:
            items.append(item)
        if limit is not None and len(items) >= limit:
            break
    return items


def _gold_answers() -> dict[str, str]:
    """Problem text -> gold answer from MATH test and GSM8K test, for items that carry no answer (rollouts need one)."""
    index: dict[str, str] = {}
    for name in ("math_test", "gsm8k_test", "math500"):
        try:
            index |= {problem.question.strip(): problem.answer for problem in load(name) if problem.answer}
        except ProblemSetError:
            continue
    return index


class Judged(BaseModel):
    """One labelled solution's verdict: a run row, so meta-evaluations resume and run on Ray like any run."""

    problem_id: str
    gold_first_error: int
    predicted_first_error: int
    steps: list[dict[str, Any]]
    meta: dict[str, Any] = Field(default_factory=dict)


def is_flagged(score: StepScore, threshold: float) -> bool:
    """A scorer calls a step wrong: a binary "incorrect", or a value under the threshold."""
    if score.correct is not None:
        return score.correct is False
    return score.value < threshold


async def judge(item: LabelledSolution, scorer: StepScorer, threshold: float) -> Judged:
    """Score steps in order until the scorer flags one (or the labelled first error is passed)."""
    problem = Problem(id=item.id, question=item.question, answer=item.answer)
    last = item.first_error if item.first_error >= 0 else len(item.steps) - 1
    predicted, steps = -1, []
    for index in range(item.judge_from, last + 1):
        score = await scorer.score(problem, item.steps[: index + 1])
        flagged = is_flagged(score, threshold)
        steps.append({"index": index, "value": score.value, "flagged": flagged, "reason": score.reason[:500],
                      "gold_wrong": index == item.first_error})
        if flagged:
            predicted = index
            break
    return Judged(problem_id=item.id, gold_first_error=item.first_error, predicted_first_error=predicted, steps=steps)


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def metrics(judged: list[Judged]) -> dict[str, Any]:
    """ProcessBench F1, step-level precision/recall/F1 of "wrong", and agreement."""
    erroneous = [j for j in judged if j.gold_first_error >= 0]
    correct = [j for j in judged if j.gold_first_error < 0]
    acc_err = _ratio(sum(j.predicted_first_error == j.gold_first_error for j in erroneous), len(erroneous))
    acc_cor = _ratio(sum(j.predicted_first_error == -1 for j in correct), len(correct))
    f1 = (round(2 * acc_err * acc_cor / (acc_err + acc_cor), 4) if acc_err and acc_cor
          else (0.0 if acc_err is not None and acc_cor is not None else None))
    steps = [step for j in judged for step in j.steps]
    tp = sum(s["flagged"] and s["gold_wrong"] for s in steps)
    fp = sum(s["flagged"] and not s["gold_wrong"] for s in steps)
    fn = sum(not s["flagged"] and s["gold_wrong"] for s in steps)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    step_f1 = round(2 * precision * recall / (precision + recall), 4) if precision and recall else (
        0.0 if precision is not None and recall is not None else None)
    return {
        "samples": len(judged), "erroneous": len(erroneous), "correct": len(correct),
        "acc_erroneous": acc_err, "acc_correct": acc_cor, "processbench_f1": f1,
        "step_precision": precision, "step_recall": recall, "step_f1": step_f1, "steps_scored": len(steps),
        "agreement": _ratio(sum(j.predicted_first_error == j.gold_first_error for j in judged), len(judged)),
    }


@dataclass(frozen=True)
class MetaEvalConfig(model_role("scorer_", "scorer", model_help="litellm model of llm-judge / rollout")):
    scorer: str = field(default="rollout", metadata={"help": f"one of {', '.join(SCORERS)}"})
    data: str = field(default="processbench_math", metadata={"help": f"comma-separated: {', '.join(NAMED)}, or paths"})
    prm_model: str | None = field(default=None, metadata={"help": "Hugging Face id or folder of the hf-prm scorer"})
    rollouts: int = field(default=4, metadata={"help": "completions per step for the rollout scorer"})
    threshold: float | None = field(default=None, metadata={"help": "value under which a step is wrong (default: "
                                                                   "rollout 1e-9, i.e. no rollout succeeded; hf-prm 0.5)"})

    def resolved_threshold(self) -> float:
        return self.threshold if self.threshold is not None else (1e-9 if self.scorer == "rollout" else 0.5)


def _with_gold_answers(items: list[LabelledSolution], answers: dict[str, str]) -> tuple[list[LabelledSolution], int]:
    # Rollouts need a gold answer; ProcessBench rows carry none, so it is looked up by problem text.
    filled = [dataclasses.replace(item, answer=item.answer or answers.get(item.question.strip())) for item in items]
    kept = [item for item in filled if item.answer is not None]
    return kept, len(filled) - len(kept)


def make_clients(config: MetaEvalConfig, llm_kwargs: dict) -> dict[str, LLMClient]:
    return {"scorer": client_for(config, "scorer_", llm_kwargs)}


def make_solver(config: MetaEvalConfig, clients: dict[str, LLMClient], seed: int):
    scorer = make_scorer(config.scorer, judge=clients["scorer"], policy=clients["scorer"],
                         hf_model=config.prm_model, rollouts=config.rollouts)
    threshold = config.resolved_threshold()
    return lambda item: judge(item, scorer, threshold)


TASK = Task("reward_models", MetaEvalConfig, make_clients, make_solver)


def evaluate(run_config: RunConfig, config: MetaEvalConfig, console: Any = None) -> dict[str, Any]:
    """One resumable run per dataset (OUT/<dataset>/records.jsonl holds each item's verdict), then the metrics."""
    out = Path(run_config.out)
    threshold = config.resolved_threshold()
    answers: dict[str, str] | None = None
    results: dict[str, Any] = {}
    total = Usage()
    for name in [part for part in config.data.split(",") if part]:
        items, skipped = load_labelled(name, run_config.limit), 0
        if config.scorer == "rollout":
            answers = answers if answers is not None else _gold_answers()
            items, skipped = _with_gold_answers(items, answers)
        # The datasets share one replay cache, OUT/cache, as they share the scorer.
        dataset_config = dataclasses.replace(run_config, problems=name, out=str(out / Path(name).stem),
                                             cache_dir=run_config.cache_dir or str(out / "cache"))
        # Each dataset's run records only its own name, so adding a dataset to --data later resumes the others.
        dataset_run = plan(TASK, dataset_config, dataclasses.replace(config, data=name), problems=items)
        if run_config.dry_run:
            results[name] = {"items": len(items), "skipped_no_gold_answer": skipped}
            continue
        summary = dataset_run.execute_sync(console)
        wanted = {item.id for item in items}
        judged = [row for row in read_rows(dataset_config.out, Judged, missing_ok=True) if row.problem_id in wanted]
        results[name] = metrics(judged) | {"skipped_no_gold_answer": skipped, "failed": summary.failed,
                                           "predictions": str(Path(dataset_config.out) / "records.jsonl")}
        total = total + summary.usage
    results["_usage"] = total.model_dump()
    results["_config"] = dataclasses.asdict(config) | {"threshold": threshold}
    if not run_config.dry_run:
        (out / "metrics.json").write_text(json.dumps(results, indent=2))
        _write_command_config(out, run_config, config)
    return results


def _write_command_config(out: Path, run_config: RunConfig, config: MetaEvalConfig) -> None:
    """OUT/config.yaml: the whole command's settings, flat, so `--config OUT/config.yaml` repeats it (or, without
    --out, resumes it). Each OUT/<dataset>/config.yaml is that dataset's run, which resumes check."""
    import yaml

    from agents.calls.redact import scrub

    settings = {**dataclasses.asdict(run_config), "problems": None, **dataclasses.asdict(config)}
    (out / "config.yaml").write_text(yaml.safe_dump(scrub(settings), sort_keys=False), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    console = console_for_errors()
    return guarded(lambda: _meta_evaluate(argv, console), console, saved="scored items are saved")


def _meta_evaluate(argv: list[str] | None, console: Any) -> int:
    from rich.console import Console
    from rich.table import Table

    parser = run_parser("eval.reward_models", MetaEvalConfig, __doc__)
    parser.set_defaults(problems=None)  # the datasets come from --data; --problems is accepted as its alias
    run_config, config = parse_configs(parser, argv)
    given = {arg.split("=", 1)[0] for arg in (sys.argv[1:] if argv is None else argv)}
    if run_config.problems and "--data" in given and run_config.problems != config.data:
        # Both named datasets: silently scoring only one of them (the alias won) hid the other from the user.
        raise ValueError(f"--problems {run_config.problems} and --data {config.data}: --data names the datasets to "
                         "score (comma-separated); --problems is only its alias, give one of them")
    if run_config.problems:
        config = dataclasses.replace(config, data=run_config.problems)
    if not run_config.out:
        run_config = dataclasses.replace(run_config, out=f"runs/reward_models-{config.scorer}")
    results = evaluate(run_config, config, console)
    datasets = [name for name in results if not name.startswith("_")]
    if run_config.dry_run:
        console.print("dry run: " + ", ".join(f"{name}: {results[name]['items']} items" for name in datasets)
                      + "; nothing was spent")
        return 0
    table = Table(title=f"{config.scorer} ({config.scorer_model if config.scorer != 'hf-prm' else config.prm_model})")
    table.add_column("measure")
    for name in datasets:
        table.add_column(name, justify="right")
    for measure in ("samples", "acc_erroneous", "acc_correct", "processbench_f1", "step_precision", "step_recall",
                    "step_f1", "agreement", "skipped_no_gold_answer", "failed"):
        table.add_row(measure.replace("_", " "), *[str(results[name][measure]) for name in datasets])
    Console().print(table)
    scorer_model = config.scorer_model if config.scorer != "hf-prm" else config.prm_model
    # An oracle judge scores from the reference solutions: a pipeline check, and the last line says so.
    console.print(f"details: {run_config.out}/<dataset>/records.jsonl; metrics: {run_config.out}/metrics.json"
                  + line_mark(["scorer"] if is_oracle_model(scorer_model) else []), markup=False, highlight=False)
    return 0 if all(results[name]["failed"] == 0 for name in datasets) else 1


if __name__ == "__main__":
    sys.exit(main())
