import subprocess
import sys

import pytest

from protocols.types import Problem
from synthesis.critique_loop import CritiqueLoopConfig, run_critique_loop, split_proposal
from tests.fakes import ScriptedLLM

PROBLEM = Problem(id="p", question="2x = 8. What is x?", answer="4")


def test_split_proposal():
    step, verdict = split_proposal("1. x = 4\nACTION: backtrack to 1")
    assert step.strip() == "1. x = 4" and verdict.action.value == "backtrack" and verdict.backtrack_to == 1
    step, verdict = split_proposal("1. x = 4")
    assert verdict.action.value == "reflect" and not verdict.parsed


async def test_self_chosen_actions_drive_the_same_state_machine():
    llm = ScriptedLLM(policy=["1. x = 3\nACTION: backtrack to 1\nREASON: 2*3=6", "1. Divide by 2.\nACTION: continue",
                              "2. x = \\boxed{4}\nACTION: terminate"])
    record = await run_critique_loop(PROBLEM, CritiqueLoopConfig(), llm)
    assert record.attempt == "critique_loop" and record.correct and record.stop_reason == "terminated"
    assert [t.action.value for t in record.turns if t.action] == ["backtrack", "continue", "terminate"]
    assert record.shortcut == "1. Divide by 2.\n2. x = \\boxed{4}"
    assert "Let me start over." in record.long_thought


async def test_terminating_on_a_wrong_answer_sends_the_negative_signal_back():
    llm = ScriptedLLM(policy=["1. x = \\boxed{5}\nACTION: terminate", "1. I am done.\nACTION: terminate",
                              "1. x = \\boxed{4}\nACTION: terminate"])
    record = await run_critique_loop(PROBLEM, CritiqueLoopConfig(), llm)
    assert record.correct and sum(t.action is not None for t in record.turns) == 3
    second_prompt, third_prompt = (prompt[-1]["content"] for prompt in llm.prompts["policy"][1:3])
    assert "The answer 5 is not correct." in second_prompt
    assert "not a final answer yet" in third_prompt


@pytest.mark.slow
def test_critique_loop_cli_on_the_embedded_model(tmp_path, with_data_dir, embedded_api_base, monkeypatch):
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "synthesis.critique_loop", "--problems", "math500", "--limit", "1", "--out", str(out),
         "--max-turns", "2", "--policy-max-tokens", "48"],
        capture_output=True, text=True, timeout=600,
        env={**__import__("os").environ, "LONGTHOUGHT_EMBEDDED_API_BASE": embedded_api_base},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len((out / "records.jsonl").read_text().splitlines()) == 1


def test_help_is_generated_from_the_configs():
    result = subprocess.run([sys.executable, "-m", "synthesis.critique_loop", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0
    for flag in ("--problems", "--max-turns", "--policy-max-tokens", "--budget-cost", "--dry-run", "runs/critique-demo"):
        assert flag in result.stdout.replace("_", "-") or flag in result.stdout
