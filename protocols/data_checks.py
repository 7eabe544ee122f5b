"""Training rows checked before they are written: decontaminated against the eval sets, then deduplicated.

One call for every training export (long thoughts, SFT, DPO): rows are grouped by problem (a long-thought export
holds one row per problem per attempt), so a dropped problem takes all its rows, and a problem is a duplicate of an
earlier *problem*, never of its own other attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protocols.contamination import DecontaminationConfig, Item, decontaminate, summary_line
from protocols.dedup import NEAR_THRESHOLD, DedupConfig, deduplicate


def check_rows(items: Sequence[Item], decontamination: DecontaminationConfig, dedup: DedupConfig,
               thoughts: Sequence[str | None] | None = None,
               labels: Sequence[str | None] | None = None) -> tuple[list[int], dict[str, Any]]:
    """(indices of the rows to keep, counts for the card): `items[i]` is row i's problem id, question and answer
    text; `thoughts[i]` its long thought (deduplicated across rows); `labels[i]` its reference answer (near
    duplicate problems with different answers are different problems)."""
    threshold = dedup.near_dup_threshold if dedup.dedup else NEAR_THRESHOLD
    kept, report = decontaminate(items, decontamination.decontaminate, decontamination.eval_sets,
                                 decontamination.ngram, threshold)
    stats: dict[str, Any] = {"decontamination": report}
    if not dedup.dedup:
        stats["deduplication"] = {"mode": "off"}
        return kept, stats
    first_row: dict[str, int] = {}
    for row in kept:
        first_row.setdefault(items[row].id, row)
    problems = list(first_row.values())
    unique = deduplicate([items[row].question for row in problems], dedup.near_dup_threshold,
                         labels=[labels[row] for row in problems] if labels is not None else None)
    keep_ids = {items[problems[position]].id for position in unique.kept}
    kept = [row for row in kept if items[row].id in keep_ids]
    stats["deduplication"] = {"problems": {"checked": len(problems), **unique.stats(),
                                           "examples": [{"dropped": items[problems[e["dropped"]]].id,
                                                         "kept": items[problems[e["kept"]]].id}
                                                        for e in unique.examples]}}
    if thoughts is not None:
        with_thought = [row for row in kept if thoughts[row]]
        same = deduplicate([thoughts[row] for row in with_thought], dedup.near_dup_threshold)
        dropped = set(with_thought) - {with_thought[position] for position in same.kept}
        kept = [row for row in kept if row not in dropped]
        stats["deduplication"]["long_thoughts"] = {"checked": len(with_thought), **same.stats()}
    return kept, stats


def describe(stats: dict[str, Any]) -> str:
    """One line per check, for logs and consoles."""
    lines = [summary_line(stats["decontamination"])]
    dedup = stats.get("deduplication", {})
    if dedup.get("mode") == "off":
        lines.append("deduplication: off")
    for what in ("problems", "long_thoughts"):
        if what in dedup:
            found = dedup[what]
            lines.append(f"deduplication of {what.replace('_', ' ')}: of {found['checked']}, "
                         f"{found['exact_duplicates']} exact and {found['near_duplicates']} near duplicates "
                         f"(threshold {found['near_threshold']}) dropped")
    return "\n".join(lines)


def check_counts(stats: dict[str, Any]) -> dict[str, Any]:
    """The decontamination and deduplication counts of a card's statistics, without the examples (for summaries)."""
    decontamination = dict(stats.get("decontamination", {}))
    if "eval_sets" in decontamination:
        decontamination["eval_sets"] = {name: {key: value for key, value in found.items() if key != "examples"}
                                        for name, found in decontamination["eval_sets"].items()}
    dedup = {what: {key: value for key, value in found.items() if key != "examples"} if isinstance(found, dict)
             else found for what, found in stats.get("deduplication", {}).items()}
    return {"decontamination": decontamination, "deduplication": dedup,
            **({"agreement": stats["agreement"]} if "agreement" in stats else {})}
