"""The one command-line style: flags from config dataclasses (transformers' HfArgumentParser), a `--help` that
shows every default and the `python -m` name that runs the command, and the one `--config FILE.yaml` reader of every
command, run and training alike (TrlParser's semantics: keys are flags' names, flags override, an unknown key is
one line).

It lives in the lowest package because every layer has commands (`python -m protocols.problems`, `agents.llm`, the
run commands, eval); transformers is imported only when a command parses its flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path
from typing import Any


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written (its commands stay pasteable), and each flag's default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or "default" in (action.help or ""):  # none, or the help says what it means
            return action.help
        return super()._get_help_string(action)


class _Namespace(argparse.Namespace):
    """Lets a flag fill a field that two dataclasses share (training's seed): HfArgumentParser deletes each field
    once the first dataclass has read it."""

    def __delattr__(self, name: str) -> None:
        self.__dict__.pop(name, None)


def command_parser(module: str, configs: tuple[type, ...], doc: str | None = None, **kwargs: Any) -> Any:
    """An HfArgumentParser over the config dataclasses for `python -m <module>`; add positionals with add_argument.
    `kwargs` go to argparse (training passes an epilog and resolves the seed that two of its dataclasses share)."""
    from transformers import HfArgumentParser

    class Parser(HfArgumentParser):
        def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
            return super().parse_known_args(args, namespace if namespace is not None else _Namespace())

    parser = Parser(configs, prog=f"python -m {module}", description=doc, formatter_class=HelpFormatter, **kwargs)
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
    for item in parsed:
        _refuse_non_finite(item)
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
        apply_settings(parser, run_settings(settings), f"--config {path}")
        return rest
    return argv


def run_settings(settings: Any) -> Any:
    """A run's own OUT/config.yaml nests its settings (`attempt: NAME`, then `run:` and `NAME:` sections, as
    synthesis.engine writes them): read as the one mapping of flags they are, so `--config OUT/config.yaml` repeats
    the run. Anything else is returned as it is."""
    if not (isinstance(settings, dict) and isinstance(settings.get("attempt"), str)
            and isinstance(settings.get("run"), dict)):
        return settings
    attempt = settings["attempt"]
    section = settings.get(attempt, {})
    # router_models: what the router served when the run was written, checked on resume; no flag sets it.
    if not isinstance(section, dict) or set(settings) - {"attempt", "run", attempt, "router_models"}:
        return settings
    return {**settings["run"], **section}


def apply_settings(parser: Any, settings: Any, where: str) -> None:
    """A mapping of setting: value (a --config file's, or a section of one) as the parser's defaults, each checked
    as its flag would be; a key that is no flag of the parser is one line naming it."""
    if not isinstance(settings, dict):
        raise ValueError(f"{where}: expected a mapping of setting: value, got {type(settings).__name__}")
    actions: dict[str, argparse.Action] = {}
    for action in parser._actions:  # the flag itself, not its `--no_<name>` complement (same dest, no type)
        actions.setdefault(action.dest, action)
    values = {}
    for key, value in settings.items():
        dest = str(key).replace("-", "_")
        if dest not in actions or dest in ("help", "config"):
            refuse_renamed(str(key), set(parser._option_string_actions), f"{where}: ")
            raise ValueError(f"{where}: unknown setting {key!r} for {parser.prog}")
        actions[dest].required = False  # the file gives it; argparse would still demand the flag
        # A field typed `dict | str` or `str | list[str]` (TRL's model_init_kwargs, report_to) takes a mapping or
        # a list from a file as it is, as TRL does; argparse could only give it a string.
        # A field typed `... | None` (TRL's pad_to_multiple_of: "auto" by default, None once resolved, as a run's
        # saved config.yaml writes it) takes a null from a file as unset.
        admitted = _containers(parser).get(dest, ())
        keep = type(value) in admitted and (value is None or actions[dest].nargs not in ("+", "*"))
        values[dest] = value if keep else _setting(actions[dest], value, f"{where}: {key}")
    parser.set_defaults(**values)


def _setting(action: argparse.Action, value: Any, where: str) -> Any:
    """A file's value as the flag would have parsed it: argparse checks types only on the command line, and a
    YAML list, mapping or 3.7 where an int belongs would otherwise reach the dataclass (or a traceback) as is."""
    if value is None and action.default is None:
        return None  # an optional setting left unset
    if action.nargs in ("+", "*"):
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a list ({_kind(action)} each), got {_shown(value)}")
        return [_scalar(action, item, f"{where}[{index}]") for index, item in enumerate(value)]
    return _scalar(action, value, where)


def _scalar(action: argparse.Action, value: Any, where: str) -> Any:
    kind = action.type
    expected = f"expected {_kind(action)}"
    if isinstance(value, (list, dict)) or value is None:
        raise ValueError(f"{where}: {expected}, got {_shown(value)}")
    if kind is int:
        try:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ValueError
            return int(value)  # "3.7" and 3.7 are refused, never rounded
        except ValueError:
            raise ValueError(f"{where}: {expected}, got {_shown(value)}") from None
    if kind is float:
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(f"{where}: {expected}, got {_shown(value)}")
        return number
    if kind is None:
        return value
    if kind is str:
        if isinstance(value, bool):
            raise ValueError(f"{where}: {expected}, got {_shown(value)}")
        return str(value)
    try:  # bool (TRL's string_to_bool takes a bool as is), Literal/Enum choices, Path, ...
        converted = kind(value if isinstance(value, bool) else str(value))
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        raise ValueError(f"{where}: {expected}, got {_shown(value)}") from None
    if action.choices is not None and converted not in action.choices:
        raise ValueError(f"{where}: {expected}, got {_shown(value)}")
    return converted


def _containers(parser: Any) -> dict[str, set[type]]:
    """Which of dict, list and None each field of the parser's dataclasses admits by its declared type."""
    import typing

    found: dict[str, set[type]] = {}
    for dtype in getattr(parser, "dataclass_types", ()):
        try:
            hints = typing.get_type_hints(dtype)
        except Exception:  # noqa: BLE001 - an unresolvable annotation: its fields take no container as is
            continue
        for name, hint in hints.items():
            for kind in (hint, *typing.get_args(hint)):
                origin = typing.get_origin(kind) or kind
                if origin in (dict, list, type(None)):
                    found.setdefault(name, set()).add(origin)
    return found


def _kind(action: argparse.Action) -> str:
    if action.choices is not None:
        return "one of " + ", ".join(map(str, action.choices))
    names = {int: "an integer", float: "a finite number", str: "a string", None: "a value"}
    if action.type in names:
        return names[action.type]
    return "true or false" if getattr(action.type, "__name__", "") == "string_to_bool" else f"a {action.type.__name__}"


def _shown(value: Any) -> str:
    described = {list: "a list", dict: "a mapping", type(None): "nothing (null)"}.get(type(value))
    return described or repr(value)


def _refuse_non_finite(item: Any) -> None:
    """NaN compares false with everything, so a `< 0` check lets it through and it spreads (a NaN temperature
    made every resume refuse "nan -> nan"); inf is no setting either. One line naming the field."""
    if not dataclasses.is_dataclass(item):
        return
    for spec in dataclasses.fields(item):
        value = getattr(item, spec.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{spec.name}: expected a finite number, got {value}")


def _without_config(item: Any) -> Any:
    """The positionals' namespace minus `config` (it is not a setting of any dataclass)."""
    if isinstance(item, argparse.Namespace) and hasattr(item, "config"):
        del item.config
    return item


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# Flags renamed so that one name has one meaning: the old spelling is refused with the new one, never reinterpreted.
RENAMED_FLAGS = {
    "--max-cost": "--budget-cost (the run's budget in USD)",
    "--max-tokens": "--budget-tokens for the run's token budget, or --<role>-max-tokens for one reply's cap "
                    "(--expander-max-tokens in annotate expand)",
    "--timeout": "--<role>-timeout (--policy-timeout, --critic-timeout, ...; --timeout for one-model commands)",
}
# Settings renamed so that one setting has one name: every per-role setting is <role>_<setting> (a per-reply cap,
# a sampling temperature), and training takes TRL's own names. An old name may have a new one per command that had
# it (tree search's policy temperature, DPO's sampler temperature). Refused as a flag and as a --config key by a
# command that takes one of the new names; a run recorded under the old name still resumes.
RENAMED_SETTINGS: dict[str, tuple[str, ...]] = {
    "step_max_tokens": ("policy_max_tokens",), "max_step_tokens": ("policy_max_tokens",),
    "sample_max_tokens": ("sampler_max_tokens",), "expansion_max_tokens": ("expander_max_tokens",),
    "temperature": ("policy_temperature", "sampler_temperature"), "top_p": ("sampler_top_p",),
    "epochs": ("num_train_epochs",), "batch_size": ("per_device_train_batch_size",),
    "grad_accum": ("gradient_accumulation_steps",),
}
_RENAMED_SETTING_FLAGS = {_flag(old): tuple(map(_flag, new)) for old, new in RENAMED_SETTINGS.items()}


def refuse_renamed_flags(argv: list[str], known: set[str]) -> None:
    """One line naming the new flag when argv uses a renamed one this command does not (still) take."""
    for arg in argv:
        if arg.startswith("--"):
            refuse_renamed(arg.split("=", 1)[0], known)


def refuse_renamed(flag: str, known: set[str], where: str = "") -> None:
    """One line naming the new flag of a renamed flag (or --config key) this command does not take; nothing for a
    flag this command still takes under its old name (eval.accuracy's one model keeps --temperature), nor for a
    setting renamed to flags that belong only to other commands (argparse's own error is the truer one there)."""
    flag = _flag(flag.lstrip("-"))
    if flag in known:
        return
    if flag in RENAMED_FLAGS:
        raise ValueError(f"{where}{flag} was renamed: use {RENAMED_FLAGS[flag]}")
    new = [name for name in _RENAMED_SETTING_FLAGS.get(flag, ()) if name in known]
    if new:
        raise ValueError(f"{where}{flag} was renamed: use {' or '.join(new)}")


def current_name(recorded: str, current: dict[str, Any]) -> str:
    """The name a setting recorded in a run's config has in `current` (a section of this run's settings): its own,
    or, for a run recorded before the setting was renamed, the new name `current` has."""
    if recorded in current:
        return recorded
    return next((new for new in RENAMED_SETTINGS.get(recorded, ()) if new in current), recorded)
