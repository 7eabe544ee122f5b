"""records.jsonl and failures.jsonl: a torn last line is repaired, a corrupt line is named, and a failed problem
keeps its partial transcript."""

import json

import pytest

from protocols.types import Problem, Record
from synthesis.engine import RecordLog, RunError
from tests.fakes import ScriptedLLM
from tests.synthesis.engine.scripted_run import make_problems, scripted_run


def test_a_torn_last_line_is_repaired(tmp_path):
    path = tmp_path / "records.jsonl"
    good = Record(problem_id="a", attempt="debate", problem=Problem(id="a", question="?"), stop_reason="terminated").to_json()
    path.write_text(good + "\n" + good[:40])
    log = RecordLog(path)
    assert log.done_ids == {"a"} and log.repaired_bytes == 40
    assert path.read_text() == good + "\n"


def test_a_corrupt_middle_line_names_the_line(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"problem_id": "a"}\nnot json\n{"problem_id": "b"}\n')
    with pytest.raises(RunError, match=r"records\.jsonl:2"):
        RecordLog(path)


async def test_a_failed_episode_keeps_its_partial_transcript(tmp_path):
    from agents.calls.client import LLMError
    from synthesis.debate import DebateConfig, run_debate

    class FlakyCritic(ScriptedLLM):
        async def complete(self, messages, *, role="default", **kwargs):
            if len(self.prompts[role]) >= 1:
                raise LLMError("fake/critic: RateLimitError after 5 attempt(s)")
            return await super().complete(messages, role=role, **kwargs)

    policy, critic = ScriptedLLM(policy=["1. x = 4"]), FlakyCritic(critic=["ACTION: continue"])
    run = scripted_run(tmp_path, {"policy": policy, "critic": critic})
    summary = await run.execute(make_problems(1), lambda p: run_debate(p, DebateConfig(), policy, critic))
    assert summary.failed == 1
    failure = json.loads((tmp_path / "run" / "failures.jsonl").read_text())
    assert "RateLimitError" in failure["error"]
    assert [turn["role"] for turn in failure["turns"]] == ["policy", "critic", "policy"]
    assert failure["raw"] == "x = 4"
