"""Which of the report's inputs are oracle data (protocols.rehearsal), read from the rows and run cards alone.

A synthesis record carries its own mark (`meta.oracle_roles`); a record written before the mark existed is judged
by its run's manifest (`models`). An accuracy run is oracle data when its model is the oracle, or when the model
was trained on a dataset whose card says it was built from oracle runs (training.formats writes the tag). A
reward-model run is a pipeline check, not a reward model's result, when any of its roles is the oracle.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from protocols.rehearsal import CARD_TAG, is_oracle_model
from synthesis.engine.rehearsal import record_roles, run_roles, union

__all__ = ["CARD_TAG", "accuracy_mark", "card_is_oracle", "record_roles", "reward_roles", "run_roles", "union"]



def card_is_oracle(dataset: Path) -> bool:
    """Whether a dataset folder's card (README.md) carries the oracle tag."""
    try:
        text = (Path(dataset) / "README.md").read_text(encoding="utf-8")
        header = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else {}
    except (OSError, IndexError, yaml.YAMLError):
        return False
    return isinstance(header, dict) and CARD_TAG in (header.get("tags") or [])


def accuracy_mark(model: str, training_run: str | Path | None) -> str | None:
    """"model" when the evaluated model is the oracle, "training data" when it was trained on oracle data."""
    if is_oracle_model(model):
        return "model"
    if training_run is not None and card_is_oracle(Path(training_run) / "dataset"):
        return "training data"
    return None


def reward_roles(folder: Path, scorer_model: str | None) -> list[str]:
    """The oracle roles of one reward-model dataset run: its manifest's, and the scorer named in its card."""
    return union([run_roles(folder), ["scorer"] if is_oracle_model(scorer_model) else []])
