"""Sample n solutions of a problem and judge each final answer: shared by DPO sampling and accuracy evaluation."""

from __future__ import annotations

import asyncio

from agents.calls.client import LLMClient
from prompts import question_messages
from protocols.answers import aequivalent, extract_answer
from protocols.repetition import is_looping
from protocols.types import Problem, Sample, SampleSet


async def sample_and_judge(problem: Problem, llm: LLMClient, *, n: int, temperature: float, max_tokens: int,
                           top_p: float = 1.0, seed: int = 0, role: str = "sampler") -> SampleSet:
    """`n` answers to the shared question prompt, each with its extracted final answer checked against gold."""
    if problem.answer is None:
        raise ValueError(f"{problem.id}: no gold answer to judge samples against")
    llm = llm.scoped()
    completion = await llm.complete(question_messages(problem.question), n=n, temperature=temperature, top_p=top_p,
                                    max_tokens=max_tokens, seed=seed, role=role)
    answers = [extract_answer(text) for text in completion.texts]
    checks = await asyncio.gather(*(aequivalent(problem.answer, answer) for answer in answers))
    return SampleSet(problem_id=problem.id, problem=problem, model=llm.model,
                     samples=[Sample(text=text, answer=answer, correct=correct, finish_reason=finish,
                                     repetition=is_looping(text))
                              for text, answer, correct, finish in zip(completion.texts, answers, checks,
                                                                       _finishes(completion), strict=True)],
                     usage=dict(llm.usage))


def _finishes(completion) -> list[str | None]:
    """One finish reason per text (a server that reports none gives None)."""
    reasons = list(completion.finish_reasons)
    return reasons + [None] * (len(completion.texts) - len(reasons))
