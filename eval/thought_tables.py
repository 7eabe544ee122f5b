"""Thought statistics for the report: every long thought measured once (eval.thoughts' `measure`, so the two
commands agree), then grouped by attempt, by attempt and subject, and by attempt and level."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.thoughts import GroupStats, ThoughtMeasure, measure
from protocols.types import Record
from synthesis.engine import read_rows

# The report's reflection keywords (its Q1 analysis) among the counted ones.
REFLECTION_WORDS = ("wait", "alternatively", "let me", "consider")


@dataclass(frozen=True)
class Measured:
    """A record, the run it came from, and its long thought's measures (None without a long thought)."""

    record: Record
    run: Path
    thought: ThoughtMeasure | None


def measure_runs(runs: list[Path]) -> list[Measured]:
    """Every record of the runs, each long thought measured once (token counting is the slow part)."""
    return [Measured(record, run, measure(record.long_thought, record) if record.long_thought else None)
            for run in runs for record in read_rows(run, Record)]


def reflection_rate(thought: ThoughtMeasure, which: str) -> float:
    """Reflection keywords per 1k tokens in one thought: `which` is "model", "template" or "all"."""
    counts = {"model": thought.model_keywords, "template": thought.template_keywords, "all": thought.keywords}[which]
    return 1000 * sum(counts[word] for word in REFLECTION_WORDS) / thought.tokens if thought.tokens else 0.0


def _row(stats: GroupStats, runs: set[Path]) -> dict[str, Any]:
    row = stats.table_row()
    per_k = 1000 / stats.tokens if stats.tokens else 0.0
    template = sum(stats.template_keywords[word] for word in REFLECTION_WORDS)
    total = sum(stats.keywords[word] for word in REFLECTION_WORDS)
    return row | {"reflection_model_per_1k": round((total - template) * per_k, 2),
                  "reflection_template_per_1k": round(template * per_k, 2), "runs": sorted(map(str, runs))}


def thought_tables(measured: list[Measured]) -> dict[str, list[dict[str, Any]]]:
    """Rows by attempt, by attempt × subject and by attempt × level (problem meta; "unknown" where absent)."""
    keys = {"attempt": lambda r: (r.attempt,),
            "subject": lambda r: (r.attempt, str(r.problem.meta.get("subject") or "unknown")),
            "level": lambda r: (r.attempt, str(r.problem.meta.get("level") or "unknown"))}
    tables = {}
    for name, key in keys.items():
        groups: dict[tuple, GroupStats] = defaultdict(GroupStats)
        runs: dict[tuple, set[Path]] = defaultdict(set)
        for item in measured:
            if item.thought is not None:
                groups[key(item.record)].add_measure(item.thought)
                runs[key(item.record)].add(item.run)
        tables[name] = [{"attempt": group[0], **({name: group[1]} if len(group) > 1 else {}),
                         **_row(stats, runs[group])} for group, stats in sorted(groups.items(), key=_natural)]
    return tables


def _natural(item: tuple) -> tuple:
    # Level 10 after level 9, not after level 1.
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in item[0])


def distributions(measured: list[Measured]) -> dict[str, dict[str, list[float]]]:
    """Per attempt, one value per long thought: tokens, backtracks, reflection keywords per 1k (model / template)."""
    result: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for item in sorted(measured, key=lambda item: item.record.attempt):
        thought = item.thought
        if thought is None:
            continue
        values = result[item.record.attempt]
        values["tokens"].append(thought.tokens)
        values["backtracks"].append(thought.backtracks or 0)
        values["reflection_model_per_1k"].append(reflection_rate(thought, "model"))
        values["reflection_template_per_1k"].append(reflection_rate(thought, "template"))
    return {attempt: dict(values) for attempt, values in result.items()}

