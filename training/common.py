"""What SFT and DPO share: the command line (TRL's configs, read by protocols.cli), precision, LoRA, checkpoints,
the final model."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.backends.embedded import DEFAULT_MODEL
from synthesis.engine.run_card import CONFIG


# The longest sequence trained on when --max-length is not given: long thoughts run to several thousand tokens,
# and memory grows with length; longer examples are truncated and counted.
MAX_LENGTH_CAP = 16_384


CONFIG_HELP = ("--config FILE.yaml: settings from a YAML file, one `name: value` per flag (as in OUT/config.yaml); "
               "flags given as well override the file")


@dataclass(frozen=True, kw_only=True)
class ModelScriptConfig:
    """The model to train and how: all its weights or LoRA adapters, from scratch or resumed."""

    model: str = field(default=DEFAULT_MODEL, metadata={"help": "model to train: model string, Hugging Face id or folder"})
    lora: bool = field(default=False, metadata={"help": "train LoRA adapters instead of all weights"})
    lora_rank: int = field(default=16, metadata={"help": "LoRA rank (alpha is twice the rank)"})
    resume: bool = field(default=False, metadata={"help": "continue from the last checkpoint in --out"})


def parse_config(types: tuple[type, ...], argv: list[str] | None, prog: str, doc: str | None,
                 defaults: dict[str, Any], helps: dict[str, str], aliases: dict[str, str] | None = None) -> tuple:
    """The dataclasses `types` from flags and an optional `--config FILE.yaml`, read as every command reads them
    (protocols.cli: flags win over the file, the file over `defaults`, which replace the dataclasses' own). A name in
    several dataclasses (the seed) is one flag, whose value goes to the first of them: the caller passes it on."""
    from protocols.cli import command_parser, parse

    argv = list(sys.argv[1:] if argv is None else argv)
    for old, new in (aliases or {}).items():  # an old flag kept working under TRL's name
        argv = [new if token == old else new + token[len(old):] if token.startswith(old + "=") else token
                for token in argv]
    names = [f.name for t in types for f in dataclasses.fields(t) if f.init]
    if {name for name in names if names.count(name) > 1} - {"seed"}:
        raise TypeError(f"{prog}: fields in more than one config: {sorted({n for n in names if names.count(n) > 1})}")
    # "resolve": the shared seed's later flag replaces the earlier one, leaving one flag.
    parser = command_parser(prog.removeprefix("python -m "), types, doc, epilog=CONFIG_HELP,
                            conflict_handler="resolve")
    actions = {action.dest: action for action in parser._actions}
    for dest, text in helps.items():
        actions[dest].help = text
    unknown = sorted(set(defaults) - set(actions))
    if unknown:
        raise TypeError(f"{prog}: defaults for no flag: {unknown}")
    parser.set_defaults(**defaults)
    parsed = parse(parser, argv)
    for config in parsed:
        if hasattr(config, "to_dict"):
            clear_masked_tokens(config)
        if getattr(config, "save_steps", None) == 0:
            raise ValueError("--save-steps 0: for no checkpoints pass --save-strategy no (TRL's way)")
    return parsed


def trainer_defaults(**ours: Any) -> dict[str, Any]:
    """Where our defaults differ from TRL's, for both trainers: `ours` plus one log line per step, a checkpoint every
    50 steps, the device's precision and no trackers. Every one can be overridden by a flag or --config."""
    return {"logging_steps": 1, "save_steps": 50, "num_train_epochs": 1.0, **device_kwargs(),
            # None: sized from the data (sized_max_length), the longest example up to MAX_LENGTH_CAP.
            "max_length": None, **ours}


def write_config(out: Path, configs: tuple[Any, ...], leave_out: tuple[str, ...] = (),
                 recorded: dict[str, Any] | None = None) -> Path:
    """OUT/config.yaml: every setting the run used, flat, so `--config OUT/config.yaml` runs it again (`leave_out`:
    the settings derived from others; `recorded`: values to write instead of the configs', e.g. a length the run
    sized from its data, recorded as the unset it was given as)."""
    import yaml

    values: dict[str, Any] = {}
    for config in configs:
        values |= _unmasked(config) if hasattr(config, "to_dict") else dataclasses.asdict(config)
    for name in leave_out:
        values.pop(name, None)
    values |= recorded or {}
    out.mkdir(parents=True, exist_ok=True)
    path = out / CONFIG
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return path


# transformers' to_dict() writes every `*_token` setting as "<NAME>" to hide hub_token, pad_token and eos_token
# included: read back, "<PAD_TOKEN>" became the pad token and the run stopped ("not found in the vocabulary").
# These are vocabulary entries, not secrets; every other masked setting stays out of the file (a hub token never
# reaches disk).
VOCABULARY_TOKEN_SETTINGS = ("pad_token", "eos_token")


def _masked(name: str, value: Any) -> bool:
    return name.endswith("_token") and value == f"<{name.upper()}>"


def _unmasked(config: Any) -> dict[str, Any]:
    """A TRL config's to_dict() with the vocabulary tokens' real values and the masked secrets left out."""
    values = {}
    for name, value in config.to_dict().items():
        if not _masked(name, value):
            values[name] = value
        elif name in VOCABULARY_TOKEN_SETTINGS:
            values[name] = getattr(config, name)
    return values


def clear_masked_tokens(config: Any) -> None:
    """An OUT/config.yaml written before the fix holds "<PAD_TOKEN>" and "<HUB_TOKEN>": masks, not settings."""
    for name in list(vars(config)):
        if _masked(name, getattr(config, name)):
            setattr(config, name, None)


def conversation_lengths(conversations: list[list[dict]], tokenizer: Any) -> list[int]:
    """Tokens of each conversation with the chat template applied (what the trainer sees)."""
    lengths = []
    for messages in conversations:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        lengths.append(len(tokenizer(text, add_special_tokens=False)["input_ids"]))
    return lengths


def sized_max_length(lengths: list[int], requested: int | None, cap: int = MAX_LENGTH_CAP) -> tuple[int, int]:
    """(max_length to train with, examples longer than it): as requested, else the longest example up to `cap`.

    A fixed default (TRL's 1024, our old 2048) silently cut exactly the long thoughts journey learning is about.
    """
    max_length = requested or min(max(lengths, default=1), cap)
    return max_length, sum(length > max_length for length in lengths)


def cpu_bf16_support() -> tuple[bool, str]:
    """(whether this CPU computes bf16 natively, what says so). Without AVX512-BF16 or AMX, torch emulates bf16
    matmuls: measured here on a 2-core AVX2 CPU, a 1024x1024 matmul ran at 0.5 GFLOP/s in bf16 against 26 in fp32,
    and a SmolLM2-135M SFT step did not finish in 559 s in bf16 where fp32 trained at 10 tok/s (issue 25).

    The instruction-set flags, not a timed probe: a timing on a shared machine is noise, the flags are not."""
    import torch

    probes = {"avx512_bf16": getattr(torch.cpu, "_is_avx512_bf16_supported", None),
              "amx": getattr(torch.cpu, "_is_amx_tile_supported", None)}
    if all(probe is not None for probe in probes.values()):
        found = [name for name, probe in probes.items() if probe()]
        return bool(found), f"torch.cpu reports {', '.join(found) or 'neither avx512_bf16 nor amx'}"
    try:  # an older or non-x86 torch without the probes: the kernel's flags (x86: avx512_bf16 / amx_bf16, arm: bf16)
        flags = set(" ".join(line for line in open("/proc/cpuinfo") if line.startswith(("flags", "Features"))).split())
    except OSError:
        return False, "no way to tell (no torch.cpu probe, no /proc/cpuinfo)"
    found = sorted(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    return bool(found), f"/proc/cpuinfo lists {', '.join(found) or 'no bf16 flag'}"


def precision_default() -> tuple[dict[str, bool], str]:
    """(TRL's precision flags, why): bf16 mixed precision where the device computes bf16 natively, else fp32.
    `--bf16 true` / `--bf16 false` (TRL's own flag) override it."""
    import torch

    if torch.cuda.is_available():
        supported = torch.cuda.is_bf16_supported()
        why = f"GPU {torch.cuda.get_device_name()} {'supports' if supported else 'lacks'} bf16"
    else:
        supported, why = cpu_bf16_support()
        why = f"CPU {torch.backends.cpu.get_cpu_capability()}: {why}"
    return {"bf16": supported, "fp16": False}, why


def bf16_default() -> bool:
    """Whether training defaults to bf16 mixed precision on this machine (see precision_default)."""
    return precision_default()[0]["bf16"]


def precision_line(config: Any) -> str:
    """One log line: the precision this run trains in, and whether the machine chose it or a flag did."""
    name = "bf16" if config.bf16 else "fp16" if config.fp16 else "fp32"
    flags, why = precision_default()
    chosen = "fp32" if not flags["bf16"] else "bf16"
    source = "default" if name == chosen else f"set by flag (default here: {chosen})"
    return f"precision {name}, {source}; {why}; --bf16 true|false overrides"


def load_dtype(config: Any) -> Any:
    """The dtype to load weights in: fp32 when training in fp32 (a bf16 checkpoint would otherwise train in emulated
    bf16, the slow path); else the checkpoint's own ("auto"), which mixed precision's autocast works on."""
    import torch

    return "auto" if config.bf16 or config.fp16 else torch.float32


def device_kwargs() -> dict[str, Any]:
    import torch

    return {"use_cpu": not torch.cuda.is_available(), **precision_default()[0], "report_to": "none"}


def lora_config(rank: int) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear", task_type="CAUSAL_LM")


def last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(out)) if out.is_dir() else None


def process_state() -> Any:
    """Accelerate's view of this process: one of several under `accelerate launch`, else the only one.

    Under a multi-GPU launch every process runs the whole script; files that all of them need (the dataset, the
    DPO samples) are written by the main process while the others wait, and only the main process saves."""
    import torch
    from accelerate import PartialState

    # cpu=True lets several CPU processes (torchrun on a machine without GPUs) form one gloo group, as TRL's
    # use_cpu does; the state is shared, so both must agree.
    return PartialState(cpu=not torch.cuda.is_available())


def quiet_library_warnings() -> None:
    """Training commands print our lines, not pages of deprecation notices from transformers / TRL / torch internals
    (a DPO run printed dozens of FutureWarnings a step). Real errors still raise; `python -W default` shows them."""
    import warnings

    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(transformers|trl|torch|accelerate|peft)(\.|$)")


def name_base_model(card: Path, base_model: str) -> None:
    """TRL names the base model only when it is a Hub id; for a local folder (a phase-1 checkpoint, the embedded
    model's converted weights) its card read "a fine-tuned version of [None]". Name the model string we trained."""
    if card.is_file():
        text = card.read_text(encoding="utf-8")
        card.write_text(text.replace("[None](https://huggingface.co/None)", f"`{base_model}`"), encoding="utf-8")


def save_final(trainer: Any, tokenizer: Any, out: Path, lora: bool, base_model: str | None = None) -> Path:
    """A full model in OUT/final (LoRA merged), loadable as `hf/OUT/final`.

    Every process calls this: `trainer.save_model` gathers weights sharded by DeepSpeed ZeRO-3 or FSDP (a plain
    `save_pretrained` of one process's shard would write empty tensors), and only the main process writes."""
    final = out / "final"
    if not lora:
        trainer.save_model(str(final))
    else:
        adapter = out / "adapter"
        trainer.save_model(str(adapter))
        if trainer.accelerator.is_main_process:
            from peft import AutoPeftModelForCausalLM

            # Merge from the saved adapter, on whole weights, whatever the training sharded.
            AutoPeftModelForCausalLM.from_pretrained(adapter).merge_and_unload().save_pretrained(final)
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(final)
        if base_model:
            for card in (final / "README.md", out / "README.md"):
                name_base_model(card, base_model)
    trainer.accelerator.wait_for_everyone()
    return final
