"""Run the construction attempts on the same problems, into one parent directory, for the ablation report.

    python -m synthesis.ablate --problems math500 --limit 1 --out runs/ablation
    python -m synthesis.ablate --config recipes/journey-learning/2-ablation.yaml --limit 3 --dry-run
    python -m eval.report runs/ablation --out runs/ablation/report

The problems, the models and the run settings are shared; each attempt's own settings are its own config's, in a
section named after it (`tree_search:`, `critique_loop:`, `debate:`, `human_annotation:` in a --config file, keys
as in `python -m synthesis.<attempt> --help`), or one at a time as `--<attempt>.<setting> VALUE`:

    python -m synthesis.ablate --problems math500 --limit 3 --policy-model oracle/reference-e30 \
        --critic-model oracle/reference --scorer-model oracle/reference --rewrite-model oracle/reference \
        --tree_search.scorer llm-judge --debate.max_turns 12 --out runs/ablation-oracle

`--model` / `--api-base` set every role; a role's own flags (`--policy-model`, `--critic-model`, `--scorer-model`,
`--rewrite-model`, `--expander-model`) override them, and its server defaults to `--api-base` only while its model
is `--model`'s. Each attempt writes its own resumable run in OUT/<attempt>/; OUT/ablation.json lists the attempts,
their configs, what each finished and its exit code. Human annotation expands the annotations in `--annotations`
whose problem ids are among the selected problems.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

from agents.calls.client import DEFAULT_MODEL
from agents.calls.model_role import DEFAULT_TIMEOUT
from protocols.cli import apply_settings, command_parser, parse
from synthesis.ablation import ATTEMPT_ROLES, ROLE_FIELDS, ROLES, SCALE, attempt_flags, run_ablation
from synthesis.engine import ATTEMPTS, RunConfig, console_for_errors, get_task, guarded

ANNOTATIONS = Path(__file__).resolve().parents[1] / "examples" / "annotations"
# One section per attempt: a field added to an attempt's config is a key here with no edit to this module.
Sections = make_dataclass("Sections", [(attempt, dict | str | None, field(default=None, metadata={
    "help": f"{attempt}'s own settings, keys as in its command's --help (--{attempt}.SETTING VALUE sets one)"}))
    for attempt in ATTEMPTS] + [(f"{prefix}{name}", float | None if name == "timeout" else str | None, field(
        default=None, metadata={"help": text.format(what)})) for prefix, what in ROLES.items()
    for name, text in ROLE_FIELDS.items()], frozen=True, kw_only=True)


@dataclass(frozen=True, kw_only=True)
class AblateConfig(Sections, RunConfig):
    """Which problems and attempts, every role's model, the shared run settings, and each attempt's own."""

    problems: str = field(metadata={"help": "problem set name (math500, ...) or a .jsonl path"})
    out: Path = field(metadata={"help": "parent run directory: one run per attempt in OUT/<attempt>"})
    limit: int | None = field(default=None, metadata={"help": "use only the first N problems (after --ids)"})
    ids: list[str] | None = field(default=None, metadata={"help": "only these problem ids (before --limit)"})
    shuffle: bool = field(default=False, metadata={"help": "shuffle the problems with --seed before --limit"})
    attempts: str = field(default=",".join(ATTEMPTS), metadata={"help": "comma-separated subset of attempts"})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "litellm model string for every role"})
    api_base: str | None = field(default=None, metadata={"help": "OpenAI-compatible server of --model"})
    api_key_env: str | None = field(default=None, metadata={
        "help": "environment variable with --model's API key (the name is recorded, never the key)"})
    timeout: float = field(default=DEFAULT_TIMEOUT, metadata={"help": "seconds before one model call is abandoned"})
    annotations: Path = field(default=ANNOTATIONS, metadata={"help": "annotation folder of human annotation"})

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = [attempt for attempt in self.selected() if attempt not in ATTEMPTS]
        if unknown:
            raise ValueError(f"attempts: unknown attempt(s) {', '.join(unknown)}: use {', '.join(ATTEMPTS)}")

    def selected(self) -> list[str]:
        return [attempt for attempt in self.attempts.split(",") if attempt]

    def role(self, prefix: str) -> tuple[str, str | None, str | None, float]:
        """(model, api base, key variable, timeout) of one role: its own flags, else --model and (for --model only)
        --api-base and --api-key-env; the timeout falls back to --timeout."""
        model = getattr(self, f"{prefix}model")
        base = getattr(self, f"{prefix}api_base") or None  # an empty flag unsets a --config file's server
        key = getattr(self, f"{prefix}api_key_env") or None
        timeout = getattr(self, f"{prefix}timeout") or self.timeout
        if model is None:
            return self.model, self.api_base if base is None else base, self.api_key_env if key is None else key, timeout
        return model, base, key, timeout

    def models(self) -> dict[str, str]:
        """Each role's model, for ablation.json."""
        return {prefix.rstrip("_"): self.role(prefix)[0] for prefix in ROLES}


def attempt_configs(config: AblateConfig, flags: dict[str, list[str]] | None = None) -> dict[str, tuple[RunConfig, Any]]:
    """Each selected attempt's RunConfig and its own config: the ablation's scale, the shared models, then its section
    and its `--<attempt>.<setting>` flags, read by its own parser (so checked as its command checks them)."""
    import yaml

    # Every attempt reads the same frozen selection, written once into the ablation directory.
    shared = {name: getattr(config, name) for name in RunConfig.__dataclass_fields__} | {"limit": None, "shuffle": False}
    plan = {}
    for attempt in config.selected():
        task, section = get_task(attempt), getattr(config, attempt) or {}
        roles = {f"{theirs}{name}": value for theirs, ours in ATTEMPT_ROLES[attempt]
                 for name, value in zip(ROLE_FIELDS, config.role(ours), strict=True)}
        parser = command_parser(f"synthesis.ablate --{attempt}.", (task.config_type,))
        apply_settings(parser, {**SCALE.get(attempt, {}), **roles}, attempt)
        apply_settings(parser, yaml.safe_load(section) if isinstance(section, str) else section, attempt)
        (own,) = parse(parser, (flags or {}).get(attempt, []))
        problems = str(config.annotations if attempt == "human_annotation" else config.out / "problems.jsonl")
        plan[attempt] = (RunConfig(**shared | {"problems": problems, "out": str(config.out / attempt)}), own)
    return plan


def main(argv: list[str] | None = None) -> int:
    console = console_for_errors()

    def body() -> int:
        rest, flags = attempt_flags(list(sys.argv[1:] if argv is None else argv))
        (config,) = parse(command_parser("synthesis.ablate", (AblateConfig,), __doc__), rest)
        return run_ablation(config, attempt_configs(config, flags), console)  # a bad config fails before spending

    return guarded(body, console)


if __name__ == "__main__":
    sys.exit(main())
