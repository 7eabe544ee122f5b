"""Accuracy on MATH500 and friends, for any litellm model string or a trained `hf/` checkpoint.

    python -m eval.accuracy --model embedded/smollm2-135m --problems math500 --limit 3 --out runs/acc

Every answer is kept with its extraction and judgment (OUT/records.jsonl, one line per problem) so a person can
audit any call; OUT/accuracy.json has accuracy overall, by subject and by level (with `--samples k`: mean
accuracy over the k samples and pass@k). Resumable like every run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents import embedded
from agents.llm import DEFAULT_MODEL, LLMClient
from protocols.answers import aequivalent, extract_answer
from protocols.types import Problem, Usage
from synthesis.runner import Run, RunConfig, RunError
from prompts import question_messages


class Judged(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    extracted: str | None
    correct: bool


class AccuracyRow(BaseModel):
    """One problem's samples, what was extracted from each, and the judgments."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    problem_id: str
    problem: Problem
    model: str
    samples: list[Judged]
    usage: dict[str, Usage] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return sum(sample.correct for sample in self.samples) / len(self.samples)


@dataclass(frozen=True)
class AccuracyConfig:
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "litellm model string, or hf/PATH for a checkpoint"})
    api_base: str | None = field(default=None, metadata={"help": "OpenAI-compatible server of the model"})
    samples: int = field(default=1, metadata={"help": "samples per problem (k); greedy when 1"})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature (0.7 is used when samples > 1 and this is 0)"})
    answer_max_tokens: int = field(default=1024, metadata={"help": "max tokens per answer"})
    timeout: float = field(default=300.0, metadata={"help": "seconds per model call"})


async def judge_problem(problem: Problem, config: AccuracyConfig, llm: LLMClient, seed: int = 0) -> AccuracyRow:
    if problem.answer is None:
        raise ValueError(f"{problem.id}: no gold answer to grade against")
    llm = llm.scoped()
    temperature = config.temperature if config.samples == 1 or config.temperature > 0 else 0.7
    completion = await llm.complete(question_messages(problem.question), n=config.samples, temperature=temperature,
                                    max_tokens=config.answer_max_tokens, seed=seed, role="model")
    extracted = [extract_answer(text) for text in completion.texts]
    checks = await asyncio.gather(*(aequivalent(problem.answer, answer) for answer in extracted))
    return AccuracyRow(problem_id=problem.id, problem=problem, model=config.model,
                       samples=[Judged(text=t, extracted=e, correct=c) for t, e, c in zip(completion.texts, extracted, checks, strict=True)],
                       usage=dict(llm.usage))


def summarize(rows: list[AccuracyRow]) -> dict[str, Any]:
    """Accuracy overall, by subject and by level (mean over samples), plus pass@k and how often nothing was extracted."""
    def block(group: list[AccuracyRow]) -> dict[str, Any]:
        return {"problems": len(group),
                "accuracy": round(sum(row.accuracy for row in group) / len(group), 4) if group else None,
                "pass_at_k": round(sum(any(s.correct for s in row.samples) for row in group) / len(group), 4) if group else None}

    by_subject: dict[str, list[AccuracyRow]] = defaultdict(list)
    by_level: dict[str, list[AccuracyRow]] = defaultdict(list)
    for row in rows:
        by_subject[str(row.problem.meta.get("subject", "unknown"))].append(row)
        by_level[str(row.problem.meta.get("level", "unknown"))].append(row)
    samples = [sample for row in rows for sample in row.samples]
    return {
        **block(rows),
        "samples_per_problem": len(rows[0].samples) if rows else 0,
        "no_answer_extracted": sum(sample.extracted is None for sample in samples),
        "by_subject": {name: block(group) for name, group in sorted(by_subject.items())},
        "by_level": {name: block(group) for name, group in sorted(by_level.items())},
    }


def load_rows(out: Path) -> list[AccuracyRow]:
    path = out / "records.jsonl"
    return [AccuracyRow.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table
    from transformers import HfArgumentParser

    console = Console(stderr=True, soft_wrap=True)
    try:
        run_config, config = HfArgumentParser((RunConfig, AccuracyConfig), description=__doc__).parse_args_into_dataclasses(args=argv)
        if not run_config.out:
            run_config = dataclasses.replace(run_config, out=f"runs/accuracy-{Path(run_config.problems).stem}")
        out = Path(run_config.out)
        llm = LLMClient(model=config.model, api_base=config.api_base, timeout=config.timeout, cache_dir=out / "cache")
        run = Run("accuracy", run_config, config, {"model": llm}, {}, lambda n: n * config.samples)
        problems = run.load_problems()
        if run_config.dry_run:
            console.print(f"dry run: {len(problems)} problems x {config.samples} samples; nothing spent")
            return 0

        async def go():
            if run_config.preflight:
                await run.preflight()
            return await run.execute(problems, lambda problem: judge_problem(problem, config, llm, run_config.seed), console)

        summary = asyncio.run(go())
        wanted = {problem.id for problem in problems}
        result = summarize([row for row in load_rows(out) if row.problem_id in wanted])
        result |= {"model": config.model, "problem_set": run_config.problems, "failed": summary.failed}
        (out / "accuracy.json").write_text(json.dumps(result, indent=2))
    except (RunError, ValueError, OSError) as error:
        console.print(f"error: {error}", style="red", markup=False, highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted: graded problems are saved; rerun the same command to resume", style="yellow")
        return 130
    finally:
        embedded.stop_all()
    table = Table(title=f"{config.model} on {run_config.problems}")
    for column in ("group", "problems", "accuracy", "pass@k"):
        table.add_column(column)
    table.add_row("overall", str(result["problems"]), str(result["accuracy"]), str(result["pass_at_k"]))
    for kind in ("by_subject", "by_level"):
        for name, block in result[kind].items():
            table.add_row(f"{kind[3:]}: {name}", str(block["problems"]), str(block["accuracy"]), str(block["pass_at_k"]))
    Console().print(table)
    console.print(f"details: {out / 'records.jsonl'}; summary: {out / 'accuracy.json'}")
    return 0 if summary.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
