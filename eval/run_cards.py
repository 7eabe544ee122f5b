"""What a run is, read from its run card alone: the report's inputs by kind, and a trained model's stage.

An accuracy run's `config.yaml` names the model it evaluated; a trained model is `hf/<training run>/final`, and
the training run's `training_summary.json` says what it was: SFT writes its `target` (solution = phase 1,
shortcut, journey; training/sft.py), DPO writes its preference `pairs` (training/dpo.py). Directory names are
never read: a journey run in a folder named `shortcut-x` is still journey SFT. The cards are read by the engine's
one reader (synthesis.engine.run_card), strictly: a card file that is not one stops the report with a line naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.backends import backend_for
from synthesis.engine import run_dirs
from synthesis.engine.run_card import CONFIG, SUMMARY, RunCard, read_json_object

# The report's Table 6 rows, in its order; "base/other" is a model no training run of ours produced.
STAGES = ("phase1", "shortcut", "journey", "dpo", "base/other")
STAGE_LABELS = {"phase1": "SFT phase 1 (solutions)", "shortcut": "shortcut SFT", "journey": "journey SFT",
                "dpo": "DPO", "base/other": "base/other"}
_SFT_TARGETS = {"solution": "phase1", "shortcut": "shortcut", "journey": "journey"}


def settings(run: Path) -> dict[str, Any]:
    """A run's `config.yaml` as a mapping ({} when it has none; one line naming it when it is not one)."""
    return RunCard(run).config or {}


@dataclass
class Inputs:
    """The report's inputs by kind."""

    records: list[Path] = field(default_factory=list)  # synthesis runs (records.jsonl of Records)
    accuracy: list[Path] = field(default_factory=list)  # eval.accuracy runs (accuracy.json)
    reward: list[Path] = field(default_factory=list)  # eval.reward_models outputs (metrics.json) or dataset runs
    journey: list[Path] = field(default_factory=list)  # journey-effect results folders (<arm>-s<seed>.json)


def _is_journey_results(path: Path) -> bool:
    for candidate in path.glob("*-s*.json") if path.is_dir() else ():
        try:
            return json.loads(candidate.read_text(encoding="utf-8")).get("experiment") == "journey-effect"
        except (OSError, ValueError, AttributeError):
            return False
    return False


def _kind(path: Path) -> str | None:
    if (path / "accuracy.json").is_file():
        return "accuracy"
    if (path / "metrics.json").is_file() or (path.is_dir() and settings(path).get("attempt") == "reward_models"):
        return "reward"
    if (path / "records.jsonl").is_file() or (path.is_file() and path.name.endswith(".jsonl")):
        return "records"
    if _is_journey_results(path) or _is_journey_results(path / "results"):
        return "journey"
    return None


def _runs_in(folder: Path) -> list[tuple[Path, str]]:
    """The runs of a folder of runs, with an ablation inside it opened too (a recipe's runs/ holding the stage-2
    ablation); only folders are runs: an ablation's problems.jsonl and ablation.json are not."""
    found = []
    for child in sorted(path for path in folder.iterdir() if path.is_dir()):
        kind = _kind(child)
        if kind:
            found.append((child, kind))
        elif (child / "ablation.json").is_file():
            found += [(run, k) for run in sorted(child.iterdir()) if run.is_dir() and (k := _kind(run))]
    return found


def expand_inputs(paths: list[Path]) -> Inputs:
    """Sort the arguments by kind; a folder of runs (an ablation, a recipe's runs/ with an ablation in it) is opened.

    Training runs and other folders in a folder of runs are passed over (their cards are read through the
    accuracy runs); anything that is no run at all is one line naming it, by `run_dirs`' rule."""
    inputs = Inputs()
    for path in paths:
        kind = _kind(path)
        found = [(path, kind)] if kind else _runs_in(path) if path.is_dir() else []
        if not found:
            run_dirs([path])  # raises the shared one-line error
        for run, run_kind in found:
            if run_kind == "records":
                inputs.records += run_dirs([run])
            else:
                getattr(inputs, run_kind).append(run)
    # A run given twice (or also inside a folder given) is counted once, as run_dirs does for records.
    inputs.records = run_dirs(inputs.records)
    for kind in ("accuracy", "reward", "journey"):
        first: dict[Path, Path] = {}
        for path in getattr(inputs, kind):
            first.setdefault(path.resolve(), path)
        setattr(inputs, kind, list(first.values()))
    return inputs


def _training_run(model: str, near: Path) -> Path | None:
    """The training run behind `hf/PATH` (PATH is its `final/`), looked up from the working folder, then from
    each folder above the accuracy run (the path was relative to where the accuracy command ran)."""
    checkpoint = backend_for(model).checkpoint(model)
    if checkpoint is None:
        return None
    raw = Path(checkpoint)
    bases = [Path()] if raw.is_absolute() else [Path(), *near.resolve().parents]
    for base in bases:
        candidate = base / raw
        for folder in (candidate, candidate.parent):
            if (folder / SUMMARY).is_file():
                return folder
    return None


@dataclass(frozen=True)
class ModelStage:
    """Which stage of the recipe a model is, and the training run that says so."""

    stage: str
    model: str
    training_run: Path | None = None
    trained_from: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


def model_stage(model: str, near: Path) -> ModelStage:
    """The stage of `model` by its training run's card; "base/other" for a model no training run of ours made."""
    run = _training_run(model, near)
    if run is None:
        # hf/<run>/final whose run is gone (moved, or read on another machine): say so rather than pass it off as
        # a model we did not train.
        lost = backend_for(model).checkpoint(model) is not None and Path(model).name == "final"
        return ModelStage("base/other", model, note="its training run was not found" if lost else None)
    card = RunCard(run)
    summary = card.summary or {}
    if "target" in summary:
        if summary["target"] not in _SFT_TARGETS:
            raise ValueError(f"{run / SUMMARY}: target {summary['target']!r} is none of {', '.join(_SFT_TARGETS)}")
        stage = _SFT_TARGETS[summary["target"]]
    elif summary.get("stage") == "dpo" or "pairs" in summary:  # DPO names itself (older runs: only it has pairs)
        stage = "dpo"
    else:
        raise ValueError(f"{run / SUMMARY}: neither an SFT summary (target) nor a DPO one (pairs)")
    trained_from = (card.config or {}).get("model") or summary.get("model")
    return ModelStage(stage, model, run, trained_from, summary)


def accuracy_model(run: Path) -> str:
    """The model an accuracy run evaluated, from its config.yaml (accuracy.json's copy for runs without one)."""
    model = (settings(run).get("accuracy") or {}).get("model") or read_json_object(run / "accuracy.json").get("model")
    if not model:
        raise ValueError(f"{run / CONFIG}: names no model (expected accuracy.model)")
    return str(model)
