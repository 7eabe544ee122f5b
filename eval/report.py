"""The report: the paper's tables and plots, from run cards alone.

    python -m eval.report runs/ablation --out runs/ablation/report
    python -m eval.report runs/journey-learning --out runs/journey-learning/report    # a recipe's whole runs/ folder
    python -m eval.report runs/debate runs/acc-shortcut runs/acc-journey runs/rm-o1-mini --out runs/report

Arguments are synthesis runs (records.jsonl), accuracy runs (accuracy.json), reward-model meta-evaluations
(eval.reward_models' OUT with metrics.json, or one dataset's run), or folders of any of them (opened one level;
training runs in them are passed over: they are reached through the accuracy runs). report.md has:

- a banner at the top when any run used the oracle (`oracle/...`, protocols.rehearsal), and an *oracle* column in
  every table; a meta-evaluation with an oracle judge is a pipeline check, shown apart from the reward models;

- the attempt table: share of problems with a correct long thought, tokens per long thought, reflection keywords
  per 1k tokens (all, model-written, template-inserted), backtracks, cost and tokens per correct long thought,
  the rewrite fallback, checker disagreements (final answers our checker and math-verify judge differently, from
  `eval.verify`'s checker_audit.json; – when the runs were not audited), stop reasons;
- accuracy by model stage (the shape of the report's Table 6: SFT phase 1, shortcut SFT, journey SFT, DPO, with a
  95% Wilson interval and the answers cut at the token cap) and the gains between stages. A stage is read from the
  training run's card that the accuracy run's model (`hf/<run>/final`) points to, never from a folder's name;
- reward-model meta-evaluation by scorer, scorer model and dataset;
- thought statistics by attempt, by subject and by level, keywords split into model-written and template-inserted;
- box plots per attempt (tokens, backtracks, reflection keywords) and accuracy per stage with its interval.

Every table row links to the run cards it was read from; report.json holds every table.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.oracle_marks import record_roles, union
from eval.plots import TITLES, plot_all
from eval.report_markdown import (accuracy_section, attempt_section, oracle_banner, pipeline_check_section,
                                  reward_section, thought_section)
from eval.report_tables import accuracy_rows, gains, reward_rows, split_pipeline_checks
from eval.run_cards import expand_inputs
from eval.verify import read_audit
from eval.thought_tables import REFLECTION_WORDS, Measured, distributions, measure_runs, thought_tables
from protocols.cli import command_parser, parse
from protocols.types import Usage
from synthesis.engine import fallback_stats, format_fallbacks


def attempt_table(measured: list[Measured]) -> dict[str, dict[str, Any]]:
    """One row of measures per attempt, over every record of the given runs."""
    grouped: dict[str, list[Measured]] = defaultdict(list)
    for item in measured:
        grouped[item.record.attempt].append(item)
    table = {}
    for attempt, items in sorted(grouped.items()):
        records = [item.record for item in items]
        thoughts = [item.thought for item in items if item.thought is not None]
        correct = [item for item in items if item.thought is not None and item.record.correct]
        tokens = sum(thought.tokens for thought in thoughts)
        words = {which: sum(sum(getattr(t, f"{which}keywords")[w] for w in REFLECTION_WORDS) for t in thoughts)
                 for which in ("", "model_", "template_")}
        usage = sum((totals for record in records for totals in record.usage.values()), Usage())
        table[attempt] = {
            "problems": len(records),
            "long_thoughts": len(thoughts),
            "correct": len(correct),
            "correct_share": round(len(correct) / len(records), 3) if records else 0.0,
            "tokens_per_thought": round(tokens / len(thoughts), 1) if thoughts else 0.0,
            "reflection_words_per_1k": round(1000 * words[""] / tokens, 2) if tokens else 0.0,
            # The same words split by who wrote them (eval/template_split.py): ours would pass for the model's.
            "reflection_words_model_per_1k": round(1000 * words["model_"] / tokens, 2) if tokens else 0.0,
            "reflection_words_template_per_1k": round(1000 * words["template_"] / tokens, 2) if tokens else 0.0,
            "backtracks_per_thought": (round(sum(t.backtracks or 0 for t in thoughts) / len(thoughts), 2)
                                       if thoughts else 0.0),
            "tokens_spent": usage.total_tokens,
            "tokens_per_correct": round(usage.total_tokens / len(correct), 1) if correct else None,
            "cost": None if usage.cost is None else round(usage.cost, 6),
            "cost_per_correct": (None if usage.cost is None or not correct else round(usage.cost / len(correct), 6)),
            "stop_reasons": dict(sorted(Counter(r.stop_reason for r in records).items())),
            # Drafts used as the long thought because the rewrite was unfaithful; None without rewrites.
            "rewrites": fallback_stats(record.meta for record in records),
            "keyword_split": dict(sorted(Counter(t.split for t in thoughts).items())),
            "runs": sorted({str(item.run) for item in items}),
        }
        table[attempt]["rewrite_fallback"] = format_fallbacks(table[attempt]["rewrites"])
        table[attempt]["checker_disagreements"] = checker_disagreements(attempt, table[attempt]["runs"])
        # Rehearsal data says what it is: the roles the oracle played in any of this attempt's records.
        table[attempt]["oracle_roles"] = union(record_roles(item.record.meta, item.run) for item in items)
    return table


def checker_disagreements(attempt: str, runs: list[str]) -> int | None:
    """Final answers of `attempt` that our checker and math-verify judge differently, from each run's
    checker_audit.json (eval.verify); None when none of the runs was audited."""
    audits = [audit for audit in map(read_audit, map(Path, runs)) if audit is not None]
    if not audits:
        return None
    return sum(int(audit.get("attempts", {}).get(attempt, {}).get("disagreements", 0)) for audit in audits)


def mark_thought_rows(tables: dict[str, list[dict[str, Any]]], measured: list[Measured]) -> None:
    """Give each thought-statistics row the oracle roles of the runs it was read from."""
    by_run: dict[str, set[str]] = defaultdict(set)
    for item in measured:
        by_run[str(item.run)].update(record_roles(item.record.meta, item.run))
    for rows in tables.values():
        for row in rows:
            row["oracle_roles"] = union(by_run[str(run)] for run in row["runs"])


def write_report(paths: list[Path], out: Path) -> Path:
    """report.md, report.json and the PNGs in `out`, from the runs in `paths`."""
    inputs = expand_inputs(paths)
    measured = measure_runs(inputs.records)  # reads every record: a bad line is one error before --out is made
    out.mkdir(parents=True, exist_ok=True)
    table = attempt_table(measured)
    thoughts = thought_tables(measured)
    mark_thought_rows(thoughts, measured)
    accuracy = accuracy_rows(inputs.accuracy)
    accuracy_gains = gains(accuracy)
    # An oracle judge is a rehearsal of the pipeline, never a reward model's result: its rows are shown apart.
    reward, checks = split_pipeline_checks(reward_rows(inputs.reward))
    figures = plot_all(distributions(measured), accuracy, out)
    journey = journey_section(inputs.journey, out)
    sources = [*inputs.records, *inputs.accuracy, *inputs.reward, *inputs.journey]
    oracle = oracle_summary(table, accuracy, checks)
    lines = ["# Long-thought report", "", *oracle_banner(oracle),
             "Sources: " + ", ".join(f"`{run}`" for run in sources), ""]
    lines += attempt_section(table, out)
    lines += accuracy_section(accuracy, accuracy_gains, out)
    lines += reward_section(reward, out)
    lines += pipeline_check_section(checks, out)
    lines += thought_section(thoughts, out)
    lines += journey["lines"]
    if figures:
        lines += ["## Figures", ""] + [f"![{TITLES[path.stem]}]({path.name})\n" for path in figures]
    report = out / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    (out / "report.json").write_text(json.dumps(
        {"oracle": oracle, "attempts": table, "models": accuracy, "gains": accuracy_gains, "reward_models": reward,
         "pipeline_checks": checks, "thoughts": thoughts, "journey_effect": journey["rows"],
         "figures": [path.name for path in figures]}, indent=2), encoding="utf-8")
    return report


def journey_section(folders: list[Path], out: Path) -> dict[str, Any]:
    """The journey-effect table and its plots, from each results folder (recipes/journey-effect)."""
    from eval import journey_effect

    lines: list[str] = []
    rows: list[dict[str, Any]] = []
    for folder in folders:
        results = journey_effect.load_results(folder if any(folder.glob("*-s*.json")) else folder / "results")
        table = journey_effect.table(results)
        lines += [journey_effect.markdown(table, results), *(f"![{p.stem}]({p.name})\n"
                                                            for p in journey_effect.plot(table, out))]
        rows += [{**row, "paired": row["paired"] and asdict(row["paired"]), "source": str(folder)} for row in table]
    return {"lines": lines, "rows": rows}


def oracle_summary(table: dict[str, dict[str, Any]], accuracy: list[dict[str, Any]],
                   checks: list[dict[str, Any]]) -> dict[str, Any]:
    """What in the report is oracle data: attempts (by role), accuracy runs (model or training data), judge runs."""
    attempts = {attempt: row["oracle_roles"] for attempt, row in table.items() if row["oracle_roles"]}
    models = {row["run"]: row["oracle"] for row in accuracy if row["oracle"]}
    judges = sorted({row["run"] for row in checks})
    return {"any": bool(attempts or models or judges), "attempts": attempts, "accuracy_runs": models,
            "pipeline_checks": judges}


@dataclass(frozen=True)
class ReportConfig:
    """Where the report goes (the runs it reads are the positional arguments)."""

    out: Path = field(metadata={"help": "folder for report.md, report.json and the plots"})


def main(argv: list[str] | None = None) -> int:
    import agents  # noqa: F401 - sets LITELLM_LOCAL_MODEL_COST_MAP before litellm loads (token counting)

    parser = command_parser("eval.report", (ReportConfig,), __doc__)
    parser.add_argument("runs", nargs="+", type=Path,
                        help="synthesis, accuracy and reward-model runs, and folders of them")
    config, args = parse(parser, argv)
    try:
        report = write_report(args.runs, config.out)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
