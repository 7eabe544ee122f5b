"""Step scorers (process rewards), one interface, swappable by flag: `llm-judge`, `rollout`, `hf-prm`.

A scorer rates the newest step of a partial solution: `value` in [0, 1] (higher is better), `correct` when the
scorer gives a binary judgement, a `reason` (a judge's explanation, asked for in the solver's own voice) and a
`note` (scorer bookkeeping such as "3/4 rollouts reached the gold answer", for the viewer, never for a long thought).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from agents.calls.client import LLMClient
from agents.calls.reasoning import DEFAULT_REASONING_TOKENS, completion_budget
from prompts import render
from protocols.answers import aequivalent, extract_answer
from protocols.step_labels import shepherd_text
from protocols.types import Problem

SCORERS = ("llm-judge", "rollout", "hf-prm")


@dataclass(frozen=True)
class StepScore:
    value: float
    correct: bool | None = None
    reason: str = ""
    note: str = ""


class StepScorer(Protocol):
    """Rates the last of `steps` (texts without numbers) as a continuation of `problem`."""

    binary: bool

    async def score(self, problem: Problem, steps: list[str]) -> StepScore: ...


_VERDICT_JSON = re.compile(r"\{[^{}]*\}", re.DOTALL)
_NEGATIVE = re.compile(r"\b(incorrect|wrong|not correct|invalid|error|no)\b", re.IGNORECASE)
_POSITIVE = re.compile(r"\b(correct|right|valid|yes)\b", re.IGNORECASE)


def parse_judgement(text: str) -> tuple[bool | None, str]:
    """(is the step correct, the reason) from a judge's reply; None when it says neither."""
    # A reason in LaTeX holds braces (`$\\sqrt{9}$`), which the flat pattern cannot span: decode from each "{" too.
    decoder = json.JSONDecoder()
    starts = [match.start() for match in re.finditer(r"\{", text or "")]
    candidates = [*_VERDICT_JSON.findall(text or "")] + [text[start:] for start in starts]
    for candidate in reversed(candidates):
        try:
            data, _ = decoder.raw_decode(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("correct"), bool):
            return data["correct"], str(data.get("reason", "")).strip()
    labelled = re.search(r"verdict\W{0,3}[:=]\s*(\w+(?:\s+\w+)?)", text or "", re.IGNORECASE)
    head = labelled.group(1) if labelled else (text or "")[:200]
    # Negatives first: "not correct" also contains "correct".
    if _NEGATIVE.search(head):
        return False, (text or "").strip()
    if _POSITIVE.search(head):
        return True, (text or "").strip()
    return None, (text or "").strip()


class LLMJudgeScorer:
    """Any litellm model asked whether the newest step is correct, with a reason (the report found o1-mini best)."""

    binary = True

    def __init__(self, llm: LLMClient, max_tokens: int = 256, reasoning_tokens: int = DEFAULT_REASONING_TOKENS,
                 reply_guard: str = "off"):
        self.llm = llm
        # A reasoning judge (o1-mini) thinks inside its cap: 256 tokens alone come back empty, finish_reason "length".
        self.max_tokens = completion_budget(llm.model, max_tokens, reasoning_tokens)
        self.reply_guard = reply_guard

    async def score(self, problem: Problem, steps: list[str]) -> StepScore:
        prompt = render("tree_search/judge", question=problem.question, steps=steps[:-1], step=steps[-1], index=len(steps))
        completion = await self.llm.complete([{"role": "user", "content": prompt}], temperature=0.0,
                                             max_tokens=self.max_tokens, role="judge")
        correct, reason = parse_judgement(completion.text)
        finish = completion.finish_reasons[0] if completion.finish_reasons else None
        self.llm.reply_guard.observe("judge", self.llm.model, completion.text, finish, correct is not None,
                                     mode=self.reply_guard)
        # An undecided judge scores in the middle, so beams prefer clear positives but keep it over clear negatives.
        return StepScore(value={True: 1.0, False: 0.0, None: 0.5}[correct], correct=correct, reason=reason)


