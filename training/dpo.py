"""DPO as in the report: sample N solutions per problem, split them by answer correctness, train on pairs.

    python -m training.dpo --model embedded/smollm2-135m --problems examples/problems/arithmetic.jsonl \\
        --samples 8 --pairs 2 --max-steps 2 --out runs/dpo
    python -m training.dpo --config runs/dpo/config.yaml --beta 0.2 --out runs/dpo-beta    # a recipe file, flags on top

1. Sampling (a resumable run in OUT/samples): `--samples` per problem through litellm (default sampler: the model
   itself, on-policy: `embedded/...` through its server, anything else as `hf/MODEL`), `--sampler-temperature` 0.7,
   `--sampler-top-p` 0.95.
2. Pairs: up to `--pairs` per problem, positives and negatives drawn at random; problems with no positive or no
   negative sample are counted and skipped (`--gold-fallback` uses the reference solution as the positive).
3. TRL's DPOTrainer on OUT/dataset; every field of TRL's `DPOConfig` is a flag (`--help`), trained in `--out`;
   `--max-length` defaults to the longest pair (up to 16384). The final model goes to OUT/final, ready for
   `--model hf/OUT/final`; OUT/config.yaml holds every setting used, for `--config`. `--seed` orders the problems
   and seeds sampling, pairing and training.
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

from agents.backends import local_folder, serving_string
from agents.calls.client import LLMClient
from agents.calls.model_role import client_for
from agents.roles.sampling import sample_and_judge
from protocols.agreement import AgreementConfig, agreeing_samples
from protocols.contamination import Item
from protocols.data_checks import check_counts, check_rows, describe
from protocols.dedup import DedupConfig
from synthesis.engine import Plan, RunConfig, RunError, Task, console_for_errors, guarded, plan, read_rows
from synthesis.engine.run_card import SUMMARY
from training.common import (ModelScriptConfig, conversation_lengths, last_checkpoint, load_dtype, lora_config,
                             parse_config, precision_line, process_state, quiet_library_warnings, save_final,
                             sized_max_length, trainer_defaults, write_config)
from training.formats import DatasetCard, dpo_row, load_train, run_cards, write_dataset
from training.sample import PairStats, SampleSet, SamplingConfig, make_pairs

log = logging.getLogger("longthought.dpo")


@dataclass(frozen=True, kw_only=True)
class DPOScriptConfig(ModelScriptConfig, DedupConfig, AgreementConfig):
    """Which pairs to train on; how to train is TRL's `DPOConfig`, how to sample is `SamplingConfig`."""

    pairs: int = field(default=5, metadata={"help": "preference pairs per problem"})
    gold_fallback: bool = field(default=False, metadata={"help": "use the reference solution when no sample is correct"})
    sample_only: bool = field(default=False, metadata={
        "help": "sample and write the pairs, then stop (sample on a server or Ray first, then accelerate launch)"})


# Where ours differ from TRL's DPOConfig defaults (lr 1e-6, batch 8, 3 epochs, seed 42, max_length 1024, ...);
# sampler_model None: the trained model samples (agents.backends.serving_string).
# The report sampled DPO pairs from the PRM800K 12k re-split of MATH train, not the 7.5k MATH train set.
# decontaminate: drop (a training export), where synthesis runs only report; it also keeps eval problems from
# being sampled at all.
DEFAULTS = {"learning_rate": 5e-7, "per_device_train_batch_size": 2, "seed": 0, "output_dir": "", "sampler_model": None,
            "problems": "math_train_12k", "decontaminate": "drop"}
HELPS = {"seed": "seed for problem order, sampling, pairs and training",
         "output_dir": "set by --out (DPO trains in its run directory)",
         "sampler_model": "litellm model that samples (hf/PATH for a checkpoint; default: the model being trained)",
         "max_length": "tokens per prompt + response (default: the longest pair, up to 16384); longer ones are "
                       "truncated and counted"}


def make_clients(sampling: SamplingConfig, llm_kwargs: dict) -> dict[str, LLMClient]:
    return {"sampler": client_for(sampling, "sampler_", llm_kwargs)}


def make_solver(sampling: SamplingConfig, clients: dict[str, LLMClient], seed: int):
    return lambda problem: sample_and_judge(
        problem, clients["sampler"], n=sampling.samples, temperature=sampling.sampler_temperature,
        top_p=sampling.sampler_top_p, max_tokens=sampling.sampler_max_tokens, seed=seed, role="sampler")


TASK = Task("dpo_samples", SamplingConfig, make_clients, make_solver)


