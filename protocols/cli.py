"""The one command-line style: flags from frozen config dataclasses (TRL's HfArgumentParser), and a `--help` that
shows every default and the `python -m` name that runs the command.

It lives in the lowest package because every layer has commands (`python -m protocols.problems`, `agents.llm`, the
run commands, eval); transformers is imported only when a command parses its flags.
"""

from __future__ import annotations

import argparse
import sys
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

    return HfArgumentParser(configs, prog=f"python -m {module}", description=doc, formatter_class=HelpFormatter)


def parse(parser: Any, argv: list[str] | None) -> tuple[Any, ...]:
    """One instance of each config dataclass, then (when the parser has positionals) a namespace of them; an unknown
    flag is a usage error (exit 2), as with argparse."""
    refuse_renamed_flags(sys.argv[1:] if argv is None else list(argv), set(parser._option_string_actions))
    *parsed, unknown = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return tuple(parsed)


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
