"""Our SFT entry point against a plain TRL script on the same data and settings: tokens/s and the ratio.

    .venv/bin/python bench/sft_overhead.py [--steps 6]

Both train the embedded model (CPU) for the same number of steps on the same journey rows, without checkpoints
(`--save-strategy no`; with checkpoints, each save of the 135M model and its optimizer state costs seconds); the plain
script is the minimal SFTTrainer call from TRL's documentation. Goal: ratio (ours / plain) >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.backends.local_models import resolve  # noqa: E402
from protocols.types import Problem, Record  # noqa: E402
from training.formats import paired_sft  # noqa: E402
from training.sft import parse, train  # noqa: E402


def records(count: int) -> list[Record]:
    rows = []
    for i in range(count):
        problem = Problem(id=f"q{i}", question=f"What is {i} + {i} + {i}?", answer=str(3 * i))
        steps = "\n".join(f"{k}. Adding {i} once more gives {i * k}." for k in range(1, 4))
        rows.append(Record(problem_id=problem.id, attempt="debate", problem=problem, stop_reason="terminated",
                           correct=True, shortcut=f"{steps}\n4. \\boxed{{{3 * i}}}",
                           long_thought=f"{steps}\n\nWait, let me check: {i} * 3 = {3 * i}.\n\nSo \\boxed{{{3 * i}}}."))
    return rows


def plain_trl(rows: list[dict], steps: int, out: Path) -> tuple[float, float]:
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    path = resolve("embedded/smollm2-135m")
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(path), processing_class=AutoTokenizer.from_pretrained(path),
        args=SFTConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=4, max_length=512,
                       logging_steps=1, report_to="none", use_cpu=True, save_strategy="no"),
        train_dataset=datasets.Dataset.from_list(rows),
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    tokens = max(float(entry["num_tokens"]) for entry in trainer.state.log_history if "num_tokens" in entry)
    return tokens, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2, help="best of N for each side")
    args = parser.parse_args()
    data = records(48)
    with tempfile.TemporaryDirectory() as scratch:
        run = Path(scratch) / "run"
        run.mkdir()
        (run / "records.jsonl").write_text("".join(record.to_json() + "\n" for record in data))
        resolve("embedded/smollm2-135m")  # conversion outside the timed region
        journey, _ = paired_sft(data)
        plain_trl(journey, 2, Path(scratch) / "warmup")  # first-run costs (allocator, kernels) hit neither side
        ours_rates, plain_rates = [], []
        for repeat in range(args.repeats):  # interleaved, so machine noise hits both sides alike
            ours = train(*parse(["--data", str(run), "--out", str(Path(scratch) / f"ours{repeat}"), "--target", "journey",
                                 "--max-steps", str(args.steps), "--per-device-train-batch-size", "4",
                                 "--max-length", "512", "--save-strategy", "no"]))
            ours_rates.append(ours["tokens_seen"] / ours["train_seconds"])
            tokens, seconds = plain_trl(journey, args.steps, Path(scratch) / f"plain{repeat}")
            plain_rates.append(tokens / seconds)
    ours_rate, plain_rate = max(ours_rates), max(plain_rates)
    print(f"ours runs: {[round(r, 1) for r in ours_rates]} tok/s; plain TRL runs: {[round(r, 1) for r in plain_rates]} tok/s")
    print(json.dumps({"steps": args.steps, "ours_tokens_per_s": round(ours_rate, 1),
                      "plain_trl_tokens_per_s": round(plain_rate, 1), "ratio": round(ours_rate / plain_rate, 3)}))
    print(f"ours {ours_rate:.1f} tok/s vs plain TRL {plain_rate:.1f} tok/s: ratio {ours_rate / plain_rate:.2f} (goal >= 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
