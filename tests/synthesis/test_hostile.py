"""Hostile model output and hostile files: huge numbers, runaway replies, broken caches, bad flags."""

import json
import logging
import subprocess
import sys

import pytest

from agents.calls.cache import CompletionCache
from agents.calls.client import LLMClient, LLMConfig
from protocols.actions import parse_verdict
from protocols.loop import LoopState, StopReason
from protocols.types import Action, Problem, Verdict
from synthesis import critique_loop
from synthesis.annotate import ExpandConfig
from synthesis.critique_loop import CritiqueLoopConfig, run_critique_loop
from synthesis.debate import DebateConfig, run_debate
from synthesis.episode import EpisodeError
from synthesis.tree_search import TreeSearchConfig, make_clients
from tests.conftest import chat_completion_body
from tests.fakes import ScriptedLLM

PROBLEM = Problem(id="p", question="2x = 8. What is x?", answer="4")


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch):
    monkeypatch.setenv("LONGTHOUGHT_TEST_KEY", "sk-test-not-a-real-key")


def _client(api_base: str, cache_dir) -> LLMClient:
    return LLMClient(LLMConfig(model="openai/stub", api_base=api_base, api_key_env="LONGTHOUGHT_TEST_KEY",
                               cache_dir=cache_dir, max_retries=0))


# -- item 3: numbers a parser must survive ----------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    '{"action": "backtrack", "step": 1e400, "reason": "r"}',
    '{"action": "backtrack", "step": ' + "9" * 5000 + "}",
    '{"action": "backtrack", "step": "' + "9" * 5000 + '"}',
    '{"action": "backtrack", "step": NaN}',
    "backtrack to " + "9" * 5000,
    "ACTION: backtrack to step " + "1" * 40,
])
def test_a_target_that_does_not_fit_is_no_target_and_not_parsed(text):
    verdict = parse_verdict(text)
    assert verdict.action is Action.BACKTRACK and verdict.backtrack_to is None
    assert verdict.parsed is False and verdict.raw == text


def test_ordinary_targets_still_parse():
    assert parse_verdict('{"action": "backtrack", "step": 2.0}').backtrack_to == 2
    assert parse_verdict('{"action": "backtrack", "step": "3"}').backtrack_to == 3
    verdict = parse_verdict("ACTION: backtrack to 12\nREASON: wrong")
    assert (verdict.backtrack_to, verdict.parsed) == (12, True)


# -- item 3: a failed episode is not replayed from the cache; item 6: raw is the reply that broke it ------------
async def test_a_failed_episodes_replies_are_not_replayed_and_raw_is_the_breaking_reply(stub_server, tmp_path,
                                                                                        monkeypatch):
    reply = "1. x = \\boxed{4}\nACTION: terminate"
    checks = []

    async def flaky_check(problem, answer):
        checks.append(answer)
        if len(checks) == 1:
            raise RuntimeError("the checker broke")
        return answer == "4"

    monkeypatch.setattr(critique_loop, "check_final_answer", flaky_check)
    with stub_server([(200, chat_completion_body(reply))]) as server:
        llm = _client(server.api_base, tmp_path)
        with pytest.raises(EpisodeError) as failed:
            await run_critique_loop(PROBLEM, CritiqueLoopConfig(), llm)
        assert failed.value.raw == reply  # not turns[-1]: the reply never became a turn
        assert len(CompletionCache(tmp_path)) == 0
        record = await run_critique_loop(PROBLEM, CritiqueLoopConfig(), llm)
    assert record.correct and len(server.requests) == 2  # the retry asked the server again


def test_a_garbage_cache_file_is_moved_aside_with_one_warning(tmp_path, caplog):
    (tmp_path / "completions.sqlite").write_bytes(b"this is not a database, it is garbage" * 100)
    with caplog.at_level(logging.WARNING, logger="longthought.cache"):
        cache = CompletionCache(tmp_path)
    assert len(cache) == 0
    assert len(caplog.records) == 1 and "completions.sqlite" in caplog.records[0].getMessage()
    assert [path.name for path in tmp_path.glob("completions.sqlite.corrupt-*")]


