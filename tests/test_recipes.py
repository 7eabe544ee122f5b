"""The shipped recipe: every stage's YAML parses under its command, with no unknown key and the report's settings."""

from pathlib import Path

import pytest

from tests.conftest import REPO

RECIPE = REPO / "recipes" / "journey-learning"


def _parse(path: Path) -> tuple:
    argv = ["--config", str(path)]
    stage = path.stem.split("-", 1)[1]
    if stage.startswith("sft"):
        from training.sft import parse

        return parse(argv)
    if stage == "dpo":
        from training.dpo import parse

        return parse(argv)
    from synthesis.engine.cli import parse

    if stage == "tree-search":
        from synthesis.tree_search import TreeSearchConfig

        return parse(TreeSearchConfig, argv, None, "synthesis.tree_search")
    if stage.startswith("accuracy"):
        from eval.accuracy import AccuracyConfig

        return parse(AccuracyConfig, argv, None, "eval.accuracy")
    from eval.reward_models import MetaEvalConfig

    return parse(MetaEvalConfig, argv, None, "eval.reward_models")


@pytest.mark.parametrize("path", sorted(RECIPE.glob("*.yaml")), ids=lambda path: path.name)
def test_every_stage_parses_under_its_command(path):
    assert _parse(path)  # an unknown or misspelt key is a ValueError naming it


def test_the_recipe_carries_the_reports_settings():
    _, sampling, dpo, _ = _parse(RECIPE / "5-dpo.yaml")
    assert (sampling.samples, sampling.temperature, sampling.top_p, dpo.pairs) == (20, 0.7, 0.95, 5)
    journey, journey_trl = _parse(RECIPE / "3-sft-journey.yaml")
    shortcut, shortcut_trl = _parse(RECIPE / "4-sft-shortcut.yaml")
    assert journey.pairs == shortcut.pairs == 327 and journey.data == shortcut.data and journey_trl.seed == shortcut_trl.seed
    assert (journey.target, shortcut.target, journey_trl.num_train_epochs) == ("journey", "shortcut", 3)
    run_config, accuracy = _parse(RECIPE / "6-accuracy-sft-journey.yaml")
    assert (run_config.problems, accuracy.samples, accuracy.temperature) == ("math500", 1, 0.0)
    assert "recipes/journey-learning/5-dpo.yaml" in (RECIPE / "README.md").read_text()
