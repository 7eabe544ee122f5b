"""What a dry run promises: calls, tokens and, where litellm knows the price, dollars -- before anything is spent.

The tokens are an upper-side estimate, not a forecast: every call is counted with the problem's question, a
prompt template's worth of instructions and a reply at its role's cap (a debate's growing path is not modelled).
Curator users expect a projected cost before a run; this is the same promise, made from the config alone.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from agents.backends import backend_for

# Instructions, examples and the path so far that a prompt carries besides the question (measured: the debate's
# prompts average ~320 tokens on MATH problems; tree-search and critique prompts are of the same order).
TEMPLATE_TOKENS = 400
# The per-reply caps of every config: <role>_max_tokens (policy_max_tokens, critic_max_tokens, ...)
_CAP = re.compile(r"^max_(\w+_)?tokens$|_max_tokens$")
_NOT_A_CAP = {"max_problem_tokens"}  # an episode's budget, not one reply's


@dataclass(frozen=True)
class Estimate:
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None  # None when litellm has no price for one of the models
    unpriced: tuple[str, ...] = ()

    def describe(self) -> str:
        tokens = (f"about {self.prompt_tokens:,} prompt + {self.completion_tokens:,} completion tokens "
                  "(every reply at its cap)")
        cost = (f"at most ${self.cost:.4f}" if self.cost is not None
                else f"cost unknown (litellm has no price for {', '.join(self.unpriced)})")
        return f"at most {self.calls:,} model calls, {tokens}, {cost}"


def reply_cap(config: Any) -> int:
    """The mean of the config's per-reply token caps (256 when it names none)."""
    caps = [getattr(config, f.name) for f in dataclasses.fields(config)
            if _CAP.search(f.name) and f.name not in _NOT_A_CAP and isinstance(getattr(config, f.name), int)]
    return round(sum(caps) / len(caps)) if caps else 256


def estimate(calls: int, questions: list[str], config: Any, models: list[str]) -> Estimate:
    """Tokens and cost of `calls` calls spread evenly over the problems and over the roles' `models`."""
    import litellm

    per_question = [litellm.token_counter(text=question) for question in questions] or [0]
    prompt = round(calls * (sum(per_question) / len(per_question) + TEMPLATE_TOKENS))
    completion = calls * reply_cap(config)
    cost: float | None = 0.0
    unpriced = []
    for model in dict.fromkeys(models):
        if backend_for(model).free(model):  # the rehearsal backend, say: litellm has no price for it
            continue
        try:
            prompt_cost, completion_cost = litellm.cost_per_token(
                model=model, prompt_tokens=prompt // len(models), completion_tokens=completion // len(models))
        except Exception:  # noqa: BLE001 - litellm raises for a model it has no price for
            unpriced.append(model)
            continue
        cost += (prompt_cost + completion_cost) * models.count(model)
    return Estimate(calls, prompt, completion, None if unpriced else cost, tuple(unpriced))
