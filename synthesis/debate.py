"""Attempt 3, multi-agent debate: a policy agent reasons step by step, a critic agent answers every step.

    python -m synthesis.debate --problems math500 --limit 3 --out runs/demo

Works offline on the embedded model; swap in any litellm model with --policy-model / --critic-model.
The critic answers continue, backtrack (to step N), reflect or terminate; only the critic can end the
debate. When the policy states a final answer and the problem has a gold answer, the answer is checked
and the critic is told only whether it is right (with --critic-sees-answer it also sees the gold answer).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from autogen_agentchat.base import TerminatedException, TerminationCondition
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StopMessage, TextMessage
from autogen_core import CancellationToken

from agents.calls.autogen_client import LLMChatCompletionClient
from agents.calls.client import LLMClient, derive_seed
from agents.calls.model_role import client_for, model_role
from agents.calls.reasoning import completion_budget
from agents.calls.reply_guard import ReplySettings
from agents.roles.policy import split_step
from agents.roles.prompted import PromptedAgent
from prompts import render
from protocols.actions import parse_verdict
from protocols.loop import LoopLimits, LoopState
from protocols.types import Problem, Record
from synthesis import engine
from synthesis.episode import build_record, check_final_answer, check_sampling, failed_episode

ATTEMPT = "debate"


@dataclass(frozen=True)
class DebateConfig(model_role("policy_", "policy"), model_role("critic_", "critic"), ReplySettings, LoopLimits):
    """The debate's models, sampling and limits."""

    policy_temperature: float = field(default=0.7, metadata={"help": "policy sampling temperature"})
    critic_temperature: float = field(default=0.0, metadata={"help": "critic sampling temperature"})
    policy_max_tokens: int = field(default=256, metadata={"help": "max tokens of one policy step"})
    critic_max_tokens: int = field(default=128, metadata={"help": "max tokens of one critic verdict"})
    critic_sees_answer: bool = field(default=False, metadata={"help": "show the critic the gold answer itself"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sampling(self, ("policy_temperature", "critic_temperature"), ("policy_max_tokens", "critic_max_tokens"))


class LoopTermination(TerminationCondition):
    """The state machine as the team's autogen termination condition: the debate stops when its LoopState is done.

    Every rule of when to stop (the critic's terminate, the answer signal, max turns, backtracks and tokens) lives
    in protocols.loop; only a verdict can end an episode there, so a policy that writes "terminate" cannot.
    """

    def __init__(self, state: LoopState):
        self.state = state
        self._terminated = False

    @property
    def terminated(self) -> bool:
        return self._terminated

    async def __call__(self, messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> StopMessage | None:
        if self._terminated:
            raise TerminatedException("the episode has already stopped")
        # The driver feeds every message to the state machine before asking, so the state alone decides.
        if not self.state.done:
            return None
        self._terminated = True
        return StopMessage(content=str(self.state.stop_reason), source="loop")

    async def reset(self) -> None:
        # Re-arms the condition as autogen's contract asks; a stopped episode stays stopped, so it fires again.
        self._terminated = False


def estimate_calls(problems: int, config: DebateConfig) -> int:
    """Upper bound on model calls: one policy and one critic call per turn."""
    return problems * config.max_turns * 2


async def run_debate(problem: Problem, config: DebateConfig, policy_llm: LLMClient, critic_llm: LLMClient, seed: int = 0) -> Record:
    """Debate one problem to the end and return its record."""
    policy_llm, critic_llm = policy_llm.scoped(), critic_llm.scoped()
    # The config is a LoopLimits; the critic is shown whether a final answer checked out (debate/critic_user).
    state = LoopState(limits=config, has_gold_answer=problem.answer is not None, judge_sees_answer_check=True)
    reply: str | None = None  # the latest model reply: the one a failure is blamed on
    # A reasoning model thinks inside its completion cap: a 128-token verdict cap left o3-mini critics empty.
    policy = PromptedAgent(
        "policy", "Reasons one numbered step at a time.",
        LLMChatCompletionClient(policy_llm, role="policy", temperature=config.policy_temperature,
                                max_tokens=completion_budget(policy_llm.model, config.policy_max_tokens,
                                                             config.reasoning_tokens)),
        render("debate/policy_system", next_index=1),
    )
    critic = PromptedAgent(
        "critic", "Judges each step: continue, backtrack, reflect or terminate.",
        LLMChatCompletionClient(critic_llm, role="critic", temperature=config.critic_temperature,
                                max_tokens=completion_budget(critic_llm.model, config.critic_max_tokens,
                                                             config.reasoning_tokens)),
        render("debate/critic_system"),
    )
    termination = LoopTermination(state)
    token = CancellationToken()
    try:
        while not termination.terminated:
            path = [node.step for node in state.path_steps()]
            prompt = render("debate/policy_user", question=problem.question, steps=path, feedback=state.feedback,
                            next_index=state.next_index())
            # A seed per (run seed, problem, turn): a revised step is a new sample, not a replay of the rejected one.
            turn_seed = {"seed": str(derive_seed(seed, problem.id, state.policy_turns))}
            reply = None
            policy_message = (await policy.on_messages(
                [TextMessage(source="driver", content=prompt, metadata=turn_seed)], token)).chat_message
            reply = policy_message.content
            step_text, answer = split_step(reply)
            correct = await check_final_answer(problem, answer)
            node = state.add_step(step_text, answer=answer, correct=correct, tokens=_completion_tokens(policy_message),
                                  finish_reason=_finish_reason(policy_message))
            state.add_tokens(_all_tokens(policy_message))
            critic_prompt = render(
                "debate/critic_user", question=problem.question, steps=path, new_step=node.step, answer=answer,
                gold_answer=problem.answer if config.critic_sees_answer else None, answer_signal=correct,
            )
            reply = None
            verdict_message = (await critic.on_messages(
                [TextMessage(source="driver", content=critic_prompt, metadata=turn_seed)], token)).chat_message
            reply = verdict_message.content
            verdict, finish = parse_verdict(verdict_message.content), _finish_reason(verdict_message)
            state.apply(verdict, tokens=_completion_tokens(verdict_message), finish_reason=finish)
            state.add_tokens(_all_tokens(verdict_message))
            # After apply, so a stopped episode's failure line shows the bad verdict among its turns.
            critic_llm.reply_guard.observe("critic", critic_llm.model, verdict_message.content, finish, verdict.parsed,
                                           mode=config.reply_guard, budget_flag="--critic-max-tokens")
            # Once a round: a step always gets its verdict (limits wait for it), so only then can the loop say stop.
            await termination([policy_message, verdict_message])
    except Exception as error:
        raise failed_episode(error, state.turns, reply, [policy_llm, critic_llm]) from error
    return build_record(problem, ATTEMPT, state, {"policy": policy_llm, "critic": critic_llm},
                        policy_model=config.policy_model, critic_model=config.critic_model)


def _finish_reason(message: BaseChatMessage) -> str | None:
    reason = message.metadata.get("finish_reason")  # set by agents.roles.prompted, in autogen's vocabulary
    return None if reason in (None, "unknown") else reason


def _completion_tokens(message: BaseChatMessage) -> int:
    return message.models_usage.completion_tokens if message.models_usage else 0


def _all_tokens(message: BaseChatMessage) -> int:
    usage = message.models_usage
    return usage.prompt_tokens + usage.completion_tokens if usage else 0


def make_clients(config: DebateConfig, llm_kwargs: dict) -> dict[str, LLMClient]:
    return {"policy": client_for(config, "policy_", llm_kwargs), "critic": client_for(config, "critic_", llm_kwargs)}


def make_solver(config: DebateConfig, clients: dict[str, LLMClient], seed: int):
    return lambda problem: run_debate(problem, config, clients["policy"], clients["critic"], seed=seed)


TASK = engine.Task(ATTEMPT, DebateConfig, make_clients, make_solver, estimate_calls,
                   prompt_folders=("debate", "render"))


def main(argv: list[str] | None = None) -> int:
    return engine.main(TASK, argv, doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())
