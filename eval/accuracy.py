"""Accuracy on MATH500 and friends, for any litellm model string or a trained `hf/` checkpoint.

    python -m eval.accuracy --model embedded/smollm2-135m --problems math500 --limit 3 --out runs/acc

Every answer is kept with its extraction and judgment (OUT/records.jsonl, one line per problem) so a person can
audit any call; OUT/accuracy.json has accuracy overall, by subject and by level (with `--samples k`: mean
accuracy over the k samples and pass@k), the answers cut at the token cap and those ending in a loop (each sample's
`repetition` flag, protocols/repetition.py) with their rates, and the accuracy on finished answers (neither cut nor
looping). Resumable like every run.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.calls.client import LLMClient
from agents.calls.model_role import client_for, model_role
from agents.roles.sampling import sample_and_judge
from protocols.rehearsal import is_oracle_model, line_mark
from protocols.repetition import RULE
from protocols.types import Problem, SampleSet
from synthesis.engine import RunConfig, Task, console_for_errors, guarded, parse, plan, read_rows


@dataclass(frozen=True)
class AccuracyConfig(model_role("", "model", model_help="litellm model string, or hf/PATH for a checkpoint")):
    samples: int = field(default=1, metadata={"help": "samples per problem (k); greedy when 1"})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature (0.7 is used when samples > 1 and this is 0)"})
    # A journey model's answers are the long ones: a 1024 cap scored its cut answers as wrong (issue [5/5]).
    answer_max_tokens: int = field(default=4096, metadata={"help": "max tokens per answer"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.samples < 1:  # else the run "succeeds" with no samples and reports "no records"
            raise ValueError(f"samples: expected >= 1, got {self.samples}")
        if not 0 <= self.temperature < float("inf"):  # NaN passes `< 0`
            raise ValueError(f"temperature: expected a finite number >= 0, got {self.temperature}")
        if self.answer_max_tokens < 1:
            raise ValueError(f"answer_max_tokens: expected >= 1, got {self.answer_max_tokens}")


async def judge_problem(problem: Problem, config: AccuracyConfig, llm: LLMClient, seed: int = 0) -> SampleSet:
    """One problem's answers, each kept with what was extracted from it and the judgment."""
    temperature = config.temperature if config.samples == 1 or config.temperature > 0 else 0.7
    return await sample_and_judge(problem, llm, n=config.samples, temperature=temperature,
                                  max_tokens=config.answer_max_tokens, seed=seed, role="model")


def make_clients(config: AccuracyConfig, llm_kwargs: dict) -> dict[str, LLMClient]:
    return {"model": client_for(config, "", llm_kwargs)}


def make_solver(config: AccuracyConfig, clients: dict[str, LLMClient], seed: int):
    return lambda problem: judge_problem(problem, config, clients["model"], seed)


TASK = Task("accuracy", AccuracyConfig, make_clients, make_solver)


def summarize(rows: list[SampleSet]) -> dict[str, Any]:
    """Accuracy overall, by subject and by level (mean over samples), plus pass@k and how often nothing was extracted."""
    def block(group: list[SampleSet]) -> dict[str, Any]:
        return {"problems": len(group),
                "accuracy": round(sum(row.accuracy for row in group) / len(group), 4) if group else None,
                "pass_at_k": round(sum(any(s.correct for s in row.samples) for row in group) / len(group), 4) if group else None}

    by_subject: dict[str, list[SampleSet]] = defaultdict(list)
    by_level: dict[str, list[SampleSet]] = defaultdict(list)
    for row in rows:
        by_subject[str(row.problem.meta.get("subject", "unknown"))].append(row)
        by_level[str(row.problem.meta.get("level", "unknown"))].append(row)
    samples = [sample for row in rows for sample in row.samples]
    finished = [sample for sample in samples if sample.finished]
    return {
        **block(rows),
        "samples_per_problem": len(rows[0].samples) if rows else 0,
        "no_answer_extracted": sum(sample.answer is None for sample in samples),
        # Answers cut at --answer-max-tokens, which count as wrong: a high rate means the cap, not the model, decided.
        "truncated": sum(sample.truncated for sample in samples),
        "truncation_rate": round(sum(sample.truncated for sample in samples) / len(samples), 4) if samples else None,
        # Answers whose text ends in a loop (protocols.repetition): a small model that loops is visible as such.
        "looping": sum(sample.looping for sample in samples),
        "loop_rate": round(sum(sample.looping for sample in samples) / len(samples), 4) if samples else None,
        "repetition_rule": RULE,
        # The share right among the answers that finished (neither cut nor looping): what the model knows when it
        # gets to say it, beside `accuracy`, which counts every cut or looping answer as wrong.
        "finished": len(finished),
        "finished_accuracy": round(sum(sample.correct for sample in finished) / len(finished), 4) if finished else None,
        "by_subject": {name: block(group) for name, group in sorted(by_subject.items())},
        "by_level": {name: block(group) for name, group in sorted(by_level.items())},
    }


def main(argv: list[str] | None = None) -> int:
    from agents.backends.local_models import native_hf_by_default

    console = console_for_errors()
    with native_hf_by_default():  # hf/ checkpoints answer through the native server's parallel slots (issue 25)
        return guarded(lambda: _evaluate(argv, console), console, saved="graded problems are saved")


def _evaluate(argv: list[str] | None, console) -> int:
    from rich.console import Console
    from rich.table import Table

    run_config, config = parse(AccuracyConfig, argv, __doc__, "eval.accuracy")
    if not run_config.out:
        run_config = dataclasses.replace(run_config, out=f"runs/accuracy-{Path(run_config.problems).stem}")
    out = Path(run_config.out)
    planned = plan(TASK, run_config, config)
    summary = planned.execute_sync(console)
    if summary is None:  # a dry run
        return 0
    wanted = {problem.id for problem in planned.problems}
    graded = [row for row in read_rows(out, SampleSet, missing_ok=True) if row.problem_id in wanted]
    if not graded:  # every problem failed (a wrong key, a server down): say so, not "no records"
        console.print(f"no problem was graded: {summary.failed} failed, why in {out / 'failures.jsonl'}; fix that and "
                      "rerun the same command (finished problems are kept)", markup=False, highlight=False)
        return 1
    result = summarize(graded)
    result |= {"model": config.model, "problem_set": run_config.problems, "failed": summary.failed}
    (out / "accuracy.json").write_text(json.dumps(result, indent=2))
    table = Table(title=f"{config.model} on {run_config.problems}")
    for column in ("group", "problems", "accuracy", "pass@k"):
        table.add_column(column)
    table.add_row("overall", str(result["problems"]), str(result["accuracy"]), str(result["pass_at_k"]))
    table.add_row("finished answers", str(result["finished"]) + " samples", str(result["finished_accuracy"]), "")
    for kind in ("by_subject", "by_level"):
        for name, block in result[kind].items():
            table.add_row(f"{kind[3:]}: {name}", str(block["problems"]), str(block["accuracy"]), str(block["pass_at_k"]))
    Console().print(table)
    console.print(f"answers cut at the token cap: {result['truncated']} ({result['truncation_rate']}); looping: "
                  f"{result['looping']} ({result['loop_rate']})", markup=False, highlight=False)
    console.print(f"details: {out / 'records.jsonl'}; summary: {out / 'accuracy.json'}"  # the oracle says so
                  + line_mark(["model"] if is_oracle_model(config.model) else []), markup=False, highlight=False)
    return 0 if summary.failed == 0 else 1

if __name__ == "__main__":
    sys.exit(main())
