"""The one command-line style: flags from frozen config dataclasses (TRL's HfArgumentParser), and a `--help` that
shows every default and the `python -m` name that runs the command.

It lives in the lowest package because every layer has commands (`python -m protocols.problems`, `agents.llm`, the
run commands, eval); transformers is imported only when a command parses its flags.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written (its commands stay pasteable), and each flag's default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or "default" in (action.help or ""):  # none, or the help says what it means
            return action.help
        return super()._get_help_string(action)


def command_parser(module: str, configs: tuple[type, ...], doc: str | None = None) -> Any:
    """An HfArgumentParser over the config dataclasses for `python -m <module>`; add positionals with add_argument."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(configs, prog=f"python -m {module}", description=doc, formatter_class=HelpFormatter)
    parser.add_argument("--config", metavar="FILE.yaml", default=None,
                        help="settings from a YAML file (keys are the flags' names); flags given here override it")
    return parser


def parse(parser: Any, argv: list[str] | None) -> tuple[Any, ...]:
    """One instance of each config dataclass, then (when the parser has positionals) a namespace of them; an unknown
    flag is a usage error (exit 2), as with argparse. `--config FILE.yaml` supplies defaults that flags override."""
    argv = list(sys.argv[1:] if argv is None else argv)
    refuse_renamed_flags(argv, set(parser._option_string_actions))
    argv = _apply_config_file(parser, argv)
    *parsed, unknown = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    # The namespace of positionals comes last; with only --config in it (no positionals), there is none.
    return tuple(item for item in map(_without_config, parsed)
                 if not (isinstance(item, argparse.Namespace) and not vars(item)))


def _apply_config_file(parser: Any, argv: list[str]) -> list[str]:
    """argv without `--config FILE`, whose settings became the parser's defaults (so a flag still wins)."""
    for position, arg in enumerate(argv):
        if arg == "--config" and position + 1 < len(argv):
            path, rest = argv[position + 1], argv[:position] + argv[position + 2:]
        elif arg.startswith("--config="):
            path, rest = arg.split("=", 1)[1], argv[:position] + argv[position + 1:]
        else:
            continue
        import yaml

        try:
            settings = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"--config {path}: {' '.join(str(error).split())}") from None
        if not isinstance(settings, dict):
            raise ValueError(f"--config {path}: expected a mapping of setting: value, got {type(settings).__name__}")
        actions = {action.dest: action for action in parser._actions}
        for key in list(settings):
            dest = str(key).replace("-", "_")
            if dest not in actions or dest in ("help", "config"):
                raise ValueError(f"--config {path}: unknown setting {key!r} for {parser.prog}")
            actions[dest].required = False  # the file gives it; argparse would still demand the flag
            settings[dest] = settings.pop(key)
        parser.set_defaults(**settings)
        return rest
    return argv


def _without_config(item: Any) -> Any:
    """The positionals' namespace minus `config` (it is not a setting of any dataclass)."""
    if isinstance(item, argparse.Namespace) and hasattr(item, "config"):
        del item.config
    return item


# Flags renamed so that one name has one meaning: the old spelling is refused with the new one, never reinterpreted.
RENAMED_FLAGS = {
    "--max-cost": "--budget-cost (the run's budget in USD)",
    "--max-tokens": "--budget-tokens for the run's token budget, or --<role>-max-tokens for one reply's cap "
                    "(--expansion-max-tokens in annotate expand)",
    "--timeout": "--<role>-timeout (--policy-timeout, --critic-timeout, ...; --timeout for one-model commands)",
}


def refuse_renamed_flags(argv: list[str], known: set[str]) -> None:
    """One line naming the new flag when argv uses a renamed one this command does not (still) take."""
    for arg in argv:
        flag = arg.split("=", 1)[0].replace("_", "-")
        if flag in RENAMED_FLAGS and flag not in known:
            raise ValueError(f"{flag} was renamed: use {RENAMED_FLAGS[flag]}")
