"""The reply guard: a run whose critic, judge or self-critiquing policy replies are mostly empty, cut off or
unparseable stops early with one line; finish reasons are kept on every turn; reasoning models get their budget."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from agents.calls.reply_guard import ReplyGuard, UnusableReplies, guarded, unusable_message
from protocols.types import Problem
from synthesis.critique_loop import CritiqueLoopConfig, run_critique_loop
from synthesis.debate import DebateConfig, run_debate
from synthesis.engine import Run, RunConfig, report_summary
from synthesis.episode import EpisodeError
from synthesis.tree_search import TreeSearchConfig, scorer_factory
from tests.conftest import REPO, chat_completion_body
from tests.fakes import ScriptedLLM


def _problems(count: int) -> list[Problem]:
    return [Problem(id=f"q{i}", question=f"2x = {2 * i}. What is x?", answer=str(i)) for i in range(count)]


async def _debate_run(tmp_path, policy: ScriptedLLM, critic: ScriptedLLM, problems: int = 10, **config):
    config = DebateConfig(max_turns=3, **config)
    run = Run("debate", RunConfig(out=str(tmp_path / "run"), preflight=False, concurrency=1), config,
              {"policy": policy, "critic": critic}, {})
    summary = await run.execute(_problems(problems), lambda problem: run_debate(problem, config, policy, critic))
    return summary, tmp_path / "run"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_more_than_half_bad_among_the_first_replies_stops_with_one_line():
    guard = ReplyGuard()
    for _ in range(5):  # 5 of 5 bad: too few replies to judge yet
        guard.observe("critic", "openai/o3-mini", "", "length", False, budget_flag="--critic-max-tokens")
    with pytest.raises(UnusableReplies) as raised:
        guard.observe("critic", "openai/o3-mini", "", "length", False, budget_flag="--critic-max-tokens")
    message = str(raised.value)
    assert message == ("critic model 'openai/o3-mini' returned 6 of 6 early replies truncated (finish_reason=length), "
                       "e.g. ''; raise --critic-max-tokens or --reasoning-tokens")
    with pytest.raises(UnusableReplies):  # tripped for good: problems in flight stop at their next reply
        guard.observe("critic", "openai/o3-mini", "ACTION: continue", "stop", True)
    guard.observe("policy", "openai/o3-mini", "1. x = 4", "stop", True)  # other roles are tallied on their own


def test_half_bad_or_bad_only_after_the_window_is_not_stopped():
    guard = ReplyGuard()
    for index in range(20):  # every other reply bad: never more than half
        good = index % 2 == 0
        guard.observe("critic", "m/x", "ACTION: continue" if good else "no verdict here", "stop", good, mode="on")
    for _ in range(30):  # the first 20 replies proved the role usable; later ones are not judged
        guard.observe("critic", "m/x", "", "length", False, mode="on")


def test_unparseable_replies_name_the_way_out():
    guard = ReplyGuard()
    long_reply = "The student's step looks plausible but I am not sure, " * 3
    with pytest.raises(UnusableReplies) as raised:
        for _ in range(6):
            guard.observe("judge", "hosted_vllm/tiny", long_reply, "stop", False, mode="on")
    message = str(raised.value)
    assert "judge model 'hosted_vllm/tiny' returned 6 of 6 early replies unparseable" in message
    assert "--reply-guard off" in message and "\n" not in message and len(message) < 300


@pytest.mark.parametrize(("model", "auto"), [
    ("openai/o3-mini", True), ("openai/gpt-4o-mini", True), ("oracle/reference-reasoning", True),
    ("embedded/smollm2-135m", False), ("hosted_vllm/stub", False), ("smol", False),  # a router name
])
def test_auto_guards_hosted_and_reasoning_models_only(model, auto):
    assert (guarded(model, "auto"), guarded(model, "on"), guarded(model, "off")) == (auto, True, False)
    guard = ReplyGuard()
    for _ in range(10):
        guard.observe("critic", model, "", "length", False, mode="off")
    with pytest.raises(UnusableReplies):
        for _ in range(6):
            guard.observe("critic", model, "", "length", False, mode="on")


async def test_a_debate_whose_critic_returns_nothing_stops_the_run_early(tmp_path):
    policy = ScriptedLLM(policy=["1. x = 3"])
    critic = ScriptedLLM(model="openai/o3-mini", finish_reason="length", critic=[""])
    summary, out = await _debate_run(tmp_path, policy, critic)
    # 3 critic replies per problem: the 6th (problem 2) trips the guard; problems 3..10 never start.
    assert (summary.status, summary.done, summary.failed) == ("stopped", 1, 1)
    assert len(critic.sampling["critic"]) == 6
    message = summary.stop_note
    assert message.startswith("critic model 'openai/o3-mini' returned 6 of 6 early replies") and "e.g. ''" in message
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "stopped" and manifest["stop_note"] == message
    failure, = _lines(out / "failures.jsonl")
    assert failure["problem_id"] == "q1" and "UnusableReplies" in failure["error"]
    assert [turn["finish_reason"] for turn in failure["turns"] if turn["role"] == "critic"] == ["length"] * 3
    # The reasoning critic got its reasoning allowance on top of the verdict cap; the ordinary policy did not.
    assert {call["max_tokens"] for call in critic.sampling["critic"]} == {128 + 4096}
    assert {call["max_tokens"] for call in policy.sampling["policy"]} == {256}
    console = Console(record=True, width=80, soft_wrap=True)
    assert report_summary(summary, console) == 1
    assert console.export_text().rstrip().splitlines()[-1] == message


async def test_a_healthy_debate_run_is_not_stopped_and_keeps_finish_reasons(tmp_path):
    policy = ScriptedLLM(finish_reason="stop", policy=["1. Divide both sides by 2."])
    critic = ScriptedLLM(model="openai/o3-mini", finish_reason="stop", critic=["ACTION: continue\nREASON: fine"])
    summary, out = await _debate_run(tmp_path, policy, critic)
    assert (summary.status, summary.done, summary.failed, summary.stop_note) == ("completed", 10, 0, None)
    records = _lines(out / "records.jsonl")
    assert {turn["finish_reason"] for record in records for turn in record["turns"]} == {"stop"}


async def test_the_embedded_critic_is_not_stopped_by_default_but_is_with_reply_guard_on(tmp_path):
    def clients():
        return ScriptedLLM(policy=["1. x = 3"]), ScriptedLLM(model="embedded/smollm2-135m", critic=["Nice work!"])
    summary, _ = await _debate_run(tmp_path / "auto", *clients())
    assert (summary.status, summary.done) == ("completed", 10)
    summary, _ = await _debate_run(tmp_path / "on", *clients(), reply_guard="on")
    assert summary.status == "stopped" and "unparseable" in summary.stop_note


async def test_the_critique_loop_watches_the_policys_own_action():
    llm = ScriptedLLM(model="openai/o3-mini", finish_reason="length", policy=["1. Let me think about"])
    with pytest.raises(EpisodeError) as raised:
        await run_critique_loop(_problems(2)[1], CritiqueLoopConfig(max_turns=10), llm)
    assert "policy model 'openai/o3-mini'" in unusable_message(raised.value)
    assert len(llm.sampling["policy"]) == 6 and llm.sampling["policy"][0]["max_tokens"] == 256 + 4096
    assert "--policy-max-tokens" in unusable_message(raised.value)


async def test_the_critique_loop_keeps_finish_reasons_on_its_turns():
    llm = ScriptedLLM(finish_reason="stop", policy=["1. x = \\boxed{1}\nACTION: terminate"])
    record = await run_critique_loop(_problems(2)[1], CritiqueLoopConfig(), llm)
    assert [turn.finish_reason for turn in record.turns] == ["stop", "stop"]


async def test_a_tree_search_judge_that_never_decides_is_stopped():
    llm = ScriptedLLM(model="openai/o1-mini", finish_reason="length", judge=[""])
    judge = scorer_factory(TreeSearchConfig(scorer="llm-judge"))({"scorer": llm})
    problem = _problems(2)[1]
    for _ in range(5):
        assert (await judge.score(problem, ["x = 1"])).correct is None
    with pytest.raises(UnusableReplies, match=r"^judge model 'openai/o1-mini' returned 6 of 6 .*--reasoning-tokens$"):
        await judge.score(problem, ["x = 1"])
    assert llm.sampling["judge"][0]["max_tokens"] == 256 + 4096


def test_a_ray_workers_failure_is_recognised_from_its_text():
    distributed = pytest.importorskip("synthesis.engine.ray")
    message = "critic model 'openai/o3-mini' returned 6 of 8 early replies empty, e.g. ''; raise --reasoning-tokens"
    error = distributed.RemoteProblemError({"error": f"EpisodeError: UnusableReplies: {message} (on Ray worker h:1)"})
    assert unusable_message(error) == f"{message} (on Ray worker h:1)"
    assert unusable_message(RuntimeError("Ray worker 0 was lost")) is None


def test_the_debate_command_stops_on_a_truncating_reasoning_critic(tmp_path, stub_server):
    # The real path: litellm sends the budget as max_completion_tokens, the finish reason comes back through autogen.
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"{i} + {i}?", "answer": str(2 * i)}) + "\n"
                                for i in range(10)))
    body = chat_completion_body("")
    body["choices"][0]["finish_reason"] = "length"
    with stub_server([(200, body)]) as server:
        result = subprocess.run(
            [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(tmp_path / "run"),
             "--policy-model", "openai/stub", "--policy-api-base", server.api_base, "--critic-model", "openai/o3-mini",
             "--critic-api-base", server.api_base, "--max-turns", "3", "--concurrency", "1"],
            capture_output=True, text=True, timeout=300, cwd=REPO,
            env={**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key"})
    assert result.returncode == 1, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last == ("critic model 'openai/o3-mini' returned 6 of 6 early replies truncated (finish_reason=length), "
                    "e.g. ''; raise --critic-max-tokens or --reasoning-tokens")
    critic_calls = [r for r in server.requests if r["model"] == "o3-mini" and r.get("max_completion_tokens") != 1]
    assert len(critic_calls) == 6 and {r["max_completion_tokens"] for r in critic_calls} == {128 + 4096}
    assert {r["max_tokens"] for r in server.requests if r["model"] == "stub" and r["max_tokens"] != 1} == {256}
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "stopped" and manifest["problems"]["done_now"] == 1


@pytest.mark.slow
def test_an_oracle_reasoning_critic_needs_its_reasoning_budget(tmp_path, with_data_dir):
    # oracle/reference-reasoning spends 1,024 hidden tokens before any verdict, like an o1-style model: with no
    # reasoning allowance on the 128-token critic cap every verdict comes back empty and the run stops early.
    def debate(out, *flags):
        return subprocess.run([sys.executable, "-m", "synthesis.debate", "--problems", "math500", "--limit", "12",
                               "--policy-model", "oracle/reference", "--critic-model", "oracle/reference-reasoning",
                               "--concurrency", "2", "--out", str(out), *flags],
                              capture_output=True, text=True, timeout=300)

    starved = debate(tmp_path / "starved", "--reasoning-tokens", "0")
    assert starved.returncode == 1
    last = starved.stderr.strip().splitlines()[-1]
    assert last.startswith("critic model 'oracle/reference-reasoning' returned") and "e.g. ''" in last
    manifest = json.loads((tmp_path / "starved" / "manifest.json").read_text())
    assert manifest["status"] == "stopped" and manifest["problems"]["done_now"] + manifest["problems"]["failed_now"] < 12
    sized = debate(tmp_path / "sized")
    assert sized.returncode == 0, sized.stderr[-1000:]
    records = [json.loads(line) for line in (tmp_path / "sized" / "records.jsonl").read_text().splitlines()]
    assert len(records) == 12 and all(record["correct"] for record in records)
    critic_turns = [turn for record in records for turn in record["turns"] if turn["role"] == "critic"]
    assert critic_turns and all(turn["finish_reason"] == "stop" for turn in critic_turns)
