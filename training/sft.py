"""Supervised fine-tuning with TRL: phase 1 on numbered reference solutions, phase 2 on journeys or shortcuts.

    python -m training.sft --model embedded/smollm2-135m --data runs/demo --target journey --out runs/sft-journey --max-steps 4
    python -m training.sft --data math_train_12k --target solution --out runs/sft-phase1 --num-train-epochs 1   # phase 1
    python -m training.sft --config runs/sft-phase1/config.yaml --out runs/sft-again    # a recipe file, flags on top

`--data` takes run directories (records.jsonl) for `journey` / `shortcut`, or a problem set name for `solution`.
The journey and shortcut datasets of the same runs cover exactly the same problems. Examples longer than
`--max-length` tokens (default: the longest example, up to 16384) are counted and reported (silent truncation is a
known trap). Every field of TRL's `SFTConfig` is a flag (`--help`); `--out` is its `--output-dir`. The final model is
saved as a full model in OUT/final (LoRA adapters merged), ready for `--model hf/OUT/final` anywhere in longthought;
OUT/config.yaml holds every setting used, for `--config`.
Multi-GPU: `accelerate launch --config_file training/configs/multi_gpu.yaml -m training.sft ...`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.backends import local_folder
from protocols.agreement import AgreementConfig, agreeing
from protocols.contamination import DecontaminationConfig, Item
from protocols.data_checks import check_counts, check_rows, describe
from protocols.dedup import DedupConfig
from protocols.problems import ProblemSetError, load
from synthesis.engine import console_for_errors, guarded
from synthesis.engine.run_card import SUMMARY
from training.common import (ModelScriptConfig, conversation_lengths, last_checkpoint, load_dtype, lora_config,
                             parse_config, precision_line, process_state, quiet_library_warnings, save_final,
                             sized_max_length, trainer_defaults, write_config)
from training.formats import (DatasetCard, load_records, load_train, paired_sft, records_oracle_roles, run_cards,
                              select_pairs, solution_rows, write_dataset)

log = logging.getLogger("longthought.sft")
TARGETS = ("journey", "shortcut", "solution")


@dataclass(frozen=True, kw_only=True)
class SFTScriptConfig(ModelScriptConfig, DecontaminationConfig, DedupConfig, AgreementConfig):
    """What to train on; how to train is TRL's `SFTConfig`."""

    data: str = field(metadata={"help": "run directories (comma-separated) for journey/shortcut, or a problem set for solution"})
    target: str = field(default="journey", metadata={"help": "journey | shortcut | solution"})
    limit: int | None = field(default=None, metadata={"help": "use only the first N examples"})
    pairs: int | None = field(default=None, metadata={
        "help": "journey/shortcut: N problems that have both a shortcut and a real journey, drawn with --seed; the "
                "same N for both targets (the report used 327)"})
    require_trial: bool = field(default=True, metadata={
        "help": "journey/shortcut: only problems whose long thought holds a real trial and error (a wrong step "
                "backtracked or reflected on; a tree search's narrated wrong branch); --no-require-trial keeps all"})

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target: expected one of {', '.join(TARGETS)}, got {self.target!r}")
        DecontaminationConfig.__post_init__(self)
        DedupConfig.__post_init__(self)


# Where ours differ from TRL's SFTConfig defaults (lr 2e-5, batch 8, 3 epochs, seed 42, max_length 1024, ...).
DEFAULTS = {"learning_rate": 1e-5, "per_device_train_batch_size": 4, "seed": 0, "output_dir": ""}
HELPS = {"output_dir": "output directory: checkpoints, dataset, final model, config.yaml (also --out)",
         "max_length": "tokens per example (default: the longest example, up to 16384); longer ones are truncated "
                       "and counted"}


def parse(argv: list[str] | None = None) -> tuple[SFTScriptConfig, Any]:
    """(SFTScriptConfig, SFTConfig) from flags and --config, with our defaults."""
    from trl import SFTConfig

    script, config = parse_config((SFTScriptConfig, SFTConfig), argv, "python -m training.sft", __doc__,
                                  trainer_defaults(**DEFAULTS), HELPS, aliases={"--out": "--output_dir"})
    if not config.output_dir:
        raise ValueError("--out is required (the output directory)")
    return script, config