# -- item 5: one reply is bounded in characters, whatever the server says about tokens --------------------------
async def test_a_runaway_reply_is_cut_and_counted(stub_server, tmp_path):
    huge = "1. " + "x" * 2_000_000 + "\nACTION: continue"
    # The server claims 3 completion tokens for 2 MB of text: usage cannot be trusted to bound a reply.
    with stub_server([(200, chat_completion_body(huge))]) as server:
        llm = _client(server.api_base, tmp_path)
        completion = await llm.complete([{"role": "user", "content": "go"}])
        record = await run_critique_loop(PROBLEM, CritiqueLoopConfig(max_turns=2), llm)
    assert len(completion.text) == LLMConfig().max_reply_chars and completion.finish_reasons == ["length"]
    assert completion.truncated == 1
    policy_turns = [turn for turn in record.turns if turn.role == "policy" and turn.action is None]
    assert all(len(turn.content) <= 16_000 and turn.finish_reason == "length" for turn in policy_turns)
    assert record.meta["truncated_replies"] == 2
    assert len(record.model_dump_json()) < 200_000


# -- item 6: terminating without an answer is one rule of the state machine -------------------------------------
def test_terminate_without_an_answer_becomes_reflect_when_a_gold_answer_exists():
    state = LoopState(has_gold_answer=True)
    state.add_step("1. Divide both sides by 2.")
    taken = state.apply(Verdict(action=Action.TERMINATE, reason="done", raw="terminate"))
    assert taken is Action.REFLECT and not state.done
    assert state.feedback == "That is not a final answer yet. Let me think again."
    assert state.overridden_verdicts == 1
    free = LoopState()  # no gold answer: nothing to check, the judge may end it
    free.add_step("1. Divide both sides by 2.")
    assert free.apply(Verdict(action=Action.TERMINATE, reason="", raw="t")) is Action.TERMINATE
    assert free.stop_reason == StopReason.TERMINATED


async def test_the_debate_critic_cannot_end_an_answerless_episode():
    record = await run_debate(PROBLEM, DebateConfig(), ScriptedLLM(policy=["1. Divide by 2.", "2. x = \\boxed{4}"]),
                              ScriptedLLM(critic=["ACTION: terminate", "ACTION: terminate"]))
    assert [t.action.value for t in record.turns if t.role == "critic"] == ["reflect", "terminate"]
    assert record.correct and record.final_answer == "4"


# -- item 13 (part) and item 2: configs refuse nonsense, each role takes its own key variable -------------------
@pytest.mark.parametrize("config_type,field_name,value", [
    (DebateConfig, "policy_max_tokens", 0), (DebateConfig, "critic_max_tokens", -5),
    (DebateConfig, "policy_temperature", -0.1), (DebateConfig, "critic_temperature", -1.0),
    (CritiqueLoopConfig, "policy_max_tokens", 0), (CritiqueLoopConfig, "temperature", -0.5),
    (TreeSearchConfig, "policy_max_tokens", 0), (TreeSearchConfig, "policy_temperature", -2.0),
    (ExpandConfig, "expander_max_tokens", 0), (ExpandConfig, "temperature", -0.7),
])
def test_attempt_configs_refuse_bad_numbers_naming_the_field(config_type, field_name, value):
    with pytest.raises(ValueError, match=rf"^{field_name}: expected"):
        config_type(**{field_name: value})


def test_tree_search_roles_take_their_own_server_and_key_variable():
    config = TreeSearchConfig(scorer="llm-judge", policy_api_key_env="P_KEY", scorer_api_base="http://s/v1",
                              scorer_api_key_env="S_KEY", rewrite_api_base="http://r/v1", rewrite_api_key_env="R_KEY")
    clients = make_clients(config, {})
    assert clients["policy"].config.api_key_env == "P_KEY"
    assert (clients["scorer"].config.api_base, clients["scorer"].config.api_key_env) == ("http://s/v1", "S_KEY")
    assert (clients["rewriter"].config.api_base, clients["rewriter"].config.api_key_env) == ("http://r/v1", "R_KEY")


def test_a_missing_key_variable_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.delenv("LONGTHOUGHT_ABSENT_KEY", raising=False)
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps({"id": "q", "problem": "1 + 1?", "answer": "2"}) + "\n")
    result = subprocess.run([sys.executable, "-m", "synthesis.critique_loop", "--problems", str(problems), "--out",
                             str(tmp_path / "run"), "--model", "openai/stub", "--api_base", "http://127.0.0.1:9/v1",
                             "--api_key_env", "LONGTHOUGHT_ABSENT_KEY"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "environment variable LONGTHOUGHT_ABSENT_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
