"""The ablation report: one table and PNG plots comparing construction attempts (and trained models).

    python -m eval.report runs/ablation --out runs/ablation/report
    python -m eval.report runs/debate runs/tree runs/acc-shortcut runs/acc-journey runs/acc-dpo --out runs/report

Arguments are run directories (records.jsonl), ablation parents (their child runs are used) or accuracy runs
(accuracy.json). Per attempt: share of problems with a correct long thought, tokens per long thought, reflection
keywords per 1k tokens, backtracks per long thought, cost and tokens per correct long thought, and the rewrite
fallback (drafts used as the long thought because their rewrite was unfaithful, m/n and rate). Accuracy runs
become the report's model table (shortcut vs journey vs DPO when their names say so).
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.thoughts import KEYWORDS, backtracks, count_tokens, keyword_counts
from protocols.cli import command_parser, parse
from protocols.types import Record, Usage
from synthesis.engine import fallback_stats, format_fallbacks, read_rows, run_dirs

REFLECTION_WORDS = ("wait", "alternatively", "let me", "consider")
PLOTS = {
    "correct_share": "share of problems with a correct long thought",
    "tokens_per_thought": "tokens per long thought",
    "reflection_words_per_1k": "reflection keywords per 1k tokens",
    "backtracks_per_thought": "backtracks per long thought",
    "tokens_per_correct": "tokens spent per correct long thought",
}


def expand_inputs(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(run directories with records, accuracy runs) from the arguments; ablation parents are opened up."""
    runs, accuracy = [], []
    for path in paths:
        if (path / "accuracy.json").is_file():
            accuracy.append(path)
        else:
            runs += run_dirs([path])  # the rule every run reader shares
    return runs, accuracy


def attempt_table(runs: list[Path]) -> dict[str, dict[str, Any]]:
    """One row of measures per attempt, over every record of the given runs."""
    grouped: dict[str, list[Record]] = defaultdict(list)
    for run in runs:
        for record in read_rows(run, Record):
            grouped[record.attempt].append(record)
    table = {}
    for attempt, records in sorted(grouped.items()):
        thoughts = [record for record in records if record.long_thought]
        correct = [record for record in thoughts if record.correct]
        tokens = [count_tokens(record.long_thought) for record in thoughts]
        reflection_words = sum(sum(keyword_counts(r.long_thought)[w] for w in REFLECTION_WORDS) for r in thoughts)
        usage = sum((totals for record in records for totals in record.usage.values()), Usage())
        table[attempt] = {
            "problems": len(records),
            "long_thoughts": len(thoughts),
            "correct": len(correct),
            "correct_share": round(len(correct) / len(records), 3) if records else 0.0,
            "tokens_per_thought": round(sum(tokens) / len(tokens), 1) if tokens else 0.0,
            "reflection_words_per_1k": round(1000 * reflection_words / sum(tokens), 2) if sum(tokens) else 0.0,
            "backtracks_per_thought": round(sum(backtracks(r) for r in thoughts) / len(thoughts), 2) if thoughts else 0.0,
            "tokens_spent": usage.total_tokens,
            "tokens_per_correct": round(usage.total_tokens / len(correct), 1) if correct else None,
            "cost": None if usage.cost is None else round(usage.cost, 6),
            "cost_per_correct": (None if usage.cost is None or not correct else round(usage.cost / len(correct), 6)),
            "stop_reasons": dict(sorted(Counter(r.stop_reason for r in records).items())),
            # Drafts used as the long thought because the rewrite was unfaithful; None without rewrites.
            "rewrites": fallback_stats(record.meta for record in records),
        }
        table[attempt]["rewrite_fallback"] = format_fallbacks(table[attempt]["rewrites"])
    return table


def accuracy_table(runs: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        data = json.loads((run / "accuracy.json").read_text())
        name = str(run).lower()
        kind = next((label for label in ("shortcut", "journey", "dpo") if label in name), "model")
        rows.append({"run": str(run), "kind": kind, "model": data.get("model"), "problems": data.get("problems"),
                     "accuracy": data.get("accuracy"), "pass_at_k": data.get("pass_at_k"),
                     "truncation_rate": data.get("truncation_rate")})
    return rows


def plot(table: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    """One bar chart per measure, attempts side by side."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    files = []
    attempts = list(table)
    for measure, title in PLOTS.items():
        values = [table[attempt][measure] or 0 for attempt in attempts]
        figure, axis = plt.subplots(figsize=(6, 3.2), dpi=100)
        bars = axis.bar(attempts, values, color=["#4c72b0", "#dd8452", "#55a868", "#c44e52"][: len(attempts)])
        axis.bar_label(bars, fmt="%.3g")
        axis.set_title(title)
        axis.tick_params(axis="x", labelrotation=15)
        axis.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        path = out / f"{measure}.png"
        figure.savefig(path)
        plt.close(figure)
        files.append(path)
    return files


def _fmt(value: Any) -> str:
    return "–" if value is None else str(value)


def write_report(paths: list[Path], out: Path) -> Path:
    runs, accuracy = expand_inputs(paths)
    out.mkdir(parents=True, exist_ok=True)
    table = attempt_table(runs)
    lines = ["# Long-thought ablation", "", "Sources: " + ", ".join(f"`{run}`" for run in [*runs, *accuracy]), ""]
    if table:
        measures = ["problems", "long_thoughts", "correct", "correct_share", "tokens_per_thought",
                    "reflection_words_per_1k", "backtracks_per_thought", "tokens_spent", "tokens_per_correct", "cost",
                    "cost_per_correct", "rewrite_fallback"]
        lines += ["## Attempts", "", "| measure | " + " | ".join(table) + " |", "|---|" + "---|" * len(table)]
        lines += [f"| {measure.replace('_', ' ')} | " + " | ".join(_fmt(table[a][measure]) for a in table) + " |"
                  for measure in measures]
        lines += ["", "Stop reasons: " + "; ".join(
            f"{a}: " + ", ".join(f"{reason} {count}" for reason, count in table[a]["stop_reasons"].items())
            for a in table), ""]
        lines += [f"Reflection keywords counted: {', '.join(REFLECTION_WORDS)} (of {', '.join(KEYWORDS)}).", ""]
        for path in plot(table, out):
            lines += [f"![{PLOTS[path.stem]}]({path.name})", ""]
    if accuracy:
        lines += ["## Models", "", "| kind | model | problems | accuracy | pass@k | answers cut at the token cap | run |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {row['kind']} | {row['model']} | {row['problems']} | {_fmt(row['accuracy'])} | "
                  f"{_fmt(row['pass_at_k'])} | {_fmt(row['truncation_rate'])} | `{row['run']}` |"
                  for row in accuracy_table(accuracy)]
        lines.append("")
    report = out / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    (out / "report.json").write_text(json.dumps({"attempts": table, "models": accuracy_table(accuracy)}, indent=2))
    return report


@dataclass(frozen=True)
class ReportConfig:
    """Where the report goes (the runs it reads are the positional arguments)."""

    out: Path = field(metadata={"help": "folder for report.md, report.json and the plots"})


def main(argv: list[str] | None = None) -> int:
    import agents  # noqa: F401 - sets LITELLM_LOCAL_MODEL_COST_MAP before litellm loads (token counting)

    parser = command_parser("eval.report", (ReportConfig,), __doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="ablation folders, attempt runs and accuracy runs")
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
