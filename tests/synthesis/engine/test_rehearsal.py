"""Rehearsal data says what it is: every row and the manifest name the roles the oracle played, and the last line a
synthesis run prints says the data is oracle data."""

from __future__ import annotations

import asyncio
import json

from agents.backends.litellm_router import RouterSpec
from agents.calls.client import LLMClient
from protocols.rehearsal import describe, manifest_oracle_roles, oracle_roles, row_oracle_roles
from protocols.types import Problem, Record
from synthesis.engine import Run, RunConfig
from synthesis.engine.rehearsal import client_oracle_roles
from tests.fakes import ScriptedLLM


def test_a_debate_on_the_oracle_marks_records_manifest_and_the_last_line(tmp_path, capsys, with_data_dir):
    from synthesis import debate

    out = tmp_path / "run"
    argv = ["--problems", "math500", "--limit", "2", "--out", str(out), "--policy-model", "oracle/reference-e30",
            "--critic-model", "oracle/reference"]
    assert debate.main(argv) == 0
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert [row_oracle_roles(record["meta"]) for record in records] == [["critic", "policy"]] * 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["oracle_roles"] == ["critic", "policy"] == manifest_oracle_roles(manifest)
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("completed: 2 new records") and "ORACLE DATA (critic, policy played by oracle/…)" in last
    # A rerun with nothing to do still says so.
    assert debate.main(argv) == 0
    assert "ORACLE DATA" in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_run_without_the_oracle_marks_its_rows_with_no_roles_and_says_nothing(tmp_path):
    llm = ScriptedLLM(policy=["x"])
    run = Run("debate", RunConfig(out=str(tmp_path / "run"), preflight=False), RunConfig(), {"policy": llm}, {})

    async def solve(problem: Problem) -> Record:
        return Record(problem_id=problem.id, attempt="debate", problem=problem, stop_reason="terminated")

    summary = asyncio.run(run.execute([Problem(id="q", question="1?", answer="1")], solve))
    record = json.loads((tmp_path / "run" / "records.jsonl").read_text())
    assert record["meta"]["oracle_roles"] == [] and summary.oracle_roles == []
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["oracle_roles"] == []


def test_old_rows_fall_back_to_the_manifest_and_a_router_name_is_seen_through():
    assert row_oracle_roles({"wall_time_s": 1.0}) is None  # written before the mark: ask the manifest
    assert manifest_oracle_roles({"models": {"policy": "oracle/reference-e30", "critic": "openai/gpt-4o"}}) == ["policy"]
    assert oracle_roles({"judge": ["oracle/reference", "openai/x"], "policy": "hf/run/final"}) == ["judge"]
    assert describe([]) == "" and describe(["policy", "critic"]).startswith("ORACLE DATA (critic, policy")
    router = RouterSpec.model_validate({"source": "test", "model_list": [
        {"model_name": "strong", "litellm_params": {"model": "oracle/reference"}}]})
    clients = {"critic": LLMClient(model="strong", router=router), "policy": LLMClient(model="openai/gpt-4o")}
    assert client_oracle_roles(clients) == ["critic"]


def test_accuracy_and_reward_model_commands_on_the_oracle_say_so_last(tmp_path, capsys, with_data_dir):
    from eval.accuracy import main as accuracy_main
    from eval.reward_models import main as reward_main

    assert accuracy_main(["--model", "oracle/reference", "--problems", "math500", "--limit", "1",
                          "--out", str(tmp_path / "acc")]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "[ORACLE DATA (model played by oracle/…): a rehearsal, not a model's results]")
    assert reward_main(["--scorer", "llm-judge", "--scorer-model", "oracle/reference", "--data", "processbench_math",
                        "--limit", "1", "--out", str(tmp_path / "rm")]) == 0
    assert "[ORACLE DATA (scorer played by oracle/…)" in capsys.readouterr().err.strip().splitlines()[-1]
