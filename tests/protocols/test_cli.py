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
    "agents.llm": "agents.llm_cli",
    "agents.oracle.annotations": "agents.oracle.annotations",
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
