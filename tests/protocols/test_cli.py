"""Every command parses the same way: `--help` names the real `python -m` command and shows the defaults."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

# The command (`python -m` NAME) and the module whose main() it runs.
COMMANDS = {
    "synthesis.tree_search": "synthesis.tree_search",
    "synthesis.critique_loop": "synthesis.critique_loop",
    "synthesis.debate": "synthesis.debate",
    "synthesis.ablate": "synthesis.ablate",
    "eval.accuracy": "eval.accuracy",
    "eval.reward_models": "eval.reward_models",
    "eval.report": "eval.report",
    "eval.thoughts": "eval.thoughts",
    "eval.viewer": "eval.viewer.__main__",
    "eval.fidelity": "eval.fidelity",
    "agents.llm": "agents.calls.cli",
    "agents.oracle.annotations": "agents.backends.oracle.annotations",
    "protocols.problems": "protocols.problems",
}
NO_DEFAULTS = {"eval.fidelity", "eval.report"}  # only the runs and a required --out: no default to show


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_the_command_and_shows_defaults(command, capsys):
    main = importlib.import_module(COMMANDS[command]).main
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    text = capsys.readouterr().out
    assert exit_.value.code == 0
    assert text.startswith(f"usage: python -m {command} ")
    assert command in NO_DEFAULTS or re.search(r"\(default: [^)]+\)", text), text


def test_an_unknown_flag_is_a_usage_error_naming_the_command():
    result = subprocess.run([sys.executable, "-m", "agents.llm", "--prompt", "hi", "--no-such-flag"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "python -m agents.llm: error: unrecognized arguments: --no-such-flag" in result.stderr


def test_config_file_gives_settings_that_flags_override(tmp_path):
    from synthesis.debate import DebateConfig
    from synthesis.engine.cli import parse as parse_run

    recipe = tmp_path / "debate.yaml"
    recipe.write_text("problems: math500\nmax_turns: 5\npolicy-temperature: 0.3\n")
    run_config, config = parse_run(DebateConfig, ["--config", str(recipe), "--max-turns", "7"], None, "synthesis.debate")
    assert (run_config.problems, config.max_turns, config.policy_temperature) == ("math500", 7, 0.3)


def test_config_file_can_give_a_required_setting_and_names_an_unknown_one(tmp_path):
    from synthesis.annotate import NewConfig, _parser

    from protocols.cli import parse as parse_configs

    recipe = tmp_path / "new.yaml"
    recipe.write_text(f"problems: math500\nout: {tmp_path / 'a'}\n")
    (config,) = parse_configs(_parser("new", (NewConfig,)), ["--config", str(recipe)])
    assert config.problems == "math500"
    recipe.write_text("problemz: math500\n")
    with pytest.raises(ValueError, match=r"--config .*new.yaml: unknown setting 'problemz' for python -m synthesis"):
        parse_configs(_parser("new", (NewConfig,)), ["--config", str(recipe)])


# Every per-reply cap is --<role>-max-tokens: each old spelling, as a flag and as a --config key, names the new one.
RENAMED_CAPS = [
    ("synthesis.tree_search", "--step-max-tokens", "--policy-max-tokens"),
    ("synthesis.critique_loop", "--max-step-tokens", "--policy-max-tokens"),
    ("training.dpo", "--sample-max-tokens", "--sampler-max-tokens"),
]

# Every other per-role setting is --<role>-<setting> too: tree search's policy temperature, DPO's sampler sampling.
RENAMED_SAMPLING = [
    ("synthesis.tree_search", "--temperature", "--policy-temperature"),
    ("training.dpo", "--temperature", "--sampler-temperature"),
    ("training.dpo", "--top-p", "--sampler-top-p"),
]


@pytest.mark.parametrize("module,old,new", RENAMED_CAPS + RENAMED_SAMPLING)
def test_an_old_cap_name_is_refused_in_one_line_naming_the_new_flag(tmp_path, module, old, new):
    result = subprocess.run([sys.executable, "-m", module, "--problems", "math500", "--out", str(tmp_path / "o"),
                             old, "64"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and f"{old} was renamed: use {new}" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("module,old,new", RENAMED_CAPS + RENAMED_SAMPLING + [
    ("synthesis.annotate", "expansion_max_tokens", "--expander-max-tokens")])
def test_an_old_cap_name_in_a_config_file_is_refused_naming_the_new_flag(tmp_path, module, old, new):
    from protocols.cli import command_parser, parse

    recipe = tmp_path / "old.yaml"
    recipe.write_text(f"{old.lstrip('-').replace('-', '_')}: 64\n")
    if module == "training.dpo":
        from training.dpo import parse as parse_dpo

        with pytest.raises(ValueError, match=rf"old.yaml: --{old.lstrip('-').replace('_', '-')} was renamed: use {new}"):
            parse_dpo(["--config", str(recipe), "--out", str(tmp_path / "o")])
        return
    if module == "synthesis.annotate":
        from synthesis.annotate import ExpandConfig as config_type
    else:
        config_type = importlib.import_module(module).__dict__[
            {"synthesis.tree_search": "TreeSearchConfig", "synthesis.critique_loop": "CritiqueLoopConfig"}[module]]
    with pytest.raises(ValueError, match=rf"old.yaml: --{old.lstrip('-').replace('_', '-')} was renamed: use {new}"):
        parse(command_parser(module, (config_type,)), ["--config", str(recipe)])


def test_a_run_recorded_under_an_old_cap_name_resumes_under_the_new_one():
    from synthesis.engine.config import config_differences as _differences

    assert _differences({"step_max_tokens": 64, "width": 2}, {"policy_max_tokens": 64, "width": 2}) == []
    assert _differences({"step_max_tokens": 64}, {"policy_max_tokens": 32}) == ["policy_max_tokens: 64 -> 32"]


def test_a_run_recorded_under_an_old_sampling_name_resumes_under_the_new_one():
    from synthesis.engine.config import config_differences as _differences

    # Each old name becomes the new name this run's section has: the policy's in tree search, the sampler's in DPO.
    tree = {"attempt": "tree_search", "tree_search": {"temperature": 0.8, "width": 2}}
    assert _differences(tree, {"attempt": "tree_search", "tree_search": {"policy_temperature": 0.8, "width": 2}}) == []
    assert _differences(tree, {"attempt": "tree_search", "tree_search": {"policy_temperature": 0.5, "width": 2}}) == [
        "tree_search.policy_temperature: 0.8 -> 0.5"]
    samples = {"dpo_samples": {"temperature": 0.7, "top_p": 0.95, "samples": 20}}
    assert _differences(samples, {"dpo_samples": {"sampler_temperature": 0.7, "sampler_top_p": 0.95,
                                                  "samples": 20}}) == []
    # A command that still takes the old name compares it as it is.
    assert _differences({"critique_loop": {"temperature": 0.7}}, {"critique_loop": {"temperature": 0.5}}) == [
        "critique_loop.temperature: 0.7 -> 0.5"]


# Commands whose one model keeps its unprefixed --temperature: the rename refuses it only where a new name exists.
KEEP_TEMPERATURE = [("eval.accuracy", "AccuracyConfig"), ("synthesis.critique_loop", "CritiqueLoopConfig"),
                    ("synthesis.annotate", "ExpandConfig")]


@pytest.mark.parametrize("module,config_name", KEEP_TEMPERATURE)
def test_a_command_that_still_takes_temperature_reads_it_as_a_flag_and_a_config_key(tmp_path, module, config_name):
    from protocols.cli import command_parser, parse

    config_type = importlib.import_module(module).__dict__[config_name]
    (config,) = parse(command_parser(module, (config_type,)), ["--temperature", "0.25"])
    assert config.temperature == 0.25
    recipe = tmp_path / "keep.yaml"
    recipe.write_text("temperature: 0.5\n")
    (config,) = parse(command_parser(module, (config_type,)), ["--config", str(recipe)])
    assert config.temperature == 0.5


def test_a_command_with_no_temperature_at_all_gives_argparses_own_error(capsys):
    from eval.reward_models import MetaEvalConfig
    from protocols.cli import command_parser, parse

    # eval.reward_models never had --temperature and takes none of its new names: "renamed" would be a false lead.
    with pytest.raises(SystemExit) as exit_:
        parse(command_parser("eval.reward_models", (MetaEvalConfig,)), ["--temperature", "0.5"])
    error = capsys.readouterr().err
    assert exit_.value.code == 2 and "unrecognized arguments: --temperature" in error and "renamed" not in error
