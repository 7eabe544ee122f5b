"""Reasoning-model detection (litellm's local model map, no network) and the completion budget it sets."""

import pytest

from agents.calls.reasoning import completion_budget, is_reasoning_model
from agents.roles.reward import LLMJudgeScorer, make_scorer
from protocols.types import Problem
from tests.fakes import ScriptedLLM


@pytest.mark.parametrize(("model", "reasoning"), [
    ("openai/o3-mini", True),
    ("openai/o1-mini", True),
    ("o1-mini", True),  # a bare name the provider lookup no longer resolves, still in the model map
    ("deepseek/deepseek-reasoner", True),
    ("openai/gpt-4o-mini", False),
    ("embedded/smollm2-135m", False),
    ("hosted_vllm/Qwen/Qwen2.5-7B-Instruct", False),  # unknown to litellm: not a reasoning model
    ("fake/scripted", False),
    ("oracle/reference-reasoning", True),
    ("oracle/reference-e30-reasoning", True),
    ("oracle/reference", False),
    ("oracle/reasoning", False),  # the name itself, not a suffix
])
def test_is_reasoning_model(model, reasoning):
    assert is_reasoning_model(model) is reasoning


def test_the_budget_adds_reasoning_tokens_only_for_reasoning_models():
    assert completion_budget("openai/o3-mini", 128, 4096) == 4224
    assert completion_budget("openai/gpt-4o-mini", 128, 4096) == 128
    assert completion_budget("openai/o3-mini", 128, 0) == 128


async def test_the_llm_judge_gets_the_reasoning_budget():
    problem = Problem(id="p", question="1 + 1?", answer="2")
    for model, expected in (("openai/o1-mini", 256 + 1000), ("openai/gpt-4o-mini", 256)):
        judge = ScriptedLLM(model=model, judge=['{"correct": true, "reason": "fine"}'])
        await make_scorer("llm-judge", judge=judge, reasoning_tokens=1000).score(problem, ["1 + 1 = 2"])
        assert judge.sampling["judge"][0]["max_tokens"] == expected
    assert LLMJudgeScorer(ScriptedLLM(model="openai/o3-mini")).max_tokens == 256 + 4096  # the library default too