class RolloutScorer:
    """Math-Shepherd-style Monte Carlo: complete from the step k times; score = share reaching the gold answer."""

    binary = False

    def __init__(self, llm: LLMClient, rollouts: int = 4, max_tokens: int = 384, temperature: float = 0.7):
        self.llm = llm
        self.rollouts = rollouts
        self.max_tokens = max_tokens
        self.temperature = temperature

    async def score(self, problem: Problem, steps: list[str]) -> StepScore:
        if problem.answer is None:
            raise ValueError(f"{problem.id}: the rollout scorer needs a gold answer")
        prompt = render("tree_search/rollout", question=problem.question, steps=steps)
        completion = await self.llm.complete([{"role": "user", "content": prompt}], n=self.rollouts,
                                             temperature=self.temperature, max_tokens=self.max_tokens, role="scorer")
        answers = [extract_answer(text) for text in completion.texts]
        hits = await asyncio.gather(*(aequivalent(problem.answer, answer) for answer in answers))
        value = sum(hits) / len(hits)
        return StepScore(value=value, note=f"{sum(hits)}/{len(hits)} rollouts reached the gold answer")


class HFPRMScorer:
    """A Math-Shepherd-style PRM loaded with transformers: P(good token) at the step tag after the newest step."""

    binary = False

    def __init__(self, model: str, good_token: str = "+", bad_token: str = "-", step_tag: str = "ки", device: str = "cpu"):
        import torch

        self.torch = torch
        # Loaded once per process: a run builds a scorer per problem on Ray workers, the weights stay shared.
        self.tokenizer, self.model, self._lock = _load_prm(model, device)
        self.device = device
        self.step_tag = step_tag
        self.candidates = [self._single_token(good_token), self._single_token(bad_token)]
        self.step_tag_id = self._single_token(step_tag)

    def _single_token(self, text: str) -> int:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"hf-prm: {text!r} must be a single token of this tokenizer, got {len(ids)}")
        return ids[0]

    def _score_sync(self, problem: Problem, steps: list[str]) -> float:
        # The Math-Shepherd text, built where `training.export --format prm --prm-style math-shepherd` builds it.
        text = shepherd_text(problem.question, steps, [self.step_tag] * len(steps))
        inputs = self.tokenizer(text, return_tensors="pt").to(self.device)
        with self._lock, self.torch.no_grad():  # one forward pass at a time on the shared model
            logits = self.model(**inputs).logits[0]
        positions = (inputs["input_ids"][0] == self.step_tag_id).nonzero().flatten()
        if len(positions) == 0:
            raise ValueError("hf-prm: the step tag vanished in tokenization")
        pair = logits[positions[-1], self.candidates]
        return float(pair.softmax(dim=-1)[0])

    async def score(self, problem: Problem, steps: list[str]) -> StepScore:
        value = await asyncio.to_thread(self._score_sync, problem, steps)
        return StepScore(value=value, note=f"P(good) = {value:.3f}")


@functools.lru_cache(maxsize=2)
def _load_prm(model: str, device: str) -> tuple[Any, Any, threading.Lock]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return (AutoTokenizer.from_pretrained(model), AutoModelForCausalLM.from_pretrained(model).to(device).eval(),
            threading.Lock())


def make_scorer(name: str, *, judge: LLMClient | None = None, policy: LLMClient | None = None,
                hf_model: str | None = None, rollouts: int = 4, reasoning_tokens: int = DEFAULT_REASONING_TOKENS,
                reply_guard: str = "off") -> StepScorer:
    """The scorer a `--scorer` flag names."""
    if name == "llm-judge":
        return LLMJudgeScorer(judge, reasoning_tokens=reasoning_tokens, reply_guard=reply_guard)
    if name == "rollout":
        return RolloutScorer(policy, rollouts=rollouts)
    if name == "hf-prm":
        if not hf_model:
            raise ValueError("--scorer hf-prm needs --prm-model (a Hugging Face id or local folder)")
        return HFPRMScorer(hf_model)
    raise ValueError(f"unknown scorer {name!r}: use one of {', '.join(SCORERS)}")
