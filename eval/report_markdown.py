"""The report's tables as markdown: readable numbers, and every row linked to the run cards it was read from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.report_tables import link
from protocols.rehearsal import NOTICE
from eval.run_cards import STAGE_LABELS
from eval.thoughts import KEYWORDS
from eval.thought_tables import REFLECTION_WORDS
from synthesis.engine.run_card import CONFIG

ATTEMPT_MEASURES = ["problems", "long_thoughts", "correct", "correct_share", "tokens_per_thought",
                    "reflection_words_per_1k", "reflection_words_model_per_1k", "reflection_words_template_per_1k",
                    "backtracks_per_thought", "tokens_spent", "tokens_per_correct", "cost", "cost_per_correct",
                    "rewrite_fallback", "checker_disagreements"]
F1_NOTE = ("¹ ProcessBench F1 is the harmonic mean of the accuracy on erroneous and on correct samples, so it is "
           "undefined for a dataset without both: the MR-GSM8K subset holds only wrong solutions. There the defined "
           "measure is the accuracy on erroneous samples (the first wrong step found exactly).")


def fmt(value: Any) -> str:
    """A table cell: – for missing, thousands separators (2,240 rather than 2.24e+03)."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def roles_cell(roles: list[str] | None) -> str:
    """The oracle column's cell: the roles the oracle played, in bold, or – when none did."""
    return f"**oracle: {', '.join(roles)}**" if roles else "–"


def oracle_banner(oracle: dict[str, Any]) -> list[str]:
    """The report's first lines when any run it read used the oracle: what is oracle data, and what that means."""
    if not oracle["any"]:
        return []
    attempts = ", ".join(f"{attempt} ({', '.join(roles)})" for attempt, roles in oracle["attempts"].items())
    parts = [f"attempts {attempts}" if attempts else "",
             f"{len(oracle['accuracy_runs'])} accuracy run(s) (the model or its training data)"
             if oracle["accuracy_runs"] else "",
             f"{len(oracle['pipeline_checks'])} judge run(s), shown as pipeline checks"
             if oracle["pipeline_checks"] else ""]
    return [f"> **⚠ ORACLE DATA — {NOTICE}.**", ">",
            f"> Oracle roles in: {'; '.join(part for part in parts if part)}. Every table marks them in its *oracle* "
            "column.", ""]


def card_link(run: Path, out: Path, label: str | None = None) -> str:
    """A markdown link to a run's card: its config.yaml, else its records (a bare records.jsonl has no card)."""
    target = run if run.is_file() else run / CONFIG if (run / CONFIG).is_file() else run / "records.jsonl"
    # The folder above as well: two runs named debate (an ablation's and a rehearsal's) stay apart.
    return f"[{label or f'{run.parent.name}/{run.name}'}]({link(target, out)})"


def _links(cards: dict[str, str], out: Path) -> str:
    return " · ".join(f"[{name.replace('_', ' ')}]({link(Path(path), out)})" for name, path in cards.items())


def attempt_section(table: dict[str, dict[str, Any]], out: Path) -> list[str]:
    """The attempt table (one column per attempt), its stop reasons and its run cards."""
    if not table:
        return []
    lines = ["## Attempts", "", "| measure | " + " | ".join(table) + " |", "|---|" + "---|" * len(table)]
    lines.append("| oracle | " + " | ".join(roles_cell(table[a].get("oracle_roles")) for a in table) + " |")
    lines += [f"| {measure.replace('_', ' ')} | " + " | ".join(fmt(table[a][measure]) for a in table) + " |"
              for measure in ATTEMPT_MEASURES]
    lines.append("| run cards | " + " | ".join(", ".join(card_link(Path(run), out) for run in table[a]["runs"])
                                          for a in table) + " |")
    lines += ["", "Stop reasons: " + "; ".join(
        f"{a}: " + ", ".join(f"{reason} {count}" for reason, count in table[a]["stop_reasons"].items())
        for a in table), ""]
    lines += [f"Reflection keywords counted: {', '.join(REFLECTION_WORDS)} (of {', '.join(KEYWORDS)}); "
              "*model* = written by the model (or an annotator), *template* = inserted by our render templates "
              "(\"Wait, \", \"Let me go back to step 2 and redo it.\"), which the model never wrote.", ""]
    return lines


