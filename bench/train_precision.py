"""Training tokens/s in bf16 mixed precision against fp32, side by side in one run, and which one training picks.

    .venv/bin/python bench/train_precision.py [--steps 3 --seq 64 --batch 1 --budget 600]
    python3 bench/train_precision.py --random-init    # a GPU machine without the embedded model: same shapes

Each arm trains a fresh fp32 copy of the model (what the trainer loads for both) for `--steps` timed steps after one
warm-up step: forward, loss, backward and AdamW, under torch.autocast(bf16) or none, as the Trainer's `--bf16`
does. An arm stops early when it passes `--budget` seconds (the ratio then uses the steps it finished). The arms
alternate step by step, so a load change on the shared machine hits both. Goal: the default is the faster arm
(issue 25: on a CPU without native bf16, one bf16 SFT step of SmolLM2-135M did not finish in 559 s).
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
        from agents.local_models import resolve

        model = AutoModelForCausalLM.from_pretrained(resolve(args.model), dtype=torch.float32)
    return model.to(device).train()


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded/smollm2-135m")
    parser.add_argument("--random-init", action="store_true", help="SmolLM2-135M's shapes, random weights")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per arm (after one warm-up step)")
    parser.add_argument("--seq", type=int, default=64, help="tokens per example")
    parser.add_argument("--batch", type=int, default=1, help="examples per step")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per arm before it stops early")
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        from training.common import precision_default

        flags, why = precision_default()
        default = "bf16" if flags["bf16"] else "fp32"
    except ImportError:  # carried without TRL's stack: the same rule, stated here
        default, why = "?", "training.common not importable here"
    torch.manual_seed(0)
    batch = torch.randint(0, 49152, (args.batch, args.seq), device=device)
    arms = {}
    for name in ("fp32", "bf16"):
        model = load_model(args, device)
        arms[name] = {"model": model, "optimizer": torch.optim.AdamW(model.parameters(), lr=1e-5), "times": []}

    def step(name: str) -> float:
        arm = arms[name]
        started = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=name == "bf16"):
            loss = arm["model"](input_ids=batch, labels=batch).loss
        loss.backward()
        arm["optimizer"].step()
        arm["optimizer"].zero_grad()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    for index in range(args.steps + 1):  # step 0 warms up (allocations, kernels) and is not counted
        for name, arm in arms.items():
            if sum(arm["times"][1:]) > args.budget or (index == 1 and arm["times"][0] > args.budget):
                continue
            arm["times"].append(step(name))
    tokens = args.batch * args.seq
    result = {"device": torch.cuda.get_device_name() if device == "cuda" else
              f"cpu {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores",
              "default": default, "why": why, "seq": args.seq, "batch": args.batch}
    for name, arm in arms.items():
        timed = arm["times"][1:]
        result[name] = {"warmup_s": round(arm["times"][0], 2), "steps": len(timed),
                        "tok_per_s": round(tokens * len(timed) / sum(timed), 1) if timed else None,
                        "lower_bound_s_per_step": None if timed else round(arm["times"][0], 1)}
    fp32, bf16 = result["fp32"]["tok_per_s"], result["bf16"]["tok_per_s"]
    if not bf16:  # no timed bf16 step: its warm-up step bounds it
        bf16 = tokens / arms["bf16"]["times"][0]
    result["ratio_fp32_over_bf16"] = round(fp32 / bf16, 2) if fp32 and bf16 else None
    result["faster"] = "fp32" if (fp32 or 0) > bf16 else "bf16"
    result["default_is_faster"] = result["faster"] == default
    result["load_average"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
