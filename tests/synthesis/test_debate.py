import json
import subprocess
import sys

import pytest

from autogen_agentchat.base import TerminatedException, TerminationCondition
from autogen_agentchat.messages import StopMessage

from protocols.actions import parse_verdict
from protocols.loop import LoopState, StopReason
from protocols.types import Problem
from synthesis import debate
from synthesis.debate import DebateConfig, LoopTermination, run_debate
from tests.fakes import ScriptedLLM

PROBLEM = Problem(id="p", question="2x = 8. What is x?", answer="4")


async def _debate(policy, critic, **config):
    return await run_debate(PROBLEM, DebateConfig(**config), ScriptedLLM(policy=policy), ScriptedLLM(critic=critic))


async def test_backtrack_moves_frontier_but_keeps_branch():
    record = await _debate(["1. x = 3", "1. x = \\boxed{4}"], ["ACTION: backtrack to 1\nREASON: 2 * 3 is 6", "ACTION: terminate"])
    assert [t.action for t in record.turns if t.role == "critic"] == ["backtrack", "terminate"]
    assert record.tree.count_nodes() == 3  # root, the wrong step, the right step
    assert "x = 3" in record.long_thought and record.correct
    assert record.shortcut == "1. x = \\boxed{4}" and record.final_answer == "4"
    assert record.stop_reason == "terminated"


async def test_every_action_path_and_the_record_fields():
    record = await _debate(
        ["1. Divide by 2.", "2. x = 5, so \\boxed{5}", "2. x = \\boxed{4}"],
        ["ACTION: continue\nREASON: fine", "ACTION: reflect\nREASON: 8 / 2 is 4", "ACTION: terminate"],
    )
    assert [t.action.value for t in record.turns if t.role == "critic"] == ["continue", "reflect", "terminate"]
    assert record.correct and record.meta["reflections"] == 1
    assert record.usage["policy"].calls == 3 and record.usage["critic"].calls == 3
    assert record.shortcut == "1. Divide by 2.\n2. x = \\boxed{4}"


async def test_the_critic_hears_only_whether_the_answer_is_right():
    critic = ScriptedLLM(critic=["ACTION: terminate", "ACTION: terminate"])
    await run_debate(PROBLEM, DebateConfig(), ScriptedLLM(policy=["1. \\boxed{5}", "1. \\boxed{4}"]), critic)
    first, second = (prompt[-1]["content"] for prompt in critic.prompts["critic"])
    assert "is WRONG" in first and "is CORRECT" in second
    assert "Correct final answer" not in first


async def test_critic_sees_answer_flag():
    critic = ScriptedLLM(critic=["ACTION: terminate"])
    await run_debate(PROBLEM, DebateConfig(critic_sees_answer=True), ScriptedLLM(policy=["1. \\boxed{4}"]), critic)
    assert "Correct final answer: 4" in critic.prompts["critic"][0][-1]["content"]


async def test_an_unparseable_verdict_is_data_not_a_crash():
    record = await _debate(["1. x = 4", "2. \\boxed{4}"], ["Nice work, friend!", "ACTION: terminate"])
    assert record.meta["parse_failures"] == 1
    critic_turns = [t for t in record.turns if t.role == "critic"]
    assert critic_turns[0].action.value == "reflect" and critic_turns[0].content == "Nice work, friend!"
    assert record.tree.nodes[1].verdict.parsed is False


async def test_a_policy_that_never_answers_stops_at_max_turns():
    record = await _debate(["1. hmm"], ["ACTION: continue"], max_turns=4)
    assert record.stop_reason == "max_turns" and record.correct is False and record.final_answer is None
    assert sum(t.role == "policy" for t in record.turns) == 4


async def test_a_policy_that_writes_terminate_does_not_end_the_debate():
    record = await _debate(["1. TERMINATE", "ACTION: terminate"], ["ACTION: continue"], max_turns=3)
    assert record.stop_reason == "max_turns"
    assert sum(t.role == "policy" for t in record.turns) == 3


class _RecordingTermination(LoopTermination):
    """The debate's own condition, remembering what it was shown and what it said."""

    made = []  # every condition a debate built, in order

    def __init__(self, state):
        super().__init__(state)
        self.calls: list[tuple[list[str], StopMessage | None]] = []
        _RecordingTermination.made.append(self)

    async def __call__(self, messages):
        stop = await super().__call__(messages)
        self.calls.append(([message.source for message in messages], stop))
        return stop


@pytest.fixture
def termination(monkeypatch):
    _RecordingTermination.made = []
    monkeypatch.setattr(debate, "LoopTermination", _RecordingTermination)
    return _RecordingTermination.made