def accuracy_section(rows: list[dict[str, Any]], gains: list[dict[str, Any]], out: Path) -> list[str]:
    """Accuracy by model stage (the report's Table 6) and the gains between stages."""
    if not rows:
        return []
    lines = ["## Accuracy by model stage", "",
             "| stage | model | problem set | accuracy | 95% CI (Wilson) | problems | answers cut at the token cap "
             "| answers looping | accuracy on finished answers | oracle | run cards |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        model = f"`{row['model']}`" + (f" (from `{row['trained_from']}`)" if row["trained_from"] else "") + (
            f" ({row['note']})" if row["note"] else "")
        interval = "–" if row["ci_low"] is None else f"{100 * row['ci_low']:.1f} – {100 * row['ci_high']:.1f}"
        cut = "–" if row["truncated"] is None else f"{row['truncated']:,} ({_percent(row['truncation_rate'])})"
        looping = "–" if row.get("looping") is None else f"{row['looping']:,} ({_percent(row['loop_rate'])})"
        lines.append(f"| {STAGE_LABELS[row['stage']]} | {model} | {fmt(row['problem_set'])} | "
                     f"{_percent(row['accuracy'])} | {interval} | {row['problems']:,} | {cut} | {looping} | "
                     f"{_percent(row.get('finished_accuracy'))} | "
                     f"{roles_cell([row['oracle']] if row.get('oracle') else None)} | "
                     f"{_links(row['cards'], out)} |")
    lines += ["", "The stage is read from the training run's `training_summary.json` (SFT `target`: solution = "
              "phase 1, shortcut, journey; DPO: its preference pairs), never from a folder's name. An answer "
              "*looping* ends in degenerate repetition (protocols/repetition.py); *accuracy on finished answers* "
              "counts only answers neither cut nor looping.", ""]
    if gains:
        lines += ["| gain | problem set | points |", "|---|---|---|"]
        for gain in gains:
            later, earlier = gain["gain"].split(" - ")
            points = gain["note"] if gain["points"] is None else f"{gain['points']:+.1f}"
            lines.append(f"| {STAGE_LABELS[later]} − {STAGE_LABELS[earlier]} | {gain['problem_set']} | {points} |")
        lines += ["", "The report's headline is journey − shortcut: about +8 points on MATH500 with "
                  "deepseek-math-7b.", ""]
    return lines


def reward_section(rows: list[dict[str, Any]], out: Path, heading: str = "## Reward models",
                   intro: list[str] | None = None) -> list[str]:
    """Reward-model meta-evaluation by scorer, scorer model and dataset."""
    if not rows:
        return []
    lines = [heading, "", *(intro or []),
             "| scorer | scorer model | dataset | samples (erroneous / correct) | accuracy on erroneous (first wrong "
             "step) | accuracy on correct | ProcessBench F1 | step F1 | agreement | oracle | run cards |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    undefined = False
    for row in rows:
        f1 = fmt(row["processbench_f1"])
        if row["processbench_f1"] is None and row["samples"]:
            f1, undefined = "– ¹", True
        samples = f"{fmt(row['samples'])} ({fmt(row['erroneous'])} / {fmt(row['correct'])})"
        lines.append(f"| {row['scorer']} | `{row['scorer_model']}` | {row['dataset']} | {samples} | "
                     f"{fmt(row['acc_erroneous'])} | {fmt(row['acc_correct'])} | {f1} | {fmt(row['step_f1'])} | "
                     f"{fmt(row['agreement'])} | {roles_cell(row.get('oracle_roles'))} | {_links(row['cards'], out)} |")
    lines += ["", *([F1_NOTE, ""] if undefined else [])]
    return lines


def pipeline_check_section(rows: list[dict[str, Any]], out: Path) -> list[str]:
    """Meta-evaluations in which the oracle played a role: a check that the pipeline runs, apart from the reward
    models, since the oracle answers from the reference solutions and its scores say nothing of a judge."""
    roles = sorted({f"`{row['scorer_model']}`" for row in rows})
    intro = [f"**Not a reward-model result.** The oracle ({', '.join(roles)}) played a role in these runs; it judges "
             "from the reference solutions, so these numbers only show that the meta-evaluation pipeline runs end to "
             "end (a rehearsal), never how good a judge is.", ""]
    return reward_section(rows, out, "## Pipeline checks (oracle judge, rehearsal)", intro)


def _thought_rows(rows: list[dict[str, Any]], key: str | None, out: Path) -> list[str]:
    head = "| attempt | " + (f"{key} | " if key else "")
    lines = [head + "thoughts | tokens (mean) | lines (mean) | reflection keywords /1k: model | template | "
             "backtracks / thought | oracle | run cards |", "|---|" + ("---|" if key else "") + "---|" * 8]
    for row in rows:
        cards = ", ".join(card_link(Path(run), out) for run in row["runs"])
        lines.append(f"| {row['attempt']} | " + (f"{row[key]} | " if key else "") +
                     f"{row['thoughts']:,} | {fmt(row['mean_tokens'])} | {fmt(row['mean_lines'])} | "
                     f"{fmt(row['reflection_model_per_1k'])} | {fmt(row['reflection_template_per_1k'])} | "
                     f"{fmt(row['backtracks_per_thought'])} | {roles_cell(row.get('oracle_roles'))} | {cards} |")
    return lines + [""]


def thought_section(tables: dict[str, list[dict[str, Any]]], out: Path) -> list[str]:
    """Thought statistics by attempt (with every keyword split), by subject and by level."""
    if not tables.get("attempt"):
        return []
    lines = ["## Thought statistics", "", "### By attempt", ""] + _thought_rows(tables["attempt"], None, out)
    attempts = [row["attempt"] for row in tables["attempt"]]
    lines += ["Every keyword per 1k tokens, model-written / template-inserted:", "",
              "| keyword | " + " | ".join(attempts) + " |", "|---|" + "---|" * len(attempts)]
    lines += [f"| {word} | " + " | ".join(f"{fmt(row[f'{word}_model_per_1k'])} / {fmt(row[f'{word}_template_per_1k'])}"
                                          for row in tables["attempt"]) + " |" for word in KEYWORDS]
    lines += ["", "### By subject", ""] + _thought_rows(tables["subject"], "subject", out)
    lines += ["### By level", ""] + _thought_rows(tables["level"], "level", out)
    return lines
