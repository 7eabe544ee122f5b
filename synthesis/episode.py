"""What the debate and the critique loop share: answer checking, failed-episode errors, and the record of an episode."""

from __future__ import annotations

from agents.calls.client import LLMClient
from protocols.answers import aequivalent
from protocols.loop import LoopState
from protocols.render import long_thought, shortcut
from protocols.types import Attempt, Problem, Record, Turn, Usage, add_usage


class EpisodeError(RuntimeError):
    """An episode failed part-way; carries what the models had written so far, for failures.jsonl."""

    def __init__(self, cause: BaseException, turns: list[Turn], raw: str | None = None):
        super().__init__(f"{type(cause).__name__}: {cause}")
        # The reply that broke the episode (it may never have become a turn, e.g. when checking its answer failed);
        # when a model call itself failed, no reply did: the last turn shows where the episode stood.
        self.raw = raw if raw is not None else (turns[-1].content if turns else None)
        self.turns = [turn.model_dump(mode="json") for turn in turns]


async def check_final_answer(problem: Problem, answer: str | None) -> bool | None:
    """Whether a stated final answer is right; None when there is no answer or no gold answer to check against."""
    if answer is None or problem.answer is None:
        return None
    return await aequivalent(problem.answer, answer)


def check_sampling(config: object, temperatures: tuple[str, ...], token_caps: tuple[str, ...]) -> None:
    """One-line errors naming the field: temperatures finite and >= 0, token caps >= 1 (each role checks its own
    timeout). NaN passes a `< 0` check, so the test is `0 <= t < inf`."""
    for name in temperatures:
        if not 0 <= getattr(config, name) < float("inf"):
            raise ValueError(f"{name}: expected a finite number >= 0, got {getattr(config, name)}")
    for name in token_caps:
        if getattr(config, name) < 1:
            raise ValueError(f"{name}: expected >= 1, got {getattr(config, name)}")


def failed_episode(error: BaseException, turns: list[Turn], raw: str | None, clients: list[LLMClient]) -> EpisodeError:
    """The error of a failed episode; its cached replies are forgotten so the retry asks the models again."""
    for client in clients:
        client.discard_cached()
    return EpisodeError(error, turns, raw)


def truncated_replies(clients: dict[str, LLMClient]) -> int:
    """Replies of the problem cut at the character cap (agents.calls.config max_reply_chars)."""
    return sum(client.truncated_replies for client in clients.values())


def looping_replies(clients: dict[str, LLMClient]) -> int:
    """Replies of the problem that end in degenerate repetition (protocols.repetition): a small model's loops."""
    return sum(client.looping_replies for client in clients.values())


def usage_by_role(clients: dict[str, LLMClient]) -> dict[str, Usage]:
    """The problem's usage totals by agent role, over all its (scoped) clients."""
    usage: dict[str, Usage] = {}
    for client in clients.values():
        add_usage(usage, client.usage)
    return usage


def build_record(problem: Problem, attempt: Attempt, state: LoopState, clients: dict[str, LLMClient], **meta) -> Record:
    """The record of one finished episode."""
    if state.stop_reason is None:  # attempts loop until the state machine stops them: this is a bug, not data
        raise RuntimeError(f"{attempt} on {problem.id}: build_record on an episode that has not stopped")
    final = state.final_node()
    final_answer = final.answer if final is not None else None
    correct = final.correct if final is not None else (False if problem.answer is not None else None)
    return Record(
        problem_id=problem.id,
        attempt=attempt,
        problem=problem,
        tree=state.tree,
        turns=state.turns,
        shortcut=shortcut(state.tree, final),
        long_thought=long_thought(state.tree, state.turns, final_answer if correct else None),
        final_answer=final_answer,
        correct=correct,
        stop_reason=state.stop_reason,
        usage=usage_by_role(clients),
        meta={
            "parse_failures": state.parse_failures,
            "backtracks": state.backtracks,
            "reflections": state.reflections,
            "policy_turns": state.policy_turns,
            "overridden_verdicts": state.overridden_verdicts,
            "tokens": state.tokens,
            "truncated_replies": truncated_replies(clients),
            "looping_replies": looping_replies(clients),
            **meta,
        },
    )

