"""DPO as in the report: sample N solutions per problem, split them by answer correctness, train on pairs.

    python -m training.dpo --model embedded/smollm2-135m --problems examples/problems/arithmetic.jsonl \\
        --samples 8 --pairs 2 --max-steps 2 --out runs/dpo

1. Sampling (a resumable run in OUT/samples): `--samples` per problem through litellm (default sampler: the model
   itself, on-policy: `embedded/...` through its server, anything else as `hf/MODEL`), temperature 0.7, top_p 0.95.
2. Pairs: up to `--pairs` per problem, positives and negatives drawn at random; problems with no positive or no
   negative sample are counted and skipped (`--gold-fallback` uses the reference solution as the positive).
3. TRL's DPOTrainer on OUT/dataset; the final model goes to OUT/final, ready for `--model hf/OUT/final`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents import embedded
from agents.llm import LLMClient
from agents.local_models import resolve
from agents.roles import client_for
from agents.sampling import sample_and_judge
from synthesis.engine import Plan, RunConfig, RunError, Task, console_for_errors, guarded, plan, read_rows
from training.common import (conversation_lengths, device_kwargs, last_checkpoint, lora_config, process_state, save_final,
                             sized_max_length)
from training.formats import DatasetCard, dpo_row, write_dataset
from training.sample import PairStats, SampleSet, SamplingConfig, make_pairs

log = logging.getLogger("longthought.dpo")


@dataclass(frozen=True)
class DPOArgs:
    """The model to train and the DPO settings."""

    model: str = field(default=embedded.DEFAULT_MODEL, metadata={"help": "model to train (model string, HF id or folder)"})
    pairs: int = field(default=5, metadata={"help": "preference pairs per problem"})
    gold_fallback: bool = field(default=False, metadata={"help": "use the reference solution when no sample is correct"})
    beta: float = field(default=0.1, metadata={"help": "DPO beta"})
    epochs: float = field(default=1.0, metadata={"help": "training epochs"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many optimizer steps (-1: use --epochs)"})
    batch_size: int = field(default=2, metadata={"help": "pairs per device per step"})
    learning_rate: float = field(default=5e-7, metadata={"help": "peak learning rate"})
    max_length: int | None = field(default=None, metadata={
        "help": "tokens per prompt + response (default: the longest pair, up to 16384); longer ones are truncated "
                "and counted"})
    lora: bool = field(default=False, metadata={"help": "train LoRA adapters instead of all weights"})
    save_steps: int = field(default=50, metadata={"help": "save a checkpoint every N steps (0: none)"})
    resume: bool = field(default=False, metadata={"help": "continue training from the last checkpoint in --out"})
    sample_only: bool = field(default=False, metadata={
        "help": "sample and write the pairs, then stop (sample on a server or Ray first, then accelerate launch)"})


def make_clients(sampling: SamplingConfig, llm_kwargs: dict) -> dict[str, LLMClient]:
    return {"sampler": client_for(sampling, "sampler_", llm_kwargs)}


def make_solver(sampling: SamplingConfig, clients: dict[str, LLMClient], seed: int):
    return lambda problem: sample_and_judge(
        problem, clients["sampler"], n=sampling.samples, temperature=sampling.temperature, top_p=sampling.top_p,
        max_tokens=sampling.sample_max_tokens, seed=seed, role="sampler")


TASK = Task("dpo_samples", SamplingConfig, make_clients, make_solver)


def default_sampler(model: str) -> str:
    return model if embedded.is_embedded(model) or model.startswith("hf/") else f"hf/{model}"


def train_dpo(args: DPOArgs, rows_file: Path, out: Path) -> dict[str, Any]:
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    model_path = resolve(args.model)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    rows = [json.loads(line) for line in rows_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    lengths = conversation_lengths([row["prompt"] + row[side] for row in rows for side in ("chosen", "rejected")],
                                   tokenizer)
    max_length, truncated = sized_max_length(lengths, args.max_length)
    config = DPOConfig(
        output_dir=str(out), beta=args.beta, num_train_epochs=args.epochs, max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size, learning_rate=args.learning_rate, max_length=max_length,
        save_steps=max(args.save_steps, 1), save_strategy="steps" if args.save_steps > 0 else "no",
        logging_steps=1, **device_kwargs(),
    )
    peft_config = lora_config(16) if args.lora else None
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_path), args=config, processing_class=tokenizer,
                         train_dataset=datasets.load_dataset("json", data_files=str(rows_file), split="train"),
                         peft_config=peft_config)
    resume_from = last_checkpoint(out) if args.resume else None
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from)
    final = save_final(trainer, tokenizer, out, args.lora)
    return {"global_step": trainer.state.global_step, "train_loss": result.training_loss,
            "train_seconds": round(time.perf_counter() - started, 2), "resumed_from": resume_from,
            "final_model": str(final), "max_length": max_length, "truncated_responses": truncated,
            "longest_tokens": max(lengths, default=0)}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("longthought").setLevel(logging.INFO)
    console = console_for_errors()
    return guarded(lambda: _dpo(argv, console), console, saved="samples so far are saved")


def _dpo(argv: list[str] | None, console) -> int:
    from transformers import HfArgumentParser

    parser = HfArgumentParser((RunConfig, SamplingConfig, DPOArgs), description=__doc__)
    run_config, sampling, args = parser.parse_args_into_dataclasses(args=argv)
    if not run_config.out:
        raise ValueError("--out is required")
    out = Path(run_config.out)
    if "--sampler_model" not in (argv or sys.argv) and "--sampler-model" not in (argv or sys.argv):
        sampling = dataclasses.replace(sampling, sampler_model=default_sampler(args.model))
    sampling_run = plan(TASK, dataclasses.replace(run_config, out=str(out / "samples")), sampling)
    if run_config.dry_run:
        sampling_run.execute_sync(console)
        return 0
    state = process_state()
    rows_file = out / "dataset" / "data.jsonl"
    if state.num_processes > 1 and sampling_run.has_work():
        # Every process checks, so all stop together: sampling behind a barrier would idle the GPUs and time out.
        raise RunError(f"{out / 'samples'}: some problems have no samples yet; under a multi-process launch, "
                       "sample first in one process (the same command with --sample-only), then launch")
    if state.is_main_process:  # under accelerate launch the other processes wait for the pairs, then all train
        stats = _sample_and_pair(sampling_run, run_config, sampling, args, console)
    state.wait_for_everyone()
    if args.sample_only:
        return 0
    result = train_dpo(args, rows_file, out)
    if state.is_main_process:
        result |= {"pairs": dataclasses.asdict(stats)}
        (out / "training_summary.json").write_text(json.dumps(result, indent=2))
        console.print(json.dumps(result, indent=2), markup=False, highlight=False)
    return 0


def _sample_and_pair(sampling_run: Plan, run_config: RunConfig, sampling: SamplingConfig, args: DPOArgs,
                     console) -> PairStats:
    """Sample (a resumable run in OUT/samples), pick the pairs and write OUT/dataset."""
    out = Path(run_config.out)
    summary = sampling_run.execute_sync()
    sets = list(read_rows(out / "samples", SampleSet))
    pairs, stats = make_pairs(sets, args.pairs, seed=run_config.seed, gold_fallback=args.gold_fallback)
    console.print(f"sampling: {summary.done} new, {summary.skipped} resumed, {summary.failed} failed; pairs: "
                  f"{stats.pairs} from {stats.with_pairs}/{stats.problems} problems (skipped: "
                  f"{stats.no_positive} with no correct sample, {stats.no_negative} with no wrong one; "
                  f"{stats.truncated_excluded} samples cut at --sample-max-tokens left out)")
    if not pairs:
        raise ValueError("no preference pairs: every problem lacked a correct or a wrong sample "
                         "(try more --samples, easier problems, or --gold-fallback)")
    write_dataset(
        [dpo_row(problem, chosen, rejected) for problem, chosen, rejected in pairs], out / "dataset",
        DatasetCard(f"DPO pairs ({run_config.problems})", "dpo", [str(out / "samples")],
                    {"sampling": dataclasses.asdict(sampling)}, dataclasses.asdict(stats)),
    )
    return stats

if __name__ == "__main__":
    sys.exit(main())