def build_rows(args: SFTScriptConfig, seed: int = 0) -> tuple[list[dict], DatasetCard]:
    """The training rows for `--target` and the card that says where they came from."""
    if args.target == "solution":
        try:
            problems = load(args.data)
        except ProblemSetError as error:
            raise ValueError(str(error)) from None
        if args.require_agreement:
            raise ValueError("--require-agreement: journey/shortcut only (reference solutions have no checked answer)")
        kept, checks = check_rows([Item(p.id, p.question, p.meta.get("solution")) for p in problems], args, args,
                                  labels=[problem.answer for problem in problems])
        log.info("%s", describe(checks))
        rows = solution_rows([problems[index] for index in kept])
        card = DatasetCard(f"{args.data} solutions", "sft", [args.data], {}, {"problems": len(problems), **checks})
    else:
        run_dirs = [Path(part) for part in args.data.split(",") if part]
        records = load_records(run_dirs)
        # Checked before pairing, on the long thought and the shortcut together: the journey and shortcut datasets
        # of the same runs must keep exactly the same problems.
        kept, checks = check_rows([Item(r.problem_id, r.problem.question, "\n".join(filter(None, (
            r.long_thought, r.shortcut)))) for r in records], args, args,
            thoughts=[r.long_thought for r in records], labels=[r.problem.answer for r in records])
        log.info("%s", describe(checks))
        records = [records[index] for index in kept]
        if args.require_agreement:  # only journeys whose "correct" a second verifier confirms
            agreed, checks["agreement"] = agreeing([r.problem.answer for r in records], [r.final_answer for r in records])
            records = [records[index] for index in agreed]
        chosen, counts = select_pairs(records, require_trial=args.require_trial, pairs=args.pairs, seed=seed)
        journey, shortcut = paired_sft(chosen)
        rows = journey if args.target == "journey" else shortcut
        log.info("%d records: %d paired rows of %d problems (%d without a correct shortcut and long thought, %d "
                 "without a real trial), %d rows of %d problems selected", counts.records, counts.paired,
                 counts.paired_problems, counts.not_correct_or_incomplete, counts.without_real_trial, counts.selected,
                 counts.selected_problems)
        card = DatasetCard(f"{args.target} ({', '.join(map(str, run_dirs))})", "sft", [str(d) for d in run_dirs],
                           run_cards(run_dirs), {**asdict(counts), **checks},
                           oracle_roles=records_oracle_roles(chosen))
    rows = rows[: args.limit] if args.limit is not None else rows
    if not rows:
        raise ValueError(f"{args.data}: no usable examples for --target {args.target} "
                         "(journey/shortcut need records with a correct answer, a shortcut and a long thought"
                         + (" that holds a real trial and error; --no-require-trial keeps the others"
                            if args.target != "solution" and args.require_trial else "") + ")")
    return rows, card


def train(args: SFTScriptConfig, config: Any) -> dict[str, Any]:
    """Build the dataset, train with `config` (TRL's SFTConfig), save OUT/final, OUT/config.yaml and
    OUT/training_summary.json; returns the summary."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    out = Path(config.output_dir)
    state = process_state()
    rows, card = build_rows(args, seed=config.seed)
    if state.is_main_process:
        write_dataset(rows, out / "dataset", card)
    state.wait_for_everyone()
    model_path = local_folder(args.model)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    lengths = conversation_lengths([row["prompt"] + row["completion"] for row in rows], tokenizer)
    requested = config.max_length
    config.max_length, truncated = sized_max_length(lengths, requested)
    longest = max(lengths)
    log.info("max_length %d tokens (%s; longest example %d): %d of %d examples truncated", config.max_length,
             "--max-length" if requested else "sized from the data", longest, truncated, len(rows))
    resume_from = config.resume_from_checkpoint or (last_checkpoint(out) if args.resume else None)
    if args.resume and resume_from is None:
        log.warning("--resume: no checkpoint in %s, starting from scratch", out)
    if state.is_main_process:
        # Sized from this data: recorded as unset (null), so `--config OUT/config.yaml --data OTHER` sizes from OTHER
        # (training_summary.json says what it came to).
        write_config(out, (args, config), recorded={"max_length": requested})
    peft_config = lora_config(args.lora_rank) if args.lora else None
    log.info(precision_line(config))
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=load_dtype(config))
    trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer, peft_config=peft_config,
                         train_dataset=load_train(out / "dataset"))
    started = time.perf_counter()
    # resume_from_checkpoint must go to train(): the config field alone does nothing.
    result = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - started
    final = save_final(trainer, tokenizer, out, args.lora, base_model=args.model)
    tokens = max((float(entry["num_tokens"]) for entry in trainer.state.log_history if "num_tokens" in entry), default=None)
    summary = {
        "target": args.target, "model": args.model, "examples": len(rows), "truncated": truncated,
        "longest_tokens": longest, "max_length": config.max_length, "global_step": trainer.state.global_step,
        "resumed_from": resume_from, "train_loss": result.training_loss, "train_seconds": round(seconds, 2),
        "tokens_seen": tokens, "tokens_per_second": round(tokens / seconds, 1) if tokens else None,
        "final_model": str(final), "processes": state.num_processes, "data_checks": check_counts(card.stats),
        "precision": "bf16" if config.bf16 else "fp16" if config.fp16 else "fp32",
    }
    if state.is_main_process:
        (out / SUMMARY).write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("longthought").setLevel(logging.INFO)
    quiet_library_warnings()
    console = console_for_errors()

    def body() -> int:
        summary = train(*parse(argv))
        if process_state().is_main_process:
            console.print(json.dumps(summary, indent=2), markup=False, highlight=False)
        return 0

    return guarded(body, console, saved="checkpoints so far are in --out (add --resume)")

if __name__ == "__main__":
    sys.exit(main())