@pytest.mark.parametrize(
    "problem,policy,critic,config,reason,rounds",
    [
        # No gold answer: nothing to check, so the critic's own terminate is what ends it.
        (Problem(id="free", question="Say why 2x = 8 gives x = 4."), ["1. Divide by 2."],
         ["ACTION: continue", "ACTION: terminate"], {}, StopReason.TERMINATED, 2),
        (PROBLEM, ["1. Divide by 2.", "2. x = \\boxed{4}"], ["ACTION: continue", "ACTION: terminate"], {},
         StopReason.TERMINATED, 2),
        (PROBLEM, ["1. hmm"], ["ACTION: continue"], {"max_turns": 3}, StopReason.MAX_TURNS, 3),
        (PROBLEM, ["1. x = 3"], ["ACTION: backtrack to 1\nREASON: 2 * 3 is 6"], {"max_backtracks": 2},
         StopReason.MAX_BACKTRACKS, 3),
        # The fake spends 20 tokens a call: 40 a round, so a 100-token budget is spent in the third round.
        (PROBLEM, ["1. hmm"], ["ACTION: continue"], {"max_problem_tokens": 100}, StopReason.MAX_TOKENS, 3),
    ],
    ids=["critic-terminates", "critic-terminates-on-checked-answer", "max-turns", "max-backtracks", "token-budget"],
)
async def test_the_team_stops_because_the_loop_says_so(termination, problem, policy, critic, config, reason, rounds):
    policy_llm, critic_llm = ScriptedLLM(policy=policy), ScriptedLLM(critic=critic)
    record = await run_debate(problem, DebateConfig(**config), policy_llm, critic_llm)
    assert record.stop_reason == reason
    assert len(policy_llm.prompts["policy"]) == len(critic_llm.prompts["critic"]) == rounds  # not one call more
    (condition,) = termination
    # Asked once a round with that round's two messages; silent until the last, which is where the team stopped.
    assert [sources for sources, _ in condition.calls] == [["policy", "critic"]] * rounds
    assert [stop for _, stop in condition.calls[:-1]] == [None] * (rounds - 1)
    stop = condition.calls[-1][1]
    assert condition.terminated and stop.content == reason.value and stop.source == "loop"


async def test_the_loop_termination_keeps_autogens_contract():
    state = LoopState(has_gold_answer=True)
    condition = LoopTermination(state)
    assert isinstance(condition, TerminationCondition) and not condition.terminated
    state.add_step("x = 4", answer="4", correct=True)
    assert await condition([]) is None  # a step waiting for its verdict never stops the episode
    state.apply(parse_verdict("ACTION: continue"))  # a checked-correct answer ends it whatever was said
    assert (await condition([])).content == "terminated" and condition.terminated
    with pytest.raises(TerminatedException):
        await condition([])
    await condition.reset()
    assert not condition.terminated
    assert (await condition([])).content == "terminated"  # a stopped episode stays stopped


def _write_problems(path, count):
    path.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"What is {i}+{i}?", "answer": str(2 * i)}) + "\n"
                            for i in range(count)))


@pytest.mark.slow
def test_debate_cli_on_the_embedded_model_writes_records_and_resumes(tmp_path, with_data_dir):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "synthesis.debate", "--problems", "math500", "--limit", "2", "--out", str(out),
               "--max-turns", "2", "--policy-max-tokens", "48", "--critic-max-tokens", "32"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    lines = (out / "records.jsonl").read_text().splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert {r["attempt"] for r in records} == {"debate"} and all(r["turns"] for r in records)
    assert all(r["usage"]["policy"]["completion_tokens"] > 0 for r in records)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["models"]["critic"] == "embedded/smollm2-135m"
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "nothing to do" in again.stderr
    assert len((out / "records.jsonl").read_text().splitlines()) == 2


def test_dry_run_spends_nothing(tmp_path, with_data_dir):
    result = subprocess.run([sys.executable, "-m", "synthesis.debate", "--problems", "math500", "--limit", "5",
                             "--max-turns", "3", "--dry-run", "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "5 problems" in result.stderr and "at most 30 model calls" in result.stderr
    assert not (tmp_path / "run" / "records.jsonl").exists()


def test_bad_problem_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "ok"}\n{oops\n')
    result = subprocess.run([sys.executable, "-m", "synthesis.debate", "--problems", str(bad), "--out", str(tmp_path / "r")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "bad.jsonl:2: invalid JSON" in result.stderr
    assert "Traceback" not in result.stderr


async def test_the_policy_seed_changes_every_turn_and_problem():
    # One seed for every turn made a seeded server (or the replay cache) repeat a rejected step until max_turns.
    seeds = {}
    for problem_id in ("p", "q"):
        policy = ScriptedLLM(policy=["1. x = 3", "1. x = 5", "1. x = \\boxed{4}"])
        critic = ScriptedLLM(critic=["ACTION: backtrack to 1\nREASON: I doubled instead of halving."] * 2
                             + ["ACTION: terminate"])
        await run_debate(PROBLEM.model_copy(update={"id": problem_id}), DebateConfig(), policy, critic, seed=7)
        seeds[problem_id] = [call["seed"] for call in policy.sampling["policy"]]
    assert len(set(seeds["p"])) == 3 and not set(seeds["p"]) & set(seeds["q"])


async def test_a_critic_answering_as_a_grader_still_gives_a_first_person_thought():
    record = await _debate(
        ["1. x = 16", "1. x = 3", "1. x = \\boxed{4}"],
        ["ACTION: backtrack to 1\nREASON: The student multiplied by 2 instead of dividing.",
         "ACTION: reflect\nREASON: The critic thinks the policy's division is off.", "ACTION: terminate"],
    )
    text = record.long_thought.lower()
    assert "i multiplied by 2 instead of dividing" in text
    for third_party in ("the student", "the policy", "the critic", "the assistant"):
        assert third_party not in text
