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


@pytest.mark.parametrize("module,old,new", RENAMED_CAPS)
def test_an_old_cap_name_is_refused_in_one_line_naming_the_new_flag(tmp_path, module, old, new):
    result = subprocess.run([sys.executable, "-m", module, "--problems", "math500", "--out", str(tmp_path / "o"),
                             old, "64"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and f"{old} was renamed: use {new}" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("module,old,new", RENAMED_CAPS + [("synthesis.annotate", "expansion_max_tokens",
                                                             "--expander-max-tokens")])
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