def train_dpo(args: DPOScriptConfig, config: Any, dataset_dir: Path) -> dict[str, Any]:
    """Train with `config` (TRL's DPOConfig) on the pairs in the dataset folder `dataset_dir`; saves OUT/final."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOTrainer

    out = Path(config.output_dir)
    model_path = local_folder(args.model)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    pairs = load_train(dataset_dir)  # the pairs this run wrote, as the trainer sees them
    lengths = conversation_lengths([row["prompt"] + row[side] for row in pairs for side in ("chosen", "rejected")],
                                   tokenizer)
    config.max_length, truncated = sized_max_length(lengths, config.max_length)
    peft_config = lora_config(args.lora_rank) if args.lora else None
    log.info(precision_line(config))
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_path, dtype=load_dtype(config)), args=config, processing_class=tokenizer,
                         train_dataset=pairs,
                         peft_config=peft_config)
    resume_from = config.resume_from_checkpoint or (last_checkpoint(out) if args.resume else None)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from)
    final = save_final(trainer, tokenizer, out, args.lora, base_model=args.model)
    return {"global_step": trainer.state.global_step, "train_loss": result.training_loss,
            "train_seconds": round(time.perf_counter() - started, 2), "resumed_from": resume_from,
            "final_model": str(final), "max_length": config.max_length, "truncated_responses": truncated,
            "longest_tokens": max(lengths, default=0)}


def parse(argv: list[str] | None = None) -> tuple[RunConfig, SamplingConfig, DPOScriptConfig, Any]:
    """(RunConfig, SamplingConfig, DPOScriptConfig, DPOConfig) from flags and --config, with our defaults."""
    from trl import DPOConfig

    run_config, sampling, args, config = parse_config(
        (RunConfig, SamplingConfig, DPOScriptConfig, DPOConfig), argv, "python -m training.dpo", __doc__,
        trainer_defaults(**DEFAULTS), HELPS)
    if not run_config.out:
        raise ValueError("--out is required")
    if config.output_dir not in ("", run_config.out):
        raise ValueError(f"--output-dir {config.output_dir}: DPO trains in its run directory, pass --out instead")
    config.output_dir = run_config.out
    config.seed = run_config.seed  # one --seed, read into RunConfig
    if sampling.sampler_model is None:
        sampling = dataclasses.replace(sampling, sampler_model=serving_string(args.model))
    return run_config, sampling, args, config


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("longthought").setLevel(logging.INFO)
    quiet_library_warnings()
    console = console_for_errors()
    return guarded(lambda: _dpo(argv, console), console, saved="samples so far are saved")


def _dpo(argv: list[str] | None, console) -> int:
    run_config, sampling, args, config = parse(argv)
    out = Path(run_config.out)
    sampling_run = plan(TASK, dataclasses.replace(run_config, out=str(out / "samples")), sampling)
    if run_config.dry_run:
        sampling_run.execute_sync(console)
        return 0
    state = process_state()
    dataset_dir = out / "dataset"
    if state.num_processes > 1 and sampling_run.has_work():
        # Every process checks, so all stop together: sampling behind a barrier would idle the GPUs and time out.
        raise RunError(f"{out / 'samples'}: some problems have no samples yet; under a multi-process launch, "
                       "sample first in one process (the same command with --sample-only), then launch")
    if state.is_main_process:  # under accelerate launch the other processes wait for the pairs, then all train
        stats, checks = _sample_and_pair(sampling_run, run_config, sampling, args, console)
    state.wait_for_everyone()
    if args.sample_only:
        return 0
    requested_length = config.max_length  # None: sized from the pairs by train_dpo
    result = train_dpo(args, config, dataset_dir)
    if state.is_main_process:
        # A sampler that is the trained model (the default, on-policy) is left out, so that `--config OUT/config.yaml
        # --model OTHER` samples from OTHER, not from this run's model.
        derived = ("sampler_model",) if sampling.sampler_model == serving_string(args.model) else ()
        write_config(out, (run_config, sampling, args, config), leave_out=("output_dir", *derived),
                     recorded={"max_length": requested_length})
        # eval.report reads the stage from here
        result |= {"stage": "dpo", "pairs": dataclasses.asdict(stats), "data_checks": checks}
        (out / SUMMARY).write_text(json.dumps(result, indent=2))
        console.print(json.dumps(result, indent=2), markup=False, highlight=False)
    return 0


def _sample_and_pair(sampling_run: Plan, run_config: RunConfig, sampling: SamplingConfig, args: DPOScriptConfig,
                     console) -> tuple[PairStats, dict[str, Any]]:
    """Sample (a resumable run in OUT/samples), pick the pairs and write OUT/dataset; returns the pair counts and the
    decontamination and deduplication counts."""
    out = Path(run_config.out)
    summary = sampling_run.execute_sync()
    sets = list(read_rows(out / "samples", SampleSet))
    # Checked again on the samples (the answer check) and for duplicate problems, before any pair is made.
    kept, checks = check_rows([Item(s.problem_id, s.problem.question, "\n".join(x.text for x in s.samples))
                               for s in sets], run_config, args, labels=[s.problem.answer for s in sets])
    console.print(describe(checks), markup=False, highlight=False)
    sets = [sets[index] for index in kept]
    if args.require_agreement:  # a sample's side (chosen / rejected) only when math-verify gives our verdict too
        sets, checks["agreement"] = agreeing_samples(sets)
        console.print(f"--require-agreement: {checks['agreement']['kept']} of {checks['agreement']['checked']} "
                      "samples judged alike by both checkers", markup=False, highlight=False)
    pairs, stats = make_pairs(sets, args.pairs, seed=run_config.seed, gold_fallback=args.gold_fallback)
    console.print(f"sampling: {summary.done} new, {summary.skipped} resumed, {summary.failed} failed; pairs: "
                  f"{stats.pairs} from {stats.with_pairs}/{stats.problems} problems (skipped: "
                  f"{stats.no_positive} with no correct sample, {stats.no_negative} with no wrong one; "
                  f"{stats.truncated_excluded} samples cut at --sampler-max-tokens left out, "
                  f"{stats.looping_excluded} looping right answers never chosen)")
    if not pairs:
        raise ValueError("no preference pairs: every problem lacked a correct or a wrong sample "
                         "(try more --samples, easier problems, or --gold-fallback)")
    write_dataset(
        [dpo_row(problem, chosen, rejected) for problem, chosen, rejected in pairs], out / "dataset",
        DatasetCard(f"DPO pairs ({run_config.problems})", "dpo", [str(out / "samples")],
                    run_cards([out / "samples"]), {**dataclasses.asdict(stats), **checks}),
    )
    return stats, check_counts(checks)

if __name__ == "__main__":
    sys.exit(main())

