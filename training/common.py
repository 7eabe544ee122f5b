"""What SFT and DPO share: precision, LoRA adapters, checkpoints and the saved final model."""

from __future__ import annotations

from pathlib import Path
from typing import Any


# The longest sequence trained on when --max-length is not given: long thoughts run to several thousand tokens,
# and memory grows with length; longer examples are truncated and counted.
MAX_LENGTH_CAP = 16_384


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


def bf16_default() -> bool:
    """TRL's default, bf16 mixed precision, also on CPU (measured faster here than fp32); old GPUs lack it."""
    import torch

    return torch.cuda.is_bf16_supported() if torch.cuda.is_available() else True


def device_kwargs() -> dict[str, Any]:
    import torch

    return {"use_cpu": not torch.cuda.is_available(), "bf16": bf16_default(), "report_to": "none"}


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


def save_final(trainer: Any, tokenizer: Any, out: Path, lora: bool) -> Path:
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
    trainer.accelerator.wait_for_everyone()
    return final
