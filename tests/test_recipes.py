"""The shipped recipe: every stage's YAML parses under its command, with no unknown key and the report's settings;
the rehearsal script runs every stage file with flags that exist."""

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

    if stage == "ablation":
        from protocols.cli import command_parser, parse as parse_configs
        from synthesis.ablate import AblateConfig, attempt_configs

        (config,) = parse_configs(command_parser("synthesis.ablate", (AblateConfig,)), argv)
        return config, attempt_configs(config)
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
    assert (sampling.samples, sampling.sampler_temperature, sampling.sampler_top_p, dpo.pairs) == (20, 0.7, 0.95, 5)
    journey, journey_trl = _parse(RECIPE / "3-sft-journey.yaml")
    shortcut, shortcut_trl = _parse(RECIPE / "4-sft-shortcut.yaml")
    assert journey.pairs == shortcut.pairs == 327 and journey.data == shortcut.data and journey_trl.seed == shortcut_trl.seed
    assert (journey.target, shortcut.target, journey_trl.num_train_epochs) == ("journey", "shortcut", 3)
    run_config, accuracy = _parse(RECIPE / "6-accuracy-sft-journey.yaml")
    assert (run_config.problems, accuracy.samples, accuracy.temperature) == ("math500", 1, 0.0)
    assert "recipes/journey-learning/5-dpo.yaml" in (RECIPE / "README.md").read_text()


def _rehearsal_commands(tmp_path: Path, data_dir: Path) -> list[list[str]]:
    """Every command rehearse.sh runs, recorded by a stand-in interpreter (nothing is run)."""
    import json
    import os
    import subprocess
    import sys

    log = tmp_path / "argv.jsonl"
    stand_in = tmp_path / "python"
    stand_in.write_text(f"#!{sys.executable}\nimport json, sys\n"
                        f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    stand_in.chmod(0o755)
    env = {**os.environ, "PY": str(stand_in), "LONGTHOUGHT_DATA_DIR": str(data_dir)}
    result = subprocess.run(["bash", str(RECIPE / "rehearse.sh"), str(tmp_path / "out")], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_the_rehearsal_runs_every_stage_file_and_every_flag_it_adds_exists(tmp_path, data_dir):
    from protocols.cli import command_parser, parse
    from synthesis.engine.cli import parse as run_parse

    commands = [argv[1:] for argv in _rehearsal_commands(tmp_path, data_dir) if argv[:1] == ["-m"]]
    configs = sorted(argv[argv.index("--config") + 1] for argv in commands if "--config" in argv)
    # 2-tree-search.yaml's tree is the ablation file's tree_search section (tests/synthesis/test_ablate.py)
    assert sorted({Path(path).name for path in configs}) == sorted(path.name for path in RECIPE.glob("*.yaml")
                                                                  if path.name != "2-tree-search.yaml")
    for module, *argv in commands:
        if argv == ["--help"]:
            continue
        if module == "synthesis.ablate":
            from synthesis.ablate import AblateConfig, __doc__ as doc, attempt_configs

            from synthesis.ablation import attempt_flags

            rest, flags = attempt_flags(argv)
            (config,) = parse(command_parser(module, (AblateConfig,), doc), rest)
            plan = attempt_configs(config, flags)  # every --<attempt>.<setting> is a setting of that attempt
            assert "debate" not in plan or plan["debate"][1].max_turns == 40
            assert (config.policy_model, config.role("scorer_")[0]) == ("oracle/reference-e30", "oracle/reference")
            assert config.role("policy_")[1] is None  # the file's vLLM server is unset: the oracle needs none
        elif module in ("training.sft", "training.dpo"):
            *_, trainer = __import__(module, fromlist=["parse"]).parse(argv)
            assert trainer.max_steps > 0 and trainer.output_dir.startswith(str(tmp_path))
        elif module == "eval.accuracy":
            from eval.accuracy import AccuracyConfig

            run_config, accuracy = run_parse(AccuracyConfig, argv, None, module)
            assert accuracy.model.startswith(f"hf/{tmp_path}") and run_config.limit
        elif module == "eval.reward_models":
            from eval.reward_models import MetaEvalConfig

            assert run_parse(MetaEvalConfig, argv, None, module)[1].scorer_model == "oracle/reference"
        elif module == "agents.oracle.annotations":
            from agents.backends.oracle.annotations import AnnotationsConfig, __doc__ as doc

            parse(command_parser(module, (AnnotationsConfig,), doc), argv)
        else:
            assert module == "eval.report", module
    assert [argv[0] for argv in commands if argv[0].startswith("training")] == ["training.sft"] * 3 + ["training.dpo"]
