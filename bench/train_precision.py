"""Training tokens/s in bf16 mixed precision against fp32, side by side in one run, and which one training picks.

    .venv/bin/python bench/train_precision.py [--steps 3 --seq 32 --batch 1 --budget 300]
    python3 bench/train_precision.py --random-init    # a GPU machine without the embedded model: same shapes

Both arms run at once, each a child process with `--threads` threads (a load change on the shared machine hits
both alike); each trains a fresh fp32 copy of the model (what the trainer loads for
both) for `--steps` timed steps after one warm-up step: forward, loss, backward and AdamW, under
torch.autocast(bf16) or none, as the Trainer's `--bf16` does. An arm is stopped at `--budget` seconds; an arm with
no timed step then gets an upper bound on its speed (a step took longer than the rest of the budget), and the ratio
is a lower bound. Goal: the default is the faster arm (issue 25: on a CPU without native bf16, one bf16 SFT step of
SmolLM2-135M did not finish in 559 s).
Prints one JSON object: tok/s per arm, the ratio fp32 / bf16, the default and why, and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load_model(args: argparse.Namespace, device: str):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if args.random_init:  # same shapes as SmolLM2-135M, no weights needed: speed does not depend on their values
        config = AutoConfig.for_model("llama", hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                                      num_attention_heads=9, num_key_value_heads=3, vocab_size=49152,
                                      tie_word_embeddings=True)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    else:
        from agents.backends.local_models import resolve

        model = AutoModelForCausalLM.from_pretrained(resolve(args.model), dtype=torch.float32)
    return model.to(device).train()


def run_arm(args: argparse.Namespace) -> None:
    """The child: train one precision, printing each step's seconds as it finishes (the parent may kill it)."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    batch = torch.randint(0, 49152, (args.batch, args.seq), device=device)
    model = load_model(args, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    for _ in range(args.steps + 1):
        started = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=args.arm == "bf16"):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if device == "cuda":
            torch.cuda.synchronize()
        print(json.dumps({"step_s": time.perf_counter() - started}), flush=True)


def measure(args: argparse.Namespace) -> dict[str, dict]:
    """Both arms at once, each a child process with one thread, stopped together at --budget seconds: a load change
    on the shared machine hits both alike, and an emulated bf16 step (many minutes) cannot be interrupted
    in-process. Step 0 warms up and is not counted."""
    import subprocess
    import tempfile

    children = {}
    for name in ("fp32", "bf16"):
        command = [sys.executable, __file__, "--arm", name, "--steps", str(args.steps), "--seq", str(args.seq),
                   "--batch", str(args.batch), "--model", args.model] + (["--random-init"] if args.random_init else [])
        log = tempfile.TemporaryFile(mode="w+")
        threads = str(args.threads)
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        children[name] = (subprocess.Popen(command, stdout=log, stderr=subprocess.DEVNULL, env=env), log)
    deadline = time.monotonic() + args.budget
    while time.monotonic() < deadline and any(child.poll() is None for child, _ in children.values()):
        time.sleep(1)
    results = {}
    tokens = args.batch * args.seq
    for name, (child, log) in children.items():
        finished = child.poll() == 0
        if child.poll() is None:
            child.kill()
            child.wait()
        log.seek(0)
        times = [json.loads(line)["step_s"] for line in log.read().splitlines() if line.startswith('{"step_s"')]
        timed = times[1:]
        result = {"steps_timed": len(timed), "finished": finished, "warmup_s": round(times[0], 2) if times else None}
        if timed:
            result["tok_per_s"] = round(tokens * len(timed) / sum(timed), 2)
        else:  # not one timed step in the budget: a step took longer than what was left, an upper bound on speed
            result["tok_per_s_at_most"] = round(tokens / max(args.budget - (times[0] if times else 0), 1.0), 3)
        results[name] = result
    return results


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded/smollm2-135m")
    parser.add_argument("--random-init", action="store_true", help="SmolLM2-135M's shapes, random weights")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per arm (after one warm-up step)")
    parser.add_argument("--seq", type=int, default=32, help="tokens per example")
    parser.add_argument("--batch", type=int, default=1, help="examples per step")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per arm before it is stopped")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per arm (both arms run at once)")
    parser.add_argument("--arm", choices=("fp32", "bf16"), help=argparse.SUPPRESS)  # the child's own flag
    args = parser.parse_args(argv)
    if args.arm:
        run_arm(args)
        return 0
    from training.common import precision_default

    flags, why = precision_default()
    default = "bf16" if flags["bf16"] else "fp32"
    load = os.getloadavg()
    result = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else
              f"cpu {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores",
              "default": default, "why": why, "seq": args.seq, "batch": args.batch, "budget_s": args.budget,
              "threads_per_arm": args.threads}
    result |= measure(args)
    fp32 = result["fp32"].get("tok_per_s") or result["fp32"].get("tok_per_s_at_most")
    bf16 = result["bf16"].get("tok_per_s") or result["bf16"].get("tok_per_s_at_most")
    bound = "tok_per_s_at_most" in result["bf16"] and "tok_per_s" in result["fp32"]
    result["ratio_fp32_over_bf16"] = (">= " if bound else "") + f"{fp32 / bf16:.2f}"
    result["faster"] = "fp32" if fp32 > bf16 else "bf16"
    result["default_is_faster"] = result["faster"] == default
    result["load_average_before_after"] = [load, os.getloadavg()]
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
