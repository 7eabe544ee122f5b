"""The report's tables as data, from run cards: accuracy by model stage (the shape of the report's Table 6) with
the gains between stages, and reward-model meta-evaluation by scorer and dataset."""

from __future__ import annotations

import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from eval.oracle_marks import accuracy_mark, reward_roles
from eval.run_cards import STAGES, accuracy_model, model_stage, settings
from synthesis.engine.run_card import CONFIG, SUMMARY, read_json_object

# The report's comparisons (Table 6): each later stage against the one it should beat; journey - shortcut is the
# headline (about +8 points on MATH500 with deepseek-math-7b).
GAINS = (("shortcut", "phase1"), ("journey", "phase1"), ("journey", "shortcut"), ("dpo", "journey"))


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float | None, float | None]:
    """The Wilson score interval (95% for z = 1.96) of a proportion: unlike p ± z·se, it stays inside [0, 1]
    and is sane for few problems or accuracies near 0 or 1."""
    if n <= 0:
        return None, None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def link(path: Path, out: Path) -> str:
    """`path` relative to the report folder, for a markdown link that works wherever the folders are copied."""
    return Path(os.path.relpath(path.resolve(), out.resolve())).as_posix()


def accuracy_rows(runs: list[Path]) -> list[dict[str, Any]]:
    """One row per accuracy run: its model's stage (by run card), accuracy with its 95% Wilson interval,
    problems, answers cut at the token cap, and the run cards it was read from."""
    rows = []
    for run in runs:
        data = read_json_object(run / "accuracy.json")
        model = accuracy_model(run)
        stage = model_stage(model, run)
        problems = int(data.get("problems") or 0)
        accuracy = data.get("accuracy")
        # n = problems, not samples: the k samples of one problem are not independent trials.
        low, high = wilson(accuracy * problems, problems) if accuracy is not None else (None, None)
        cards = {"accuracy_card": run / CONFIG, "accuracy_json": run / "accuracy.json"}
        if stage.training_run is not None:
            cards |= {"training_card": stage.training_run / CONFIG, "training_summary": stage.training_run / SUMMARY}
        rows.append({
            "stage": stage.stage, "model": model, "trained_from": stage.trained_from, "note": stage.note,
            "problem_set": data.get("problem_set") or (settings(run).get("run") or {}).get("problems"),
            "problems": problems, "samples_per_problem": data.get("samples_per_problem"), "accuracy": accuracy,
            "ci_low": None if low is None else round(low, 4), "ci_high": None if high is None else round(high, 4),
            "truncated": data.get("truncated"), "truncation_rate": data.get("truncation_rate"),
            # None for an accuracy.json written before loops were counted: shown as –, never as 0.
            "looping": data.get("looping"), "loop_rate": data.get("loop_rate"),
            "finished_accuracy": data.get("finished_accuracy"),
            "run": str(run), "training_run": None if stage.training_run is None else str(stage.training_run),
            "cards": {name: str(path) for name, path in cards.items() if path.is_file()},
            "oracle": accuracy_mark(model, stage.training_run),  # "model", "training data" or None
        })
    order = {stage: position for position, stage in enumerate(STAGES)}
    return sorted(rows, key=lambda row: (str(row["problem_set"]), order[row["stage"]], row["run"]))


def gains(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Accuracy differences between stages, in points, per problem set; a stage measured by more than one run there
    gives no gain (which of its runs is meant would be a guess) and is named instead."""
    by_set: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row["accuracy"] is not None:
            by_set[str(row["problem_set"])][row["stage"]].append(row)
    result = []
    for problem_set, stages in sorted(by_set.items()):
        for later, earlier in GAINS:
            if not stages.get(later) or not stages.get(earlier):
                continue
            entry = {"problem_set": problem_set, "gain": f"{later} - {earlier}", "points": None, "note": None}
            ambiguous = [stage for stage in (later, earlier) if len(stages[stage]) > 1]
            if ambiguous:
                entry["note"] = f"{' and '.join(ambiguous)}: more than one run on {problem_set}"
            else:
                entry["points"] = round(100 * (stages[later][0]["accuracy"] - stages[earlier][0]["accuracy"]), 1)
            result.append(entry)
    return result


def _reward_row(scorer_config: dict[str, Any], dataset: str, values: dict[str, Any], folder: Path) -> dict[str, Any]:
    scorer = scorer_config.get("scorer")
    model = scorer_config.get("prm_model") if scorer == "hf-prm" else scorer_config.get("scorer_model")
    cards = {"card": folder / CONFIG, "metrics": folder.parent / "metrics.json",
             "predictions": folder / "records.jsonl"}
    return {"scorer": scorer, "scorer_model": model, "threshold": scorer_config.get("threshold"), "dataset": dataset,
            **{key: values.get(key) for key in ("samples", "erroneous", "correct", "acc_erroneous", "acc_correct",
                                                "processbench_f1", "step_precision", "step_recall", "step_f1",
                                                "agreement")},
            "run": str(folder), "cards": {name: str(path) for name, path in cards.items() if path.is_file()},
            "oracle_roles": reward_roles(folder, model)}


def split_pipeline_checks(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(reward-model rows, pipeline checks): a row with any oracle role measures the plumbing, not a scorer."""
    return [row for row in rows if not row["oracle_roles"]], [row for row in rows if row["oracle_roles"]]


def reward_rows(runs: list[Path]) -> list[dict[str, Any]]:
    """One row per (scorer, scorer model, dataset): from an `eval.reward_models` output's metrics.json, or, for one
    dataset's run directory given alone, its metrics recomputed from its scored items."""
    from eval.reward_models import Judged, metrics
    from synthesis.engine import read_rows

    rows = []
    for run in runs:
        if (run / "metrics.json").is_file():
            results = read_json_object(run / "metrics.json")
            scorer_config = results.get("_config") or {}
            for dataset, values in results.items():
                if not dataset.startswith("_"):
                    rows.append(_reward_row(scorer_config, dataset, values, run / Path(dataset).stem))
        else:
            card = settings(run)
            scorer_config = card.get("reward_models") or {}
            values = metrics(list(read_rows(run, Judged, missing_ok=True)))
            rows.append(_reward_row(scorer_config, str(scorer_config.get("data") or run.name), values, run))
    return sorted(rows, key=lambda row: (str(row["scorer"]), str(row["scorer_model"]), row["dataset"]))
