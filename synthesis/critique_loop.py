"""Attempt 2, proposal-critique loop: one model proposes a step and picks its own next action.

    python -m synthesis.critique_loop --problems math500 --limit 3 --out runs/critique-demo

The same state machine as the debate (protocols.loop) applies the model's own continue / backtrack /
reflect / terminate, with the same rules. Terminating without a correct answer sends the negative signal back:
the episode goes on with "the answer is not correct" (or "not a final answer yet") as feedback.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from agents.calls.client import LLMClient, derive_seed
from agents.calls.model_role import client_for, model_role
from agents.calls.reasoning import completion_budget
from agents.calls.reply_guard import ReplySettings
from agents.roles.policy import split_step
from prompts import render
from protocols.actions import parse_verdict
from protocols.loop import LoopLimits, LoopState
from protocols.types import Action, Problem, Record, Verdict
from synthesis import engine
from synthesis.episode import build_record, check_final_answer, check_sampling, failed_episode

ATTEMPT = "critique_loop"
_ACTION_LINE = re.compile(r"^\W*action\b", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class CritiqueLoopConfig(model_role("", "model that proposes and judges"), ReplySettings, LoopLimits):
    """The single model's settings and the episode limits."""

    temperature: float = field(default=0.7, metadata={"help": "sampling temperature"})
    policy_max_tokens: int = field(default=256, metadata={"help": "max tokens of one step and its action"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sampling(self, ("temperature",), ("policy_max_tokens",))


def split_proposal(text: str) -> tuple[str, Verdict]:
    """(the step, the model's own verdict) from one reply; no ACTION line gives an unparsed reflect."""
    match = _ACTION_LINE.search(text or "")
    if match is None:
        return text, Verdict(action=Action.REFLECT, raw="", parsed=False)
    return text[: match.start()], parse_verdict(text[match.start() :])


def estimate_calls(problems: int, config: CritiqueLoopConfig) -> int:
    return problems * config.max_turns


async def run_critique_loop(problem: Problem, config: CritiqueLoopConfig, llm: LLMClient, seed: int = 0) -> Record:
    """Run one problem's self-critique episode and return its record."""
    llm = llm.scoped()
    # The config is a LoopLimits; the model judges its step in the same reply, before the answer is checked.
    state = LoopState(limits=config, has_gold_answer=problem.answer is not None, judge_sees_answer_check=False)
    reply: str | None = None  # the latest model reply: the one a failure is blamed on
    # A reasoning model thinks inside its completion cap, so a cap sized for one step would leave its reply empty.
    max_tokens = completion_budget(llm.model, config.policy_max_tokens, config.reasoning_tokens)
    try:
        while not state.done:
            path = [node.step for node in state.path_steps()]
            messages = [
                {"role": "system", "content": render("critique_loop/system", next_index=state.next_index())},
                {"role": "user", "content": render("critique_loop/user", question=problem.question, steps=path,
                                                   feedback=state.feedback, next_index=state.next_index())},
            ]
            reply = None
            completion = await llm.complete(messages, temperature=config.temperature, max_tokens=max_tokens,
                                             seed=derive_seed(seed, problem.id, state.policy_turns), role="policy")
            finish = completion.finish_reasons[0] if completion.finish_reasons else None
            reply = completion.text
            step_part, verdict = split_proposal(completion.text)
            step_text, answer = split_step(step_part)
            correct = await check_final_answer(problem, answer)
            state.add_step(step_text, answer=answer, correct=correct, tokens=completion.completion_tokens,
                           finish_reason=finish)
            state.apply(verdict, role="policy", content=completion.text[len(step_part):].strip() or verdict.raw,
                        finish_reason=finish)
            state.add_tokens(completion.prompt_tokens + completion.completion_tokens)
            llm.reply_guard.observe("policy", llm.model, completion.text, finish, verdict.parsed,
                                    mode=config.reply_guard, budget_flag="--policy-max-tokens")
    except Exception as error:
        raise failed_episode(error, state.turns, reply, [llm]) from error
    return build_record(problem, ATTEMPT, state, {"policy": llm}, model=config.model)


def make_clients(config: CritiqueLoopConfig, llm_kwargs: dict) -> dict[str, LLMClient]:
    return {"policy": client_for(config, "", llm_kwargs)}


def make_solver(config: CritiqueLoopConfig, clients: dict[str, LLMClient], seed: int):
    return lambda problem: run_critique_loop(problem, config, clients["policy"], seed=seed)


TASK = engine.Task(ATTEMPT, CritiqueLoopConfig, make_clients, make_solver, estimate_calls,
                   prompt_folders=("critique_loop", "render"))


def main(argv: list[str] | None = None) -> int:
    return engine.main(TASK, argv, doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())
