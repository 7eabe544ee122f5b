"""The README walk's plan: every README command is walked or skipped for a reason, and the extraction is right."""

import importlib.util
import sys

import pytest

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("walk_readme", REPO / "scripts" / "walk_readme.py")
walk_readme = importlib.util.module_from_spec(_spec)
sys.modules["walk_readme"] = walk_readme  # dataclasses look their module up there
_spec.loader.exec_module(walk_readme)

SNIPPET = """# demo

```bash
# a comment line is dropped
.venv/bin/python -m synthesis.debate --problems math500 \\
    --limit 3 --out runs/x   # trailing comment dropped
.venv/bin/python -m eval.thoughts runs/x [--group-by attempt|run] [--json OUT]
.venv/bin/python -m agents.llm --prompt "What is #1?"
```

```markdown
## attempt
not a command
```

```python
print("not bash either")
```
"""


@pytest.fixture(scope="module")
def readme_commands() -> list:
    return walk_readme.extract_commands((REPO / "README.md").read_text(encoding="utf-8"))


def test_continuations_are_joined_and_comments_dropped() -> None:
    commands = walk_readme.extract_commands(SNIPPET)
    assert [c.text for c in commands] == [
        ".venv/bin/python -m synthesis.debate --problems math500 --limit 3 --out runs/x",
        ".venv/bin/python -m eval.thoughts runs/x",
        '.venv/bin/python -m agents.llm --prompt "What is #1?"',  # a # inside quotes is no comment
    ]
    assert [c.line for c in commands] == [5, 7, 8]


def test_optional_placeholders_are_removed_and_make_a_template() -> None:
    debate, thoughts, _ = walk_readme.extract_commands(SNIPPET)
    assert thoughts.placeholders == ("[--group-by attempt|run]", "[--json OUT]")
    assert thoughts.template and not debate.template


def test_a_command_with_no_rule_that_cannot_run_as_written_is_unclassified() -> None:
    for text in ('.venv/bin/python -m agents.llm --prompt "..."', "make demo"):
        state, _, reason = walk_readme.plan(walk_readme.Command(text, 1))
        assert state == "unclassified" and "RULES" in reason


def test_rules_skip_drop_swap_and_append() -> None:
    rules = (
        walk_readme.Rule("gpu-box", "skip", "remote server"),
        walk_readme.Rule("--epochs-forever", "walk", "long", swap=("runs/a", "runs/b"), append="--max-steps 2"),
        walk_readme.Rule("setup && ", "walk", "no setup", drop="setup && "),
    )
    command = walk_readme.Command
    plan = walk_readme.plan
    assert plan(command(".venv/bin/python -m x --api-base http://gpu-box", 1), rules)[:1] == ("skip",)
    swapped = plan(command(".venv/bin/python -m x --data runs/a --out runs/ab --epochs-forever", 1), rules)[1]
    assert swapped == ".venv/bin/python -m x --data runs/b --out runs/ab --epochs-forever --max-steps 2"
    assert plan(command("setup && .venv/bin/python -m x", 1), rules)[1] == ".venv/bin/python -m x"


def test_every_readme_command_is_walked_or_skipped_with_a_reason(readme_commands: list) -> None:
    assert len(readme_commands) > 30  # the README's commands were found at all
    states = {}
    for command in readme_commands:
        state, line, reason = walk_readme.plan(command)
        assert state != "unclassified", f"README.md:{command.line}: {command.text} ({reason})"
        assert state == "walk" or reason.strip(), f"README.md:{command.line}: skipped without a reason"
        states.setdefault(state, []).append(line)
    assert states["walk"] and states["skip"] and states["serve"]


def test_no_rule_is_stale_and_every_rule_has_a_reason(readme_commands: list) -> None:
    assert all(rule.reason.strip() for rule in walk_readme.RULES)
    assert walk_readme.unused_rules(readme_commands) == []


def test_the_main_job_is_walked_and_the_install_is_not_rerun(readme_commands: list) -> None:
    state, line, _ = walk_readme.plan(readme_commands[0])
    assert state == "walk" and "synthesis.debate" in line and "install.sh" not in line
